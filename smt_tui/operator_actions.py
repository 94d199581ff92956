"""Operator actions that queue a command for the engine: approve, reject, close, close all, cancel
orphans, pause, resume, run a cycle and a manual entry (``screens.entry_form``); the confirmations that
state the risk first; and the toasts that tell what the engine did with each command.

Every command goes through the one client of the queue (``smt_engine.commands.client``), with the typed
arguments of its kind: the row is written from a worker thread and never when no engine runs (it would
wait for an engine that may start hours later); the engine's typed result is shown when it completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import work

from smt_engine.commands.args import (
    ApproveArgs,
    CleanupArgs,
    CloseAllArgs,
    CloseArgs,
    CommandArgs,
    EnterArgs,
    PauseArgs,
    RejectArgs,
    ResumeArgs,
    RunCycleArgs,
)
from smt_engine.commands.client import CommandClient, read_outcome
from smt_engine.commands.errors import CommandRejected, NoEngine
from smt_engine.domain import Mode, PositionState
from smt_engine.store.entry_args import EntryRequest
from smt_engine.store.records import Command, Position
from smt_tui import fmt
from smt_tui.adjust_actions import AdjustActions
from smt_tui.messages import CommandNotSent, CommandSent
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.entry_form import EntryForm
from smt_tui.state import ConsoleConfig, Liveness, Now, ProposalView, ReadModel, Snapshot


class OperatorActions(AdjustActions):
    """The actions that write a command row; the refresh loop and navigation are in ``ConsoleApp``."""

    model: ReadModel
    config: ConsoleConfig
    now: Now
    actor: str
    debounce: float
    _labels: dict[int, str]
    _last_trigger: dict[str, float]
    _auto_key: str | None

    @property
    def command_client(self) -> CommandClient:
        """The queue's one client, as this console's operator (the same policy as the CLI's)."""
        return CommandClient(self.model.store, self.model.engine_running, self.model.now, self.actor)

    def _debounced(self, action: str) -> bool:
        """True when the same action fired a moment ago (key repeat, double press)."""
        now = time.monotonic()
        last = self._last_trigger.get(action)
        self._last_trigger[action] = now
        return last is not None and now - last < self.debounce

    def action_approve(self) -> None:
        self._proposal_command("approve")

    def action_reject(self) -> None:
        self._proposal_command("reject")

    def _proposal_command(self, verb: str) -> None:
        record = self.selected()
        if not isinstance(record, ProposalView) or self._debounced(verb):
            return
        proposal_id = record.proposal.id
        # The operator decided this row: the cursor stays on it (a second press must never land on
        # another proposal the console moved to).
        self._auto_key = None

        def send() -> None:
            args = (
                ApproveArgs(proposal_id=proposal_id)
                if verb == "approve"
                else RejectArgs(proposal_id=proposal_id)
            )
            self.send_command(args, f"{verb} proposal #{proposal_id}")

        snap = self.snapshot
        live = snap is not None and snap.engine.mode is Mode.LIVE
        if verb == "approve" and live and self.config.confirm_live_approvals:
            self._confirm("Approve with real money?", approval_risk(record, snap), send)
        else:
            send()

    def action_close_position(self) -> None:
        record = self.selected()
        key = self.selected_key()
        if not isinstance(record, Position) or key is None or self._debounced("close_position"):
            return
        label = f"close {record.symbol} {record.side.value}"

        def body() -> str:
            # Read when drawn and on every snapshot while the question is open: "now" is the latest PnL.
            latest = self.snapshot.find(key) if self.snapshot is not None else None
            pos = latest if isinstance(latest, Position) else record
            if pos.state is PositionState.CLOSED:
                return f"{pos.symbol} {pos.side.value} is closed already: nothing to close."
            return (
                f"Close {pos.symbol} {pos.side.value} (size {fmt.price(pos.size)}) at market? "
                f"Its unrealised PnL, {pos.unrealized_pnl:+,.2f} USDT now, becomes realised; "
                "its TP/SL orders are cancelled first."
            )

        self._confirm(
            "Close position?",
            body,
            lambda: self.send_command(CloseArgs(symbol=record.symbol, side=record.side), label),
        )

    def refresh_confirm(self) -> None:
        """A confirmation on screen states the latest figures (called for every snapshot and tick)."""
        if isinstance(self.screen, ConfirmModal):
            self.screen.refresh_body()

    def action_close_all(self) -> None:
        if self.snapshot is None or self._debounced("close_all"):
            return
        count = len(self.snapshot.open_positions)
        self._confirm(
            "Close ALL positions?",
            f"Close all {count} open position(s) at market?",
            lambda: self.send_command(CloseAllArgs(), f"close all ({count})"),
        )

    def action_cleanup(self) -> None:
        if self.snapshot is None or self._debounced("cleanup"):
            return
        orphans = self.snapshot.orphans
        if orphans:
            listed = ", ".join(
                f"{o.symbol} {o.kind.value} @ {fmt.price(o.trigger_price or o.price)}" for o in orphans[:4]
            )
            body = f"Cancel {len(orphans)} orphan order(s) left on the exchange ({listed})?"
        else:
            body = (
                "No orphan order is flagged. Ask the engine to check the exchange anyway? It cancels only "
                "TP/SL orders that belong to no open position, and reports what it found."
            )
        count = len(orphans)
        self._confirm(
            "Cancel orphan orders?",
            body,
            lambda: self.send_command(CleanupArgs(), f"cancel orphan orders ({count} flagged)"),
        )

    def action_pause(self) -> None:
        if not self._debounced("pause"):
            self.send_command(PauseArgs(), "pause entries")

    def action_resume(self) -> None:
        if not self._debounced("resume"):
            self.send_command(ResumeArgs(), "resume entries")

    def action_run_cycle(self) -> None:
        if not self._debounced("run_cycle"):
            self.send_command(RunCycleArgs(), "run cycle now")

    def action_manual_entry(self) -> None:
        if not self._debounced("manual_entry"):
            self.push_screen(EntryForm(self.config.entry_pairs), self._entry_filled)

    def _entry_filled(self, request: EntryRequest | None) -> None:
        if request is None:
            self.notify("cancelled: nothing was sent", timeout=3)
            return
        label = f"enter {request.describe()}"

        def send() -> None:
            self.send_command(EnterArgs.of(request), label)

        snap = self.snapshot
        if snap is not None and snap.engine.mode is Mode.LIVE and self.config.confirm_live_approvals:
            body = (
                f"Open {request.describe()} with real money? The engine reads the live price, runs the "
                "risk gates and sends the order with TP/SL at the configured leverage."
            )
            self._confirm("Enter with real money?", body, send)
        else:
            send()

    def _confirm(self, title: str, body: str | Callable[[], str], then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.notify("cancelled: nothing was sent", timeout=3)

        self.push_screen(ConfirmModal(title, body), answered)

    # ------------------------------------------------------------------ commands

    def send_command(self, args: CommandArgs, label: str) -> None:
        if self.readonly:
            self.notify("read-only console: actions are unavailable", severity="warning")
            return
        self._send_worker(args, label)

    @work(thread=True, group="commands", exit_on_error=False, description="operator command")
    def _send_worker(self, args: CommandArgs, label: str) -> None:
        try:
            command = self.command_client.send(args)
        except NoEngine as exc:
            # Never leave a command queued for an engine that may start hours later.
            self.post_message(CommandNotSent(label, str(exc)))
            return
        except CommandRejected as exc:
            self.post_message(CommandNotSent(label, str(exc)))
            return
        except Exception as exc:  # the database refused: show it, keep the console alive
            self.post_message(CommandNotSent(label, f"could not write the command: {exc}"))
            return
        assert command.id is not None
        self.model.watch_command(command.id)
        snap = self.snapshot
        alive = snap is not None and snap.engine.liveness(self.now(), self.config.stale_after) in (
            Liveness.ALIVE,
            Liveness.STARTING,
        )
        self.post_message(CommandSent(command, label, alive))

    def on_command_sent(self, message: CommandSent) -> None:
        assert message.command.id is not None
        self._labels[message.command.id] = message.label
        if message.engine_alive:
            self.notify(f"{message.label}: sent (command #{message.command.id})", timeout=3)
        else:
            self.notify(
                f"{message.label}: queued as #{message.command.id}, but the engine heartbeat is stale",
                severity="warning",
            )

    def on_command_not_sent(self, message: CommandNotSent) -> None:
        self.notify(f"{message.label}: {message.reason}", severity="error", title="Not sent")

    def _report(self, command: Command) -> None:
        """The engine's answer, read through the contract: what it did, or why not."""
        outcome = read_outcome(command)
        if outcome is None:
            return
        assert command.id is not None
        label = self._labels.pop(command.id, f"{command.kind.value} #{command.id}")
        self.notify(
            f"{label}: {outcome.says()}", severity="information" if outcome.done else "error", title="Engine"
        )


def approval_risk(view: ProposalView, snap: Snapshot | None) -> str:
    """What an approval puts at risk, in plain words, for the confirmation in live mode."""
    p = view.proposal
    at_stop = p.notional * p.sl_pct / 100
    drift = snap.drift(p.id) if snap is not None else None
    moved = (
        f" The price has moved {drift.used:.2f}% since it was proposed (limit {drift.value}%)."
        if drift is not None and drift.used is not None
        else ""
    )
    return (
        f"#{p.id} {p.pair} {p.side.value}: margin {fmt.money(p.margin)} USDT, notional "
        f"{fmt.money(p.notional)} USDT at {p.leverage}x. At the stop-loss ({fmt.price(p.sl_price)}, "
        f"-{p.sl_pct}%) it loses about {fmt.money(at_stop)} USDT before fees.{moved} The engine re-checks "
        "the price and every risk gate before it sends the order."
    )
