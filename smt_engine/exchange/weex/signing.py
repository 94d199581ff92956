"""WEEX request signing: the exact bytes sent are the bytes signed (byte-identical to ccxt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode


def compact_json(body: Any) -> str:
    """The body exactly as sent and signed (ccxt and WEEX's examples use compact JSON)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def encode_query(params: dict[str, Any]) -> str:
    """Percent-encode like ccxt (``:`` and ``/`` encoded too); bools as ``true``/``false``."""
    clean = {k: ("true" if v is True else "false" if v is False else v) for k, v in params.items()}
    return urlencode(clean, quote_via=quote)


def sign(secret: str, timestamp: str, method: str, path: str, query: str = "", body: str = "") -> str:
    """``base64(HMAC-SHA256(secret, timestamp + METHOD + path + ['?' + query] + body))``."""
    prehash = timestamp + method.upper() + path + (f"?{query}" if query else "") + body
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
