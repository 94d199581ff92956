from __future__ import annotations

import locale
import logging
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from smt_engine import secrets as smt_secrets
from smt_engine.clock import SimulatedClock
from smt_engine.domain import CommandKind, EventLevel
from smt_engine.logsetup import EventsHandler, JsonFormatter, setup_logging
from smt_engine.secrets import (
    MASK,
    KeyringUnavailable,
    RedactingFilter,
    SecretName,
    SecretSource,
    SecretStore,
    redact,
    register_secret,
)
from smt_engine.store import Store


class MemoryKeyring(KeyringBackend):
    """The keyring README's test backend pattern: no D-Bus needed."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.data[(service, username)]


def creds(tmp_path: Path, **values: str) -> Path:
    directory = tmp_path / "creds"
    directory.mkdir(exist_ok=True)
    for name, value in values.items():
        (directory / name).write_text(value + "\n")
    return directory


def test_lookup_order_credentials_then_keyring_then_environment(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    ring.set_password("smt", "weex_api_key", "key-from-keyring-123")
    ring.set_password("smt", "weex_api_secret", "secret-from-keyring-123")
    env = {
        "WEEX_API_KEY": "key-from-env-123",
        "WEEX_API_SECRET": "secret-from-env-123",
        "WEEX_API_PASSPHRASE": "pass-from-env-123",
    }
    store = SecretStore(
        env=env, credentials_dir=creds(tmp_path, weex_api_key="key-from-creds-123"), keyring_backend=ring
    )
    key = store.lookup(SecretName.WEEX_API_KEY)
    assert (key.value, key.source) == ("key-from-creds-123", SecretSource.CREDENTIALS)
    secret = store.lookup(SecretName.WEEX_API_SECRET)
    assert (secret.value, secret.source) == ("secret-from-keyring-123", SecretSource.KEYRING)
    passphrase = store.lookup(SecretName.WEEX_API_PASSPHRASE)
    assert (passphrase.value, passphrase.source) == ("pass-from-env-123", SecretSource.ENVIRONMENT)
    missing = store.lookup(SecretName.GEMINI_API_KEY)
    assert missing.value is None
    assert missing.source is None
    assert not missing.is_set


def test_credentials_directory_comes_from_systemd_environment(tmp_path: Path) -> None:
    directory = creds(tmp_path, etherscan_api_key="ether-key-456")
    store = SecretStore(env={"CREDENTIALS_DIRECTORY": str(directory)}, use_keyring=False)
    assert store.get(SecretName.ETHERSCAN_API_KEY) == "ether-key-456"


def test_headless_host_without_keyring_falls_back_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    store = SecretStore(env={"GEMINI_API_KEY": "gem-key-789"}, keyring_backend=fail.Keyring())
    with caplog.at_level(logging.INFO, logger="smt_engine.secrets"):
        assert store.get(SecretName.GEMINI_API_KEY) == "gem-key-789"
        store.status()
    skipped = [r for r in caplog.records if "keyring skipped" in r.getMessage()]
    assert len(skipped) == 1


def test_default_keyring_unavailable_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    store = SecretStore(env={})
    assert store.get(SecretName.WEEX_API_KEY) is None
    with pytest.raises(Exception, match="no OS keyring backend"):
        store.set(SecretName.WEEX_API_KEY, "abc12345")


def test_set_and_delete_through_keyring() -> None:
    ring = MemoryKeyring()
    store = SecretStore(env={}, keyring_backend=ring)
    store.set(SecretName.GEMINI_API_KEY, "  gem-secret-value  ")
    assert ring.data[("smt", "gemini_api_key")] == "gem-secret-value"
    assert store.lookup(SecretName.GEMINI_API_KEY).source is SecretSource.KEYRING
    assert store.delete(SecretName.GEMINI_API_KEY) is True
    assert store.delete(SecretName.GEMINI_API_KEY) is False


def test_redaction_masks_registered_values_in_text_and_logs(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret("s3cr3t-passphrase-value")
    assert redact("auth failed for s3cr3t-passphrase-value!") == f"auth failed for {MASK}!"
    setup_logging("info", "json")
    log = logging.getLogger("test.redaction")
    log.warning("signing with %s", "s3cr3t-passphrase-value")
    try:
        raise RuntimeError("bad key s3cr3t-passphrase-value")
    except RuntimeError:
        log.exception("request failed")
    err = capsys.readouterr().err
    assert "s3cr3t-passphrase-value" not in err
    assert err.count(MASK) >= 2
    assert '"level": "warning"' in err


def test_a_secret_cut_by_the_format_is_still_masked() -> None:
    """A "%.Ns" cut through a secret must not leave its first half in the log."""
    secret = "k3y-0123456789-abcdefghij"
    register_secret(secret)
    frame = "x" * 100 + secret  # the cut at 110 characters falls inside the key
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "malformed frame: %.110s", (frame,), None)
    RedactingFilter().filter(record)
    message = record.getMessage()
    assert secret[:10] not in message
    assert MASK in message


def test_extra_fields_of_a_json_log_line_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """An event's ``data`` (a halt reason quoting an exchange error) is printed by the JSON formatter."""
    secret = "extra-k3y-5550123abc"
    register_secret(secret)
    setup_logging("info", "json")
    logging.getLogger("test.extra").critical(
        "halted",
        extra={"event": "engine.halted", "data": {"reason": f"venue said {secret}"}, "detail": secret},
    )
    err = capsys.readouterr().err
    assert secret not in err
    assert err.count(MASK) == 2
    assert '"event": "engine.halted"' in err


def test_redacting_filter_keeps_unrelated_records_intact() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "price %s", ("42.5",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "price 42.5"
    assert JsonFormatter().format(record).startswith("{")


def test_secret_never_reaches_the_database(tmp_path: Path) -> None:
    value = "weex-secret-ABCDEF-0123"
    SecretStore(env={"WEEX_API_SECRET": value}, use_keyring=False).get(SecretName.WEEX_API_SECRET)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock()
    handler = EventsHandler(store, clock)
    log = logging.getLogger("test.db")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.error("exchange said: bad signature for %s", value, extra={"event": "exchange.error"})
    finally:
        log.removeHandler(handler)
    store.events.append(
        clock.now(), EventLevel.ERROR, "x", f"secret {value}", data={"k": [value, {"n": value}]}
    )
    cmd = store.commands.enqueue(CommandKind.CLOSE, clock.now(), "test", {"note": value})
    assert cmd.id is not None
    store.commands.fail(cmd.id, clock.now(), f"failed with {value}")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("smt.db*") if p.is_file())
    assert value.encode() not in raw
    reopened = Store.open(tmp_path / "smt.db")
    messages = [e.message for e in reopened.events.recent()]
    assert any("bad signature for ***" in m for m in messages)
    reopened.close()


def test_status_reports_sources_never_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smt_engine.cli.main import main

    monkey_env: dict[str, Any] = {"ETHERSCAN_API_KEY": "visible-if-leaked-999"}
    import os

    os.environ.update(monkey_env)
    try:
        assert main(["keys", "status"]) == 0
    finally:
        del os.environ["ETHERSCAN_API_KEY"]
    out = capsys.readouterr().out
    assert "etherscan_api_key" in out
    assert "set (environment)" in out
    assert "weex_api_key" in out
    assert "unset" in out
    assert "visible-if-leaked-999" not in out


# --------------------------------------------------------------------------- exact rules, one registry each


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry of known values, so each rule is seen from its own registrations alone."""
    monkeypatch.setattr(smt_secrets, "_known", ())


@pytest.mark.usefixtures("fresh_registry")
def test_a_four_character_secret_is_masked_and_a_three_character_one_is_not() -> None:
    register_secret(" k9Zq ")
    register_secret("q7x")
    assert redact("said k9Zq and q7x") == f"said {MASK} and q7x"


@pytest.mark.usefixtures("fresh_registry")
def test_the_url_encoded_form_of_a_secret_with_a_slash_is_masked() -> None:
    secret = "fake/t0ken+value=1"
    register_secret(secret)
    assert redact("GET /hook?key=fake%2Ft0ken%2Bvalue%3D1") == f"GET /hook?key={MASK}"


@pytest.mark.usefixtures("fresh_registry")
def test_a_secret_inside_a_longer_one_never_leaves_a_piece_of_the_longer_one() -> None:
    register_secret("wxyz-fake-inner")
    register_secret("a-wxyz-fake-inner-9")
    assert redact("key=a-wxyz-fake-inner-9;") == f"key={MASK};"


@pytest.mark.usefixtures("fresh_registry")
def test_non_text_keys_and_values_pass_the_json_redaction_unchanged() -> None:
    register_secret("fake-json-k3y")
    assert smt_secrets.redact_obj({1: "x fake-json-k3y", "fake-json-k3y": [2, None, ("fake-json-k3y",)]}) == {
        1: f"x {MASK}",
        MASK: [2, None, [MASK]],
    }


@pytest.mark.usefixtures("fresh_registry")
def test_a_secret_in_named_arguments_cut_by_the_format_is_still_masked() -> None:
    secret = "dict-k3y-0123456789"
    register_secret(secret)
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "said %(k).12s and %(n)d", ({"k": secret, "n": 7},), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == f"said {MASK} and 7"


def test_a_disabled_keyring_refuses_a_write_with_its_reason() -> None:
    with pytest.raises(KeyringUnavailable, match=r"^keyring disabled$"):
        SecretStore(env={}, use_keyring=False).set(SecretName.GEMINI_API_KEY, "fake-gem-value")


def test_an_empty_secret_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^empty secret$"):
        SecretStore(env={}, keyring_backend=MemoryKeyring()).set(SecretName.GEMINI_API_KEY, "   ")


class RefusingKeyring(MemoryKeyring):
    """A keyring whose backend fails every call with words that must not reach the operator."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("backend detail /home/op/.local")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("backend detail /home/op/.local")


def test_a_keyring_refusal_names_the_failure_type_only() -> None:
    store = SecretStore(env={}, keyring_backend=RefusingKeyring())
    with pytest.raises(KeyringUnavailable, match=r"^the keyring refused the write \(RuntimeError\)$"):
        store.set(SecretName.GEMINI_API_KEY, "fake-gem-value")
    with pytest.raises(KeyringUnavailable, match=r"^the keyring refused the delete \(RuntimeError\)$"):
        store.delete(SecretName.GEMINI_API_KEY)


def test_the_keyring_skipped_line_names_the_reason_or_the_failure_type(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    with caplog.at_level(logging.INFO, logger="smt_engine.secrets"):
        SecretStore(env={}, keyring_backend=RefusingKeyring()).get(SecretName.GEMINI_API_KEY)
        SecretStore(env={}).get(SecretName.GEMINI_API_KEY)
    tail = "; using systemd credentials or environment variables"
    assert [r.getMessage() for r in caplog.records if r.name == "smt_engine.secrets"] == [
        f"OS keyring skipped: RuntimeError{tail}",
        f"OS keyring skipped: no OS keyring backend available (keyring.backends.fail){tail}",
    ]


def test_an_unusable_default_keyring_is_named_by_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    with pytest.raises(
        KeyringUnavailable, match=r"^no OS keyring backend available \(keyring\.backends\.fail\)$"
    ):
        SecretStore(env={}).set(SecretName.GEMINI_API_KEY, "fake-gem-value")


def test_an_empty_keyring_chain_is_unusable_and_a_chain_with_a_backend_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import chainer

    ring = MemoryKeyring()

    class EmptyChain(chainer.ChainerBackend):
        backends: ClassVar[list[KeyringBackend]] = []

    class OneChain(chainer.ChainerBackend):
        backends: ClassVar[list[KeyringBackend]] = [ring]

    monkeypatch.setattr(keyring, "get_keyring", EmptyChain)
    with pytest.raises(KeyringUnavailable, match="no OS keyring backend available"):
        SecretStore(env={}).set(SecretName.GEMINI_API_KEY, "fake-gem-value")
    monkeypatch.setattr(keyring, "get_keyring", OneChain)
    SecretStore(env={}).set(SecretName.GEMINI_API_KEY, "fake-gem-value")
    assert ring.data == {("smt", "gemini_api_key"): "fake-gem-value"}


class BytesKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        return b"fake-bytes-value"  # type: ignore[return-value]


def test_a_keyring_answer_that_is_not_text_is_not_a_secret() -> None:
    store = SecretStore(env={"GEMINI_API_KEY": "fake-env-value"}, keyring_backend=BytesKeyring())
    found = store.lookup(SecretName.GEMINI_API_KEY)
    assert (found.value, found.source) == ("fake-env-value", SecretSource.ENVIRONMENT)


def test_each_lookup_is_named_by_the_secret_it_looked_for(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    ring.set_password("smt", "weex_api_secret", "fake-ring-value")
    store = SecretStore(
        env={}, credentials_dir=creds(tmp_path, weex_api_key="fake-cred-value"), keyring_backend=ring
    )
    assert [(s.name, s.source) for s in store.status()] == [
        (SecretName.WEEX_API_KEY, SecretSource.CREDENTIALS),
        (SecretName.WEEX_API_SECRET, SecretSource.KEYRING),
        (SecretName.WEEX_API_PASSPHRASE, None),
        (SecretName.ETHERSCAN_API_KEY, None),
        (SecretName.GEMINI_API_KEY, None),
        (SecretName.NOTIFY_URLS, None),
    ]


@pytest.mark.skipif(
    bool(sys.flags.utf8_mode), reason="in UTF-8 mode Python ignores the locale, so LANG=C cannot be shown"
)
def test_a_credential_file_is_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """A service started under LANG=C still reads a key holding non-ASCII characters whole."""
    value = "fake-\u043a\u043b\u044e\u0447-123"
    directory = tmp_path / "creds"
    directory.mkdir()
    (directory / "weex_api_key").write_bytes(value.encode("utf-8"))
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        found = SecretStore(env={}, credentials_dir=directory, use_keyring=False).lookup(
            SecretName.WEEX_API_KEY
        )
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert (found.value, found.source) == (value, SecretSource.CREDENTIALS)
