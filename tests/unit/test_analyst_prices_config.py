"""The analyst price table: a configured row merges over the defaults, and no listed model goes unpriced."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.config import ConfigError, load_settings
from smt_engine.config.analyst import DEFAULT_FALLBACK_MODELS, DEFAULT_MODEL


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path, env={})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def test_pricing_one_model_keeps_the_default_prices_of_the_others(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[analyst.prices."{DEFAULT_MODEL}"]\ninput_per_mtok = "2"\noutput_per_mtok = "9"\n'
        'search_per_kquery = "14"\n'
    )
    analyst = load_settings(path, env={}).analyst
    own = analyst.price_for(DEFAULT_MODEL)
    assert own is not None
    assert (own.input_per_mtok, own.output_per_mtok) == (Decimal(2), Decimal(9))
    for model in DEFAULT_FALLBACK_MODELS:
        price = analyst.price_for(model)
        assert price is not None, model
        assert price.search_per_kquery == Decimal(14), model
        assert price.output_per_mtok > 0


def test_a_listed_model_without_a_price_is_refused_naming_the_key_and_the_fix(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, '[analyst]\nfallback_models = ["gemini-9-unpriced"]\n')
    assert "analyst.prices has no price for gemini-9-unpriced" in problem
    assert '[analyst.prices."gemini-9-unpriced"]' in problem
    assert "search_per_kquery" in problem


def test_an_unpriced_model_is_fine_for_the_offline_heuristic(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[analyst]\nprovider = "heuristic"\nmodel = "gemini-9-unpriced"\n')
    assert load_settings(path, env={}).analyst.model == "gemini-9-unpriced"


def test_a_price_entry_must_give_the_search_price(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[analyst]\nmodel = "gemini-9"\nfallback_models = []\n'
        '[analyst.prices."gemini-9"]\ninput_per_mtok = "1"\noutput_per_mtok = "5"\n',
    )
    assert any("analyst.prices.gemini-9.search_per_kquery" in p for p in found), found
