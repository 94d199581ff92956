"""The ``enter`` command's arguments as the commands table carries them: pair, side, margin or size,
TP/SL distances, and their checks.

Part of the database contract, like the records: the console and the CLI write these arguments and the
engine reads them (``trading.manual_entry``), so all three check them with these same functions
(docs/operator-guide.md, "Manual entry"). Decimals travel as text, so nothing is lost in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from smt_engine.domain import Pair, Side

if TYPE_CHECKING:
    from smt_engine.config import Settings


class EntryArgsError(ValueError):
    """An entry's arguments are wrong: the message names the field and how to fix it."""


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """What the operator asked for; exactly one of ``margin`` (USDT) and ``size`` (contracts)."""

    pair: str
    side: Side
    margin: Decimal | None = None
    size: Decimal | None = None
    tp_pct: Decimal | None = None
    sl_pct: Decimal | None = None

    def as_args(self) -> dict[str, Any]:
        """The command's arguments: decimals as strings, so nothing is lost in JSON."""
        args: dict[str, Any] = {"pair": self.pair, "side": self.side.value}
        for key in ("margin", "size", "tp_pct", "sl_pct"):
            value = getattr(self, key)
            if value is not None:
                args[key] = _text(value)
        return args

    def describe(self) -> str:
        if self.margin is not None:
            return f"{self.pair} {self.side.value} margin {_text(self.margin)} USDT"
        return f"{self.pair} {self.side.value} size {_text(self.size or Decimal(0))}"


_MAX_DIGITS = 12
"""An amount or distance has at most this many digits before the point (a trillion)."""


def _text(value: Decimal) -> str:
    """As typed, without an exponent (``5E+1`` is ``50``)."""
    return format(value, "f")


def _amount(args: Mapping[str, Any], key: str, fix: str) -> Decimal | None:
    raw = args.get(key)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise EntryArgsError(f"{key}: {raw!r} is not a number; {fix}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise EntryArgsError(f"{key}: {raw!r} is not a number; {fix}") from None
    if not value.is_finite() or value <= 0:
        raise EntryArgsError(f"{key}: {raw!r} must be a positive number; {fix}")
    if value.adjusted() > _MAX_DIGITS:  # no venue sizes or prices past this; arithmetic on it overflows
        raise EntryArgsError(f"{key}: {raw!r} is too large; {fix}")
    return value


def parse_entry(args: Mapping[str, Any]) -> EntryRequest:
    """The entry's arguments, checked for shape; ``EntryArgsError`` names the field and the fix."""
    pair = args.get("pair")
    if not isinstance(pair, str) or not pair.strip().isalnum():
        raise EntryArgsError(f"pair: {pair!r} is not a pair; give its base, e.g. ETH")
    base = pair.strip().upper().removesuffix("USDT") or pair.strip().upper()
    side_text = args.get("side")
    try:
        side = Side(str(side_text).strip().upper())
    except ValueError:
        raise EntryArgsError(f"side: {side_text!r} is not a side; give LONG or SHORT") from None
    margin = _amount(args, "margin", "give the margin in USDT, e.g. 25")
    size = _amount(args, "size", "give the size in contracts, e.g. 0.01")
    if (margin is None) == (size is None):
        raise EntryArgsError(
            "margin/size: give exactly one, the margin in USDT or the size in contracts "
            f"(got {'both' if margin is not None else 'neither'})"
        )
    return EntryRequest(
        pair=base,
        side=side,
        margin=margin,
        size=size,
        tp_pct=_amount(args, "tp_pct", "give the take-profit distance in %, e.g. 2"),
        sl_pct=_amount(args, "sl_pct", "give the stop-loss distance in %, e.g. 1"),
    )


def check_entry(request: EntryRequest, settings: Settings) -> Pair:
    """The entry against the configuration: a configured pair, TP/SL distances within the bounds."""
    pair = settings.pairs.by_base(request.pair)
    if pair is None:
        names = ", ".join(p.base for p in settings.pairs.all())
        raise EntryArgsError(f"pair: {request.pair} is not a configured pair; choose one of {names}")
    bounds = settings.analyst
    for key, value, low, high in (
        ("tp_pct", request.tp_pct, bounds.min_tp_pct, bounds.max_tp_pct),
        ("sl_pct", request.sl_pct, bounds.min_sl_pct, bounds.max_sl_pct),
    ):
        if value is not None and not low <= value <= high:
            raise EntryArgsError(
                f"{key}: {_text(value)}% is outside the limits [{low}, {high}]% "
                f"(analyst.min_{key} .. analyst.max_{key}); give a distance within them"
            )
    return pair


def validate_entry(args: Mapping[str, Any], settings: Settings) -> tuple[EntryRequest, Pair]:
    """Both checks, as the CLI and the engine run them."""
    request = parse_entry(args)
    return request, check_entry(request, settings)
