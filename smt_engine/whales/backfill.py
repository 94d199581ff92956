"""`smt whales backfill`: hourly exchange net flows over history, from Etherscan, for backtests.

The watched exchange wallets' transfers (``txlist``, ``txlistinternal``, ``tokentx``) over a historical
block range go through the engine's own history cache, so the work is resumable: each (wallet, list)
remembers the block range it covers, a pass reads at most the client's page cap, and the next pass (or
the next run, after the daily budget ran out) continues where it stopped. Once every wallet covers the
range, each hour's net flow of ETH, WETH, stETH, USDT and USDC (each separately) is measured with the
engine's own ``measure_flows`` and written to ``flow_history``.

The daily budget leaves room for the engine: the key's ``whales.daily_call_limit`` minus what the
engine's cycles need in a day, twice over (docs/whales.md, "Calls per cycle and the free tier").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smt_engine.store import Store
from smt_engine.store.flow_history import FlowHour
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.etherscan import EtherscanClient, EtherscanError, EtherscanQuotaExhausted
from smt_engine.whales.flows import measure_flows
from smt_engine.whales.history import HistoryCache
from smt_engine.whales.source import WATCHED_KINDS
from smt_engine.whales.transfers import Transfer

ENGINE_CALLS_PER_CYCLE = 63
"""A cycle's calls with the 8 watched wallets and 7 whales (bench/bench_whale_cycle.py, docs/whales.md)."""
ENGINE_HEADROOM = 2
HOUR = timedelta(hours=1)
RECORDS_PER_CALL = 1000

Progress = Callable[[int, int, str], None]


class BackfillStopped(Exception):
    """The run stopped before the range was covered; what was read is kept for the next run."""


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    start: datetime
    end: datetime
    start_block: int
    end_block: int
    wallets: int
    daily_limit: int
    engine_reserve: int
    calls_per_second: float
    max_pages: int

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    @property
    def budget(self) -> int:
        return max(0, self.daily_limit - self.engine_reserve)

    @property
    def minimum_calls(self) -> int:
        return self.wallets * len(WATCHED_KINDS)

    def describe(self) -> str:
        lists = len(WATCHED_KINDS)
        eta = self.minimum_calls / self.calls_per_second
        per_day_h = self.budget / self.calls_per_second / 3600
        return "\n".join(
            [
                f"backfill {self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC ({self.hours} h): "
                f"{self.wallets} exchange wallets x {lists} lists over blocks "
                f"{self.start_block}..{self.end_block}",
                f"calls: at least {self.minimum_calls} (one per wallet and list), plus one per "
                f"{RECORDS_PER_CALL:,} transfers after the first; a pass reads at most {self.max_pages} "
                "pages per list and continues where it stopped",
                f"budget: {self.budget:,} calls a day ({self.daily_limit:,} allowed, {self.engine_reserve:,} "
                f"kept for the engine), at {self.calls_per_second:g} calls/s",
                f"ETA: at least {eta:.0f} s, plus {1 / self.calls_per_second:.2f} s per {RECORDS_PER_CALL:,} "
                f"transfers; at most {per_day_h:.1f} h of calls a day, a larger backfill continues the next "
                "UTC day (run the same command again)",
            ]
        )


def engine_reserve(daily_limit: int, signal_interval: timedelta) -> int:
    """The calls the engine's cycles need in a day, twice over, never more than the whole allowance."""
    cycles = math.ceil(timedelta(days=1) / signal_interval)
    return min(daily_limit, ENGINE_CALLS_PER_CYCLE * cycles * ENGINE_HEADROOM)


async def plan_backfill(
    client: EtherscanClient,
    book: AddressBook,
    start: datetime,
    end: datetime,
    daily_limit: int,
    reserve: int,
    calls_per_second: float,
    *,
    now: datetime,
    retention_days: int,
) -> BackfillPlan:
    """The block range of ``start..end`` (two calls) and what reading it costs."""
    if end <= start:
        raise ValueError(f"--to {end:%Y-%m-%d %H:%M} must be after --from {start:%Y-%m-%d %H:%M}")
    if end > now:
        raise ValueError(f"--to {end:%Y-%m-%d %H:%M} is in the future: history ends now")
    kept = now - timedelta(days=retention_days)
    if start < kept:
        days = math.ceil((now - start) / timedelta(days=1))
        raise ValueError(
            f"--from {start:%Y-%m-%d} is older than whales.history_retention_days ({retention_days}): the "
            f"engine prunes cached transfers older than that, under a backfill in progress; set "
            f"whales.history_retention_days = {days} (or more) first"
        )
    start_block = await client.block_at(start, closest="after")
    end_block = await client.block_at(end)
    return BackfillPlan(
        start=start,
        end=end,
        start_block=start_block,
        end_block=end_block,
        wallets=len(book.watched()),
        daily_limit=daily_limit,
        engine_reserve=reserve,
        calls_per_second=calls_per_second,
        max_pages=client.max_pages,
    )


def _covered(cache: HistoryCache, address: str, plan: BackfillPlan) -> tuple[int, ...]:
    """Per list, how far the cached range reaches (the end block once it covers the plan)."""
    reach = []
    for kind in WATCHED_KINDS:
        state = cache.repo.sync_state(address, kind.value)
        if state is None or state.from_block > plan.start_block:
            reach.append(-1)
        else:
            reach.append(min(state.to_block, plan.end_block))
    return tuple(reach)


async def backfill(
    client: EtherscanClient,
    store: Store,
    book: AddressBook,
    plan: BackfillPlan,
    now: datetime,
    progress: Progress,
) -> int:
    """Read every watched wallet over the plan's range, then write its hourly flows; returns the rows."""
    cache = HistoryCache(store, client)
    wallets = book.watched()
    done = [plan.end_block] * len(WATCHED_KINDS)
    for i, entry in enumerate(wallets):
        reach = _covered(cache, entry.address, plan)
        while list(reach) != done:
            progress(i, len(wallets), entry.label)
            try:
                await cache.sync(entry.address, WATCHED_KINDS, plan.start_block, plan.end_block, now)
            except EtherscanQuotaExhausted as exc:
                raise BackfillStopped(
                    f"{exc.message}: {i} of {len(wallets)} wallets read whole; run the same command again "
                    "(after the UTC day changes) to continue"
                ) from None
            except EtherscanError as exc:
                raise BackfillStopped(
                    f"{entry.label}: {exc.message}: nothing was lost; run the same command again to continue"
                ) from None
            after = _covered(cache, entry.address, plan)
            if after == reach:
                raise BackfillStopped(f"{entry.label}: a pass read nothing new; run the same command again")
            reach = after
    progress(len(wallets), len(wallets), "")
    return store.flow_history.save(hourly_flows(cache, book, plan, now))


def hourly_flows(cache: HistoryCache, book: AddressBook, plan: BackfillPlan, now: datetime) -> list[FlowHour]:
    """Each hour of the plan, each asset: the engine's own flow measure over that hour alone."""
    buckets: dict[datetime, dict[str, list[Transfer]]] = {}
    wallets = [e.address for e in book.watched()]
    first = plan.start + HOUR
    for address in wallets:
        for t in cache.window(address, plan.start, plan.end):
            hour = t.at.replace(minute=0, second=0, microsecond=0)
            hour = hour if hour == t.at else hour + HOUR
            if first <= hour <= plan.end:
                buckets.setdefault(hour, {}).setdefault(address, []).append(t)
    rows: list[FlowHour] = []
    hour = first
    while hour <= plan.end:
        watched: dict[str, list[Transfer]] = {a: buckets.get(hour, {}).get(a, []) for a in wallets}
        for f in measure_flows(watched, book, "backfill", hour, windows=(1,)):
            rows.append(
                FlowHour(
                    hour=hour,
                    asset=f.asset,
                    inflow=f.inflow,
                    outflow=f.outflow,
                    net=f.net,
                    transfers=f.transfers,
                    wallets=f.wallets,
                    recorded_at=now,
                )
            )
        hour += HOUR
    return rows
