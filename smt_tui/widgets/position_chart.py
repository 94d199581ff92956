"""The selected open position's price against its entry, take-profit and stop-loss lines.

Drawn from the bars the engine stored each cycle (``store.candles``), so the console never asks the
exchange; until the engine has recorded a bar for the pair it says so instead of drawing an empty box.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual.timer import Timer
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


MARK_EVERY = 5.0
"""Real seconds between two redraws for a move of the mark price alone (docs/benchmarks.md, console)."""

_MARK = 6
"""Where the mark price is in ``drawn_from``."""


class PositionChart(PlotextPlot):
    DEFAULT_CSS = """
    PositionChart { height: 12; }
    """

    _shown: tuple[object, ...] | None = None
    title: str = ""
    draws = 0
    """How many times the chart was drawn (the quiet-when-unchanged promise is tested on it)."""
    mark_every = MARK_EVERY
    _drawn_at = float("-inf")
    _latest: tuple[Position | None, Sequence[StoredCandle]] | None = None
    _later: Timer | None = None

    def show(self, p: Position | None, bars: Sequence[StoredCandle]) -> None:
        """Redraw only when what the chart shows changed: the price (bars, mark) or entry, TP or SL.

        A move of the mark alone is drawn at most every ``mark_every`` seconds, the latest one then:
        at the demo's pace the mark moves with every snapshot and each plot costs a full plotext
        render, about a fifth of the demo console's CPU. The positions table shows the mark as it moves.
        """
        key = drawn_from(p, bars)
        self._latest = None
        if key == self._shown:
            return
        shown = self._shown
        mark_only = (
            shown is not None
            and len(shown) == len(key)
            and shown[:_MARK] + shown[_MARK + 1 :] == (key[:_MARK] + key[_MARK + 1 :])
        )
        wait = self._drawn_at + self.mark_every - time.monotonic()
        if mark_only and wait > 0:
            self._latest = (p, bars)
            if self._later is None:
                self._later = self.set_timer(wait, self._draw_latest)
            return
        self._draw(p, bars, key)

    def _draw_latest(self) -> None:
        self._later = None
        if self._latest is not None:
            p, bars = self._latest
            self._latest = None
            self._draw(p, bars, drawn_from(p, bars))

    def _draw(self, p: Position | None, bars: Sequence[StoredCandle], key: tuple[object, ...]) -> None:
        self._shown = key
        self._drawn_at = time.monotonic()
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
