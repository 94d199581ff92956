"""whales.etherscan health: the day's count, the daily limit, and a cycle rate the day cannot afford."""

from __future__ import annotations

from datetime import UTC, datetime

from smt_engine.clock import SimulatedClock
from smt_engine.domain import HealthStatus
from smt_engine.store import Store
from smt_engine.whales.etherscan import EtherscanRateLimiter
from smt_engine.whales.health_report import calls_already_today, report_etherscan_health, report_flows_health


def _limiter(used: int) -> EtherscanRateLimiter:
    return EtherscanRateLimiter(3.0, 100_000, used_today=used, today=lambda: "2026-03-01")


def test_ok_warn_down_and_the_count_carried_into_a_restart(store: Store) -> None:
    clock = SimulatedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    report_etherscan_health(store, clock, _limiter(420), [], calls=58, rate_limited=1, cycles_per_day=6)
    row = store.health.get("whales.etherscan")
    assert row is not None
    assert row.status is HealthStatus.OK
    assert row.detail == "58 calls this cycle, 1 rate-limit repl(ies) retried, 420 of 100000 calls today"
    assert row.data["projected_calls_per_day"] == 348
    assert calls_already_today(store, clock) == 420

    report_etherscan_health(store, clock, _limiter(500), [], calls=120, rate_limited=0, cycles_per_day=1440)
    row = store.health.get("whales.etherscan")
    assert row is not None
    assert row.status is HealthStatus.WARN
    assert "120 calls per cycle x 1440 cycles a day = 172800, over the daily limit" in row.detail

    report_etherscan_health(store, clock, _limiter(100_000), ["x"], calls=1, rate_limited=0, cycles_per_day=6)
    row = store.health.get("whales.etherscan")
    assert row is not None
    assert row.status is HealthStatus.DOWN
    assert "daily call limit reached" in row.detail
    assert calls_already_today(store, SimulatedClock(datetime(2026, 3, 2, tzinfo=UTC))) == 0  # a new day


def test_flows_health_counts_the_wallets_read(store: Store) -> None:
    clock = SimulatedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    report_flows_health(store, clock, None, 5, 8, ["Binance 14 (failed)"])
    row = store.health.get("whales.flows")
    assert row is not None
    assert row.status is HealthStatus.WARN
    assert (
        row.detail
        == "flows from 5 of 8 exchange wallets, incomplete: Binance 14 (failed); flow signal held NEUTRAL"
    )
    report_flows_health(store, clock, None, 0, 8)
    assert store.health.get("whales.flows").status is HealthStatus.DOWN  # type: ignore[union-attr]
