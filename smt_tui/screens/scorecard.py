"""The scorecard: how the analyst's decisions did against the market, as the engine last scored them.

The console does no arithmetic here: it shows the report the engine stores after each cycle
(``scorecard_reports``), read in a worker thread.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from smt_engine.store import Store
from smt_engine.store.scores import ScorecardReport
from smt_tui.widgets.calibration_chart import CalibrationChart
from smt_tui.widgets.pair_scores_table import PairScoresTable

HORIZONS = ("1h", "4h", "24h")
SUBJECT = "analysis"
EMPTY = (
    "Nothing scored yet. Each analysis is scored once 1h, 4h and 24h have passed, from the prices the "
    "engine recorded (no look-ahead). In the demo the market is a random walk: its scorecard shows the "
    "machinery, not an edge."
)


def calibrated_lines(maps: dict[str, Any]) -> Text:
    """Stated vs calibrated confidence per source: what the engine sizes with (its own figures)."""
    out = Text()
    for source, m in sorted(maps.items()):
        out.append(f"\nSized on calibrated confidence, {source} at {m['horizon']}: ", style="bold")
        cells = [
            f"stated {b['stated'] * 100:.0f}% -> {b['calibrated'] * 100:.0f}% (n={b['n']})" for b in m["bins"]
        ]
        out.append("; ".join(cells) if cells else "no record yet: 50%")
    return out


class ScorecardScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="scorecard-back", tooltip="back to the main screen"),
        Binding("h", "next_horizon", "Horizon", id="scorecard-horizon", tooltip="show the next horizon"),
        Binding("q", "back", "Back", show=False),
    ]
    DEFAULT_CSS = """
    ScorecardScreen #scorecard-summary {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, store: Store, horizon: str = "4h") -> None:
        super().__init__()
        self.store = store
        self.horizon = horizon
        self.report: ScorecardReport | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading the scorecard…"), id="scorecard-summary")
        yield CalibrationChart(id="calibration-chart")
        yield PairScoresTable(id="pair-scores")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="scorecard", description="read the stored scorecard")
    def load(self) -> None:
        report = self.store.scorecard_reports.latest()
        self.app.call_from_thread(self.show_report, report)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_horizon":
            return self.report is not None and self.report.report.get("scores", 0) > 0
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_next_horizon(self) -> None:
        self.horizon = HORIZONS[(HORIZONS.index(self.horizon) + 1) % len(HORIZONS)]
        self.show_report(self.report)

    def _rows(self, group: str) -> list[dict[str, Any]]:
        if self.report is None:
            return []
        rows: list[dict[str, Any]] = self.report.report["groups"][group]
        return [r for r in rows if r["subject"] == SUBJECT and r["horizon"] == self.horizon]

    def show_report(self, report: ScorecardReport | None) -> None:
        self.report = report
        self.refresh_bindings()
        summary = self.query_one("#scorecard-summary", Static)
        chart = self.query_one(CalibrationChart)
        table = self.query_one(PairScoresTable)
        if report is None or not report.report.get("scores"):
            summary.update(Text(EMPTY))
            chart.show([], "calibration (no scores yet)")
            table.show([])
            return
        overall = self._rows("overall")
        row = overall[0] if overall else None
        head = Text.assemble(
            ("Scorecard ", "bold"),
            f"— analyses {self.horizon} after the decision, last 30 days, computed by the engine at "
            f"{report.at:%Y-%m-%d %H:%M}Z. ",
        )
        if row is None:
            head.append(f"No analysis has reached {self.horizon} yet.")
        else:
            brier = "-" if row["brier"] is None else f"{row['brier']:.3f}"
            hit = "-" if row["hit_rate"] is None else f"{row['hit_rate'] * 100:.0f}%"
            head.append(f"{row['n']} scored, hit rate {hit}, Brier {brier}. ")
        head.append("h: next horizon, esc: back.", style="dim")
        head.append_text(calibrated_lines(report.report.get("calibrated") or {}))
        summary.update(head)
        chart.show(
            row["calibration"] if row else [], f"calibration at {self.horizon} (n per bin in the table)"
        )
        table.show(self._rows("pair"))
