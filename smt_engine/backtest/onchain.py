"""Flow and whale signals as the engine could have read them at a past moment, from stored rows.

A decision at ``t`` sees the newest exchange-flow cycle and aggregate whale signal recorded at or
before ``t`` and not older than one signal interval (the engine reads them in the same cycle), with the
flow's history taken from cycles before that one, exactly as ``whales.source`` builds it live. Nothing
recorded after ``t`` is visible. Where nothing is stored, the sources built on them are not run.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from smt_engine.config import Settings
from smt_engine.store import Store
from smt_engine.store.codec import ts
from smt_engine.store.flows import ExchangeFlow
from smt_engine.store.records import WhaleSignal
from smt_engine.whales.flows import ETH_LIKE, STABLES, FlowSignal, flow_signal
from smt_engine.whales.signals import btc_proxy
from smt_engine.whales.source import series_history


class OnchainHistory:
    """Stored flow cycles and aggregate whale signals over a backtest's span, looked up by moment."""

    def __init__(self, settings: Settings, store: Store, start: datetime, end: datetime) -> None:
        self.settings = settings
        self.store = store
        self.window: timedelta = settings.engine.signal_interval
        flows = store.exchange_flows.select(
            "at >= ? AND at <= ?", [ts(start - self.window), ts(end)], order_by="at, id"
        )
        cycles: dict[str, list[ExchangeFlow]] = {}
        for f in flows:
            cycles.setdefault(f.cycle_id, []).append(f)
        self._flow_cycles = sorted(cycles.values(), key=lambda rows: rows[0].at)
        self._flow_times = [rows[0].at for rows in self._flow_cycles]
        whales = store.whale_signals.select(
            "is_aggregate = 1 AND at >= ? AND at <= ?", [ts(start - self.window), ts(end)], order_by="at, id"
        )
        self._whales = whales
        self._whale_times = [w.at for w in whales]
        self._flow_cache: dict[tuple[str, int], FlowSignal | None] = {}

    @property
    def has_flows(self) -> bool:
        return bool(self._flow_cycles)

    @property
    def has_whales(self) -> bool:
        return bool(self._whales)

    def _latest(self, times: list[datetime], at: datetime) -> int | None:
        i = bisect.bisect_right(times, at) - 1
        if i < 0 or times[i] <= at - self.window:
            return None
        return i

    def flow_signal(self, base: str, at: datetime) -> FlowSignal | None:
        i = self._latest(self._flow_times, at)
        if i is None:
            return None
        key = (base.upper(), i)
        if key not in self._flow_cache:
            rows = self._flow_cycles[i]
            when = rows[0].at
            wallets = max(f.wallets for f in rows)
            repo = self.store.exchange_flows
            eth_hist = series_history(repo, ETH_LIKE, when, wallets)
            stable_hist = series_history(repo, STABLES, when, wallets)
            self._flow_cache[key] = flow_signal(base, rows, eth_hist, stable_hist)
        return self._flow_cache[key]

    def whale_signal(self, base: str, at: datetime) -> WhaleSignal | None:
        i = self._latest(self._whale_times, at)
        if i is None:
            return None
        signal = self._whales[i]
        base = base.upper()
        if base == "ETH":
            return signal
        if base == "BTC" and self.settings.whales.btc_proxy:
            return btc_proxy(signal, self.settings.whales.btc_proxy_weight)
        return None
