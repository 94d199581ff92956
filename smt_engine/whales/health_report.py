"""What the whale source tells `smt status` and the console: ``whales.etherscan`` and ``whales.flows``.

``whales.etherscan`` carries the day's call count (``calls_today`` of ``daily_limit``, per UTC day),
so a restart on the same day keeps counting, and warns when this cycle's calls times the cycles in a
day would not fit the daily allowance. ``whales.flows`` says how many watched exchange wallets were read.
"""

from __future__ import annotations

from collections.abc import Sequence

from smt_engine.clock import Clock
from smt_engine.domain import HealthStatus
from smt_engine.health import report_health
from smt_engine.store import Store
from smt_engine.whales.etherscan import EtherscanRateLimiter
from smt_engine.whales.flows import WINDOWS_HOURS, FlowSignal

ETHERSCAN_COMPONENT = "whales.etherscan"
FLOWS_COMPONENT = "whales.flows"


def calls_already_today(store: Store, clock: Clock) -> int:
    """The day's Etherscan calls recorded before this process started (same UTC day), else 0."""
    row = store.health.get(ETHERSCAN_COMPONENT)
    if row is None or row.data.get("day") != clock.now().date().isoformat():
        return 0
    try:
        return int(row.data.get("calls_today", 0))
    except (TypeError, ValueError):
        return 0


def report_etherscan_health(
    store: Store,
    clock: Clock,
    limiter: EtherscanRateLimiter,
    errors: Sequence[str],
    *,
    calls: int,
    rate_limited: int,
    cycles_per_day: float,
) -> None:
    projected = round(calls * cycles_per_day)
    data = {
        "day": limiter.day,
        "calls_today": limiter.used_today,
        "daily_limit": limiter.daily_limit,
        "calls_this_cycle": calls,
        "rate_limited_this_cycle": rate_limited,
        "failures_this_cycle": len(errors),
        "projected_calls_per_day": projected,
    }
    usage = f"{limiter.used_today} of {limiter.daily_limit} calls today"
    if limiter.used_today >= limiter.daily_limit:
        status, detail = HealthStatus.DOWN, f"daily call limit reached ({usage}); whale data resumes tomorrow"
    elif errors:
        status = HealthStatus.WARN
        detail = f"{len(errors)} failure(s) this cycle, first: {errors[0]} ({usage})"
    elif projected > limiter.daily_limit:
        status = HealthStatus.WARN
        detail = (
            f"{calls} calls per cycle x {cycles_per_day:g} cycles a day = {projected}, over the daily "
            f"limit of {limiter.daily_limit}: fewer watched wallets or whales, or a longer signal interval"
        )
    else:
        retried = f", {rate_limited} rate-limit repl(ies) retried" if rate_limited else ""
        status, detail = HealthStatus.OK, f"{calls} calls this cycle{retried}, {usage}"
    report_health(store, clock, ETHERSCAN_COMPONENT, status, detail, data)


def record_calls_outside_cycles(store: Store, clock: Clock, limiter: EtherscanRateLimiter, by: str) -> None:
    """Add calls made outside the engine's cycles (``smt whales train``) to the day's count.

    The row's status and detail stay the engine's unless the day's allowance is now spent.
    """
    row = store.health.get(ETHERSCAN_COMPONENT)
    same_day = row is not None and row.data.get("day") == limiter.day
    data = dict(row.data) if row is not None and same_day else {}
    data.update(day=limiter.day, calls_today=limiter.used_today, daily_limit=limiter.daily_limit)
    usage = f"{limiter.used_today} of {limiter.daily_limit} calls today"
    if limiter.used_today >= limiter.daily_limit:
        status, detail = HealthStatus.DOWN, f"daily call limit reached ({usage}, last by {by})"
    elif row is not None and same_day:
        status, detail = row.status, row.detail
    else:
        status, detail = HealthStatus.OK, f"{usage} (by {by})"
    report_health(store, clock, ETHERSCAN_COMPONENT, status, detail, data)


def report_flows_health(
    store: Store,
    clock: Clock,
    eth: FlowSignal | None,
    read: int,
    watched: int,
    incomplete: Sequence[str] = (),
) -> None:
    """Warn whenever a watched wallet was not read whole: the flow signal is then held NEUTRAL."""
    if watched == 0:
        report_health(store, clock, FLOWS_COMPONENT, HealthStatus.OFF, "no watched exchange wallets")
        return
    data = {
        "wallets_read": read,
        "wallets_watched": watched,
        "incomplete": list(incomplete),
        "windows_hours": sorted({f.window_hours for f in eth.flows}) if eth else list(WINDOWS_HOURS),
    }
    if read == 0:
        status, detail = HealthStatus.DOWN, f"no exchange wallet could be read (of {watched})"
    elif incomplete or read < watched:
        status = HealthStatus.WARN
        which = "; ".join(incomplete) if incomplete else f"{watched - read} not read"
        detail = (
            f"flows from {read} of {watched} exchange wallets, incomplete: {which}; flow signal held NEUTRAL"
        )
    else:
        status = HealthStatus.OK
        detail = f"{watched} exchange wallets; " + (eth.reasoning if eth else "no flow signal")
    report_health(store, clock, FLOWS_COMPONENT, status, detail, data)
