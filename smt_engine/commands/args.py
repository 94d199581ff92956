"""The arguments of each command kind, as the console and the CLI queue them and the engine runs them.

Both ends build or read these types, and each is checked when it is made: a command the engine would refuse
for its arguments is refused before it is queued, with the same words. The row's JSON keeps the keys and
the text decimals that older databases hold, so a command queued by an older client still reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from smt_engine.commands import values
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.values import TextDecimal
from smt_engine.domain import CommandKind, Side
from smt_engine.store.entry_args import EntryArgsError, EntryRequest, parse_entry


def problems(exc: ValidationError) -> str:
    """A validation report in one line: each field and what is wrong with it."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


class CommandArgs(BaseModel):
    """One command's arguments; ``kind`` says which command they belong to."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[CommandKind]
    keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _known(cls, data: Any) -> Mapping[str, Any] | None:
        """The raw arguments when they are a mapping of known keys; a key the kind does not take is
        refused (a command the engine does not understand must fail whole, not run in part)."""
        if not isinstance(data, Mapping):
            return None
        unknown = sorted(str(k) for k in data if k not in cls.keys and data[k] is not None)
        if unknown:
            raise CommandRejected(f"args.{unknown[0]} is not an argument of {cls.kind.value}")
        return data

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        """Arguments as typed in or stored; ``CommandRejected`` says what does not fit."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise CommandRejected(f"{cls.kind.value}: the arguments do not fit ({problems(exc)})") from None

    def to_row(self) -> dict[str, Any]:
        """The JSON the commands table stores: decimals as text, absent values left out."""
        return self.model_dump(mode="json", exclude_none=True)


class NoArgs(CommandArgs):
    """The commands that take no arguments share this shape; each kind is its own class."""

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        return {} if cls._known(data) is not None else data


class PauseArgs(NoArgs):
    kind = CommandKind.PAUSE


class ResumeArgs(NoArgs):
    kind = CommandKind.RESUME


class RunCycleArgs(NoArgs):
    kind = CommandKind.RUN_CYCLE


class ReloadArgs(NoArgs):
    kind = CommandKind.RELOAD_CONFIG


class CloseAllArgs(NoArgs):
    kind = CommandKind.CLOSE_ALL


class CleanupArgs(NoArgs):
    kind = CommandKind.CLEANUP


class ApproveArgs(CommandArgs):
    kind = CommandKind.APPROVE
    keys = frozenset({"proposal_id"})
    proposal_id: int

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        return data if raw is None else {"proposal_id": values.proposal_id(raw)}


class RejectArgs(CommandArgs):
    kind = CommandKind.REJECT
    keys = frozenset({"proposal_id", "reason"})
    proposal_id: int
    reason: str = ""

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        if raw is None:
            return data
        return {"proposal_id": values.proposal_id(raw), "reason": str(raw.get("reason") or "")}

    def to_row(self) -> dict[str, Any]:
        """Without a reason the row carries none, as it always has."""
        row = super().to_row()
        if not self.reason:
            row.pop("reason", None)
        return row


class CloseArgs(CommandArgs):
    """A position's close: the whole of it, or a ``size`` or a ``fraction`` (below 1) of it."""

    kind = CommandKind.CLOSE
    keys = frozenset({"symbol", "side", "size", "fraction"})
    symbol: str
    side: Side
    size: TextDecimal | None = None
    fraction: TextDecimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        if raw is None:
            return data
        size, fraction = values.positive(raw, "size"), values.positive(raw, "fraction")
        if size is not None and fraction is not None:
            raise CommandRejected("give args.size or args.fraction, not both")
        if fraction is not None and fraction >= 1:
            raise CommandRejected(
                f"args.fraction {fraction} must be below 1 (a full close takes no fraction)"
            )
        return {
            "symbol": values.symbol(raw),
            "side": values.side(raw),
            "size": size,
            "fraction": fraction,
        }

    @property
    def partial(self) -> bool:
        return self.size is not None or self.fraction is not None


class MoveProtectionArgs(CommandArgs):
    """A new trigger price for a position's stop-loss (``sl_price``) or take-profit (``tp_price``)."""

    kind = CommandKind.MOVE_PROTECTION
    keys = frozenset({"symbol", "side", "sl_price", "tp_price"})
    symbol: str
    side: Side
    sl_price: TextDecimal | None = None
    tp_price: TextDecimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        if raw is None:
            return data
        sl, tp = values.positive(raw, "sl_price"), values.positive(raw, "tp_price")
        if (sl is None) == (tp is None):
            raise CommandRejected("give exactly one of args.sl_price and args.tp_price")
        return {"symbol": values.symbol(raw), "side": values.side(raw), "sl_price": sl, "tp_price": tp}

    @property
    def leg(self) -> values.Leg:
        return "sl" if self.sl_price is not None else "tp"

    @property
    def price(self) -> TextDecimal:
        price = self.sl_price if self.sl_price is not None else self.tp_price
        assert price is not None  # exactly one is given: checked above
        return price


class ClearCooldownArgs(CommandArgs):
    kind = CommandKind.CLEAR_COOLDOWN
    keys = frozenset({"symbol"})
    symbol: str

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        return data if raw is None else {"symbol": values.symbol(raw)}


class EnterArgs(CommandArgs):
    """An operator's own entry; its shape is ``store.entry_args``'s, which the engine checks again
    against the configuration (a configured pair, TP/SL within the bounds)."""

    kind = CommandKind.ENTER
    keys = frozenset({"pair", "side", "margin", "size", "tp_pct", "sl_pct"})
    pair: str
    side: Side
    margin: TextDecimal | None = None
    size: TextDecimal | None = None
    tp_pct: TextDecimal | None = None
    sl_pct: TextDecimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        raw = cls._known(data)
        if raw is None:
            return data
        try:
            request = parse_entry(raw)
        except EntryArgsError as exc:
            raise CommandRejected(f"entry refused: {exc}") from None
        return {
            "pair": request.pair,
            "side": request.side,
            "margin": request.margin,
            "size": request.size,
            "tp_pct": request.tp_pct,
            "sl_pct": request.sl_pct,
        }

    @classmethod
    def of(cls, request: EntryRequest) -> EnterArgs:
        return cls.model_validate(request.as_args())

    @property
    def request(self) -> EntryRequest:
        return EntryRequest(self.pair, self.side, self.margin, self.size, self.tp_pct, self.sl_pct)
