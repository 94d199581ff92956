"""Each exchange-flow asset and window as its own source, from the hourly history in ``flow_history``.

``smt whales backfill`` stores one net flow per asset and hour. At a decision time ``t`` the window of
``w`` hours is the sum of the ``w`` hours ending at or before ``t`` (an hour counts once it has closed:
its end is at or before ``t``), so nothing after ``t`` is read. A window with a missing hour, or with
an hour that read fewer wallets whole than the history's fullest hour, makes no call: a partial total
is not a measurement (as in the forward scoring, ``scorecard.flow_subjects``).

The call is the forward scoring's (``flow_direction``: the published effect's direction, arXiv
2411.06327): stablecoins onto exchanges LONG, ETH, WETH or stETH onto exchanges SHORT, the reverse
off them, no net flow no call; at the forward scoring's confidence (0.5). Stablecoin calls are made on
ETH and BTC, ETH-like calls on ETH only: the effects the paper reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from smt_engine.store import Store
from smt_engine.store.flow_history import FlowHour
from smt_engine.store.flows import ExchangeFlow
from smt_engine.whales.flows import ETH_LIKE, FLOW_ASSETS, STABLES, WINDOWS_HOURS
from smt_engine.whales.transfers import ZERO

HOUR = timedelta(hours=1)
PREFIX = "flow "


def source_name(asset: str, window: int) -> str:
    """``flow USDT 1h``: the forward scoring's model label (``<asset> <window>h``) after ``flow``."""
    return f"{PREFIX}{asset} {window}h"


def is_flow_asset_source(name: str) -> bool:
    return name.startswith(PREFIX)


def bases_for(asset: str) -> tuple[str, ...]:
    """The pairs a flow asset makes calls on (the effects the paper reports)."""
    if asset in STABLES:
        return ("ETH", "BTC")
    if asset in ETH_LIKE:
        return ("ETH",)
    return ()


class FlowHours:
    """The stored hourly flows over a backtest's span, summed per window at a decision time."""

    def __init__(
        self, store: Store, start: datetime, end: datetime, windows: Sequence[int] = WINDOWS_HOURS
    ) -> None:
        self.windows = tuple(windows)
        rows = store.flow_history.between(start - max(self.windows) * HOUR, end)
        self._hours: dict[str, dict[datetime, FlowHour]] = {}
        for r in rows:
            self._hours.setdefault(r.asset, {})[r.hour] = r
        self._full = max((r.wallets for r in rows), default=0)
        self._cache: dict[tuple[str, int, datetime], ExchangeFlow | None] = {}

    @property
    def present(self) -> bool:
        return bool(self._hours)

    def series(self) -> list[tuple[str, int]]:
        """Every (asset, window) with stored hours, in the flow assets' order."""
        return [(a, w) for a in FLOW_ASSETS if a in self._hours for w in self.windows]

    def window(self, asset: str, hours: int, at: datetime) -> ExchangeFlow | None:
        """The net flow of ``asset`` over the ``hours`` closed hours ending at or before ``at``."""
        end = at.replace(minute=0, second=0, microsecond=0)
        key = (asset, hours, end)
        if key in self._cache:
            return self._cache[key]
        series = self._hours.get(asset, {})
        inflow = outflow = net = ZERO
        transfers = 0
        flow: ExchangeFlow | None = None
        for k in range(hours):
            row = series.get(end - k * HOUR)
            if row is None or row.wallets < self._full:
                break
            inflow += row.inflow
            outflow += row.outflow
            net += row.net
            transfers += row.transfers
        else:
            flow = ExchangeFlow(
                cycle_id="backtest",
                at=end,
                window_hours=hours,
                asset=asset,
                inflow=inflow,
                outflow=outflow,
                net=net,
                transfers=transfers,
                wallets=self._full,
            )
        self._cache[key] = flow
        return flow
