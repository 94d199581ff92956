"""docs/analyst.md and docs/scorecard.md state figures the code must keep: checked here."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.analyst.budget import call_cost
from smt_engine.config import Settings
from smt_engine.config.analyst import DEFAULT_FALLBACK_MODELS, DEFAULT_MODEL, PRICES_CHECKED, AnalystSettings
from smt_engine.scorecard.recording import CANDLE_RETENTION, SCORE_INTERVAL
from smt_engine.scorecard.scoring import HORIZONS, PRICE_TOLERANCE
from smt_engine.scorecard.track_record import HORIZON, WINDOW

DOCS = Path(__file__).resolve().parents[2] / "docs"
ANALYST = (DOCS / "analyst.md").read_text()
SCORECARD = (DOCS / "scorecard.md").read_text()
README = (DOCS.parent / "README.md").read_text()


def test_models_and_the_date_they_were_checked() -> None:
    assert f"## Models (checked {PRICES_CHECKED.isoformat()})" in ANALYST
    assert f"**`{DEFAULT_MODEL}`**" in ANALYST
    assert "the default `analyst.model`" in ANALYST
    assert DEFAULT_MODEL == "gemini-3.8-flash"
    assert DEFAULT_FALLBACK_MODELS == ["gemini-3.6-flash", "gemini-3.5-flash-lite"]
    assert "**`gemini-3.6-flash`** then **`gemini-3.5-flash-lite`**" in ANALYST
    assert "the default `analyst.fallback_models`" in ANALYST
    assert "was dropped because of its 7 May 2027 shutdown date" in ANALYST
    assert "gemini-3.1-flash-lite" not in AnalystSettings().prices
    s = AnalystSettings()
    assert s.model_retry_after == timedelta(hours=24)
    assert "`analyst.model_retry_after` (24 h)" in ANALYST
    assert s.tuning_for(DEFAULT_MODEL).temperature is None
    assert s.tuning_for(DEFAULT_MODEL).thinking_level == "medium"  # 3.8 Flash refuses "minimal"
    assert s.tuning_for("gemini-2.5-flash").temperature == 0.2


def test_price_table_and_caps_match_the_defaults() -> None:
    s = AnalystSettings()
    rows = re.findall(r"^\| `([\w.-]+)` \| \$([\d.]+) \| \$([\d.]+) \| \$([\d.]+) \|$", ANALYST, re.MULTILINE)
    assert {m: (Decimal(i), Decimal(o), Decimal(q)) for m, i, o, q in rows} == {
        m: (p.input_per_mtok, p.output_per_mtok, p.search_per_kquery) for m, p in s.prices.items()
    }
    assert s.daily_max_calls == 60
    assert "`analyst.daily_max_calls` (60;" in ANALYST
    assert s.daily_max_usd == Decimal("7.50")
    assert "`analyst.daily_max_usd` ($7.50)" in ANALYST
    assert s.track_record_in_prompt is False
    assert f"over the last {WINDOW.days} days ({HORIZON[:-1]} h horizon" in ANALYST


def test_the_stated_cost_per_call_and_the_default_usd_cap_cover_the_schedule() -> None:
    s = AnalystSettings()
    text = " ".join(ANALYST.split())
    low_usage = {"prompt_tokens": 1300, "tool_use_prompt_tokens": 1000, "output_tokens": 400}
    high_usage = {"prompt_tokens": 1300, "tool_use_prompt_tokens": 4000, "output_tokens": 400}
    low = call_cost(s, s.model, {**low_usage, "thoughts_tokens": 1000, "search_queries": 2}).usd
    high = call_cost(s, s.model, {**high_usage, "thoughts_tokens": 3000, "search_queries": 5}).usd
    settings = Settings()
    calls = int(timedelta(days=1) / settings.engine.signal_interval) * len(settings.pairs.all())
    assert f"makes {calls} calls a day" in text
    assert f"**${low:.3f} to ${high:.3f} per call**" in text
    assert f"**${calls * low:.2f} to ${calls * high:.2f} a day**" in text
    assert calls * high * Decimal("1.5") <= s.daily_max_usd  # the schedule fits with half again to spare
    assert s.daily_max_calls * high <= s.daily_max_usd
    assert f"${s.daily_max_calls * high:.2f}" in text


def test_scorecard_figures() -> None:
    assert list(HORIZONS) == ["1h", "4h", "24h"]
    assert "| 1 h, 4 h, 24 h |" in SCORECARD
    assert timedelta(minutes=90) == PRICE_TOLERANCE
    assert "at most 90 minutes old" in SCORECARD
    assert SCORE_INTERVAL == "5m"
    assert "5-minute" in SCORECARD
    assert timedelta(days=45) == CANDLE_RETENTION
    assert "closed bars are kept, for 45 days" in SCORECARD
    assert "The demo's synthetic market is a random walk" in SCORECARD
    assert "The demo market is a random walk" in README
    for doc in ("docs/analyst.md", "docs/scorecard.md"):
        assert f"]({doc})" in README
