"""The selected open position's price against its entry, take-profit and stop-loss lines.

Drawn from the bars the engine stored each cycle (``store.candles``), so the console never asks the
exchange; until the engine has recorded a bar for the pair it says so instead of drawing an empty box.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from smt_engine.store.prices import StoredCandle
from smt_engine.store.records import Position

NO_HISTORY = "no price history yet"


def chart_title(p: Position, bars: Sequence[StoredCandle]) -> str:
    head = f"{p.symbol} {p.side.value}: entry {p.entry_price}, TP {p.tp_price or '-'}, SL {p.sl_price or '-'}"
    return f"{head}; {NO_HISTORY}" if not bars else f"{head}; last close {bars[-1].close}"


class PositionChart(PlotextPlot):
    DEFAULT_CSS = """
    PositionChart { height: 12; }
    """

    _shown: tuple[object, ...] | None = None
    title: str = ""

    def show(self, p: Position | None, bars: Sequence[StoredCandle]) -> None:
        """Redraw only when the position or its bars changed."""
        key = (p, tuple(b.open_time for b in bars), bars[-1].close if bars else None)
        if key == self._shown:
            return
        self._shown = key
        self.display = p is not None
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if p is None:
            self.title = ""
            return
        self.title = chart_title(p, bars)
        plt.title(self.title)
        if bars:
            xs = list(range(len(bars)))
            plt.plot(xs, [float(b.close) for b in bars], marker="braille", label="close")
            plt.hline(float(p.entry_price), "blue")
            if p.tp_price is not None:
                plt.hline(float(p.tp_price), "green")
            if p.sl_price is not None:
                plt.hline(float(p.sl_price), "red")
            plt.xticks([])
        self.refresh()
