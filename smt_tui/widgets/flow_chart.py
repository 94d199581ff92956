"""Net exchange flow over time, stablecoins and ETH-like assets each on its own axis (dollars left, ETH
right), from the engine's stored 6 h windows.

Net is inflow minus outflow to exchanges: stablecoins flowing in read as buying power arriving, ETH-like
assets flowing in as supply arriving to sell. The console reads ``store.exchange_flows`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from textual_plotext import PlotextPlot

from smt_engine.store.flows import ExchangeFlow

WINDOW_HOURS = 6
STABLES = frozenset({"USDT", "USDC"})
"""The assets summed as stablecoins (the engine's whale flow scorer sums the same two)."""
NO_FLOWS = "no exchange flows recorded yet"


def flow_series(flows: Sequence[ExchangeFlow]) -> list[tuple[datetime, Decimal, Decimal]]:
    """Per recorded moment, oldest first: (at, stablecoin net, ETH-like net)."""
    by_at: dict[datetime, list[Decimal]] = {}
    for f in flows:
        sums = by_at.setdefault(f.at, [Decimal(0), Decimal(0)])
        sums[0 if f.asset in STABLES else 1] += f.net
    return [(at, s, e) for at, (s, e) in sorted(by_at.items())]


def flow_title(series: Sequence[tuple[datetime, Decimal, Decimal]]) -> str:
    if not series:
        return f"exchange net flow {WINDOW_HOURS}h: {NO_FLOWS}"
    _, stable, eth = series[-1]
    head = f"net flow into exchanges {WINDOW_HOURS}h (+ in, - out)"
    return f"{head}, latest: stablecoins {stable:+,.0f}, ETH-like {eth:+,.2f}"


class FlowChart(PlotextPlot):
    DEFAULT_CSS = """
    FlowChart { height: 10; }
    """

    _shown: tuple[tuple[datetime, Decimal, Decimal], ...] | None = None
    title: str = ""

    def show(self, flows: Sequence[ExchangeFlow]) -> None:
        series = tuple(flow_series(flows))
        if series == self._shown:
            return
        self._shown = series
        self.title = flow_title(series)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        if series:
            # One axis per unit: stablecoins (dollars) on the left, ETH on the right. On one axis the ETH
            # line (thousands of times smaller) lay flat on zero.
            xs = list(range(len(series)))
            plt.plot(xs, [float(s) for _, s, _ in series], marker="braille", label="stablecoins (USD, left)")
            plt.plot(
                xs,
                [float(e) for _, _, e in series],
                marker="braille",
                label="ETH-like (ETH, right)",
                yside="right",
            )
            plt.xticks([])
        self.refresh()
