"""The equity curve of the last day, labelled: start, low, high and change, so the eye needs no axis maths.

textual-plotext (the Textual wrapper of plotext, maintained by the Textual team) draws it: a real line
chart with axes in any terminal, which Textual's own Sparkline cannot label.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot


def equity_title(curve: tuple[float, ...]) -> str:
    if not curve:
        return "equity: no account snapshot yet"
    start, low, high, last = curve[0], min(curve), max(curve), curve[-1]
    change = (last - start) / start * 100 if start else 0.0
    return f"equity 24h: {start:,.2f} -> {last:,.2f} ({change:+.2f}%), low {low:,.2f}, high {high:,.2f}"


class EquityChart(PlotextPlot):
    DEFAULT_CSS = """
    EquityChart { height: 9; }
    """

    _curve: tuple[float, ...] | None = None

    def show(self, curve: tuple[float, ...]) -> None:
        if curve == self._curve:
            return  # nothing new: no redraw
        self._curve = curve
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(equity_title(curve))
        if curve:
            plt.plot(list(range(len(curve))), list(curve), marker="braille")
            plt.xticks([])
        self.refresh()
