"""No benchmark can reach a real host: the chaos bench's engine config is refused unless every endpoint
is on 127.0.0.1, and no script in bench/ names a host that is not loopback."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import chaos  # noqa: E402  (bench/ is a folder of scripts, not a package)
from loopback import require_loopback  # noqa: E402

INFO = {
    "weex": "http://127.0.0.1:40001",
    "ws": "ws://127.0.0.1:40002",
    "gemini": "http://127.0.0.1:40003",
    "api_key": "k",
    "secret": "s",
    "passphrase": "p",
}


def _config(tmp_path: Path) -> Path:
    return chaos.write_config(tmp_path, SimpleNamespace(info=dict(INFO)))  # type: ignore[arg-type]


def test_the_chaos_engine_dials_only_the_fakes_including_their_websocket(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert 'ws_url = "ws://127.0.0.1:40002"' in config.read_text()
    require_loopback(config, {})  # passes


def test_a_default_left_in_place_is_a_real_host_and_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.write_text(re.sub(r'ws_url = ".*"\n', "", config.read_text()))
    with pytest.raises(SystemExit, match=r"exchange\.ws_url = wss://ws-contract\.weex\.com"):
        require_loopback(config, {})


def test_an_environment_override_or_a_notification_url_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(SystemExit, match=r"exchange\.base_url = https://example\.org"):
        require_loopback(config, {"SMT_EXCHANGE__BASE_URL": "https://example.org"})
    with pytest.raises(SystemExit, match="NOTIFY_URLS"):
        require_loopback(config, {"NOTIFY_URLS": "ntfy://topic"})


def test_no_bench_script_names_a_host_off_loopback() -> None:
    url = re.compile(r"\b(?:https?|wss?)://([A-Za-z0-9.\-\[\]:]+)")
    found = [
        f"{path.name}: {m.group(0)}"
        for path in sorted(BENCH.glob("*.py"))
        for m in url.finditer(path.read_text())
        if m.group(1).split(":")[0] not in ("127.0.0.1", "localhost", "[", "")
    ]
    assert found == []
