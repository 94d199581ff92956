from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.config import ConfigError, Settings, load_settings
from smt_engine.config.fields import format_duration, parse_duration
from smt_engine.config.render import render_reference, render_template
from smt_engine.domain import ApprovalMode, Mode, Tier


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env=env or {})
    return info.value.problems


def test_defaults_follow_the_seed_system() -> None:
    s = load_settings(None, env={})
    assert s.engine.mode is Mode.PAPER
    assert s.engine.approval is ApprovalMode.AUTO
    assert s.risk.max_leverage == 20
    assert s.risk.max_open_positions == 5
    assert s.risk.max_single_position_pct == Decimal(25)
    assert s.risk.max_total_exposure_pct == Decimal(60)
    assert s.engine.signal_interval == timedelta(hours=4)
    assert s.engine.monitor_interval == timedelta(seconds=15)  # the README's safety model says so
    assert s.risk.max_hold == timedelta(hours=48)
    assert s.risk.final_days_max_hold == timedelta(hours=6)
    assert s.risk.final_days == 3
    assert [p.base for p in s.pairs.all() if p.tier is Tier.ONE] == ["ETH", "BTC"]
    assert [p.base for p in s.pairs.all() if p.tier is Tier.TWO] == [
        "SOL",
        "DOGE",
        "XRP",
        "ADA",
        "BNB",
        "LTC",
    ]
    assert s.competition.start is None
    assert s.competition.end is None
    assert s.engine.database.name == "smt.db"
    assert "smt" in s.engine.database.parts


def test_missing_default_file_means_defaults_but_named_file_must_exist(tmp_path: Path) -> None:
    assert load_settings(None, env={}) == Settings()
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "absent.toml", env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_leverage = 150\n", "risk.max_leverage = 150: must be at least 1 and at most 125"),
        ("[risk]\nmax_leverage = 0\n", "risk.max_leverage = 0: must be at least 1 and at most 125"),
        ('[engine]\nmode = "yolo"\n', "engine.mode = \"yolo\": must be one of 'demo', 'paper' or 'live'"),
        ("[risk]\nmax_levrage = 10\n", "risk.max_levrage: unknown key (did you mean 'max_leverage'?)"),
        ("[riks]\nmax_leverage = 10\n", "riks: unknown key (did you mean 'risk'?)"),
        ('[risk]\nmax_open_positions = "five"\n', 'risk.max_open_positions = "five": must be a whole number'),
        (
            '[engine]\nsignal_interval = "soon"\n',
            'engine.signal_interval = "soon": must be a duration like 15s',
        ),
        (
            '[pairs]\ntier1 = ["ETH", "PEPE"]\n',
            'pairs.tier1 = ["ETH", "PEPE"]: unknown pair(s) PEPE: must be among BTC, ETH',
        ),
        (
            '[pairs]\ntier1 = ["ETH"]\ntier2 = ["ETH", "SOL"]\n',
            "pairs: pair(s) ETH listed in both pairs.tier1 and pairs.tier2",
        ),
        (
            "[risk]\nleverage = 30\nmax_leverage = 20\n",
            "risk.leverage = 30: must not exceed risk.max_leverage (20)",
        ),
        (
            "[competition]\nstart = 2026-02-02\nend = 2026-01-12\n",
            "competition.end = 2026-01-12: must not be before competition.start (2026-02-02)",
        ),
        (
            '[competition]\nstart = "next monday"\n',
            'competition.start = "next monday": must be a date like 2026-01-12',
        ),
        ("[risk]\nmin_confidence = 85\n", "risk.min_confidence = 85: must be at least 0 and at most 1"),
        ("[risk]\nprice_band_pct = 0\n", "risk.price_band_pct = 0: must be more than 0 and at most 50"),
        ('[whales]\nenabled = "maybe"\n', 'whales.enabled = "maybe": must be true or false'),
        ('[engine]\nmonitor_interval = "0s"\n', "engine.monitor_interval must be between 1s and 10m"),
        (
            '[engine]\nmonitor_interval_stream_down = "0s"\n',
            "engine.monitor_interval_stream_down must be between 1s and 10m",
        ),
        ('[exchange]\nbase_url = "ftp://x"\n', "exchange.base_url = 'ftp://x': must be an http(s) URL"),
        ("[analyst]\nvertex = true\n", "analyst.vertex = true needs analyst.vertex_project"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path, '[risk]\nmax_leverage = 150\nmax_open_positions = -1\n[engine]\napproval = "sometimes"\n'
    )
    assert len(found) == 3
    assert any(p.startswith("risk.max_open_positions = -1: must be at least 1 and at most 50") for p in found)
    assert any(p.startswith('engine.approval = "sometimes": must be one of') for p in found)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    found = problems(tmp_path, "[risk\nmax_leverage = 1\n")
    assert found[0].startswith(str(tmp_path / "config.toml"))
    assert "not valid TOML" in found[0]


def test_environment_overrides_file_values_and_parse_types(tmp_path: Path) -> None:
    path = write(tmp_path, "[risk]\nmax_leverage = 10\n")
    env = {
        "SMT_RISK__MAX_LEVERAGE": "15",
        "SMT_RISK__LEVERAGE": "5",
        "SMT_ENGINE__MODE": "live",
        "SMT_PAIRS__TIER2": '["SOL"]',
        "SMT_WHALES__ENABLED": "false",
        "SMT_ENGINE__SIGNAL_INTERVAL": "2h",
        "SMT_COMPETITION__END": "2026-02-02",
        "UNRELATED": "x",
    }
    s = load_settings(path, env=env)
    assert s.risk.max_leverage == 15
    assert s.risk.leverage == 5
    assert s.engine.mode is Mode.LIVE
    assert s.pairs.tier2 == ["SOL"]
    assert s.whales.enabled is False
    assert s.engine.signal_interval == timedelta(hours=2)
    assert s.competition.end == date(2026, 2, 2)


def test_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    found = problems(tmp_path, "", env={"SMT_RISK__MAX_LEVERAGE": "500"})
    assert found == [
        "risk.max_leverage (from SMT_RISK__MAX_LEVERAGE) = 500: must be at least 1 and at most 125"
    ]
    found = problems(tmp_path, "", env={"SMT_RSIK__MAX_LEVERAGE": "5"})
    assert found[0].startswith("SMT_RSIK__MAX_LEVERAGE: unknown section 'rsik'")


def test_smt_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[risk]\nmax_open_positions = 2\n")
    assert load_settings(None, env={"SMT_CONFIG": str(path)}).risk.max_open_positions == 2


def test_template_parses_back_to_the_defaults(tmp_path: Path) -> None:
    text = render_template()
    assert "max_leverage = 20" in text
    parsed = tomllib.loads(text)
    assert set(parsed) == set(Settings.model_fields)
    assert load_settings(write(tmp_path, text), env={}) == Settings()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("4h", 14400), ("90m", 5400), ("1h30m", 5400), ("15s", 15), ("2d", 172800), (30, 30)],
)
def test_durations(text: str | int, seconds: int) -> None:
    value = parse_duration(text)
    assert isinstance(value, timedelta)
    assert value.total_seconds() == seconds
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("value", [-5, -0.5, float("nan"), float("inf")])
def test_a_negative_or_endless_number_is_no_duration(value: float) -> None:
    with pytest.raises(ValueError, match=r"^must be a duration of zero or more"):
        parse_duration(value)


def test_a_negative_duration_in_the_file_names_the_key(tmp_path: Path) -> None:
    found = problems(tmp_path, "[notify]\nstream_down_after = -120\n")
    assert len(found) == 1
    assert "notify.stream_down_after" in found[0]
    assert "zero or more" in found[0]


def test_configuration_reference_in_docs_is_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render_reference(), (
        "regenerate with: smt config reference > docs/configuration.md"
    )


def test_a_shutdown_timeout_that_leaves_no_room_before_the_units_stop_timeout_is_refused(
    tmp_path: Path,
) -> None:
    found = problems(tmp_path, '[engine]\nshutdown_timeout = "85s"\n')
    assert len(found) == 1
    assert "engine.shutdown_timeout" in found[0]
    assert "at most 80s" in found[0]
    ok = load_settings(write(tmp_path, '[engine]\nshutdown_timeout = "80s"\n'), env={})
    assert ok.engine.shutdown_timeout == timedelta(seconds=80)


def test_the_demo_console_waits_for_the_engines_whole_drain_before_killing_it() -> None:
    from smt_engine.demo import engine_stop_wait

    settings = Settings()
    assert engine_stop_wait(settings) == settings.engine.shutdown_timeout.total_seconds() + 10
    settings.engine.shutdown_timeout = timedelta(seconds=75)
    assert engine_stop_wait(settings) == 85
