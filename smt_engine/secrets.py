"""Secret lookup (systemd credentials -> OS keyring -> environment) and log redaction.

Values are never printed, stored or logged: every value found is registered with the redactor,
the logging filter and the store codec (every text written to the database) pass text through
``redact``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

KEYRING_SERVICE = "smt"


class SecretName(StrEnum):
    """Names of secrets (not values): credential file names, keyring users, env vars upper-cased."""

    WEEX_API_KEY = "weex_api_key"
    WEEX_API_SECRET = "weex_api_secret"  # noqa: S105 - a name, not a value
    WEEX_API_PASSPHRASE = "weex_api_passphrase"  # noqa: S105
    ETHERSCAN_API_KEY = "etherscan_api_key"
    GEMINI_API_KEY = "gemini_api_key"
    NOTIFY_URLS = "notify_urls"  # apprise URLs carry tokens, so the whole list is a secret

    @property
    def env_var(self) -> str:
        return self.value.upper()


class SecretSource(StrEnum):
    CREDENTIALS = "systemd credentials"
    KEYRING = "keyring"
    ENVIRONMENT = "environment"


# --------------------------------------------------------------------------- redaction

_MIN_REDACT_LEN = 4
_known: tuple[str, ...] = ()  # longest first, so a secret that contains another masks fully
_known_lock = threading.Lock()
MASK = "***"


def register_secret(value: str) -> None:
    """Remember a secret value (and its URL-encoded form) so it is masked wherever it would be written."""
    global _known
    value = value.strip()
    if len(value) < _MIN_REDACT_LEN:
        return
    forms = {value, quote(value, safe="")}
    with _known_lock:
        _known = tuple(sorted(set(_known) | forms, key=len, reverse=True))


def redact(text: str) -> str:
    """Mask every registered secret in ``text``."""
    known = _known
    if not known or not text:
        return text
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_obj(obj: Any) -> Any:
    """``redact`` applied through JSON-like structures (dict keys and values, lists, strings)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(k) if isinstance(k, str) else k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is printed by the
# JSON formatter (e.g. an ``engine.halted`` event's ``data`` with the halt reason), so it is masked too.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Masks known secrets in the final message text, any formatted traceback and ``extra`` fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            # Arguments first: a format such as "%.120s" could cut a secret in two before the message
            # exists, leaving a prefix no whole-value match would find.
            if isinstance(record.args, tuple):
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
            message = record.getMessage()
            record.msg = redact(message)
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            for name, value in list(record.__dict__.items()):
                if name not in _RECORD_ATTRS and isinstance(value, str | dict | list | tuple):
                    setattr(record, name, redact_obj(value))
        return True


# --------------------------------------------------------------------------- lookup


@dataclass(frozen=True)
class SecretLookup:
    name: SecretName
    source: SecretSource | None
    value: str | None = field(default=None, repr=False)

    @property
    def is_set(self) -> bool:
        return self.value is not None


class KeyringUnavailable(Exception):
    """No usable OS keyring backend on this host."""


class SecretStore:
    """Finds secrets in the documented order; the keyring step is skipped when no backend works."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        credentials_dir: Path | None = None,
        keyring_backend: Any | None = None,
        use_keyring: bool = True,
    ) -> None:
        self._env = os.environ if env is None else env
        cred = credentials_dir or (
            Path(self._env["CREDENTIALS_DIRECTORY"]) if "CREDENTIALS_DIRECTORY" in self._env else None
        )
        self._credentials_dir = cred
        self._backend = keyring_backend
        self._use_keyring = use_keyring
        self._keyring_warned = False

    # The keyring package picks a backend on first use; on a headless host that is the "fail"
    # backend, whose every call raises. Detect that once and say so in one line.
    def _keyring(self) -> Any:
        if not self._use_keyring:
            raise KeyringUnavailable("keyring disabled")
        if self._backend is not None:
            return self._backend
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
        empty_chain = isinstance(backend, chainer.ChainerBackend) and not backend.backends
        if isinstance(backend, fail.Keyring | null.Keyring) or empty_chain:
            raise KeyringUnavailable(f"no OS keyring backend available ({type(backend).__module__})")
        self._backend = backend
        return backend

    def _keyring_get(self, name: SecretName) -> str | None:
        try:
            backend = self._keyring()
            value = backend.get_password(KEYRING_SERVICE, name.value)
        except Exception as exc:  # keyring backends raise many types; any failure means "not from keyring"
            if not self._keyring_warned:
                reason = exc if isinstance(exc, KeyringUnavailable) else type(exc).__name__
                log.info("OS keyring skipped: %s; using systemd credentials or environment variables", reason)
                self._keyring_warned = True
            return None
        return value if isinstance(value, str) else None

    def lookup(self, name: SecretName) -> SecretLookup:
        if self._credentials_dir is not None:
            path = self._credentials_dir / name.value
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError:
                value = ""
            if value:
                register_secret(value)
                return SecretLookup(name, SecretSource.CREDENTIALS, value)
        from_keyring = self._keyring_get(name)
        if from_keyring:
            register_secret(from_keyring)
            return SecretLookup(name, SecretSource.KEYRING, from_keyring)
        value = self._env.get(name.env_var, "").strip()
        if value:
            register_secret(value)
            return SecretLookup(name, SecretSource.ENVIRONMENT, value)
        return SecretLookup(name, None, None)

    def get(self, name: SecretName) -> str | None:
        return self.lookup(name).value

    def status(self) -> list[SecretLookup]:
        return [self.lookup(n) for n in SecretName]

    def set(self, name: SecretName, value: str) -> None:
        """Store in the OS keyring; raises ``KeyringUnavailable`` with the reason when it cannot."""
        value = value.strip()
        if not value:
            raise ValueError("empty secret")
        try:
            self._keyring().set_password(KEYRING_SERVICE, name.value, value)
        except KeyringUnavailable:
            raise
        except Exception as exc:
            raise KeyringUnavailable(f"the keyring refused the write ({type(exc).__name__})") from None
        register_secret(value)

    def delete(self, name: SecretName) -> bool:
        """Remove from the OS keyring; False when it was not there."""
        try:
            backend = self._keyring()
            if backend.get_password(KEYRING_SERVICE, name.value) is None:
                return False
            backend.delete_password(KEYRING_SERVICE, name.value)
        except KeyringUnavailable:
            raise
        except Exception as exc:
            raise KeyringUnavailable(f"the keyring refused the delete ({type(exc).__name__})") from None
        return True
