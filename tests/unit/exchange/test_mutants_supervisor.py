"""The stream supervisor, driven directly: what each push, each reconnect and each change of a stream's
state does (wake the monitor, hand rows to the inbox, keep or drop a pushed price, report health), and how
it builds the two streams ("The exchange is the source of truth", "No price sizes money unchecked")."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock, WallClock
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.exchange.market.streamed import StreamPrices
from smt_engine.exchange.weex.streams import Credentials, StreamMessage, StreamState, WeexStream
from smt_engine.exchange.weex.supervisor import StreamReports, StreamSupervisor

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PRIVATE = "exchange.stream.private"
PUBLIC = "exchange.stream.public"
LOGGER = "smt_engine.exchange.weex.supervisor"


class Inbox:
    """A ``PushInbox`` that keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def note(self, row: dict[str, Any]) -> bool:
        self.calls.append(("note", row))
        return True

    def note_position(self, row: dict[str, Any]) -> None:
        self.calls.append(("note_position", row))

    def forget_positions(self) -> None:
        self.calls.append(("forget_positions", None))


class Reports:
    """Keeps every health report and event the supervisor sends."""

    def __init__(self) -> None:
        self.health: list[tuple[str, HealthStatus, str, dict[str, Any]]] = []
        self.events: list[tuple[EventLevel, str, str, dict[str, Any]]] = []

    def as_reports(self) -> StreamReports:
        return StreamReports(
            health=lambda *a: self.health.append(a),
            event=lambda *a: self.events.append(a),
        )


class Rig:
    """A supervisor with both streams on a simulated clock, its inbox, reports and noted legs."""

    def __init__(
        self, *, credentials: bool = True, symbols: tuple[str, ...] = ("ETHUSDT",), **kw: Any
    ) -> None:
        self.clock = SimulatedClock(T0)
        self.inbox = Inbox()
        self.reports = Reports()
        self.legs: list[tuple[str, str]] = []
        self.sup: StreamSupervisor[Inbox] = StreamSupervisor(
            kw.pop("clock", self.clock),
            reports=self.reports.as_reports(),
            pushed=self.inbox,
            ws_url="ws://127.0.0.1:1/",
            credentials=Credentials("key", "secret", "phrase") if credentials else None,
            symbols=list(symbols),
            heartbeat=25,
            backoff_max=45,
            **{"note_leg": lambda order_id, symbol: self.legs.append((order_id, symbol)), **kw},
        )

    def stream(self, name: str) -> WeexStream:
        (stream,) = [s for s in self.sup.streams if s.name == name]
        return stream


def push(
    channel: str, *rows: dict[str, Any], symbol: str | None = None, at: datetime | None = None
) -> StreamMessage:
    return StreamMessage(channel=channel, rows=list(rows), at=at, symbol=symbol)


def state(up: bool, detail: str, *, auth_refused: bool = False) -> StreamState:
    return StreamState(up=up, since=T0, detail=detail, connects=3, auth_refused=auth_refused)


# ---------------------------------------------------------------- building the streams


def test_the_private_stream_subscribes_the_accounts_channels_and_the_public_one_each_pairs_ticker() -> None:
    rig = Rig(symbols=("ETHUSDT", "BTCUSDT"))
    private, public = rig.sup.streams
    assert (private.name, private.private, private.url) == (PRIVATE, True, "ws://127.0.0.1:1/v3/ws/private")
    assert private.channels == ["orders", "fill", "positions", "account"]
    assert (public.name, public.private, public.url) == (PUBLIC, False, "ws://127.0.0.1:1/v3/ws/public")
    assert public.channels == ["ETHUSDT@ticker", "BTCUSDT@ticker"]
    for stream in (private, public):
        assert (stream.heartbeat, stream.backoff_max) == (25, 45)
        assert stream.handshakes is rig.sup.handshakes


def test_without_keys_there_is_no_private_stream_and_without_pairs_no_public_one() -> None:
    assert [s.name for s in Rig(credentials=False).sup.streams] == [PUBLIC]
    assert [s.name for s in Rig(symbols=()).sup.streams] == [PRIVATE]
    assert Rig(credentials=False, symbols=()).sup.streams == []


async def test_the_streams_keep_alive_and_back_off_on_the_engines_clock() -> None:
    rig = Rig()
    for stream in rig.sup.streams:
        before = rig.clock.now()
        assert stream._monotonic() == before.timestamp()
        sleeping = asyncio.ensure_future(stream._sleep(5))
        await asyncio.sleep(0)
        assert not sleeping.done(), "a simulated clock's sleep waits for the clock"
        await rig.clock.advance(5)
        await sleeping
        assert stream._monotonic() == (before + timedelta(seconds=5)).timestamp()


def test_on_the_wall_clock_the_streams_keep_their_own_sleep_and_monotonic_time() -> None:
    rig = Rig(clock=WallClock())
    for stream in rig.sup.streams:
        assert stream._sleep is asyncio.sleep
        assert stream._monotonic is time.monotonic


def test_prices_given_to_the_supervisor_are_the_ones_it_fills_and_without_them_it_makes_its_own() -> None:
    mine = StreamPrices()
    assert Rig(prices=mine).sup.prices is mine
    assert isinstance(Rig().sup.prices, StreamPrices)


async def test_the_handshake_cap_is_one_budget_on_the_engines_clock_and_binding_is_a_warning_event() -> None:
    rig = Rig(handshakes_per_window=2)
    budget = rig.sup.handshakes
    assert budget.limit == 2
    await budget.acquire(PRIVATE)
    await budget.acquire(PUBLIC)
    await rig.clock.advance(100.25)
    waiting = asyncio.ensure_future(budget.acquire(PRIVATE))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert rig.reports.events == [
        (
            EventLevel.WARNING,
            "stream.handshake_cap",
            "exchange.stream.private: 2 websocket handshakes in 5 minutes (the cap, well under WEEX's "
            "300 per IP); the next waits 200 s. REST polling keeps protecting positions.",
            {"stream": PRIVATE, "limit": 2, "wait_s": 199.8},
        )
    ]
    await rig.clock.advance(200)
    await waiting
    assert Rig().sup.handshakes.limit == 60


# ---------------------------------------------------------------- running and stopping


class FakeStream:
    def __init__(self) -> None:
        self.ran = self.stopped = 0

    async def run(self) -> None:
        self.ran += 1

    async def stop(self) -> None:
        self.stopped += 1


async def test_run_runs_every_stream_and_stop_stops_every_stream() -> None:
    rig = Rig()
    fakes = [FakeStream(), FakeStream()]
    rig.sup.streams = fakes  # type: ignore[assignment]
    await rig.sup.run()
    assert [f.ran for f in fakes] == [1, 1]
    await rig.sup.stop()
    assert [f.stopped for f in fakes] == [1, 1]


# ---------------------------------------------------------------- private pushes


async def test_a_reconnect_forgets_pushed_positions_and_wakes_the_monitor_to_reconcile() -> None:
    rig = Rig()
    await rig.stream(PRIVATE)._on_connected()  # type: ignore[misc]
    assert rig.inbox.calls == [("forget_positions", None)]
    assert rig.sup.wake.is_set()


async def test_every_pushed_order_row_goes_to_the_inbox_and_a_tp_sl_legs_id_is_noted() -> None:
    rig = Rig()
    tp = {"id": 11, "symbol": "ETHUSDT", "planType": "TAKE_PROFIT", "status": "FILLED"}
    plain = {"id": 12, "symbol": "ETHUSDT", "type": "MARKET"}
    no_id = {"symbol": "ETHUSDT", "planType": "STOP_LOSS"}
    no_symbol = {"id": 14, "planType": "STOP_LOSS"}
    sl = {"id": "15", "symbol": "BTCUSDT", "orderType": "STOP_MARKET"}
    await rig.stream(PRIVATE)._on_message(push("orders", tp, plain, no_id, no_symbol, sl))
    assert rig.legs == [("11", "ETHUSDT"), ("15", "BTCUSDT")]
    assert rig.inbox.calls == [("note", r) for r in (tp, plain, no_id, no_symbol, sl)]
    assert rig.sup.wake.is_set()


async def test_without_a_leg_book_pushed_orders_still_go_to_the_inbox() -> None:
    rig = Rig(note_leg=None)
    tp = {"id": 11, "symbol": "ETHUSDT", "planType": "TAKE_PROFIT"}
    await rig.sup._on_private(push("orders", tp))
    assert rig.inbox.calls == [("note", tp)]
    assert rig.legs == []


async def test_pushed_positions_go_to_the_inbox_as_positions_and_wake_the_monitor() -> None:
    rig = Rig()
    long, short = {"symbol": "ETHUSDT", "side": "LONG"}, {"symbol": "ETHUSDT", "side": "SHORT"}
    await rig.sup._on_private(push("positions", long, short))
    assert rig.inbox.calls == [("note_position", long), ("note_position", short)]
    assert rig.legs == []
    assert rig.sup.wake.is_set()


async def test_a_fill_wakes_the_monitor_and_an_account_push_does_not() -> None:
    rig = Rig()
    row = {"id": 11, "symbol": "ETHUSDT", "planType": "TAKE_PROFIT"}
    await rig.sup._on_private(push("account", row))
    assert not rig.sup.wake.is_set()
    await rig.sup._on_private(push("fill", row))
    assert rig.sup.wake.is_set()
    assert rig.inbox.calls == []
    assert rig.legs == []


# ---------------------------------------------------------------- public pushes


async def test_a_ticker_push_stores_the_first_rows_last_and_mark_stamped_and_arrived() -> None:
    rig = Rig()
    await rig.clock.advance(7)
    at = T0 + timedelta(seconds=5)
    await rig.stream(PUBLIC)._on_message(
        push("ticker", {"c": "3000.5", "m": "2999.5"}, {"c": "1", "m": "1"}, symbol="ETHUSDT", at=at)
    )
    assert rig.sup.prices.get("ETHUSDT") == (Decimal("3000.5"), Decimal("2999.5"), at)
    assert rig.sup.prices.arrived("ETHUSDT") == T0 + timedelta(seconds=7)


async def test_a_ticker_without_a_mark_is_marked_at_its_last() -> None:
    rig = Rig()
    for row in ({"c": "3000.5"}, {"c": "3000.5", "m": ""}, {"c": 3000.5, "m": None}):
        await rig.sup._on_public(push("ticker", row, symbol="ETHUSDT"))
        assert rig.sup.prices.get("ETHUSDT") == (Decimal("3000.5"), Decimal("3000.5"), T0)


@pytest.mark.parametrize(
    "message",
    [
        push("orders", {"c": "3000", "m": "3000"}, symbol="ETHUSDT"),
        push("ticker", {"c": "3000", "m": "3000"}),
        push("ticker", symbol="ETHUSDT"),
    ],
    ids=["another channel", "no symbol", "no rows"],
)
async def test_a_public_push_that_is_no_pairs_ticker_prices_nothing(message: StreamMessage) -> None:
    rig = Rig()
    await rig.sup._on_public(message)
    assert rig.sup.prices.get("ETHUSDT") is None
    assert rig.sup.prices.arrived("ETHUSDT") is None


CONVERSION = "[<class 'decimal.ConversionSyntax'>]"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"m": "3000"}, "'c'"),
        ({"c": "abc", "m": "3000"}, CONVERSION),
        ({"c": "3000", "m": "abc"}, CONVERSION),
        ({"c": None}, CONVERSION),
        (["3000"], "list indices must be integers or slices, not str"),
    ],
    ids=["no last", "last no number", "mark no number", "last null", "no mapping"],
)
async def test_an_unreadable_ticker_is_skipped_with_a_warning_and_the_last_price_kept(
    row: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rig = Rig()
    await rig.sup._on_public(push("ticker", {"c": "3000", "m": "3001"}, symbol="ETHUSDT"))
    await rig.sup._on_public(push("ticker", row, symbol="ETHUSDT"))
    assert rig.sup.prices.get("ETHUSDT") == (Decimal("3000"), Decimal("3001"), T0)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        (logging.WARNING, f"ticker push for ETHUSDT unreadable ({reason}); skipped")
    ]


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == LOGGER and getattr(r, "event", None) == "price.implausible"
    ]


@pytest.mark.parametrize(
    ("last", "mark", "problem"),
    [
        ("NaN", "3000", "not a finite number"),
        ("3000", "Infinity", "not a finite number"),
        ("0", "3000", "not positive"),
        ("3000", "-1", "not positive"),
    ],
)
async def test_a_pushed_price_that_is_no_price_drops_the_pairs_pushed_price_with_one_warning_event(
    last: str, mark: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rig = Rig(symbols=("ETHUSDT", "BTCUSDT"))
    await rig.sup._on_public(push("ticker", {"c": "3000", "m": "3000"}, symbol="ETHUSDT"))
    await rig.sup._on_public(push("ticker", {"c": "60000", "m": "60000"}, symbol="BTCUSDT"))
    await rig.sup._on_public(push("ticker", {"c": last, "m": mark}, symbol="ETHUSDT"))
    assert rig.sup.prices.get("ETHUSDT") is None, "readers fall back to REST"
    assert rig.sup.prices.arrived("ETHUSDT") is None
    assert rig.sup.prices.get("BTCUSDT") == (Decimal(60000), Decimal(60000), T0), "the other pair goes on"
    (record,) = refusals(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"ETHUSDT: pushed ticker refused (last {last}, mark {mark}: {problem}); prices come from REST "
        "until a good push"
    )
    assert record.data == {"pair": "ETHUSDT", "price": last, "reference": None, "reason": problem}  # type: ignore[attr-defined]


async def test_a_run_of_refused_pushes_warns_once_and_a_good_push_between_two_runs_rearms_the_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rig = Rig(symbols=("ETHUSDT", "BTCUSDT"))
    nan = {"c": "NaN", "m": "NaN"}
    await rig.sup._on_public(push("ticker", nan, symbol="ETHUSDT"))
    await rig.sup._on_public(push("ticker", nan, symbol="ETHUSDT"))
    await rig.sup._on_public(push("ticker", nan, symbol="BTCUSDT"))
    assert [r.data["pair"] for r in refusals(caplog)] == ["ETHUSDT", "BTCUSDT"]  # type: ignore[attr-defined]
    await rig.sup._on_public(push("ticker", {"c": "3000", "m": "3000"}, symbol="ETHUSDT"))
    assert rig.sup.prices.get("ETHUSDT") == (Decimal(3000), Decimal(3000), T0)
    await rig.sup._on_public(push("ticker", nan, symbol="ETHUSDT"))
    await rig.sup._on_public(push("ticker", nan, symbol="BTCUSDT"))
    assert [r.data["pair"] for r in refusals(caplog)] == ["ETHUSDT", "BTCUSDT", "ETHUSDT"]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- stream states


async def test_the_private_streams_state_is_its_health_and_its_drop_wakes_the_monitor() -> None:
    rig = Rig()
    report = rig.stream(PRIVATE)._on_state
    first = state(False, "not connected yet")
    report(first)
    assert not rig.sup.wake.is_set(), "never up: nothing was lost"
    up = state(True, "subscribed")
    report(up)
    assert not rig.sup.wake.is_set()
    dropped = state(False, "closed 1006")
    report(dropped)
    assert rig.sup.wake.is_set(), "no push comes while it is down: look now"
    rig.sup.wake.clear()
    refused = state(False, "401", auth_refused=True)
    report(refused)
    assert not rig.sup.wake.is_set(), "already down: the drop was reported"
    assert rig.reports.health == [
        (PRIVATE, HealthStatus.WARN, "down: not connected yet (REST polling only)", first.as_data()),
        (PRIVATE, HealthStatus.OK, "subscribed", up.as_data()),
        (PRIVATE, HealthStatus.WARN, "down: closed 1006 (REST polling only)", dropped.as_data()),
        (PRIVATE, HealthStatus.DOWN, "down: 401 (REST polling only)", refused.as_data()),
    ]


async def test_the_public_streams_drop_is_reported_and_wakes_nothing() -> None:
    rig = Rig()
    report = rig.stream(PUBLIC)._on_state
    report(state(True, "subscribed"))
    report(state(False, "closed 1006"))
    assert not rig.sup.wake.is_set()
    assert [h[:3] for h in rig.reports.health] == [
        (PUBLIC, HealthStatus.OK, "subscribed"),
        (PUBLIC, HealthStatus.WARN, "down: closed 1006 (REST polling only)"),
    ]


def test_private_down_is_true_only_while_a_private_stream_exists_and_is_down() -> None:
    rig = Rig()
    private, public = rig.stream(PRIVATE), rig.stream(PUBLIC)
    assert rig.sup.private_down
    private.state = state(True, "subscribed")
    assert not rig.sup.private_down
    public.state = state(False, "closed")
    assert not rig.sup.private_down, "the public stream down changes nothing"
    private.state = state(False, "closed")
    public.state = state(True, "subscribed")
    assert rig.sup.private_down
    assert not Rig(credentials=False).sup.private_down, "no private stream: nothing is down"
