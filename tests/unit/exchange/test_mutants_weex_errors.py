"""WEEX's error codes and envelopes mapped to the typed errors the engine acts on, code by code
(docs/benchmarks.md, mutation testing). Every code and message is WEEX's documented one: the reference's
§2.1 envelopes and §2.2 error table (docs cite it as the WEEX v3 contract reference) and the recorded
examples of tests/contract/weex/rest.json. A refusal the engine misreads is a wrong action: an auth error
read as "order not found" books a close that never happened."""

from __future__ import annotations

from typing import Any

import pytest

from smt_engine.exchange.base import (
    AuthError,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidOrder,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    VenuePrecisionError,
)
from smt_engine.exchange.weex.errors import (
    SUCCESS_CODES,
    TIMESTAMP_CODES,
    check_envelope,
    error_for,
)
from tests.contract.weex.corpus import example

# §2.2: code, WEEX's name for it.
AUTH_CODES = [
    ("-1040", "ACCESS_KEY_EMPTY"),
    ("-1041", "ACCESS_SIGN_EMPTY"),
    ("-1042", "ACCESS_TIMESTAMP_EMPTY"),
    ("-1043", "INVALID_ACCESS_TIMESTAMP"),
    ("-1044", "INVALID_ACCESS_KEY"),
    ("-1046", "ACCESS_TIMESTAMP_EXPIRED"),
    ("-1047", "API authentication failed"),
    ("-1049", "API_KEY_OR_PASSPHRASE_INCORRECT"),
]
PERMISSION_CODES = [
    ("-1050", "USER_STATUS_FORBIDDEN"),
    ("-1051", "PERMISSION_DENIED"),
    ("-1052", "INSUFFICIENT_PERMISSIONS"),
    ("-1053", "PERMISSION_VALIDATION_FAILED"),
    ("-1055", "USER_AUTH_NOT_SAFE"),
    ("-1056", "ILLEGAL_IP"),
    ("-1057", "USER_LOCKED"),
    ("-1058", "NO_PERMISSION_TRADE_PAIR"),
    ("-1190", "FORBIDDEN_ACCESS"),
    ("-3235", "CONTRACT_NO_PERMISSION_TRADE_PAIR"),
    ("-3236", "CONTRACT_NO_PERMISSION_API"),
]


def _raised(body: Any) -> ExchangeError | VenuePrecisionError:
    with pytest.raises((ExchangeError, VenuePrecisionError)) as caught:
        check_envelope(body)
    return caught.value


@pytest.mark.parametrize(("code", "name"), AUTH_CODES)
def test_each_documented_auth_code_is_an_auth_error_keeping_code_text_and_body(code: str, name: str) -> None:
    raw = {"code": int(code), "msg": name}
    err = error_for(code, name, raw)
    assert type(err) is AuthError
    assert str(err) == f"WEEX {code}: {name}"
    assert err.code == code
    assert err.raw is raw


@pytest.mark.parametrize(("code", "name"), PERMISSION_CODES)
def test_each_documented_permission_code_is_permission_denied_keeping_code_and_body(
    code: str, name: str
) -> None:
    raw = {"code": int(code), "msg": name}
    err = error_for(code, name, raw)
    assert type(err) is PermissionDenied
    assert str(err) == f"WEEX {code}: {name}"
    assert err.code == code
    assert err.raw is raw


def test_the_clock_resync_codes_are_weexs_two_timestamp_codes() -> None:
    """-1043 INVALID_ACCESS_TIMESTAMP and -1046 ACCESS_TIMESTAMP_EXPIRED (§2.2, §7 item 2): the client
    resyncs its clock on these and on no other auth error."""
    assert {"-1043", "-1046"} == TIMESTAMP_CODES


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("-3200", "CONTRACT_ORDER_NOT_EXIST"),
        ("-2200", "SPOT_ORDER_NOT_EXIST"),
        # batch-cancel item errorCode; ccxt's per-item errorMsg (§2.1, §2.2): the code alone decides,
        # whatever text comes with it (here the client's own fallback text)
        ("ORDER_NOT_FOUND", "request failed"),
        ("FAILED_ORDER_NOT_FOUND", "request failed"),
    ],
)
def test_each_not_found_code_is_order_not_found_whatever_its_text(code: str, message: str) -> None:
    raw = {"code": code, "msg": message}
    err = error_for(code, message, raw)
    assert type(err) is OrderNotFound
    assert str(err) == f"WEEX {code}: {message}"
    assert err.code == code
    assert err.raw is raw


@pytest.mark.parametrize(
    "message",
    ["FAILED_ORDER_NOT_FOUND", "orderId not exist", "ORDER_NOT_FOUND"],
)
def test_a_not_found_text_is_order_not_found_whatever_the_code(message: str) -> None:
    """ccxt matches FAILED_ORDER_NOT_FOUND on the message (§2.2 'exact on msg'); the batch-cancel item
    says "orderId not exist" (§2.2). -1000 UNKNOWN_ERROR would otherwise be 'unavailable'."""
    err = error_for("-1000", message, None)
    assert type(err) is OrderNotFound
    assert str(err) == f"WEEX -1000: {message}"
    assert err.code == "-1000"


def test_http_429_is_rate_limited_keeping_code_and_body() -> None:
    raw = {"code": 429, "msg": "Too many requests"}  # §5, v2 body
    err = error_for("429", "Too many requests", raw)
    assert type(err) is RateLimited
    assert str(err) == "WEEX 429: Too many requests"
    assert err.code == "429"
    assert err.raw is raw


def test_429_is_rate_limited_by_its_code_alone() -> None:
    err = error_for("429", "", None)
    assert type(err) is RateLimited


def test_the_too_many_requests_text_is_rate_limited_whatever_the_code() -> None:
    """WEEX's v3 429 body is unknown (§5): the documented text decides, in any case."""
    err = error_for("-1000", "Too many requests", None)
    assert type(err) is RateLimited
    assert err.code == "-1000"
    assert str(err) == "WEEX -1000: Too many requests"


def test_the_precision_code_is_a_precision_error_with_its_code_even_without_a_precision_word() -> None:
    """ccxt's probe: ``{"errorCode":"-1160","errorMessage":"bad step"}`` on create (§10.3)."""
    err = error_for("-1160", "bad step", None)
    assert type(err) is VenuePrecisionError
    assert err.code == "-1160"
    assert str(err) == "WEEX -1160: bad step"


@pytest.mark.parametrize(
    "message",
    [
        # §7 item 7: the v2 rejection quotes the step, INVALID_ARGUMENT form (§2.1)
        "INVALID_ARGUMENT: quantity must be a multiple of stepSize '10'",
        "INVALID_ARGUMENT: quantity must be a multiple of the step size '10'",
        # spot v3's tickSize field (§3.1.1)
        "INVALID_ARGUMENT: price must be a multiple of tickSize '0.01'",
        # -1160's meaning "Decimal precision incorrect" (§2.2)
        "INVALID_ARGUMENT: Decimal precision incorrect",
    ],
)
def test_a_step_or_precision_text_under_1054_is_a_precision_error(message: str) -> None:
    err = error_for("-1054", message, None)
    assert type(err) is VenuePrecisionError
    assert err.code == "-1054"
    assert str(err) == f"WEEX -1054: {message}"


@pytest.mark.parametrize(
    "message",
    [
        "FAILED_PRECONDITION: Move margin available amount not enough. ",  # §2.1
        "FAILED_PRECONDITION: insufficient margin",  # §2.2 broad 'amount not enough' = insufficient margin
    ],
)
def test_a_margin_shortfall_is_insufficient_margin_keeping_code_and_body(message: str) -> None:
    raw = {"code": -1054, "msg": message}
    err = error_for("-1054", message, raw)
    assert type(err) is InsufficientMargin
    assert str(err) == f"WEEX -1054: {message}"
    assert err.code == "-1054"
    assert err.raw is raw


@pytest.mark.parametrize(
    ("code", "message"),
    [("-1054", "System error, please retry later"), ("-1000", "UNKNOWN_ERROR")],
)
def test_a_system_or_unknown_error_is_unavailable_keeping_code_and_body(code: str, message: str) -> None:
    raw = {"code": int(code), "msg": message}
    err = error_for(code, message, raw)
    assert type(err) is ExchangeUnavailable
    assert str(err) == f"WEEX {code}: {message}"
    assert err.code == code
    assert err.raw is raw


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # §2.1 / §7 item 10: a business refusal under -1054 is the order's fault, not the venue's
        ("-1054", "FAILED_PRECONDITION: leverage cannot be changed with open orders"),
        ("-1054", "INVALID_ARGUMENT: symbol is required"),
        # §2.1's recorded error envelope (rest.json error_envelope)
        ("-1140", "Either orderId or origClientOrderId must be sent."),
        ("-3007", "CONTRACT_MAX_ORDER_QUANTITY_EXCEEDED"),
    ],
)
def test_a_business_refusal_is_an_invalid_order_keeping_code_and_body(code: str, message: str) -> None:
    raw = {"code": int(code), "msg": message}
    err = error_for(code, message, raw)
    assert type(err) is InvalidOrder
    assert str(err) == f"WEEX {code}: {message}"
    assert err.code == code
    assert err.raw is raw


def test_an_error_envelope_raises_its_typed_error_with_the_venues_words_and_body() -> None:
    body = example("rest", "error_envelope")
    err = _raised(body)
    assert type(err) is InvalidOrder
    assert str(err) == "WEEX -1140: Either orderId or origClientOrderId must be sent."
    assert isinstance(err, InvalidOrder)
    assert err.code == "-1140"
    assert err.raw is body


@pytest.mark.parametrize("code", ["200", 0, "0", "00000"])
def test_each_success_code_passes_the_body_when_it_has_no_data(code: Any) -> None:
    """code_200_envelope, upload_ai_log_v3 (code 0), upload_ai_log_script ("0", "00000")."""
    body = {"code": code, "msg": "success", "requestTime": 1764505776347}
    assert check_envelope(body) is body


def test_the_success_codes_are_weexs_documented_ones() -> None:
    assert {"200", "00000", "0"} == SUCCESS_CODES


def test_a_success_envelope_with_data_yields_the_data() -> None:
    assert check_envelope(example("rest", "upload_ai_log_v2")) == "upload success"
    assert check_envelope(example("rest", "code_200_envelope")) == example("rest", "code_200_envelope")


def test_a_bare_success_object_is_the_payload() -> None:
    body = {"success": True}  # modifyTpSlOrder (§2.1)
    assert check_envelope(body) is body
    order = {"orderId": "7", "status": "NEW", "errorCode": "", "errorMessage": ""}
    assert check_envelope(order) is order


def test_a_bare_failed_item_raises_with_its_code_and_message() -> None:
    body = {"orderId": 0, "success": False, "errorCode": "-1160", "errorMessage": "bad step"}  # §10.3
    err = _raised(body)
    assert type(err) is VenuePrecisionError
    assert err.code == "-1160"
    assert str(err) == "WEEX -1160: bad step"


def test_a_failed_status_item_is_order_not_found_though_it_says_neither_code_nor_success() -> None:
    """ccxt's recorded cancel answer (§2.1, §10.3): only the FAILED_ prefix of errorMsg tells."""
    body = {"orderId": 121231, "status": "FAILED", "errorMsg": "FAILED_ORDER_NOT_FOUND"}
    err = _raised(body)
    assert type(err) is OrderNotFound
    assert str(err) == "WEEX FAILED_ORDER_NOT_FOUND: FAILED_ORDER_NOT_FOUND"
    assert err.code == "FAILED_ORDER_NOT_FOUND"
    assert err.raw is body


def test_an_item_with_only_an_error_code_uses_the_code_as_its_text() -> None:
    err = _raised({"orderId": 0, "errorCode": "-1160"})
    assert type(err) is VenuePrecisionError
    assert str(err) == "WEEX -1160: -1160"


def test_an_item_failed_without_a_word_says_request_failed() -> None:
    body = {"orderId": 0, "success": False}
    err = _raised(body)
    assert type(err) is InvalidOrder
    assert str(err) == "WEEX item: request failed"
    assert err.code == "item"
    assert err.raw is body


def test_the_documented_errormessage_field_is_read_before_errormsg() -> None:
    """WEEX's docs name the field errorMessage, ccxt reads errorMsg (§2.1): both are read."""
    item = {
        "orderId": 0,
        "errorCode": "ORDER_NOT_FOUND",
        "errorMessage": "orderId not exist",
        "errorMsg": "x",
    }
    err = _raised(item)
    assert type(err) is OrderNotFound
    assert str(err) == "WEEX ORDER_NOT_FOUND: orderId not exist"


def test_a_list_passes_when_every_item_succeeded_and_skips_rows_that_are_not_objects() -> None:
    """Kline rows are lists (§3.1.2); batch answers are lists of items (§2.1)."""
    rows = [[1764505776347, "3000.1", "3001", "2999", "3000.5", "12.5"]]
    assert check_envelope(rows) is rows
    items = [{"orderId": 1, "success": True}, "7"]
    assert check_envelope(items) is items


def test_a_list_raises_for_its_first_failed_item_after_a_good_one() -> None:
    bad = {
        "orderId": 2,
        "success": False,
        "errorCode": "ORDER_NOT_FOUND",
        "errorMessage": "orderId not exist",
    }
    body = [{"orderId": 1, "success": True}, bad, {"orderId": 3, "success": False}]
    err = _raised(body)
    assert type(err) is OrderNotFound
    assert err.raw is bad


@pytest.mark.parametrize("body", ["<html>bad gateway</html>", None, 7])
def test_a_body_that_is_neither_object_nor_list_is_unavailable_naming_its_type(body: Any) -> None:
    err = _raised(body)
    assert type(err) is ExchangeUnavailable
    assert str(err) == f"unexpected response type {type(body).__name__}"
    assert err.raw is body


def test_an_object_with_a_msg_but_no_code_is_a_bare_payload_not_an_envelope() -> None:
    """Only a code and a msg together make an envelope (check_envelope's contract): code_200_envelope
    without its code is a bare payload, passed as it is."""
    body = {k: v for k, v in example("rest", "code_200_envelope").items() if k != "code"}
    assert check_envelope(body) is body
