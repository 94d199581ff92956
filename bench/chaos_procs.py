"""The chaos bench's processes: the fake venues (one long-lived process) and the engine it kills."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from loopback import require_loopback

ROOT = Path(__file__).resolve().parent.parent
TICK_S = 1.0
MAX_OPEN = 4
PAIRS = ["ETH", "BTC", "SOL", "XRP", "LTC"]


class Venues:
    """The fake venue process and a control line to it."""

    def __init__(self, seed: int, log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with log.open("ab") as err:  # the fakes' own noise (a killed client's broken pipe) goes here
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "fake_venues.py"), "--seed", str(seed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
            )
        self.info: dict[str, str] = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake venue process died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def send(self, **msg: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, RuntimeError):
            self.send(cmd="quit")
        self.proc.wait(timeout=20)


def write_config(workdir: Path, venues: Venues) -> Path:
    config = workdir / "chaos.toml"
    pairs = json.dumps(PAIRS)
    config.write_text(
        f"""[engine]
mode = "live"
approval = "auto"
database = "{workdir / "chaos.db"}"
signal_interval = "4h"
min_cycle_gap = "1m"
monitor_interval = "{int(TICK_S)}s"
command_poll_interval = "0.2s"
heartbeat_interval = "1s"
shutdown_timeout = "10s"
[exchange]
base_url = "{venues.info["weex"]}"
ws_url = "{venues.info["ws"]}"
timeout = "4s"
[analyst]
base_url = "{venues.info["gemini"]}"
timeout = 3
min_spacing = 0
requests_per_minute = 600
backoff_initial = 0.01
backoff_max = 0.2
cache_ttl = "1s"
[pairs]
tier1 = []
tier2 = {pairs}
[whales]
enabled = false
[ailog]
enabled = false
[trading]
poll_interval = "0.2s"
protection_timeout = "3s"
fill_timeout = "3s"
max_entries_per_cycle = 3
order_visibility = "2s"
leverage_retry_delay = "0.2s"
[risk]
max_open_positions = {MAX_OPEN}
daily_loss_limit_pct = 90
max_drawdown_pct = 95
stop_loss_cooldown = "1s"
# The bench measures what crashes leave behind while orders flow in live mode; the edge gate would deny
# every entry here (no scored record), so the engine's own override lets them through (logged and shown).
edge_overrides = {json.dumps([f"gemini:{pair}" for pair in PAIRS])}
"""
    )
    return config


class Engine:
    def __init__(self, config: Path, venues: Venues, log: Path) -> None:
        self.config, self.log = config, log
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "NOTIFY_URLS" and not k.startswith("SMT_")},
            "WEEX_API_KEY": venues.info["api_key"],
            "WEEX_API_SECRET": venues.info["secret"],
            "WEEX_API_PASSPHRASE": venues.info["passphrase"],
            "GEMINI_API_KEY": "chaos-gemini-key",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        require_loopback(config, self.env)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                # The fake venue is not the operator's WEEX: there is no probe to pass for it.
                [
                    sys.executable,
                    "-m",
                    "smt_engine.cli",
                    "engine",
                    "--config",
                    str(self.config),
                    "--skip-probe",
                ],
                stdout=out,
                stderr=out,
                env=self.env,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
