"""The stop and exit-code paths behind README's safety claims, driven in process over stand-ins.

`smt engine` runs the engine with its signal handlers and closes it after, and ends with the code the
operator guide gives each failure (a bad configuration 2, a second engine 3, a lost or damaged database 4,
a full disk or file-size limit 5); `smt` itself answers a usage error, Ctrl-C, a known failure and a bug
each with its own code (and JSON with ``--json``). The demo's engine is stopped with SIGTERM when its
console quits and given its whole drain before it is killed (``test_demo_quit.py`` holds the plain case).
"""

from __future__ import annotations

import errno
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli.context import VerbError
from smt_engine.cli.main import main
from smt_engine.clock import WallClock
from smt_engine.exchange.base import AuthError
from smt_engine.exchange.weex.probe_gate import ProbeRequired
from smt_engine.exitcodes import ExitCode
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.store.identity import DatabaseSwapped
from tests.lock_support import engine_holding
from tests.unit.exits_support import Built, StandInEngine


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    stand_in = Built(StandInEngine(signalled=True))
    monkeypatch.setattr("smt_engine.runtime.build_runtime", stand_in)
    return stand_in


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "smt.toml"
    path.write_text(
        f'[engine]\nmode = "demo"\ndatabase = "{tmp_path / "smt.db"}"\n[logging]\nlevel = "error"\n'
    )
    return path


def engine_verb(config: Path, *extra: str) -> int:
    return main(["engine", "--config", str(config), *extra])


# --------------------------------------------------------------------------- smt engine


def test_the_engine_verb_runs_the_engine_with_its_signal_handlers_then_closes_it(
    built: Built, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine_verb(config) == ExitCode.OK
    assert built.engine.calls == ["signals", "run", "drained", "aclose"]
    settings, store, clock, secrets = built.args
    assert settings.engine.database == tmp_path / "smt.db"
    assert store.path == tmp_path / "smt.db"
    assert isinstance(clock, WallClock)
    assert isinstance(secrets, SecretStore)
    assert built.kwargs == {"config_path": config, "skip_probe": False}
    assert capsys.readouterr() == ("", "")


def test_skip_probe_reaches_the_runtime(built: Built, config: Path) -> None:
    assert engine_verb(config, "--skip-probe") == ExitCode.OK
    assert built.kwargs["skip_probe"] is True


def test_without_config_the_default_file_is_the_one_a_reload_reads_when_it_exists(
    built: Built, tmp_path: Path
) -> None:
    assert main(["engine"]) == ExitCode.OK
    assert built.kwargs["config_path"] is None, "no file to reload from"
    default = tmp_path / "home" / ".config" / "smt" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text(f'[engine]\nmode = "demo"\ndatabase = "{tmp_path / "smt.db"}"\n')
    assert main(["engine"]) == ExitCode.OK
    assert built.kwargs["config_path"] == default


def test_an_engine_stopped_by_a_lost_database_exits_4_naming_it_after_closing_the_runtime(
    built: Built, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built.engine.fails = DatabaseSwapped("smt.db was deleted while the engine had it open")
    assert engine_verb(config) == ExitCode.DATABASE == 4
    assert built.engine.calls == ["signals", "run", "aclose"]
    out, err = capsys.readouterr()
    assert (out, err) == ("", "smt.db was deleted while the engine had it open\n")


def test_an_engine_stopped_by_the_file_size_limit_exits_5_naming_the_file(
    built: Built, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built.engine.fails = OSError(errno.EFBIG, "File too large", "/var/lib/smt/smt.paper-account.json")
    assert engine_verb(config) == ExitCode.DISK_FULL == 5
    assert built.engine.calls == ["signals", "run", "aclose"]
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("/var/lib/smt/smt.paper-account.json: the file-size limit")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            AuthError("live mode needs WEEX credentials"),
            ExitCode.CONFIG,
            "engine cannot start: live mode needs",
        ),
        (
            ProbeRequired("no passing probe for this key"),
            ExitCode.CONFIG,
            "engine cannot start: no passing probe",
        ),
        (RuntimeError("venue unreachable"), ExitCode.FAILED, "engine cannot start: venue unreachable\n"),
        (
            OSError(errno.EFBIG, "File too large", "/var/lib/smt/smt.paper-account.json"),
            ExitCode.DISK_FULL,
            "/var/lib/smt/smt.paper-account.json: the file-size limit",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "/var/lib/smt/x"),
            ExitCode.DISK_FULL,
            "/var/lib/smt/x: No space left on device: free disk space",
        ),
    ],
    ids=["auth", "probe", "other", "file-size", "disk-full"],
)
def test_an_engine_that_cannot_start_exits_with_the_code_its_cause_deserves(
    built: Built,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    code: ExitCode,
    message: str,
) -> None:
    built.fails = error
    assert engine_verb(config) == code
    assert built.engine.calls == [], "nothing ran"
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1, "one line, no traceback"


def test_a_database_error_at_start_is_the_database_exit_naming_the_file(
    built: Built, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built.fails = sqlite3.DatabaseError("file is not a database")
    assert engine_verb(config) == ExitCode.DATABASE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{tmp_path / 'smt.db'}: ")
    assert err.count("\n") == 1


def test_a_damaged_database_stops_the_start_before_anything_is_built(
    built: Built,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Store, "check", lambda self: ["row 3 missing from index", "page 7 never used"])
    assert engine_verb(config) == ExitCode.DATABASE
    assert built.count == 0
    assert capsys.readouterr().err == (
        f"{tmp_path / 'smt.db'}: the database is damaged (2 problem(s), first: row 3 missing from index): "
        "stop SMT and restore the file from a backup (`smt db check` lists every problem)\n"
    )


def test_a_second_engine_exits_3_and_builds_nothing(
    built: Built, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine_holding(tmp_path / "smt.db") as pid:
        assert engine_verb(config) == ExitCode.ALREADY_RUNNING == 3
    assert built.count == 0
    assert f"pid {pid}" in capsys.readouterr().err


# --------------------------------------------------------------------------- smt: its own exit codes


class Verb:
    """`smt status` with its handler replaced: it opens the store, then returns or raises ``outcome``."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.store: Store | None = None

    def __call__(self, ctx: Any) -> Any:
        self.store = ctx.store()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def status_verb(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> Verb:
    verb = Verb(outcome)
    monkeypatch.setattr("smt_engine.cli.engine.cmd_status", verb)
    return verb


def closed(store: Store | None) -> bool:
    assert store is not None
    try:
        store.conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_without_arguments_the_command_line_is_read_and_the_handlers_code_returned(
    monkeypatch: pytest.MonkeyPatch, config: Path
) -> None:
    verb = status_verb(monkeypatch, ExitCode.NO_RESULT)
    monkeypatch.setattr(sys, "argv", ["smt", "status", "--config", str(config)])
    assert main() == 6
    assert closed(verb.store), "the verb's store is closed on the way out"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_usage_error_exits_2_and_answers_in_json_when_asked(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["status", "--bogus", *(["--json"] if as_json else [])])
    assert info.value.code == 2
    out = capsys.readouterr().out
    if as_json:
        assert json.loads(out) == {"error": "invalid command line (see the usage on stderr)", "code": 2}
    else:
        assert out == ""


def test_help_with_json_is_only_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["status", "--json", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: smt status")
    assert '"error"' not in out


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ctrl_c_exits_130_saying_interrupted_and_closes_the_store(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verb = status_verb(monkeypatch, KeyboardInterrupt())
    code = main(["status", "--config", str(config), *(["--json"] if as_json else [])])
    assert code == ExitCode.INTERRUPTED == 130
    out, err = capsys.readouterr()
    assert err == "interrupted\n"
    assert out == ('{"error": "interrupted", "code": 130}\n' if as_json else "")
    assert closed(verb.store)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_known_failure_exits_with_its_code_and_its_words(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verb = status_verb(monkeypatch, VerbError("no result in time", ExitCode.NO_RESULT))
    code = main(["status", "--config", str(config), *(["--json"] if as_json else [])])
    assert code == ExitCode.NO_RESULT
    out, err = capsys.readouterr()
    assert err == "no result in time\n"
    assert out == ('{"error": "no result in time", "code": 6}\n' if as_json else "")
    assert closed(verb.store)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_bug_exits_70_with_its_traceback_and_closes_the_store(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verb = status_verb(monkeypatch, KeyError("lost"))
    code = main(["status", "--config", str(config), *(["--json"] if as_json else [])])
    assert code == ExitCode.INTERNAL == 70
    out, err = capsys.readouterr()
    assert out == ('{"error": "internal error: KeyError: \'lost\'", "code": 70}\n' if as_json else "")
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("KeyError: 'lost'\ninternal error: KeyError: 'lost'\n")
    assert closed(verb.store)


def test_a_reader_gone_exits_141_quietly(
    monkeypatch: pytest.MonkeyPatch, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verb = status_verb(monkeypatch, BrokenPipeError())
    with (tmp_path / "out").open("w") as out:
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["status", "--config", str(config), "--json"]) == ExitCode.BROKEN_PIPE == 141
        print("after the reader left", file=out, flush=True)
    assert (tmp_path / "out").read_text() == "", "what is left goes nowhere"
    assert capsys.readouterr().err == ""
    assert closed(verb.store)
