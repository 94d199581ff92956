"""The command contract: for every ``CommandKind`` its arguments type and its result type, and the two
readers that turn a stored row into them (the JSON of an older database included).

A kind missing here is a kind no front end can send and no engine can run; the contract test enumerates
``CommandKind`` against this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from smt_engine.commands import args as a
from smt_engine.commands import results as r
from smt_engine.domain import CommandKind


@dataclass(frozen=True, slots=True)
class Contract:
    args: type[a.CommandArgs]
    result: type[r.CommandResult]


CONTRACT: Mapping[CommandKind, Contract] = {
    CommandKind.APPROVE: Contract(a.ApproveArgs, r.ApproveResult),
    CommandKind.REJECT: Contract(a.RejectArgs, r.RejectResult),
    CommandKind.CLOSE: Contract(a.CloseArgs, r.CloseResult),
    CommandKind.CLOSE_ALL: Contract(a.CloseAllArgs, r.CloseAllResult),
    CommandKind.CLEANUP: Contract(a.CleanupArgs, r.CleanupResult),
    CommandKind.PAUSE: Contract(a.PauseArgs, r.PauseResult),
    CommandKind.RESUME: Contract(a.ResumeArgs, r.ResumeResult),
    CommandKind.RUN_CYCLE: Contract(a.RunCycleArgs, r.RunCycleResult),
    CommandKind.RELOAD_CONFIG: Contract(a.ReloadArgs, r.ReloadResult),
    CommandKind.MOVE_PROTECTION: Contract(a.MoveProtectionArgs, r.MoveProtectionResult),
    CommandKind.CLEAR_COOLDOWN: Contract(a.ClearCooldownArgs, r.ClearCooldownResult),
    CommandKind.ENTER: Contract(a.EnterArgs, r.EnterResult),
}


class ResultMismatch(ValueError):
    """A stored result that does not fit its kind's result type (a damaged row, or a foreign writer)."""


def parse_args(kind: CommandKind, raw: Mapping[str, Any]) -> a.CommandArgs:
    """A stored or typed-in command's arguments; ``CommandRejected`` says what does not fit."""
    return CONTRACT[kind].args.parse(raw)


def parse_result(kind: CommandKind, raw: Mapping[str, Any] | None) -> r.CommandResult:
    """A stored result, read into its kind's type; ``ResultMismatch`` says what does not fit."""
    try:
        return CONTRACT[kind].result.model_validate(raw or {})
    except ValidationError as exc:
        raise ResultMismatch(f"the engine's {kind.value} result does not fit ({a.problems(exc)})") from None
