"""WEEX envelopes and error codes mapped to the typed errors of ``exchange.base``."""

from __future__ import annotations

from typing import Any

from smt_engine.exchange.base import (
    AuthError,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    VenuePrecisionError,
)

SUCCESS_CODES = frozenset({"200", "00000", "0"})
_AUTH = {"-1040", "-1041", "-1042", "-1043", "-1044", "-1046", "-1047", "-1049"}
_PERMISSION = {
    "-1050",
    "-1051",
    "-1052",
    "-1053",
    "-1055",
    "-1056",
    "-1057",
    "-1058",
    "-1190",
    "-3235",
    "-3236",
}
_NOT_FOUND = {"-3200", "-2200", "ORDER_NOT_FOUND", "FAILED_ORDER_NOT_FOUND"}
TIMESTAMP_CODES = {"-1043", "-1046"}


def error_for(code: str, message: str, raw: Any = None) -> Exception:
    """Map a WEEX error (code + message) to our typed errors. Messages never carry secrets."""
    text = f"WEEX {code}: {message}"
    lowered = message.lower()
    if code in _AUTH:
        return AuthError(text, code=code, raw=raw)
    if code in _PERMISSION:
        return PermissionDenied(text, code=code, raw=raw)
    if code in _NOT_FOUND or "not_found" in lowered or "not exist" in lowered:
        return OrderNotFound(text, code=code, raw=raw)
    if code == "429" or "too many requests" in lowered:
        return RateLimited(text, code=code, raw=raw)
    if code == "-1160" or any(word in lowered for word in ("stepsize", "step size", "ticksize", "precision")):
        return VenuePrecisionError(code, text)
    if "amount not enough" in lowered or "insufficient" in lowered:
        return InsufficientMargin(text, code=code, raw=raw)
    if code in {"-1000", "-1054"} and not ("FAILED_PRECONDITION" in message or "INVALID_ARGUMENT" in message):
        return ExchangeUnavailable(text, code=code, raw=raw)
    return InvalidOrder(text, code=code, raw=raw)


def check_envelope(body: Any) -> Any:
    """Return the payload of a WEEX response or raise the typed error it carries.

    A dict with ``msg`` and a code other than a success code is an error; a dict or the first failed
    item of a list with ``success: false`` or a non-empty ``errorCode`` is a per-item error;
    ``{"code":"00000","data":...}`` yields ``data``; anything else is the (bare) payload.
    """
    if isinstance(body, dict):
        if "msg" in body and "code" in body:
            code = str(body["code"])
            if code not in SUCCESS_CODES:
                raise error_for(code, str(body.get("msg")), body)
            return body.get("data", body)
        _check_item(body)
        return body
    if isinstance(body, list):
        for item in body:
            if isinstance(item, dict):
                _check_item(item)
        return body
    raise ExchangeUnavailable(f"unexpected response type {type(body).__name__}", raw=body)


def _check_item(item: dict[str, Any]) -> None:
    code = str(item.get("errorCode") or "")
    msg = str(item.get("errorMessage") or item.get("errorMsg") or "")
    if item.get("success") is False or code or msg.startswith("FAILED"):
        raise error_for(code or msg or "item", msg or code or "request failed", item)
