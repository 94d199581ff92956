"""Shared fixtures: an isolated environment per test so no test reads the operator's real config or keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine.store import Store


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in list(__import__("os").environ):
        if name.startswith("SMT_") or name in {
            "WEEX_API_KEY",
            "WEEX_API_SECRET",
            "WEEX_API_PASSPHRASE",
            "ETHERSCAN_API_KEY",
            "GEMINI_API_KEY",
            "NOTIFY_URLS",
            "CREDENTIALS_DIRECTORY",
            "NOTIFY_SOCKET",
        }:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "smt.db")
    yield s
    s.close()
