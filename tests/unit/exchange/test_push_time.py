"""A pushed ticker's age is judged on one clock: the venue's stamp (``E``) less the server offset the REST
transport measured, so a host a few seconds off WEEX does not make every push look old, while a frame
old by the venue's own time still is (issue: "younger than a limit by the frame's own timestamp")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.factory import stream_reports
from smt_engine.exchange.market.plausibility import PriceRule, implausibility
from smt_engine.exchange.weex.streams import StreamMessage, message_of
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills

HOST_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AHEAD = timedelta(seconds=20)  # WEEX's clock 20 s ahead of this host's
RULE = PriceRule(max_age=timedelta(seconds=10), band_pct=Decimal(1))


def supervisor(tmp_path: Path, offset: timedelta | None) -> StreamSupervisor[PushedFills]:
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(HOST_NOW)
    return StreamSupervisor(
        clock,
        reports=stream_reports(store, clock),
        pushed=PushedFills(),
        ws_url="ws://127.0.0.1:1",
        credentials=None,
        symbols=["ETHUSDT"],
        heartbeat=30,
        backoff_max=60,
        server_offset=(lambda: offset) if offset is not None else None,
    )


def ticker(at: datetime | None) -> StreamMessage:
    return StreamMessage(channel="ticker", rows=[{"c": "3000", "m": "3000"}], at=at, symbol="ETHUSDT")


async def test_a_fresh_push_from_a_venue_whose_clock_runs_ahead_is_fresh(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, AHEAD)
    await sup._on_public(ticker(HOST_NOW + AHEAD - timedelta(seconds=1)))  # sent a second ago, venue time
    latest = sup.prices.get("ETHUSDT")
    assert latest is not None
    assert latest[2] == HOST_NOW - timedelta(seconds=1)
    assert implausibility(Decimal(3000), latest[2], Decimal(3000), HOST_NOW, RULE) is None


async def test_a_push_old_by_the_venues_own_time_is_still_old_on_this_hosts_clock(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, AHEAD)
    await sup._on_public(ticker(HOST_NOW + AHEAD - timedelta(seconds=60)))
    latest = sup.prices.get("ETHUSDT")
    assert latest is not None
    reason = implausibility(Decimal(3000), latest[2], Decimal(3000), HOST_NOW, RULE)
    assert reason is not None
    assert "60s old" in reason


async def test_a_push_with_no_stamp_is_as_old_as_its_arrival(tmp_path: Path) -> None:
    frame = {"e": "ticker", "s": "ETHUSDT", "d": [{"c": "3000", "m": "3000"}]}
    message = message_of(frame)
    assert message is not None, "no E: no venue time, not 1970"
    assert message.at is None, "no E: no venue time, not 1970"
    sup = supervisor(tmp_path, None)
    await sup._on_public(message)
    latest = sup.prices.get("ETHUSDT")
    assert latest is not None
    assert latest[2] == HOST_NOW
    assert implausibility(Decimal(3000), latest[2], Decimal(3000), HOST_NOW, RULE) is None


def test_without_a_measured_offset_the_venue_stamp_is_taken_as_it_is(tmp_path: Path) -> None:
    stamp = HOST_NOW - timedelta(seconds=3)
    assert supervisor(tmp_path, None)._host_time(stamp, HOST_NOW) == stamp
    assert supervisor(tmp_path, timedelta(0))._host_time(stamp, HOST_NOW) == stamp
