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
    mark = f", mark {p.mark_price}" if p.mark_price is not None else ""
    return f"{head}; {NO_HISTORY}" if not bars else f"{head}; last close {bars[-1].close}{mark}"


def drawn_from(p: Position | None, bars: Sequence[StoredCandle]) -> tuple[object, ...]:
    """Everything the chart draws, and nothing else: a new PnL or timestamp alone repaints nothing."""
    if p is None:
        return ()
    return (
        p.id,
        p.symbol,
        p.side,
        p.entry_price,
        p.tp_price,
        p.sl_price,
        p.mark_price,
        tuple((b.open_time, b.close) for b in bars),
    )


class PositionChart(PlotextPlot):
    DEFAULT_CSS = """
    PositionChart { height: 12; }
    """

    _shown: tuple[object, ...] | None = None
    title: str = ""
    draws = 0
    """How many times the chart was drawn (the quiet-when-unchanged promise is tested on it)."""

    def show(self, p: Position | None, bars: Sequence[StoredCandle]) -> None:
        """Redraw only when what the chart shows changed: the price (bars, mark) or entry, TP or SL."""
        key = drawn_from(p, bars)
        if key == self._shown:
            return
        self._shown = key
        self.draws += 1
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
            closes = [float(b.close) for b in bars]
            if p.mark_price is not None:
                closes.append(float(p.mark_price))  # the live mark follows the last stored close
            plt.plot(list(range(len(closes))), closes, marker="braille", label="close")
            plt.hline(float(p.entry_price), "blue")
            if p.tp_price is not None:
                plt.hline(float(p.tp_price), "green")
            if p.sl_price is not None:
                plt.hline(float(p.sl_price), "red")
            plt.xticks([])
        self.refresh()
