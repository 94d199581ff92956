"""Latest analyst decision per pair: action, confidence, catalyst, grounding, latency, errors."""

from __future__ import annotations

from rich.text import Text

from smt_engine.store.records import Analysis
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row

_ACTION_STYLE = {"LONG": "green", "SHORT": "red", "WAIT": "dim"}


def decision_row(a: Analysis) -> Row:
    decision = a.decision or {}
    reasoning = str(decision.get("reasoning") or "")
    return (
        f"analysis:{a.id}",
        (
            Text(a.pair, style="bold"),
            a.analyst.value,
            Text(a.action.value, style=_ACTION_STYLE.get(a.action.value, "")),
            fmt.confidence(a.confidence),
            str(decision.get("key_catalyst") or "-")[:40],
            str(len(a.sources)) if a.grounded else Text("no", style="yellow"),
            f"{a.latency_ms} ms" if a.latency_ms is not None else "-",
            Text(a.error[:30], style="red") if a.error else "",
            reasoning[:60],
        ),
    )


class DecisionsTable(KeyedTable):
    COLUMNS = (
        Col("pair", "Pair"),
        Col("analyst", "Analyst", 3),
        Col("action", "Decision"),
        Col("conf", "Conf", right=True),
        Col("catalyst", "Key catalyst", 2, text=True),
        Col("sources", "Sources", 4, right=True),
        Col("latency", "Latency", 5, right=True),
        Col("error", "Error", 1),
        Col("reasoning", "Reasoning", 2, text=True),
    )

    def show(self, analyses: tuple[Analysis, ...]) -> None:
        self.sync([decision_row(a) for a in analyses])
