"""Per-pair scores at one horizon: counts, hit rate with its interval, return after fees, Brier."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

COLUMNS = ("pair", "n", "LONG/SHORT", "WAIT", "hit rate [95% CI]", "avg return % [95% CI]", "Brier")


def _pct(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "-"
    shown = f"{value * 100:.0f}%"
    return shown + (f" [{ci[0] * 100:.0f}-{ci[1] * 100:.0f}]" if ci else "")


def _ret(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


class PairScoresTable(DataTable[str]):
    DEFAULT_CSS = """
    PairScoresTable {
        height: auto;
        max-height: 14;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*COLUMNS)

    def show(self, rows: list[dict[str, Any]]) -> None:
        """Rows from the stored report's ``pair`` group (one subject and horizon)."""
        self.clear()
        for r in rows:
            self.add_row(
                r["group"],
                str(r["n"]),
                str(r["directional"]),
                str(r["waits"]),
                _pct(r["hit_rate"], r["hit_rate_ci"]),
                _ret(r["avg_return_pct"], r["avg_return_ci"]),
                "-" if r["brier"] is None else f"{r['brier']:.3f}",
                key=r["group"],
            )
