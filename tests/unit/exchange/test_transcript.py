"""The probe's transcript: credentials masked by header name, every known secret masked wherever an answer
echoes it, the client given the same bytes it would have got without the recorder."""

from __future__ import annotations

import gzip
import json
import stat
from pathlib import Path

import httpx

from smt_engine.exchange.weex.transcript import RecordingTransport, Transcript, read_transcript
from smt_engine.secrets import register_secret

KEY, SECRET, PHRASE = "weex_transcript_key_91", "transcript-secret-37", "transcriptPASS55"


def echoing(request: httpx.Request) -> httpx.Response:
    """A careless venue: its error quotes the request's credentials and the account secret."""
    body = {"code": -1047, "msg": f"bad sign {request.headers['ACCESS-SIGN']} key {KEY} secret {SECRET}"}
    return httpx.Response(
        401,
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Encoding": "gzip", "X-USED-WEIGHT-1M": "12"},
    )


async def test_recorded_exchange_is_masked_and_the_client_reads_the_answer(tmp_path: Path) -> None:
    for value in (KEY, SECRET, PHRASE):
        register_secret(value)
    transcript = Transcript(tmp_path / "t.jsonl")
    transport = RecordingTransport(transcript, httpx.MockTransport(echoing))
    async with httpx.AsyncClient(transport=transport) as http:
        sent = http.build_request(
            "POST",
            "http://127.0.0.1:1/capi/v3/order?x=1",
            content=json.dumps({"passphrase_echo": PHRASE}).encode(),
            headers={"ACCESS-KEY": KEY, "ACCESS-SIGN": "c2lnbmF0dXJlLXZhbHVl", "ACCESS-PASSPHRASE": PHRASE},
        )
        answer = await http.send(sent)
    transcript.close()
    # The client sees the decoded answer, unmasked, exactly as the venue sent it.
    assert answer.status_code == 401
    assert SECRET in answer.json()["msg"]
    text = (tmp_path / "t.jsonl").read_text()
    for secret in (KEY, SECRET, PHRASE, "c2lnbmF0dXJlLXZhbHVl"):
        assert secret not in text
    assert stat.S_IMODE((tmp_path / "t.jsonl").stat().st_mode) == 0o600
    (entry,) = read_transcript(tmp_path / "t.jsonl")
    assert entry["method"] == "POST"
    assert entry["path"] == "/capi/v3/order"
    assert entry["query"] == "x=1"
    assert {k.upper(): v for k, v in entry["request_headers"].items() if k.upper().startswith("ACCESS")} == {
        "ACCESS-KEY": "***",
        "ACCESS-SIGN": "***",
        "ACCESS-PASSPHRASE": "***",
    }
    assert entry["request_body"] == {"passphrase_echo": "***"}
    assert entry["status"] == 401
    assert entry["response_headers"] == {"x-used-weight-1m": "12"}
    assert entry["response_body"]["code"] == -1047
    assert "***" in entry["response_body"]["msg"]
