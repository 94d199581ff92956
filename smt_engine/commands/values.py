"""How the command contract reads and writes values: symbols, sides and positive decimals with the
messages operators already know, and decimals as text so nothing is lost in the JSON of a command row.

The checks raise ``CommandRejected`` rather than ``ValueError`` so that pydantic passes the message to the
operator unchanged instead of wrapping it in a validation report.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer

from smt_engine.commands.errors import CommandRejected
from smt_engine.domain import Side


def as_text(value: Decimal) -> str:
    """A decimal as it was typed or stated, without an exponent (``5E+1`` is ``50``)."""
    return format(value, "f")


TextDecimal = Annotated[Decimal, PlainSerializer(as_text, return_type=str)]
"""A decimal in a command row: text, digit for digit (an argument as typed, a result as the venue said)."""


def symbol(args: Mapping[str, Any]) -> str:
    text = str(args.get("symbol") or "").strip().upper()
    if not text:
        raise CommandRejected("args.symbol is required, e.g. ETHUSDT")
    return text if text.endswith("USDT") else f"{text}USDT"


def side(args: Mapping[str, Any]) -> Side:
    try:
        return Side(str(args.get("side", "")).strip().upper())
    except ValueError:
        raise CommandRejected("args.side must be LONG or SHORT") from None


def positive(args: Mapping[str, Any], key: str) -> Decimal | None:
    raw = args.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise CommandRejected(f"args.{key} {raw!r} is not a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CommandRejected(f"args.{key} {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise CommandRejected(f"args.{key} must be a positive number, not {raw!r}")
    return value


def proposal_id(args: Mapping[str, Any]) -> int:
    value = args.get("proposal_id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandRejected("args.proposal_id must be a proposal number")
    return value


Leg = Literal["sl", "tp"]
"""Which protective order: the stop-loss or the take-profit."""
