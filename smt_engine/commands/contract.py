"""The command contract: for every ``CommandKind`` its arguments type and its result type (its
``KindTypes``; not to be confused with ``domain.Contract``, a venue's instrument spec), and the two
readers that turn a stored row into them (the JSON of an older database included).

A kind missing here is a kind no front end can send and no engine can run; the contract test enumerates
``CommandKind`` against this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from smt_engine.commands import args as a
from smt_engine.commands import results as r
from smt_engine.domain import CommandKind

A = TypeVar("A", bound=a.CommandArgs)
R = TypeVar("R", bound=r.CommandResult)


@dataclass(frozen=True, slots=True)
class KindTypes(Generic[A, R]):
    """One kind's arguments type and result type. Generic, so a handler registered for a kind is checked
    against both by mypy (``service.route``)."""

    kind: CommandKind
    args: type[A]
    result: type[R]


APPROVE = KindTypes(CommandKind.APPROVE, a.ApproveArgs, r.ApproveResult)
REJECT = KindTypes(CommandKind.REJECT, a.RejectArgs, r.RejectResult)
CLOSE = KindTypes(CommandKind.CLOSE, a.CloseArgs, r.CloseResult)
CLOSE_ALL = KindTypes(CommandKind.CLOSE_ALL, a.CloseAllArgs, r.CloseAllResult)
CLEANUP = KindTypes(CommandKind.CLEANUP, a.CleanupArgs, r.CleanupResult)
PAUSE = KindTypes(CommandKind.PAUSE, a.PauseArgs, r.PauseResult)
RESUME = KindTypes(CommandKind.RESUME, a.ResumeArgs, r.ResumeResult)
RUN_CYCLE = KindTypes(CommandKind.RUN_CYCLE, a.RunCycleArgs, r.RunCycleResult)
RELOAD_CONFIG = KindTypes(CommandKind.RELOAD_CONFIG, a.ReloadArgs, r.ReloadResult)
MOVE_PROTECTION = KindTypes(CommandKind.MOVE_PROTECTION, a.MoveProtectionArgs, r.MoveProtectionResult)
CLEAR_COOLDOWN = KindTypes(CommandKind.CLEAR_COOLDOWN, a.ClearCooldownArgs, r.ClearCooldownResult)
ENTER = KindTypes(CommandKind.ENTER, a.EnterArgs, r.EnterResult)

CONTRACT: Mapping[CommandKind, KindTypes[Any, Any]] = {
    types.kind: types
    for types in (
        APPROVE,
        REJECT,
        CLOSE,
        CLOSE_ALL,
        CLEANUP,
        PAUSE,
        RESUME,
        RUN_CYCLE,
        RELOAD_CONFIG,
        MOVE_PROTECTION,
        CLEAR_COOLDOWN,
        ENTER,
    )
}
"""The command contract: every kind's ``KindTypes``."""


class ResultMismatch(ValueError):
    """A stored result that does not fit its kind's result type (a damaged row, or a foreign writer)."""


def parse_args(kind: CommandKind, raw: Mapping[str, Any]) -> a.CommandArgs:
    """A stored or typed-in command's arguments; ``CommandRejected`` says what does not fit."""
    args: type[a.CommandArgs] = CONTRACT[kind].args
    return args.parse(raw)


def parse_result(kind: CommandKind, raw: Mapping[str, Any] | None) -> r.CommandResult:
    """A stored result, read into its kind's type; ``ResultMismatch`` says what does not fit."""
    result: type[r.CommandResult] = CONTRACT[kind].result
    try:
        return result.model_validate(raw or {})
    except ValidationError as exc:
        raise ResultMismatch(f"the engine's {kind.value} result does not fit ({a.problems(exc)})") from None
