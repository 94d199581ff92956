"""`smt venue probe` end to end against the fake WEEX over real sockets: it passes against the fake, fails
at the step whose assumption a broken fake violates (with a message that says what to do), cleans up what
it placed, and writes a masked transcript that a second fake replays."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.config.analyst import DEFAULT_MODEL
from smt_engine.domain import Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.weex.probe_orders import OrderChecks
from smt_engine.exchange.weex.probe_types import ProbeOptions
from smt_engine.exchange.weex.transcript import read_transcript
from smt_engine.exchange.weex.transport import AI_LOG_SUCCESS
from smt_engine.exitcodes import ExitCode
from smt_engine.store import EngineLock
from tests.fakes.weex_replay import replaying
from tests.fakes.weex_server import DEFAULT_PRICES, FakeWeex
from tests.fakes.weex_shapes import WEEX_CONTRACTS_V3
from tests.integration.exchange.conftest import client_for
from tests.integration.exchange.probe_support import (
    AiLogCodeFake,
    HiddenStopLegFake,
    InconsistentStepFake,
    StringPrecisionFake,
    StuckCancelFake,
    UnreadableOrderFake,
    WrongStepFake,
    configure,
    fake_keys,
    run_probe,
    steps,
)

READS = ("time", "contracts", "account", "stream.public", "stream.private")


def started(fake: FakeWeex) -> FakeWeex:
    fake.start()
    fake.ws.faults.ping_interval = 0.3
    return fake


@pytest.fixture
def fake() -> Iterator[FakeWeex]:
    server = started(FakeWeex(api_key="weex_probe_key_1234", secret="probe-secret-5678"))
    yield server
    server.stop()


def _open_orders(fake: FakeWeex) -> list[object]:
    return list(fake.call(fake.venue.open_orders(None)))


def test_probe_passes_against_the_fake_and_leaves_nothing_behind(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code, result = run_probe(capsys, tmp_path / "t.jsonl")
    by = steps(result)
    assert code == 0, result
    assert result["passed"] is True
    assert [s["step"] for s in result["steps"]] == [*READS, "order"]
    assert all(s["status"] == "pass" for s in result["steps"])
    assert by["time"]["data"]["offset_ms"] < 1000
    assert set(by["contracts"]["data"]["contracts"]) == {
        f"{b}USDT" for b in ("BTC", "ETH", "SOL", "DOGE", "XRP", "ADA", "BNB", "LTC")
    }
    private = by["stream.private"]["data"]
    assert private["acked"] == ["orders", "fill", "positions", "account"]
    assert private["pings"] >= 1
    assert private["protocol_pong_ms"] is not None
    frames = [
        e for e in read_transcript(tmp_path / "t.jsonl") if e["type"] == "ws" and e["stream"] == "private"
    ]
    pings = [f for f in frames if f["dir"] == "recv" and '"ping"' in f["text"]]
    pongs = [f for f in frames if f["dir"] == "send" and '"PONG"' in f["text"]]
    assert len(pings) == len(pongs) == private["pings"]  # every ping was answered
    assert private["longest_silence_s"] > 0
    assert len(by["stream.public"]["data"]["acked"]) == 8
    # One order, far from the market, read back, cancelled: nothing left open, nothing filled.
    order = by["order"]["data"]
    assert fake.counts["POST /capi/v3/order"] == 1
    assert fake.counts["DELETE /capi/v3/order"] == 1
    assert _open_orders(fake) == []
    assert fake.call(fake.venue.positions()) == []
    cheapest = min(DEFAULT_PRICES, key=lambda s: WEEX_CONTRACTS_V3[s].min_size * DEFAULT_PRICES[s])
    assert order["symbol"] == cheapest == "DOGEUSDT"  # 1 DOGE at 0.14699: the cheapest minimum order
    assert Decimal(order["price"]) == Decimal("0.13964")  # 5 % under the last price, on the 0.00001 tick
    assert Decimal(order["size"]) == Decimal("1")


def test_with_position_and_ai_log_open_close_clean_and_upload(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code, result = run_probe(capsys, tmp_path / "t.jsonl", "--with-position", "--ai-log")
    by = steps(result)
    assert code == 0, result
    position = by["position"]["data"]
    assert set(position["legs"]) == {"tp", "sl"}
    assert "closed at market" in position["close"]
    assert fake.call(fake.venue.positions()) == []
    assert fake.call(fake.venue.open_algo_orders(None)) == []  # the legs WEEX leaves behind are gone
    assert _open_orders(fake) == []
    assert len(fake.ai_logs) == 1
    assert fake.ai_logs[0]["model"] == DEFAULT_MODEL  # the analyst's configured model id


def test_exchange_info_numbers_as_strings_pass_like_integers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(StringPrecisionFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl")
        contracts = steps(result)["contracts"]
        assert code == 0, result
        assert contracts["data"]["contracts"]["DOGEUSDT"] == {
            "step": "1",
            "tick": "0.00001",
            "min": "1",
            "max_leverage": 75,
        }
    finally:
        fake.stop()


def test_clock_off_by_a_minute_fails_the_time_step_and_places_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(FakeWeex(server_time_offset_ms=60_000))
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl")
        by = steps(result)
        assert code == 1
        assert result["code"] == 1
        assert "time" in result["error"]
        assert by["time"]["status"] == "fail"
        offset = by["time"]["data"]["offset_ms"]
        assert 55_000 < offset < 65_000  # 60 s, give or take where in the round trip WEEX read its clock
        assert f"{offset / 1000:.1f}s behind WEEX" in by["time"]["saw"]
        assert "chrony" in by["time"]["saw"]
        assert by["order"]["status"] == "skip"
        assert fake.counts["POST /capi/v3/order"] == 0
    finally:
        fake.stop()


def test_contract_val_against_precision_fails_the_contracts_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(InconsistentStepFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl")
        by = steps(result)
        assert code == 1
        assert by["contracts"]["status"] == "fail"
        assert (
            "DOGEUSDT: contractVal 0.1 disagrees with quantityPrecision 0 (step 1)" in by["contracts"]["saw"]
        )
        assert by["time"]["status"] == "pass"
        assert by["order"]["status"] == "skip"
        assert fake.counts["POST /capi/v3/order"] == 0
    finally:
        fake.stop()


def test_a_step_the_venue_does_not_enforce_fails_the_order_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(WrongStepFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl", "--symbol", "SOL")
        by = steps(result)
        assert code == 1
        assert all(by[name]["status"] == "pass" for name in READS)
        saw = by["order"]["saw"]
        assert by["order"]["status"] == "fail"
        assert "WEEX refused a LIMIT buy of 0.01 SOLUSDT" in saw
        assert "WEEX enforces step 0.1 where exchangeInfo says 0.01" in saw
        assert "exchangeInfo does not describe what WEEX enforces" in saw
        assert _open_orders(fake) == []
    finally:
        fake.stop()


def test_a_refused_private_channel_fails_the_private_stream_step(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.ws.faults.refuse_channels = frozenset({"account"})
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code, result = run_probe(capsys, tmp_path / "t.jsonl")
    by = steps(result)
    assert code == 1
    assert by["stream.private"]["status"] == "fail"
    assert (
        "WEEX refused the private channel 'account': INVALID_ARGUMENT: invalid channel : account"
        in by["stream.private"]["saw"]
    )
    assert by["stream.private"]["data"]["acked"] == ["orders", "fill", "positions"]
    assert by["stream.public"]["status"] == "pass"
    assert by["order"]["status"] == "skip"
    assert fake.counts["POST /capi/v3/order"] == 0


def test_a_venue_deaf_to_protocol_pings_fails_both_stream_steps(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.ws.faults.deaf_to_protocol_pings = True  # the engine's keep-alive would call every stream dead
    fake.ws.faults.max_missed_pongs = 10_000  # the probe reads no ping while it waits for the pong
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code, result = run_probe(capsys, tmp_path / "t.jsonl")
    by = steps(result)
    assert code == 1
    for stream in ("stream.public", "stream.private"):
        assert by[stream]["status"] == "fail"
        assert f"no answer to a protocol-level ping on the {stream[7:]} websocket" in by[stream]["saw"]
    assert by["order"]["status"] == "skip"
    assert fake.counts["POST /capi/v3/order"] == 0


def test_an_order_that_cannot_be_read_back_fails_and_is_still_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(UnreadableOrderFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl")
        order = steps(result)["order"]
        assert code == 1
        assert order["status"] == "fail"
        assert "WEEX does not return it by its client id" in order["saw"]
        assert order["data"]["cleanup"] == "cancelled by order_id"
        assert _open_orders(fake) == []
    finally:
        fake.stop()


def test_a_cancel_that_leaves_the_order_open_fails_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(StuckCancelFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl")
        order = steps(result)["order"]
        assert code == 1
        assert order["status"] == "fail"
        assert "reading it back by smtprobe-o-" in order["saw"]
        assert order["saw"].endswith("says new")
        resting = order["data"]["order_id"]
        assert order["data"]["cleanup"] == f"COULD NOT CANCEL {resting}: cancel it in the WEEX app"
        assert len(_open_orders(fake)) == 1, "the fake kept the order the probe could not cancel"
    finally:
        fake.stop()


@pytest.mark.parametrize("code", ["00000", 0])
def test_ai_log_answer_forms(
    code: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both documented success codes are success for the probe exactly when the engine's client takes them
    as success; when it does not, the probe fails and says the answer was a documented success."""
    fake = AiLogCodeFake()
    fake.code = code
    started(fake)
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        _, result = run_probe(capsys, tmp_path / "t.jsonl", "--ai-log")
        step = steps(result)["ai_log"]
        assert len(fake.ai_logs) >= 1
        if str(code) in AI_LOG_SUCCESS:
            assert step["status"] == "pass", step
            assert step["data"]["code"] == code
        else:
            assert step["status"] == "fail"
            assert f"code {code!r} (a documented success form)" in step["saw"]
    finally:
        fake.stop()


def test_transcript_is_masked_and_replays_through_a_fake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    transcript = tmp_path / "probe.jsonl"
    fake = started(FakeWeex(api_key="weex_probe_key_1234", secret="probe-secret-5678"))
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, first = run_probe(capsys, transcript, "--with-position", "--ai-log")
    finally:
        fake.stop()
    assert code == 0
    text = transcript.read_text()
    assert stat.S_IMODE(transcript.stat().st_mode) == 0o600
    for secret in fake_keys(fake):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    http = [e for e in lines if e["type"] == "http"]
    signed = [e for e in http if "ACCESS-SIGN" in {k.upper() for k in e["request_headers"]}]
    assert signed, "private requests are in the transcript"
    for e in signed:
        headers = {k.upper(): v for k, v in e["request_headers"].items()}
        assert headers["ACCESS-SIGN"] == headers["ACCESS-KEY"] == headers["ACCESS-PASSPHRASE"] == "***"
    opened = [e for e in lines if e["type"] == "ws" and e["dir"] == "open" and e["stream"] == "private"]
    assert {v for k, v in opened[0]["request_headers"].items() if k.startswith("ACCESS-")} >= {"***"}
    assert opened[0]["request_headers"]["ACCESS-SIGN"] == "***"
    assert any(e["type"] == "ws" and e["dir"] == "recv" and '"ping"' in e["text"] for e in lines)
    assert lines[-1]["type"] == "result"
    assert lines[-1]["passed"] is True
    # The file is a fixture: a fake that knows only the transcript answers a second probe the same way.
    (tmp_path / "again").mkdir()
    with replaying(transcript) as replay:
        configure(monkeypatch, tmp_path / "again", replay.base_url, replay.ws_url, fake_keys(fake))
        code, again = run_probe(capsys, tmp_path / "again.jsonl", "--with-position", "--ai-log")
        assert replay.unmatched == []
        assert replay.served == len(http)
    assert code == 0, again
    assert [(s["step"], s["status"]) for s in again["steps"]] == [
        (s["step"], s["status"]) for s in first["steps"]
    ]
    assert steps(again)["order"]["data"]["order_id"] == steps(first)["order"]["data"]["order_id"]


def test_probe_refuses_to_run_beside_an_engine(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    lock = EngineLock(db)
    lock.acquire()
    try:
        code = main(["venue", "probe", "--listen", "1"])
    finally:
        lock.release()
    assert code == ExitCode.ALREADY_RUNNING
    assert "stop it first" in capsys.readouterr().err
    assert sum(fake.counts.values()) == 0  # not one request


def test_with_position_never_touches_a_position_already_open_on_the_pair(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = OrderRequest("XRPUSDT", Side.SHORT, Decimal(20), "operator-own-1")
    fake.call(fake.venue.place_order(mine))
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code, result = run_probe(capsys, tmp_path / "t.jsonl", "--with-position", "--symbol", "XRP")
    position = steps(result)["position"]
    assert code == 1
    assert position["status"] == "fail"
    assert "XRPUSDT already has a position" in position["saw"]
    held = fake.call(fake.venue.positions())
    assert [(p.symbol, p.side, p.size) for p in held] == [("XRPUSDT", Side.SHORT, Decimal(20))]


def test_a_missing_stop_leg_fails_the_position_step_which_still_closes_the_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = started(HiddenStopLegFake())
    try:
        configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
        code, result = run_probe(capsys, tmp_path / "t.jsonl", "--with-position")
        position = steps(result)["position"]
        assert code == 1
        assert steps(result)["order"]["status"] == "pass"
        assert position["status"] == "fail"
        assert "attached sl leg(s) not found on any listing" in position["saw"]
        assert "check DOGEUSDT's TP/SL orders in the WEEX app" in position["saw"]
        assert "closed at market" in position["data"]["close"]
        assert fake.call(fake.venue.positions()) == []
        # the far order of the order step, then the take-profit leg it could see (WEEX lists an attached TP
        # under /order, so it is cancelled there)
        assert fake.counts["DELETE /capi/v3/order"] == 2
    finally:
        fake.stop()


async def test_an_interrupted_order_step_takes_its_order_off_the_book(fake: FakeWeex) -> None:
    """Ctrl-C while the test order rests (here: during its readback) still cancels it."""
    fake.faults.path_latency["/capi/v3/openOrders"] = 5.0  # the readback hangs: the window to interrupt in
    client = client_for(fake)
    try:
        contracts = await client.contracts(["ETHUSDT"])
        options = ProbeOptions(symbols=["ETHUSDT"], leverage=20, margin_mode="cross", symbol="ETHUSDT")
        task = asyncio.create_task(OrderChecks(client, contracts, options).order())
        async with asyncio.timeout(60):  # a hang guard, never a speed requirement
            # placed, now being read back (the count lives in the fake's thread)
            while fake.counts["GET /capi/v3/openOrders"] == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert len(_open_orders(fake)) == 1
        fake.faults.path_latency.clear()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert fake.counts["DELETE /capi/v3/order"] == 1
        assert _open_orders(fake) == []
    finally:
        await client.aclose()
