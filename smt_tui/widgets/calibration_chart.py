"""Calibration: the confidence the analyst stated against how often it was right, per confidence bin."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


class CalibrationChart(PlotextPlot):
    """Points on the diagonal are calibrated; below it the analyst claimed more than it delivered."""

    DEFAULT_CSS = """
    CalibrationChart {
        height: 1fr;
        min-height: 12;
    }
    """

    def show(self, bins: list[dict[str, Any]], title: str) -> None:
        """Redraw with ``bins`` as the engine stored them (``bin``, ``n``, ``stated``, ``realised``)."""
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel("stated confidence")
        plt.ylabel("realised hit rate")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.plot([0.0, 1.0], [0.0, 1.0], label="calibrated", color="gray")
        if bins:
            plt.scatter(
                [float(b["stated"]) for b in bins],
                [float(b["realised"]) for b in bins],
                label="stated vs realised",
                marker="o",
                color="cyan",
            )
        self.refresh()
