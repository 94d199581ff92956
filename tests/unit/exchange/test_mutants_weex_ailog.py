"""The WEEX client's AI log upload, value by value (docs/benchmarks.md, mutation testing): WEEX's fields,
the path that answers tried once and remembered, the success code read as WEEX sends it. Against a
scripted WEEX answering as its docs and the fake WEEX do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.base import AiLogUpload, ExchangeError, InvalidOrder, PermissionDenied
from smt_engine.exchange.weex import client as client_module
from smt_engine.exchange.weex.client import ai_log_code
from smt_engine.exchange.weex.transport import AI_LOG_FACT, AI_LOG_PATHS
from smt_engine.store import Store
from tests.unit.exchange.test_weex_as_documented import NOW, Venue

V3, V2 = AI_LOG_PATHS

LOG = AiLogUpload(
    stage="Decision Making",
    model="gemini-2.5-flash",
    input={"pair": "ETH"},
    output={"decision": "LONG"},
    explanation="x" * 1200,
    order_id="737191855984215401",
)


def ai_venue(answers: dict[str, Any]) -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A WEEX whose uploadAiLog paths answer ``answers[path]``; any other path answers HTTP 404 with the
    body WEEX gives an unknown path (no ``code``/``msg``; the fake WEEX's ``_not_found_body``)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": int(NOW.timestamp() * 1000)})
        seen.append(request)
        if request.url.path not in answers:
            body = {"timestamp": 1775753432000, "status": 404, "error": "Not Found", "path": request.url.path}
            return httpx.Response(404, json=body)
        return httpx.Response(200, content=json.dumps(answers[request.url.path]).encode())

    return seen, httpx.MockTransport(handle)


async def test_the_ai_log_goes_out_with_weexs_fields_a_numeric_order_id_and_1000_characters_explained() -> (
    None
):
    seen, transport = ai_venue({V3: {"code": 0, "msg": "success"}})
    client = Venue({}).client(transport=transport)
    await client.upload_ai_log(LOG)
    await client.upload_ai_log(AiLogUpload("s", "m", {}, {}, "e", order_id="tp-55"))
    await client.upload_ai_log(AiLogUpload("s", "m", {}, {}, "e"))
    sent = [json.loads(r.content) for r in seen]
    assert sent[0] == {
        "orderId": 737191855984215401,
        "stage": "Decision Making",
        "model": "gemini-2.5-flash",
        "input": {"pair": "ETH"},
        "output": {"decision": "LONG"},
        "explanation": "x" * 1000,
    }
    assert [s["orderId"] for s in sent[1:]] == [None, None]
    assert [(r.method, r.url.path, r.headers.get("Content-Type")) for r in seen] == [
        ("POST", V3, "application/json")
    ] * 3
    await client.aclose()


async def test_an_ai_log_path_answering_404_is_tried_once_on_the_other_and_the_one_that_worked_remembered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path / "smt.db")
    seen, transport = ai_venue({V2: {"code": "00000", "msg": "success", "data": "upload success"}})
    client = Venue({}).client(transport=transport, store=store)
    with caplog.at_level("WARNING", logger=client_module.__name__):
        await client.upload_ai_log(LOG)
    assert [r.url.path for r in seen] == [V3, V2]
    assert [r.headers.get("Content-Type") for r in seen] == ["application/json"] * 2
    assert json.loads(seen[1].content) == json.loads(seen[0].content), "the same log, sent to the other path"
    assert client.ai_log_path == V2
    assert store.venue_facts.value(AI_LOG_FACT) == V2
    (warning,) = [r for r in caplog.records if r.name == client_module.__name__]
    assert warning.getMessage() == f"AI log: {V3} answered 404; trying {V2}"
    assert getattr(warning, "event", None) == "ailog.path"
    await client.upload_ai_log(LOG)
    assert [r.url.path for r in seen] == [V3, V2, V2], "the path that worked is asked first"
    await client.aclose()
    store.close()


async def test_an_ai_log_path_that_is_no_known_path_falls_back_to_v3(tmp_path: Path) -> None:
    seen, transport = ai_venue({V3: {"code": 0, "msg": "success"}})
    client = Venue({}).client(transport=transport, ai_log_path="/capi/v3/aiLog")
    await client.upload_ai_log(LOG)
    assert [r.url.path for r in seen] == ["/capi/v3/aiLog", V3]
    assert client.ai_log_path == V3
    await client.aclose()


async def test_the_first_accepted_ai_log_records_its_path_once_for_the_next_run(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    _, transport = ai_venue({V3: {"code": 0, "msg": "success"}})
    client = Venue({}).client(transport=transport, store=store)
    assert store.venue_facts.value(AI_LOG_FACT) is None
    await client.upload_ai_log(LOG)
    fact = store.venue_facts.get(AI_LOG_FACT)
    assert fact is not None
    assert (fact.value, fact.learned_at) == (V3, NOW)
    clock = client.clock
    assert isinstance(clock, SimulatedClock)
    await clock.advance(3600)
    await client.upload_ai_log(LOG)
    fact = store.venue_facts.get(AI_LOG_FACT)
    assert fact is not None
    assert (fact.value, fact.learned_at) == (V3, NOW), "known already: not written again"
    await client.aclose()
    store.close()


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            {"code": "-1055", "msg": "API permission disabled"},
            PermissionDenied,
            r"^WEEX -1055: API permission disabled$",
        ),
        (
            {"code": "200", "msg": "success", "requestTime": 1764505776347},
            InvalidOrder,
            r"^WEEX 200: success$",
        ),
        (
            {"data": "upload success"},
            ExchangeError,
            rf"^AI log: {V3} answered without a success code \(0 or 00000\)$",
        ),
        (
            {"msg": "success"},
            ExchangeError,
            rf"^AI log: {V3} answered without a success code \(0 or 00000\)$",
        ),
        ({"code": "-1055"}, ExchangeError, rf"^AI log: {V3} answered without a success code \(0 or 00000\)$"),
        ("upload success", ExchangeError, rf"^AI log: {V3} answered without a success code \(0 or 00000\)$"),
    ],
)
async def test_an_ai_log_answer_without_weexs_success_code_is_its_error_or_says_what_came_back(
    answer: Any, error: type[Exception], message: str
) -> None:
    _, transport = ai_venue({V3: answer})
    client = Venue({}).client(transport=transport)
    with pytest.raises(error, match=message) as caught:
        await client.upload_ai_log(LOG)
    assert getattr(caught.value, "raw", answer) == answer
    await client.aclose()


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"code": 0}, "0"),
        ({"code": "00000"}, "00000"),
        ({"code": " 00000 "}, "00000"),
        ({"code": False}, ""),
        ({"code": None}, ""),
        ({}, ""),
        ("0", ""),
    ],
)
def test_the_ai_log_code_is_the_digits_weex_sent_and_never_a_boolean_or_nothing(
    answer: Any, code: str
) -> None:
    assert ai_log_code(answer) == code
