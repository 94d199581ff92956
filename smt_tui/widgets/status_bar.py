"""Header: mode and engine, money and the engine's exposure cap, proposals awaiting approval, health strip.

Each figure is a "chip" (label and value together) and lines break only between chips, so a label never
runs into the next value at any width. Figures from a dead engine are greyed: they are history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.widgets import Static

from smt_engine.domain import EngineState, HealthStatus, Mode
from smt_engine.store.limits import COOLDOWN_PREFIX, DAILY_LOSS, DRAWDOWN, EDGE_OVERRIDES, TOTAL_EXPOSURE
from smt_engine.store.records import ComponentHealth
from smt_tui import fmt
from smt_tui.alerts import forced_soon
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
_HEALTH = {
    HealthStatus.OK: ("✓", "green"),
    HealthStatus.WARN: ("!", "bold yellow"),
    HealthStatus.DOWN: ("✗", "bold red"),
    HealthStatus.OFF: ("-", "dim"),
}
GAP = "  "
WIDE_HEALTH = 120
"""From this width healthy components are listed by name."""


def chip(label: str, value: str | Text = "", style: str = "", label_style: str = "dim") -> Text:
    text = Text(label, style=label_style)
    if value:
        text.append(" ")
        text.append_text(value if isinstance(value, Text) else Text(value, style=style))
    return text


def pack(lines: list[list[Text]], width: int) -> Text:
    """Lay chips out in lines no wider than ``width``, breaking only between chips."""
    out = Text(no_wrap=True, overflow="ellipsis")
    first = True
    for chips in lines:
        if not chips:
            continue
        if not first:
            out.append("\n")
        first = False
        used = 0
        for piece in chips:
            size = piece.cell_len
            if used and used + len(GAP) + size > width:
                out.append("\n")
                used = 0
            elif used:
                out.append(GAP)
                used += len(GAP)
            out.append_text(piece)
            used += size
    return out


def engine_line(snap: Snapshot, now: datetime, config: ConsoleConfig, readonly: bool) -> list[Text]:
    engine = snap.engine
    mode = engine.mode
    chips = [
        Text(
            f" {mode.value.upper() if mode else '?'} ",
            style=MODE_STYLE.get(mode, "reverse") if mode else "reverse",
        )
    ]
    live = engine.liveness(now, config.stale_after)
    age = engine.heartbeat_age(now)
    status = engine.status
    if live is Liveness.NO_ENGINE:
        down = Text(" NO ENGINE ", style="bold white on red")
        if age is not None:
            down.append(f" last ♥ {fmt.countdown(age)} ago", style="red")
        chips.append(down)
    elif live is Liveness.STARTING or status is None:
        chips.append(Text("● engine starting", style="cyan"))
    else:
        assert status is not None
        state = Text(f"● {status.state.value}", style=_STATE_STYLE.get(status.state, ""))
        if status.state_reason and status.state is not EngineState.RUNNING:
            state.append(f" ({status.state_reason})", style="yellow")
        chips.append(state)
        stale = live is Liveness.STALE
        chips.append(
            # Alive shows no age: a number that changes every second would repaint the header for nothing.
            chip(
                "♥",
                f"{fmt.countdown(age)} STALE" if stale and age is not None else "ok",
                "bold red" if stale else "green",
            )
        )
    if status and status.approval:
        chips.append(chip("approval", status.approval))
    if readonly:
        chips.append(Text(" READ-ONLY ", style="bold black on cyan"))
    if status and status.next_cycle_at and live is not Liveness.NO_ENGINE:
        chips.append(
            chip(
                "next cycle",
                f"{fmt.clock(status.next_cycle_at)} (in {fmt.countdown(status.next_cycle_at - now)})",
            )
        )
    overrides = snap.limits.get(EDGE_OVERRIDES)
    if overrides is not None:  # live entries allowed without a proven record: always in sight
        chips.append(Text(f" EDGE OVERRIDE {overrides.detail} ", style="bold white on dark_orange3"))
    if config.competition_end is not None:
        left = config.competition_end - now
        ended = left.total_seconds() <= 0
        chips.append(
            chip(
                "competition",
                "ended" if ended else f"{fmt.countdown(left)} left",
                "bold red" if left.days < 3 else "",
            )
        )
    chips.append(Text(f"{now:%H:%M}Z", style="dim"))
    return chips


def money_line(snap: Snapshot) -> list[Text]:
    chips: list[Text] = []
    account = snap.account.latest
    if account is None:
        chips.append(Text("no account snapshot yet", style="dim"))
    else:
        chips.append(chip("bal", fmt.money(account.balance)))
        chips.append(chip("eq", fmt.money(account.equity), "bold"))
        chips.append(chip("uPnL", fmt.signed(account.unrealized_pnl)))
    cap = snap.limits.get(TOTAL_EXPOSURE)
    if cap is not None and cap.used is not None:
        share = fmt.pct_of(cap.used, cap.value)
        over = share is not None and share >= 100
        value = Text(f"{fmt.money(cap.used)}/{fmt.money(cap.value)}", style="bold red" if over else "")
        if share is not None:
            value.append(f" ({share:.0f}% of cap)", style="dim")
        chips.append(chip("margin", value))
    for name, label in ((DAILY_LOSS, "loss today"), (DRAWDOWN, "drawdown")):
        limit = snap.limits.get(name)
        if limit is not None and limit.used is not None:
            near = limit.used >= limit.value * Decimal("0.8")
            chips.append(chip(label, f"{limit.used:.2f}/{limit.value}%", "bold red" if near else ""))
    chips.extend(cooldown_chips(snap))
    if snap.orphans:
        chips.append(Text(f"{len(snap.orphans)} orphan order(s)", style="bold yellow"))
    unprotected = [p for p in snap.open_positions if p.sl_order_id is None]
    if unprotected:
        chips.append(Text(f" {len(unprotected)} UNPROTECTED ", style="bold white on red"))
    return chips


def cooldown_chips(snap: Snapshot) -> list[Text]:
    """Stop-loss cooldowns the engine enforces (no new entry on the pair): `k` on the pair clears one."""
    chips: list[Text] = []
    for name, limit in sorted(snap.limits.items()):
        if name.startswith(COOLDOWN_PREFIX):
            until = limit.detail.split(" (")[0].split(" ", 2)[
                -1
            ]  # "until 2026-01-14 12:00 UTC" -> "12:00 UTC"
            chips.append(
                chip("cooldown", f"{name.removeprefix(COOLDOWN_PREFIX).removesuffix('USDT')} to {until}")
            )
    return chips


def approvals_line(snap: Snapshot, now: datetime, running: bool = True) -> list[Text]:
    """What waits for the operator: proposals, and positions the engine will force-close within minutes.

    Without an engine nothing can be approved and nothing closes on time: a record, not a countdown."""
    chips = forced_chips(snap, now) if running else []
    waiting = snap.waiting
    if not waiting:
        return chips
    if not running:
        return [Text(f"{len(waiting)} proposal(s) left waiting when the engine stopped", style="dim")]
    first = waiting[0].proposal
    text = Text(f" {len(waiting)} awaiting approval", style="bold black on yellow")
    if first.expires_at is not None:
        left = max(first.expires_at - now, timedelta(0))
        text.append(f", {fmt.countdown(left)} left ", style="bold black on yellow")
    else:
        text.append(" ", style="bold black on yellow")
    return [text, Text("w: next waiting", style="dim"), *chips]


def forced_chips(snap: Snapshot, now: datetime) -> list[Text]:
    """A forced close within ``SOON`` is announced like a waiting proposal."""
    chips: list[Text] = []
    for p, left in forced_soon(snap, now):
        when = f"in {fmt.countdown(left)}" if left.total_seconds() > 0 else "due now"
        chips.append(Text(f" {p.symbol} {p.side.value} forced close {when} ", style="bold white on red"))
    return chips


BUDGET = "analyst.budget"


def spend_chip(row: ComponentHealth, now: datetime) -> Text:
    """Today's analyst calls and USD against their caps, shown whatever their state.

    The engine refreshes the row when the analyst runs; a row from an earlier UTC day means no call yet today.
    """
    data = row.data
    if not _today(row, now):
        return chip(
            "LLM today", f"0/{data.get('max_calls', '?')} calls, $0/${data.get('max_usd', '?')}", "green"
        )
    usd = Decimal(str(data.get("usd", "0"))).quantize(Decimal("0.01"), ROUND_CEILING)
    return chip(
        "LLM today",
        f"{data.get('calls')}/{data.get('max_calls')} calls, ${usd}/${data.get('max_usd')}",
        "green",
    )


def _today(row: ComponentHealth, now: datetime) -> bool:
    return row.data.get("day") == now.astimezone(UTC).date().isoformat()


def health_line(snap: Snapshot, wide: bool, now: datetime) -> list[Text]:
    """Problems in full; healthy components by name when there is room, else counted; the LLM spend always."""
    chips: list[Text] = []
    cycle = snap.engine.last_cycle
    if cycle is not None:
        if cycle.status == "running":
            chips.append(chip("cycle", "running", "cyan"))
        elif cycle.status == "done":
            chips.append(chip("last cycle", "ok", "green"))
        elif cycle.status == "partial":
            chips.append(chip("last cycle", f"partial, failed: {cycle.error}", "bold yellow"))
        else:
            chips.append(
                chip(
                    "last cycle", f"{cycle.status}" + (f": {cycle.error}" if cycle.error else ""), "bold red"
                )
            )
    budget = next((row for row in snap.health if row.component == BUDGET), None)
    if budget is not None and (budget.status is HealthStatus.OK or not _today(budget, now)):
        chips.append(spend_chip(budget, now))  # a cap reached (today) shows as a problem below instead
    else:
        budget = None
    fine = [row for row in snap.health if row.status is HealthStatus.OK and row is not budget]
    for row in snap.health:
        if row is budget:
            continue
        if row.status is HealthStatus.OK and not wide:
            continue
        mark, style = _HEALTH[row.status]
        text = Text(f"{mark} {row.component}", style=style)
        if row.status in (HealthStatus.WARN, HealthStatus.DOWN) and row.detail:
            text.append(f": {row.detail}", style=style)
        chips.append(text)
    if fine and not wide:
        chips.append(Text(f"✓ {len(fine)} ok", style="green"))
    return chips


def status_text(
    snap: Snapshot | None, now: datetime, config: ConsoleConfig, readonly: bool, width: int = 10_000
) -> Text:
    if snap is None:
        return Text(" loading… ", style="reverse")
    liveness = snap.engine.liveness(now, config.stale_after)
    live = liveness in (Liveness.ALIVE, Liveness.STARTING)
    money = money_line(snap)
    health = health_line(snap, width >= WIDE_HEALTH, now)
    if not live:  # history, not the present: nothing may look green or current
        money = [Text(c.plain, style="dim") for c in money]
        health = [Text(c.plain, style="dim") for c in health]
    return pack(
        [
            engine_line(snap, now, config, readonly),
            money,
            approvals_line(snap, now, liveness is not Liveness.NO_ENGINE),
            health,
        ],
        width,
    )


class StatusBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(Text(" loading… "), id="status-text")
        yield EquitySparkline([], id="equity")

    _last: tuple[Snapshot | None, datetime, ConsoleConfig, bool] | None = None
    _shown: Text | None = None

    def show(self, snap: Snapshot | None, now: datetime, config: ConsoleConfig, readonly: bool) -> None:
        self._last = (snap, now, config, readonly)
        width = self.query_one("#status-text", Static).size.width or 10_000
        text = status_text(snap, now, config, readonly, width)
        if self._shown is None or text.plain != self._shown.plain or text.spans != self._shown.spans:
            # A new layout only when the number of lines changed (a countdown ticking does not move anything).
            same_height = self._shown is not None and self._shown.plain.count("\n") == text.plain.count("\n")
            self._shown = text
            self.query_one("#status-text", Static).update(text, layout=not same_height)
        if snap is not None:
            self.query_one(EquitySparkline).show(snap.account.curve)
        live = snap is not None and snap.engine.liveness(now, config.stale_after) in (
            Liveness.ALIVE,
            Liveness.STARTING,
        )
        self.set_class(not live, "-engine-down")

    def on_resize(self, event: Resize) -> None:
        if self._last is not None:
            self._shown = None
            self.call_after_refresh(self._reshow)

    def _reshow(self) -> None:
        if self._last is not None:
            self.show(*self._last)
