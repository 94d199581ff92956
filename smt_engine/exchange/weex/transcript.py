"""A masked record of everything said to WEEX and everything it answered, one JSON object per line.

Written by `smt venue probe` (docs/operator-guide.md, "Before the first live trade") so that an operator
can attach it to a bug report and a test can replay it through a fake WEEX (``tests/fakes/weex_replay``).

Lines (``"type"``):

- ``probe``: the header (SMT version, REST and websocket hosts, start time);
- ``http``: one request and its answer (method, path, query, headers, body; status, headers, body, and
  ``t`` the local wall time in ms when it was sent);
- ``ws``: one websocket event: ``open`` (the handshake's headers and answer), ``send``/``recv`` (a frame's
  text), ``close``; ``stream`` is ``public`` or ``private``;
- ``result``: the probe's steps as the console printed them.

Masking happens before a line is written: the credential headers and the signature by name, each
request's signature wherever a later line repeats it, then every registered secret value wherever it
appears (``smt_engine.secrets.redact``: an exchange that echoes a key in an error cannot put it in the
file). The file is created ``0600``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from smt_engine.secrets import MASK, redact, redact_obj

SECRET_HEADERS = frozenset({"access-key", "access-sign", "access-passphrase"})
"""Headers that carry the API key, the request signature and the passphrase (reference §1.3)."""


def mask_headers(headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
    """Headers with credentials and signatures masked by name, other values through ``redact``."""
    return {k: MASK if k.lower() in SECRET_HEADERS else redact(v) for k, v in headers.items()}


def _body(raw: bytes) -> Any:
    """JSON as JSON (so a replay can read it), anything else as text; both masked."""
    if not raw:
        return None
    text = raw.decode(errors="replace")
    try:
        return redact_obj(json.loads(text))
    except ValueError:
        return redact(text)


def wall_ms() -> int:
    return int(time.time() * 1000)


class Transcript:
    """Appends masked lines to one file; keeps the unmasked last answer per path for the probe to read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] = os.fdopen(fd, "w", encoding="utf-8")
        self.last_answer: dict[str, Any] = {}
        self.last_path = ""
        self.lines = 0
        self._signatures: set[str] = set()

    def mask_value(self, value: str | None) -> None:
        """Mask this value in every later line too (a request's signature, should the venue echo it)."""
        if value and len(value) >= 8:
            self._signatures.add(value)

    def write(self, entry: dict[str, Any]) -> None:
        """One line, masked again as a whole (belt and braces for fields a caller filled in)."""
        text = json.dumps(redact_obj(entry), separators=(",", ":"), default=str)
        for value in self._signatures:
            text = text.replace(value, MASK)
        self._file.write(text + "\n")
        self._file.flush()
        self.lines += 1

    def ws(self, stream: str, direction: str, text: str = "", **extra: Any) -> None:
        self.write({"type": "ws", "t": wall_ms(), "stream": stream, "dir": direction, "text": text, **extra})

    def close(self) -> None:
        self._file.close()


class RecordingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that writes every request and answer to a ``Transcript`` (the client's own
    ``transport=`` hook, so the client sends exactly what it would send without it)."""

    def __init__(self, transcript: Transcript, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.transcript = transcript
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent_at = wall_ms()
        self.transcript.mask_value(request.headers.get("ACCESS-SIGN"))
        body = request.read()
        entry: dict[str, Any] = {
            "type": "http",
            "t": sent_at,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query.decode(),
            "request_headers": mask_headers(
                {k: v for k, v in request.headers.items() if k.lower() != "user-agent"}
            ),
            "request_body": _body(body),
        }
        try:
            response = await self.inner.handle_async_request(request)
            raw = await response.aread()
        except httpx.HTTPError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            self.transcript.write(entry)
            raise
        entry.update(
            status=response.status_code,
            response_headers=mask_headers(
                {k: v for k, v in response.headers.items() if k.startswith("x-") or k == "retry-after"}
            ),
            response_body=_body(raw),
            ms=wall_ms() - sent_at,
        )
        self.transcript.write(entry)
        self.transcript.last_path = request.url.path
        try:
            self.transcript.last_answer[request.url.path] = json.loads(raw) if raw else None
        except ValueError:
            self.transcript.last_answer[request.url.path] = None
        # ``aread`` decoded any Content-Encoding: hand the client the plain bytes with honest headers.
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=raw, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def read_transcript(path: Path) -> list[dict[str, Any]]:
    """Every line of a transcript (a replay reads it back)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
