"""Configuration values that used to be accepted and hurt: a zero order visibility, credentials inside a
URL (printed back with the password), and a notification URL no channel can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.config import Settings
from smt_engine.exitcodes import ExitCode

PASSWORD = "s3cretPassw0rd"


@pytest.mark.parametrize("value", ["0s", "0.5s", "2h"])
def test_an_unusable_order_visibility_is_refused_naming_key_and_fix(value: str) -> None:
    with pytest.raises(ValueError, match=r"trading\.order_visibility = .*: must be between 1s and 1h .*30s"):
        Settings.model_validate({"trading": {"order_visibility": value}})


def test_a_usable_order_visibility_is_kept() -> None:
    assert (
        Settings.model_validate({"trading": {"order_visibility": "2s"}}).trading.order_visibility.seconds == 2
    )


@pytest.mark.parametrize(
    ("section", "key", "url"),
    [
        ("exchange", "base_url", f"https://alice:{PASSWORD}@api-contract.weex.com"),
        ("exchange", "base_url", f"ftp://alice:{PASSWORD}@host"),  # also refused as not http(s)
        ("exchange", "ws_url", f"wss://alice:{PASSWORD}@ws-contract.weex.com"),
        ("analyst", "base_url", f"https://{PASSWORD}@proxy.example"),
        ("whales", "etherscan_base_url", f"https://u:{PASSWORD}@api.etherscan.io/v2/api"),
    ],
)
def test_a_url_with_credentials_is_refused_without_printing_them(
    section: str, key: str, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smt.toml"
    config.write_text(f'[{section}]\n{key} = "{url}"\n')
    assert main(["config", "check", "--config", str(config)]) == ExitCode.CONFIG
    out, err = capsys.readouterr()
    assert f"{section}.{key}: must not carry credentials" in err
    assert "smt keys set" in err
    assert PASSWORD not in out + err


@pytest.mark.parametrize(
    "url", [f"https://api-contract.weex.com?apikey={PASSWORD}", f"https://api-contract.weex.com/#{PASSWORD}"]
)
def test_a_base_url_with_a_query_or_a_fragment_is_refused_without_printing_it(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smt.toml"
    config.write_text(f'[exchange]\nbase_url = "{url}"\n')
    assert main(["config", "check", "--config", str(config)]) == ExitCode.CONFIG
    out, err = capsys.readouterr()
    assert "exchange.base_url: must not carry a query string or a fragment" in err
    assert PASSWORD not in out + err


def test_a_url_without_credentials_passes() -> None:
    settings = Settings.model_validate({"exchange": {"base_url": "http://127.0.0.1:8080/a@b"}})
    assert settings.exchange.base_url == "http://127.0.0.1:8080/a@b"  # an @ in the path is no login


def test_an_unusable_notify_url_fails_config_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smt.toml"
    config.write_text('[engine]\nmode = "demo"\n')
    monkeypatch.setenv("NOTIFY_URLS", "json://127.0.0.1:9/hook nonsense://tok3nvalue")
    assert main(["config", "check", "--config", str(config)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "notify_urls: notification URL #2 of 2 (nonsense://...) is not a URL apprise supports" in err
    assert "smt keys set notify_urls" in err
    assert "tok3nvalue" not in err
    monkeypatch.setenv("NOTIFY_URLS", "mailto:x")  # an address apprise cannot mail to: named by its scheme
    assert main(["config", "check", "--config", str(config)]) == ExitCode.CONFIG
    assert "(mailto:...) is not a URL apprise supports" in capsys.readouterr().err
    monkeypatch.setenv("NOTIFY_URLS", "json://127.0.0.1:9/hook")
    assert main(["config", "check", "--config", str(config)]) == 0
