"""What the engine answers for each command kind, and how that answer reads to the operator.

The engine returns these types and stores their JSON in the command row; the console and the CLI read the
row back into the same types, so what a front end shows is what the engine said. Unknown keys are ignored
when reading (a newer engine may say more); a row that does not fit is reported, never guessed at.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from smt_engine.commands.values import TextDecimal
from smt_engine.domain import EngineState, PositionState, ProposalState


class CommandResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_row(self) -> dict[str, Any]:
        """The JSON the commands table stores (and `smt` prints): decimals as text, absent values left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def says(self) -> str:
        """The result in plain words for a toast or a line ("" when "done" says it all)."""
        return ""


def _position(position_id: int | None) -> list[str]:
    return [] if position_id is None else [f"position #{position_id}"]


class OpenedResult(CommandResult):
    """An entry that was executed: the proposal, the executor's outcome and the position it opened."""

    proposal_id: int
    outcome: str
    position_id: int | None = None
    detail: str = ""

    def says(self) -> str:
        return ", ".join([self.detail or self.outcome, *_position(self.position_id)])


class ApproveResult(OpenedResult):
    """An approved proposal, opened."""


class EnterResult(OpenedResult):
    """An operator's own entry, gated and opened."""


class RejectResult(CommandResult):
    proposal_id: int
    state: ProposalState

    def says(self) -> str:
        return self.state.value


class CloseResult(CommandResult):
    """A close: the whole position (``state``, ``close_order_id``) or part of it (``message``, the sizes)."""

    message: str | None = None
    position_id: int
    state: PositionState | None = None
    close_order_id: str | None = None
    closed_size: TextDecimal | None = None
    remaining_size: TextDecimal | None = None
    realized_pnl: TextDecimal | None = None
    part_position_id: int | None = None
    legs_resized: list[str] | None = None

    def says(self) -> str:
        if self.message:
            return self.message
        return ", ".join([*([self.state.value] if self.state else []), *_position(self.position_id)])


class CloseAllResult(CommandResult):
    closed: list[int]

    def says(self) -> str:
        count = len(self.closed)
        return f"{count} position{'' if count == 1 else 's'} closed"


class CleanupResult(CommandResult):
    cancelled: list[str]

    def says(self) -> str:
        count = len(self.cancelled)
        return f"{count} orphan order{'' if count == 1 else 's'} cancelled"


class PauseResult(CommandResult):
    state: EngineState
    note: str | None = None

    def says(self) -> str:
        return self.state.value


class ResumeResult(CommandResult):
    state: EngineState
    was: EngineState
    cleared: str

    def says(self) -> str:
        return self.state.value


class RunCycleResult(CommandResult):
    queued: bool


class ReloadResult(CommandResult):
    changed: list[str]
    applied: dict[str, str]
    needs_restart: list[str]


class MoveProtectionResult(CommandResult):
    message: str
    position_id: int
    leg: Literal["sl", "tp"]
    price: TextDecimal
    order_id: str | None = None

    def says(self) -> str:
        return self.message


class ClearCooldownResult(CommandResult):
    message: str
    symbol: str

    def says(self) -> str:
        return self.message
