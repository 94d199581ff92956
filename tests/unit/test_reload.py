"""A reload applies all of a valid file or nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from smt_engine.config import load_settings
from smt_engine.reload import ReloadRefused, reload_settings
from smt_engine.store import Store


def write(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


async def test_an_invalid_file_changes_nothing(tmp_path: Path, store: Store) -> None:
    config = write(tmp_path / "smt.toml", "[risk]\nmax_open_positions = 3\n")
    settings = load_settings(config)
    write(config, "[risk]\nmax_open_positions = 2\nmax_leverage = -1\n")
    with pytest.raises(ReloadRefused, match="max_leverage"):
        await reload_settings(settings, config, store, rebuild=None)
    assert settings.risk.max_open_positions == 3


async def test_a_section_that_cannot_be_rebuilt_refuses_before_anything_changes(
    tmp_path: Path, store: Store
) -> None:
    config = write(tmp_path / "smt.toml", "[risk]\nmax_open_positions = 3\n")
    settings = load_settings(config)
    write(config, '[risk]\nmax_open_positions = 2\n[analyst]\nmodel = "gemini-3.5-flash"\n')
    with pytest.raises(ReloadRefused, match="analyst cannot be rebuilt"):
        await reload_settings(settings, config, store, rebuild=None)
    assert settings.risk.max_open_positions == 3, "the risk section must not be half-applied"
    assert settings.analyst.model != "gemini-3.5-flash"


async def test_hot_sections_apply_and_cold_ones_are_named(tmp_path: Path, store: Store) -> None:
    config = write(tmp_path / "smt.toml", "[risk]\nmax_open_positions = 3\n")
    settings = load_settings(config)
    write(config, '[risk]\nmax_open_positions = 2\n[exchange]\ntimeout = "7s"\n')
    result = await reload_settings(settings, config, store, rebuild=None)
    assert settings.risk.max_open_positions == 2
    assert result.changed == ["risk"]
    assert result.needs_restart == ["exchange"]
