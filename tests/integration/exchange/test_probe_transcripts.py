"""Every transcript in ``probe_transcripts/`` is a test: a fake that knows only the file answers a new
`smt venue probe`, which must reach the verdicts the file recorded, step by step.

To turn an operator's bug report into a test, drop the transcript they attached (secrets are already
masked) into that folder. ``fake-weex-2026-12-06.jsonl`` was recorded against ``tests/fakes/weex_server``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smt_engine.exchange.weex.transcript import read_transcript
from tests.fakes.weex_replay import replaying
from tests.integration.exchange.probe_support import configure, run_probe

TRANSCRIPTS = sorted((Path(__file__).parent / "probe_transcripts").glob("*.jsonl"))
DEFAULT_PAIRS = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "ADAUSDT", "BNBUSDT", "LTCUSDT"]
KEYS = ("weex_replayed_key_0001", "replayed-secret-0002", "replayedPass0003")  # the file's are masked


def _args(options: dict[str, object]) -> list[str]:
    args = ["--listen", str(options["listen"]), "--distance", str(options["distance"])]
    args += ["--with-position"] * bool(options["with_position"]) + ["--ai-log"] * bool(options["ai_log"])
    return args + (["--symbol", str(options["symbol"])] if options["symbol"] else [])


def test_there_is_at_least_one_transcript() -> None:
    assert TRANSCRIPTS


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda p: p.name)
def test_a_recorded_probe_replays_to_the_same_verdicts(
    transcript: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = read_transcript(transcript)
    header, recorded = lines[0], lines[-1]
    assert header["type"] == "probe"
    assert recorded["type"] == "result"
    assert header["pairs"] == DEFAULT_PAIRS, "replay runs with the default pairs"
    with replaying(transcript) as replay:
        configure(monkeypatch, tmp_path, replay.base_url, replay.ws_url, KEYS)
        code, result = run_probe(capsys, tmp_path / "again.jsonl", *_args(header["options"]))
        assert replay.unmatched == []
    assert [(s["step"], s["status"]) for s in result["steps"]] == [
        (s["step"], s["status"]) for s in recorded["steps"]
    ]
    assert code == (0 if recorded["passed"] else 1)
