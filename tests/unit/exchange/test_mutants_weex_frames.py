"""WEEX's websocket frames read on their own ("No price sizes money unchecked": a push that cannot be read
is a ValueError naming what is wrong, never a figure; a ping is answered, an ack is no push). Direct calls;
the connection and the reconnect loop are in ``test_mutants_weex_streams.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smt_engine.exchange.weex.streams import StreamMessage, is_control, is_ping, message_of, parse_frame

STAMP = 1_775_753_432_123
AT = datetime(2026, 4, 9, 16, 50, 32, 123000, tzinfo=UTC)
TICKER = {"e": "ticker", "E": STAMP, "s": "ETHUSDT", "d": [{"c": "3000.5"}]}

# ---------------------------------------------------------------- parse_frame, is_ping, is_control


def test_a_frame_is_its_json_object_from_text_or_bytes() -> None:
    assert parse_frame('{"e": "orders", "d": []}') == {"e": "orders", "d": []}
    assert parse_frame(b'{"result": true, "id": "1"}') == {"result": True, "id": "1"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("[1, 2]", "expected a JSON object, got list"),
        ('"ping"', "expected a JSON object, got str"),
        ("null", "expected a JSON object, got NoneType"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
    ],
    ids=["list", "text", "null", "too-deep"],
)
def test_a_frame_that_is_no_json_object_is_a_value_error_saying_why(raw: str, words: str) -> None:
    with pytest.raises(ValueError, match=rf"^{words}$"):
        parse_frame(raw)


def test_a_frame_that_is_no_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        parse_frame("{not json")


@pytest.mark.parametrize("frame", [{"event": "ping", "time": 1}, {"type": "ping"}, {"e": "ping"}])
def test_each_of_weexs_ping_forms_is_a_ping_and_a_control_frame(frame: dict[str, Any]) -> None:
    assert is_ping(frame)
    assert is_control(frame)


@pytest.mark.parametrize(
    "frame",
    [{"id": "4", "method": "PONG"}, {"id": "4", "method": "pong"}, {"event": "pong"}, {"type": "pong"}],
)
def test_each_pong_echo_is_a_control_frame_and_no_ping(frame: dict[str, Any]) -> None:
    assert is_control(frame)
    assert not is_ping(frame)


@pytest.mark.parametrize(
    "frame",
    [
        TICKER,
        {"result": True, "id": "1"},
        {"method": None, "e": "orders", "d": []},
        {"method": "SUBSCRIBE"},
        {"e": "pong", "d": []},
        {},
    ],
)
def test_a_push_or_an_ack_is_neither_ping_nor_control(frame: dict[str, Any]) -> None:
    assert not is_ping(frame)
    assert not is_control(frame)


# ---------------------------------------------------------------- message_of


def test_a_push_is_its_channel_rows_venue_time_symbol_and_event() -> None:
    rows = [{"c": "3000.5"}, {"c": "3001"}]
    frame = {"e": "ticker", "E": STAMP, "s": "ETHUSDT", "msgEvent": "OrderUpdate", "d": rows}
    assert message_of(frame) == StreamMessage(
        channel="ticker", rows=rows, at=AT, symbol="ETHUSDT", event="OrderUpdate"
    )


def test_a_stamp_given_as_text_is_the_same_venue_time() -> None:
    message = message_of({"e": "fill", "E": str(STAMP), "d": []})
    assert message == StreamMessage(channel="fill", rows=[], at=AT, symbol=None, event=None)


@pytest.mark.parametrize("stamp", [None, "", 0, "0"])
def test_a_push_with_no_stamp_has_no_venue_time_not_1970(stamp: object) -> None:
    frame: dict[str, Any] = {"e": "orders", "d": [{"id": "1"}], "s": "", "msgEvent": ""}
    if stamp is not None:
        frame["E"] = stamp
    assert message_of(frame) == StreamMessage(channel="orders", rows=[{"id": "1"}], at=None)


@pytest.mark.parametrize("frame", [{"result": True, "id": "1"}, {"event": "ping"}, {"e": "ping"}])
def test_an_ack_or_a_ping_is_no_push(frame: dict[str, Any]) -> None:
    assert message_of(frame) is None


@pytest.mark.parametrize("rows", [None, "rows", {"c": "1"}, [{"c": "1"}, "x"], [["c", "1"]]])
def test_a_push_without_a_list_of_row_objects_is_a_value_error_naming_its_channel(rows: object) -> None:
    frame: dict[str, Any] = {"e": "positions", "E": STAMP, "d": rows}
    if rows is None:
        del frame["d"]
    with pytest.raises(ValueError, match=r"^positions push without a list of rows$"):
        message_of(frame)


@pytest.mark.parametrize(
    ("stamp", "shown"),
    [("soon", "'soon'"), ([1], "[1]"), (10**30, str(10**30)), (1.5e300, "1.5e+300"), ("1.5", "'1.5'")],
)
def test_a_push_with_a_bad_time_is_a_value_error_quoting_it(stamp: object, shown: str) -> None:
    with pytest.raises(ValueError, match=r"^orders push with a bad time ") as caught:
        message_of({"e": "orders", "E": stamp, "d": []})
    assert str(caught.value) == f"orders push with a bad time {shown}"
