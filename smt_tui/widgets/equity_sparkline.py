"""The equity curve of the last day as a sparkline in the header."""

from __future__ import annotations

from textual.widgets import Sparkline


class EquitySparkline(Sparkline):
    DEFAULT_CSS = """
    EquitySparkline { width: 1fr; height: 2; min-width: 10; }
    EquitySparkline > .sparkline--max-color { color: $success; }
    EquitySparkline > .sparkline--min-color { color: $error; }
    """

    def show(self, curve: tuple[float, ...]) -> None:
        values = list(curve)
        if values != list(self.data or []):
            self.data = values
