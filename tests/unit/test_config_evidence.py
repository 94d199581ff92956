"""Configuration of the evidence keys and the analyst tuning a model refuses: each error names key and fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smt_engine.config import Settings


def test_edge_overrides_are_source_and_pair() -> None:
    risk = Settings.model_validate({"risk": {"edge_overrides": ["Gemini:eth", "heuristic:BTC"]}}).risk
    assert risk.edge_overrides == ["gemini:ETH", "heuristic:BTC"]
    assert Settings().risk.edge_min_decisions == 100
    assert Settings().risk.edge_overrides == []
    for bad in ("ETH", "gpt:ETH", "gemini:FOO"):
        with pytest.raises(ValidationError, match=r'risk.edge_overrides[\s\S]*write e.g. "gemini:ETH"'):
            Settings.model_validate({"risk": {"edge_overrides": [bad]}})


def test_minimal_thinking_is_refused_for_a_model_that_refuses_it() -> None:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"analyst": {"tuning": {"gemini-3": {"thinking_level": "minimal"}}}})
    text = str(info.value)
    assert 'analyst.tuning."gemini-3".thinking_level = "minimal": gemini-3.8-flash refuses it' in text
    assert 'set it to "low"' in text
    # A model that takes it (3.5 Flash-Lite) may have it; 3.8 Flash given its own tuning is fine.
    ok = Settings.model_validate(
        {
            "analyst": {
                "tuning": {
                    "gemini-3": {"thinking_level": "minimal"},
                    "gemini-3.8-flash": {"thinking_level": "low"},
                }
            }
        }
    )
    assert ok.analyst.tuning_for("gemini-3.5-flash-lite").thinking_level == "minimal"
    assert ok.analyst.tuning_for("gemini-3.8-flash").thinking_level == "low"
