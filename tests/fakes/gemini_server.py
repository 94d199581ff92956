"""A fake Gemini Developer API on 127.0.0.1 speaking the real REST shapes of ``generateContent``.

Tests queue scripted replies (a grounded answer, an ungrounded one, a 429 with a retry hint, a 5xx,
a hang, empty candidates) and point the real google-genai SDK at it with
``HttpOptions(base_url=server.url)``. Every request is recorded so tests can assert what the SDK sent
(for example that the ``googleSearch`` tool was present and no response schema was).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.nodelay import NoDelayHTTPServer

_PATH_RE = re.compile(r"^/(?P<version>v1beta1?|v1)/(?:.*/)?models/(?P<model>[^/:]+):generateContent$")


@dataclass
class Reply:
    """One scripted answer: an HTTP status with a JSON body, optional headers, or a hang."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class RecordedRequest:
    path: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def prompt(self) -> str:
        return "".join(
            part.get("text", "") for c in self.body.get("contents", []) for part in c.get("parts", [])
        )

    @property
    def has_google_search(self) -> bool:
        return any("googleSearch" in tool or "google_search" in tool for tool in self.body.get("tools", []))


SEARCH_ENTRY_POINT = (
    '<div class="container"><a class="chip" href="https://www.google.com/search?q=btc">btc</a></div>'
)


def support(text: str, sentence: str, *chunks: int, part: int = 0) -> dict[str, Any]:
    """A ``groundingSupports`` entry for the first ``sentence`` in ``text``, as the API writes it.

    Offsets are UTF-8 byte offsets in the part (end exclusive), like Google's ``Segment``; the API
    leaves ``startIndex`` and ``partIndex`` out when they are zero (proto3 JSON).
    """
    at = text.index(sentence)
    start = len(text[:at].encode("utf-8"))
    segment: dict[str, Any] = {"endIndex": start + len(sentence.encode("utf-8")), "text": sentence}
    if start:
        segment["startIndex"] = start
    if part:
        segment["partIndex"] = part
    return {"segment": segment, "groundingChunkIndices": list(chunks)}


_REASONING_RE = re.compile(r'"reasoning"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')


def first_sentence_support(text: str) -> list[dict[str, Any]]:
    """What a grounded answer usually carries: its reasoning's first sentence backed by chunk 0."""
    match = _REASONING_RE.search(text)
    if match is None or not match["value"]:
        return []
    value = match["value"]
    cut = value.find(". ")
    sentence = value[: cut + 1] if cut != -1 else value
    return [support(text, sentence, 0)]


def grounding_metadata(
    queries: list[str] | None = None,
    sources: list[tuple[str, str]] | None = None,
    supports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``groundingMetadata`` block of a grounded candidate (chunk titles are the sites' domains)."""
    queries = ["bitcoin news today"] if queries is None else queries
    sources = [("coindesk.com", "https://www.coindesk.com/a")] if sources is None else sources
    return {
        "webSearchQueries": queries,
        "groundingChunks": [{"web": {"uri": uri, "title": title}} for title, uri in sources],
        "groundingSupports": supports or [],
        "searchEntryPoint": {"renderedContent": SEARCH_ENTRY_POINT},
    }


USAGE = {
    "promptTokenCount": 812,
    "candidatesTokenCount": 143,
    "thoughtsTokenCount": 400,
    "totalTokenCount": 1355,
}


def text_reply(
    text: str,
    *,
    grounded: bool = True,
    queries: list[str] | None = None,
    sources: list[tuple[str, str]] | None = None,
    model: str = "gemini-3.8-flash",
    usage: dict[str, int] | None = None,
    supports: list[dict[str, Any]] | None = None,
) -> Reply:
    """A 200 answer whose candidate 0 holds ``text``, with grounding metadata unless ``grounded=False``.

    Unless ``supports`` are given, the first sentence of the reasoning is backed by chunk 0.
    """
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "finishReason": "STOP",
        "index": 0,
    }
    if grounded:
        backing = first_sentence_support(text) if supports is None else supports
        candidate["groundingMetadata"] = grounding_metadata(queries, sources, backing)
    return Reply(
        body={
            "candidates": [candidate],
            "usageMetadata": dict(USAGE if usage is None else usage),
            "modelVersion": model,
            "responseId": "resp-1",
        }
    )


def empty_reply() -> Reply:
    """What a grounded call sometimes returns: no candidates at all."""
    return Reply(
        body={
            "usageMetadata": {"promptTokenCount": 812, "totalTokenCount": 812},
            "modelVersion": "gemini-3.8-flash",
            "promptFeedback": {},
        }
    )


def rate_limited(retry_delay: str | None = "1s", retry_after: str | None = None) -> Reply:
    """HTTP 429 RESOURCE_EXHAUSTED with a ``RetryInfo`` detail and/or a ``Retry-After`` header."""
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "rpm"}]}
    ]
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    message = "You exceeded your current quota, please check your plan and billing details."
    if retry_delay is not None:
        message += f" Please retry in {retry_delay}."
    return Reply(
        status=429,
        body={"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}},
        headers={"Retry-After": retry_after} if retry_after is not None else {},
    )


def model_not_found(model: str) -> Reply:
    """What the API answers for a model it no longer serves (HTTP 404 NOT_FOUND)."""
    message = (
        f"models/{model} is not found for API version v1beta, or is not supported for generateContent. "
        "Call ListModels to see the list of available models and their supported methods."
    )
    return Reply(404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}})


def model_retired(model: str) -> Reply:
    """A 400 whose message says the model was retired (the wording resellers and proxies use)."""
    message = f"The model {model} has been retired and is no longer available. Please migrate."
    return Reply(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


def server_error(status: int = 503) -> Reply:
    return Reply(
        status=status,
        body={"error": {"code": status, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
    )


class FakeGeminiServer:
    """Threaded HTTP server; replies are served from a FIFO queue, one per request."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.fallback: Callable[[], Reply] | None = None
        """Answers a request when no scripted reply is queued (long-running benches)."""
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = NoDelayHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-gemini", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGeminiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # free any hanging handler
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def _next(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        if self.fallback is not None:
            return self.fallback()
        return Reply(
            status=500,
            body={"error": {"code": 500, "message": "fake: no scripted reply left", "status": "INTERNAL"}},
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                match = _PATH_RE.match(self.path.split("?", 1)[0])
                if match is None:
                    self._send(
                        Reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
                    )
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsable": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.requests.append(
                        RecordedRequest(self.path, match["model"], dict(self.headers.items()), body)
                    )
                reply = server._next()
                if reply.hang:
                    server._release.wait(timeout=30)
                    self.close_connection = True
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
