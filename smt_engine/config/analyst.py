"""The analyst's settings, its model defaults, per-family tuning and the model price table.

DEFAULT_MODEL, DEFAULT_FALLBACK_MODELS, PRICES_CHECKED and ``_default_prices`` stay together here so
that a model or price change is one edit in one place.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from smt_engine.config.fields import Duration, Section, credentials_problem


class ModelTuning(Section):
    """Sampling and reasoning settings for one model family (matched by model-name prefix)."""

    temperature: float | None = Field(None, ge=0, le=2, description="unset = the model's own default")
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="Gemini 3 reasoning depth; unset = the model's default"
    )
    thinking_budget: int | None = Field(None, ge=-1, description="Gemini 2.5 thinking tokens; -1 = dynamic")


class ModelPrice(Section):
    """USD list prices of one model (thinking tokens are billed as output)."""

    input_per_mtok: Decimal = Field(ge=0, description="USD per million input tokens")
    output_per_mtok: Decimal = Field(ge=0, description="USD per million output and thinking tokens")
    search_per_kquery: Decimal = Field(
        ge=0, description="USD per thousand Google Search queries the model ran (0 only if truly free)"
    )


DEFAULT_MODEL = "gemini-3.8-flash"
REFUSE_MINIMAL_THINKING = ("gemini-3.8-flash",)
"""Models that refuse ``thinking_level = "minimal"`` (docs/analyst.md): every call would fail to a WAIT."""
DEFAULT_FALLBACK_MODELS = ["gemini-3.6-flash", "gemini-3.5-flash-lite"]
PRICES_CHECKED = date(2026, 11, 30)


def _default_tuning() -> dict[str, ModelTuning]:
    # Google's Gemini 3 guide: keep temperature at its default 1.0 (lower values can loop or degrade
    # reasoning) and steer reasoning with the thinking level. Gemini 2.x keeps the old low temperature.
    return {
        "gemini-3": ModelTuning(thinking_level="medium"),
        "gemini-2": ModelTuning(temperature=0.2),
    }


def _default_prices() -> dict[str, ModelPrice]:
    # Google's pricing page as read on 2026-10-07 (docs/analyst.md); 3.8 Flash at its list price from
    # 2027-01-01, not the lower introductory price that ends 2026-12-31.
    search = Decimal(14)
    return {
        "gemini-3.8-flash": ModelPrice(
            input_per_mtok=Decimal("1.50"), output_per_mtok=Decimal("7.50"), search_per_kquery=search
        ),
        "gemini-3.6-flash": ModelPrice(
            input_per_mtok=Decimal("1.50"), output_per_mtok=Decimal("7.50"), search_per_kquery=search
        ),
        "gemini-3.5-flash-lite": ModelPrice(
            input_per_mtok=Decimal("0.30"), output_per_mtok=Decimal("2.50"), search_per_kquery=search
        ),
        "gemini-3.5-flash": ModelPrice(
            input_per_mtok=Decimal("1.50"), output_per_mtok=Decimal("9.00"), search_per_kquery=search
        ),
    }


class AnalystSettings(Section):
    """The LLM analyst, its models, its budget and its bounds."""

    provider: Literal["gemini", "heuristic"] = Field("gemini", description="gemini, or the offline heuristic")
    model: str = Field(DEFAULT_MODEL, min_length=1, description="preferred Gemini model")
    fallback_models: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FALLBACK_MODELS),
        description="models tried in order when the preferred one is retired or not found",
    )
    model_retry_after: Duration = Field(
        timedelta(hours=24), description="how long a model that answered NOT_FOUND/retired is skipped"
    )
    tuning: dict[str, ModelTuning] = Field(
        default_factory=_default_tuning,
        description="temperature and thinking per model family (longest matching name prefix wins)",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=_default_prices,
        description=f"price table per model (Google's list prices, checked {PRICES_CHECKED.isoformat()})",
    )
    daily_max_calls: int = Field(
        60,
        ge=0,
        description="Gemini calls per UTC day; beyond it `analyst.fallback` answers (WAIT by default)",
    )
    daily_max_usd: Decimal = Field(
        Decimal("7.50"),
        ge=0,
        description="Gemini spend per UTC day in USD; beyond it `analyst.fallback` answers (WAIT by default)",
    )
    vertex: bool = Field(False, description="use Vertex AI (project/location) instead of an API key")
    vertex_project: str | None = Field(None, description="Google Cloud project for Vertex AI")
    vertex_location: str = Field("us-central1", description="Vertex AI location")
    base_url: str | None = Field(None, description="override the Gemini API host (proxies, tests)")
    timeout: Duration = Field(timedelta(seconds=90), description="hard limit per call")
    min_spacing: Duration = Field(timedelta(seconds=8), description="minimum time between two calls")
    requests_per_minute: int = Field(10, ge=1, le=1000, description="quota of your key")
    max_attempts: int = Field(3, ge=1, le=10, description="attempts per call on 429/5xx")
    backoff_initial: Duration = Field(
        timedelta(seconds=2), description="first back-off delay after a 429/5xx (doubles, jittered)"
    )
    backoff_max: Duration = Field(
        timedelta(seconds=60), description="longest back-off; a longer server retry hint gives up instead"
    )
    cache_ttl: Duration = Field(timedelta(minutes=15), description="reuse a pair's analysis this long")
    fallback: Literal["wait", "heuristic"] = Field(
        "wait", description="what a failed call or an analysis over a daily cap becomes"
    )
    ungrounded_confidence_cap: Decimal = Field(
        Decimal("0.60"), ge=0, le=1, description="cap when not grounded"
    )
    track_record_in_prompt: bool = Field(
        False, description="show the model its own scored track record for the pair in the prompt"
    )
    min_tp_pct: Decimal = Field(
        Decimal("0.5"), gt=0, le=100, description="smallest accepted take-profit distance, %"
    )
    max_tp_pct: Decimal = Field(
        Decimal(15), gt=0, le=100, description="largest accepted take-profit distance, %"
    )
    min_sl_pct: Decimal = Field(
        Decimal("0.3"), gt=0, le=100, description="smallest accepted stop-loss distance, %"
    )
    max_sl_pct: Decimal = Field(
        Decimal(8),
        gt=0,
        le=100,
        description="largest accepted stop-loss distance, %; also how far an operator may loosen a stop",
    )

    @field_validator("prices", mode="before")
    @classmethod
    def _over_default_prices(cls, value: Any) -> Any:
        # A configured entry replaces that model's default row; the other defaults stay, so pricing one
        # model never leaves the fallbacks unpriced (their calls would count $0 against daily_max_usd).
        if isinstance(value, dict):
            return {**_default_prices(), **value}
        return value

    @model_validator(mode="after")
    def _check_bounds(self) -> AnalystSettings:
        problem = credentials_problem("analyst.base_url", self.base_url)
        if problem is not None:
            raise ValueError(problem)
        if self.min_tp_pct > self.max_tp_pct:
            raise ValueError("analyst.min_tp_pct must not exceed analyst.max_tp_pct")
        if self.min_sl_pct > self.max_sl_pct:
            raise ValueError("analyst.min_sl_pct must not exceed analyst.max_sl_pct")
        if self.timeout > timedelta(seconds=120):
            raise ValueError("analyst.timeout must be 120s or less")
        if self.vertex and not self.vertex_project:
            raise ValueError("analyst.vertex = true needs analyst.vertex_project")
        if any(not m.strip() for m in self.fallback_models):
            raise ValueError("analyst.fallback_models must not contain empty names")
        for model in self.models():
            matches = [prefix for prefix in self.tuning if model.startswith(prefix)]
            prefix = max(matches, key=len) if matches else None
            refuses = any(model.startswith(name) for name in REFUSE_MINIMAL_THINKING)
            if prefix is not None and refuses and self.tuning[prefix].thinking_level == "minimal":
                raise ValueError(
                    f'analyst.tuning."{prefix}".thinking_level = "minimal": {model} refuses it, so every '
                    'analysis would fail to a WAIT; set it to "low", or add [analyst.tuning."'
                    f'{model}"] with thinking_level = "low" (it takes low, medium and high)'
                )
        unpriced = [m for m in self.models() if self.price_for(m) is None]
        if self.provider == "gemini" and unpriced:
            first = unpriced[0]
            raise ValueError(
                f"analyst.prices has no price for {', '.join(unpriced)}"
                " (analyst.model / analyst.fallback_models): its calls would count $0 against"
                f' analyst.daily_max_usd; add [analyst.prices."{first}"]'
                " with input_per_mtok, output_per_mtok and search_per_kquery from Google's pricing page,"
                " or remove the model from the list"
            )
        return self

    def models(self) -> list[str]:
        """The preferred model then the fallbacks, each once, in order."""
        return list(dict.fromkeys([self.model, *self.fallback_models]))

    def tuning_for(self, model: str) -> ModelTuning:
        """The tuning of the longest family prefix that ``model`` starts with (none: provider defaults)."""
        matches = [prefix for prefix in self.tuning if model.startswith(prefix)]
        return self.tuning[max(matches, key=len)] if matches else ModelTuning()

    def price_for(self, model: str) -> ModelPrice | None:
        """The model's price row: exact name first, else the longest listed name it starts with."""
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else None
