"""Header: mode, engine liveness, money, exposure, countdowns, and the equity sparkline."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from smt_engine.domain import EngineState, Mode
from smt_tui import fmt
from smt_tui.state import ConsoleConfig, Liveness, Snapshot
from smt_tui.widgets.equity_sparkline import EquitySparkline

MODE_STYLE = {
    Mode.LIVE: "bold white on red",
    Mode.PAPER: "bold black on yellow",
    Mode.DEMO: "bold white on magenta",
}
_STATE_STYLE = {
    EngineState.RUNNING: "green",
    EngineState.PAUSED: "yellow",
    EngineState.HALTED: "bold red",
    EngineState.RECONCILING: "cyan",
    EngineState.STARTING: "cyan",
    EngineState.STOPPED: "red",
}


def status_text(snap: Snapshot | None, now: datetime, config: ConsoleConfig, readonly: bool) -> Text:
    text = Text()
    if snap is None:
        text.append(" loading… ", style="reverse")
        return text
    engine = snap.engine
    mode = engine.mode
    text.append(
        f" {mode.value.upper() if mode else '?'} ",
        style=MODE_STYLE.get(mode, "reverse") if mode else "reverse",
    )
    text.append(" ")
    live = engine.liveness(now, config.stale_after)
    age = engine.heartbeat_age(now)
    status = engine.status
    if live is Liveness.NO_ENGINE:
        text.append(" NO ENGINE ", style="bold white on red")
        if age is not None:
            text.append(f" last ♥ {fmt.duration(age)} ago", style="red")
    else:
        assert status is not None
        text.append(f"● {status.state.value}", style=_STATE_STYLE.get(status.state, ""))
        style = "bold red" if live is Liveness.STALE else "green"
        text.append(f" ♥ {fmt.duration(age)}" + (" STALE" if live is Liveness.STALE else ""), style=style)
        if status.state_reason and status.state is not EngineState.RUNNING:
            text.append(f" ({status.state_reason})", style="yellow")
    if status and status.approval:
        text.append(f"  approval {status.approval}")
    if readonly:
        text.append("  ")
        text.append(" READ-ONLY ", style="bold black on cyan")
    if status and status.next_cycle_at:
        text.append(f"  next cycle {fmt.clock(status.next_cycle_at)}")
        text.append(f" (in {fmt.duration(status.next_cycle_at - now)})", style="dim")
    if config.competition_end is not None:
        left = config.competition_end - now
        style = "bold red" if left.days < 3 else ""
        text.append("  competition ")
        text.append(f"{fmt.duration(left)} left" if left.total_seconds() > 0 else "ended", style=style)
    text.append(f"  {now:%H:%M:%S}Z", style="dim")
    text.append("\n")
    account = snap.account.latest
    if account is None:
        text.append("no account snapshot yet", style="dim")
    else:
        text.append("bal ", style="dim")
        text.append(fmt.money(account.balance))
        text.append("  eq ", style="dim")
        text.append(fmt.money(account.equity), style="bold")
        text.append("  uPnL ", style="dim")
        text.append_text(fmt.signed(account.unrealized_pnl))
        used = snap.exposure()
        cap = account.balance * config.max_total_exposure_pct / 100
        share = fmt.pct_of(used, cap)
        text.append("  exposure ", style="dim")
        over = share is not None and share >= 100
        text.append(f"{fmt.money(used)}/{fmt.money(cap)}", style="bold red" if over else "")
        if share is not None:
            text.append(f" ({share:.0f}% of cap)", style="dim")
    if snap.orphans:
        text.append(f"  {len(snap.orphans)} orphan order(s)", style="bold yellow")
    unprotected = [p for p in snap.open_positions if p.sl_order_id is None]
    if unprotected:
        text.append(f"  {len(unprotected)} UNPROTECTED", style="bold white on red")
    return text


class StatusBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(Text(" loading… "), id="status-text")
        yield EquitySparkline([], id="equity")

    def show(self, snap: Snapshot | None, now: datetime, config: ConsoleConfig, readonly: bool) -> None:
        self.query_one("#status-text", Static).update(status_text(snap, now, config, readonly))
        if snap is not None:
            self.query_one(EquitySparkline).show(snap.account.curve)
        live = snap is not None and snap.engine.liveness(now, config.stale_after) is Liveness.ALIVE
        self.set_class(not live, "-engine-down")
