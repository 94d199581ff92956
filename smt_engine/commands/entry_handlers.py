"""The command that opens an operator's own trade: ``enter``'s typed arguments to ``trading.manual_entry``
and its outcome back to the typed result, so the trading layer never depends on the command contract."""

from __future__ import annotations

from smt_engine.commands.args import EnterArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import EnterResult
from smt_engine.trading.manual_entry import EntryRefused, ManualEntry


class EntryCommands:
    def __init__(self, entry: ManualEntry) -> None:
        self.entry = entry

    async def enter(self, args: EnterArgs, actor: str) -> EnterResult:
        try:
            entered = await self.entry.enter(args.request, actor)
        except EntryRefused as exc:
            raise CommandRejected(str(exc)) from None
        return EnterResult(
            proposal_id=entered.proposal_id,
            outcome=entered.outcome,
            position_id=entered.position_id,
            detail=entered.detail,
        )
