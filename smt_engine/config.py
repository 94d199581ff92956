"""Settings: one pydantic model, loaded from TOML with ``SMT_SECTION__KEY`` environment overrides.

A bad file or value fails with one line per problem that names the key, the value and what is
allowed, so an operator can fix it without reading code. ``render_template`` and
``render_reference`` are generated from the model itself, so the template and the docs cannot drift.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from smt_engine.domain import ApprovalMode, Mode, Pair, Tier
from smt_engine.notify.kinds import NotificationKind

KNOWN_BASES = ("BTC", "ETH", "SOL", "DOGE", "XRP", "ADA", "BNB", "LTC")
ENV_PREFIX = "SMT_"

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


class ConfigError(Exception):
    """Every problem found in a configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_duration(value: object) -> object:
    """Accept ``"4h"``, ``"90m"``, ``"1h30m"``, ``"15s"``, ``"2d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a duration like 15s, 30m, 4h or 2d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match and any(match.groups()):
            d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
            return timedelta(days=d, hours=h, minutes=m, seconds=s)
    raise ValueError("must be a duration like 15s, 30m, 4h or 2d")


def format_duration(value: timedelta) -> str:
    """Inverse of ``parse_duration`` for display and templates."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_config_path() -> Path:
    """``$SMT_CONFIG``, else ``$XDG_CONFIG_HOME/smt/config.toml``."""
    explicit = os.environ.get("SMT_CONFIG")
    if explicit:
        return Path(explicit)
    return _xdg("XDG_CONFIG_HOME", ".config") / "smt" / "config.toml"


def default_database_path() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "smt" / "smt.db"


_NUMBER_TYPES = (int, float, Decimal)
_VIRTUAL_FS = (Path("/proc"), Path("/sys"), Path("/dev"))
# The systemd unit's TimeoutStopSec is 90 s; the drain must end with room for the final writes.
MAX_SHUTDOWN_TIMEOUT = timedelta(seconds=80)


def _is_number(annotation: Any) -> bool:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else ()
    )
    return any(a in _NUMBER_TYPES for a in args) or annotation in _NUMBER_TYPES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """TOML ``true`` would otherwise be read as 1 (``leverage = true`` meaning 1x)."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number(field.annotation):
            raise ValueError("must be a number, not true/false")
        return value


class EngineSettings(_Section):
    """How the engine runs: mode, approval and its timers."""

    mode: Mode = Field(Mode.PAPER, description="demo, paper or live; live trades real money and needs keys")
    approval: ApprovalMode = Field(
        ApprovalMode.AUTO,
        description="auto: act on proposals that pass every gate; manual: wait for an operator",
    )
    database: Path = Field(
        default_factory=default_database_path, description="SQLite file shared with the console"
    )
    signal_interval: Duration = Field(timedelta(hours=4), description="time between signal cycles")
    min_cycle_gap: Duration = Field(
        timedelta(minutes=30),
        description="never start two signal cycles closer than this (restarts included)",
    )
    monitor_interval: Duration = Field(timedelta(seconds=15), description="position monitor period")
    command_poll_interval: Duration = Field(
        timedelta(seconds=1), description="how often operator commands are read"
    )
    heartbeat_interval: Duration = Field(timedelta(seconds=5), description="engine heartbeat period")
    shutdown_timeout: Duration = Field(
        timedelta(seconds=60),
        description="on stop, wait this long for an order in flight and its TP/SL (at most 80s: the "
        "unit's TimeoutStopSec is 90s)",
    )

    @field_validator("shutdown_timeout")
    @classmethod
    def _shutdown_fits_the_unit(cls, value: timedelta) -> timedelta:
        if value > MAX_SHUTDOWN_TIMEOUT:
            raise ValueError(
                f"engine.shutdown_timeout {value.total_seconds():g}s leaves no room before the unit's "
                f"TimeoutStopSec (90s) kills the engine mid-order: set it to at most "
                f"{MAX_SHUTDOWN_TIMEOUT.total_seconds():g}s"
            )
        return value

    @field_validator("database")
    @classmethod
    def _database_file(cls, value: Path) -> Path:
        path = value.expanduser()
        if path.is_dir():
            raise ValueError(f"is a directory: name a file inside it, e.g. {path / 'smt.db'}")
        resolved = path.resolve()
        for virtual in _VIRTUAL_FS:
            if resolved == virtual or virtual in resolved.parents:
                raise ValueError(f"is under {virtual}, which is not a disk: choose a file on a writable disk")
        parent = next((p for p in resolved.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ValueError(f"{parent} is a file, not a directory: choose another path")
        return path

    @model_validator(mode="after")
    def _check_timers(self) -> EngineSettings:
        if self.signal_interval < timedelta(minutes=1):
            raise ValueError("engine.signal_interval must be at least 1m")
        if not timedelta(seconds=1) <= self.monitor_interval <= timedelta(minutes=10):
            raise ValueError("engine.monitor_interval must be between 1s and 10m")
        if not timedelta(milliseconds=100) <= self.command_poll_interval <= timedelta(seconds=10):
            raise ValueError("engine.command_poll_interval must be between 0.1s and 10s")
        return self


class PairsSettings(_Section):
    """Traded pairs by tier: tier 1 gets whale intelligence, tier 2 market grounding only."""

    tier1: list[str] = Field(["ETH", "BTC"], description="pairs analysed with whale intelligence")
    tier2: list[str] = Field(
        ["SOL", "DOGE", "XRP", "ADA", "BNB", "LTC"], description="pairs analysed with grounding only"
    )

    @field_validator("tier1", "tier2", mode="after")
    @classmethod
    def _known_pairs(cls, value: list[str]) -> list[str]:
        value = [p.upper() for p in value]
        unknown = [p for p in value if p not in KNOWN_BASES]
        if unknown:
            raise ValueError(f"unknown pair(s) {', '.join(unknown)}: must be among {', '.join(KNOWN_BASES)}")
        if len(set(value)) != len(value):
            raise ValueError("a pair is listed twice")
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> PairsSettings:
        both = sorted(set(self.tier1) & set(self.tier2))
        if both:
            raise ValueError(f"pair(s) {', '.join(both)} listed in both pairs.tier1 and pairs.tier2")
        if not self.tier1 and not self.tier2:
            raise ValueError("pairs: at least one pair must be configured")
        return self

    def all(self) -> list[Pair]:
        return [Pair(b, Tier.ONE) for b in self.tier1] + [Pair(b, Tier.TWO) for b in self.tier2]

    def by_base(self, base: str) -> Pair | None:
        return next((p for p in self.all() if p.base == base.upper()), None)


Percent = Annotated[Decimal, Field(gt=0, le=100)]


class RiskSettings(_Section):
    """Hard limits no analyst output can exceed. Percentages are of the available balance."""

    leverage: int = Field(20, ge=1, le=125, description="leverage used for entries")
    max_leverage: int = Field(20, ge=1, le=125, description="hard cap on leverage")
    max_open_positions: int = Field(5, ge=1, le=50, description="open positions at most")
    max_single_position_pct: Percent = Field(Decimal(25), description="margin of one position, % of balance")
    max_total_exposure_pct: Percent = Field(Decimal(60), description="margin of all positions, % of balance")
    min_confidence: Decimal = Field(
        Decimal("0.60"), ge=0, le=1, description="analyst confidence below this is skipped"
    )
    min_reward_risk: Decimal = Field(
        Decimal("1.2"),
        ge=0,
        le=20,
        description="TP distance net of round-trip fees over SL distance, at least",
    )
    daily_loss_limit_pct: Percent = Field(
        Decimal(10), description="realised loss in a UTC day that halts the engine"
    )
    max_drawdown_pct: Percent = Field(
        Decimal(25), description="drawdown from peak equity that halts the engine"
    )
    loss_day_timezone: str = Field(
        "UTC", description="time zone whose midnight starts the day the daily loss limit counts"
    )
    stop_loss_cooldown: Duration = Field(
        timedelta(hours=4), description="no new entry on a pair after its stop-loss"
    )
    max_hold: Duration = Field(timedelta(hours=48), description="force-close positions held longer")
    final_days: int = Field(3, ge=0, le=30, description="competition days counted as the final phase")
    final_days_max_hold: Duration = Field(timedelta(hours=6), description="max hold in the final phase")
    max_drift_pct: Decimal = Field(
        Decimal("0.5"), gt=0, le=10, description="refuse approval if price moved more"
    )

    @field_validator("loss_day_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> RiskSettings:
        if self.leverage > self.max_leverage:
            raise ValueError(
                f"risk.leverage = {self.leverage}: must not exceed risk.max_leverage ({self.max_leverage})"
            )
        if self.max_single_position_pct > self.max_total_exposure_pct:
            raise ValueError("risk.max_single_position_pct must not exceed risk.max_total_exposure_pct")
        for name in ("max_hold", "final_days_max_hold"):
            if getattr(self, name) < timedelta(minutes=1):
                raise ValueError(
                    f"risk.{name} = {format_duration(getattr(self, name))}: must be at least 1m "
                    "(0 would force-close every position as soon as it opens)"
                )
        return self


class TradingSettings(_Section):
    """Proposal handling."""

    proposal_ttl: Duration = Field(timedelta(minutes=15), description="manual proposals expire after this")
    max_entries_per_cycle: int = Field(1, ge=0, le=8, description="best proposals acted on per cycle")
    margin_mode: Literal["cross", "isolated"] = Field(
        "cross", description="margin mode set with the leverage"
    )
    leverage_attempts: int = Field(
        4, ge=1, le=10, description="tries to set leverage while the venue reports open orders"
    )
    leverage_retry_delay: Duration = Field(
        timedelta(seconds=3), description="wait between leverage attempts (cancels settling)"
    )
    fill_timeout: Duration = Field(
        timedelta(seconds=15), description="how long an entry may take to show as a position"
    )
    protection_timeout: Duration = Field(
        timedelta(seconds=20), description="how long attached TP/SL orders may take to appear"
    )
    poll_interval: Duration = Field(
        timedelta(seconds=2), description="polling period while waiting for fills and TP/SL orders"
    )
    order_visibility: Duration = Field(
        timedelta(seconds=30),
        description="an order the venue does not show after this long was never placed (or is gone)",
    )


class CompetitionSettings(_Section):
    """Optional competition window; without dates the engine trades continuously."""

    start: date | None = Field(None, description="first trading day (UTC), e.g. 2026-01-12")
    end: date | None = Field(None, description="last trading day (UTC), e.g. 2026-02-02")
    practice: bool = Field(False, description="allow entries before the start (the seed's practice mode)")
    starting_balance: Decimal = Field(
        Decimal(1000), gt=0, description="balance PnL and strategy mode refer to"
    )

    @model_validator(mode="after")
    def _check_window(self) -> CompetitionSettings:
        if self.start and self.end and self.end < self.start:
            raise ValueError(
                f"competition.end = {self.end}: must not be before competition.start ({self.start})"
            )
        return self


class ExchangeSettings(_Section):
    """WEEX and the paper venue."""

    base_url: str = Field("https://api-contract.weex.com", description="WEEX contract REST host")
    timeout: Duration = Field(timedelta(seconds=15), description="per-request timeout")
    taker_fee_pct: Decimal = Field(Decimal("0.08"), ge=0, le=1, description="taker fee per side, %")
    maker_fee_pct: Decimal = Field(Decimal("0.02"), ge=0, le=1, description="maker fee per side, %")
    paper_balance: Decimal = Field(Decimal(1000), gt=0, description="starting USDT of a new paper account")
    paper_slippage_pct: Decimal = Field(
        Decimal("0.05"), ge=0, le=5, description="paper market-order slippage, %"
    )
    rate_limit_weight: int = Field(
        400, ge=10, le=500, description="request weight per 10 s (WEEX allows 500 per IP; 80 % = headroom)"
    )
    ws_url: str = Field("wss://ws-contract.weex.com", description="WEEX contract websocket host")
    streams: bool = Field(
        True, description="use WEEX's websockets: private pushes in live mode, public prices in paper mode"
    )
    stream_heartbeat: Duration = Field(
        timedelta(seconds=30), description="a stream silent this long is reconnected and reconciled"
    )
    stream_backoff_max: Duration = Field(timedelta(seconds=60), description="longest wait between reconnects")
    ai_log_path: str = Field(
        "/capi/v3/order/uploadAiLog",
        description="AI-log upload path (WEEX v3 docs); a 404 tries /capi/v2/order/uploadAiLog once and "
        "remembers the one that worked",
    )

    @model_validator(mode="after")
    def _check_url(self) -> ExchangeSettings:
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"exchange.base_url = {self.base_url!r}: must be an http(s) URL")
        if not re.match(r"^wss?://[^\s/]+", self.ws_url):
            raise ValueError(f"exchange.ws_url = {self.ws_url!r}: must be a ws(s) URL")
        if not timedelta(seconds=1) <= self.stream_heartbeat <= timedelta(minutes=10):
            raise ValueError("exchange.stream_heartbeat must be between 1s and 10m")
        if not re.match(r"^/capi/v[0-9]+/[A-Za-z0-9/_-]+$", self.ai_log_path):
            raise ValueError(f"exchange.ai_log_path = {self.ai_log_path!r}: must be a /capi/vN/... path")
        return self


class WhalesSettings(_Section):
    """Etherscan V2: exchange flows, whale discovery and classification."""

    enabled: bool = Field(True, description="run whale discovery in each cycle")
    etherscan_base_url: str = Field("https://api.etherscan.io/v2/api", description="Etherscan V2 endpoint")
    chain_id: int = Field(1, ge=1, description="EVM chain id (1 = Ethereum mainnet)")
    calls_per_second: float = Field(3.0, gt=0, le=30, description="your key's tier: free = 3")
    daily_call_limit: int = Field(100_000, ge=1, description="your key's daily call allowance")
    min_transfer_eth: Decimal = Field(
        Decimal(100), gt=0, description="smallest transfer that counts as a whale move"
    )
    lookback_hours: int = Field(6, ge=1, le=168, description="discovery window")
    max_whales: int = Field(10, ge=1, le=100, description="whales analysed per cycle")
    history_days: int = Field(90, ge=1, le=365, description="history used for features")
    history_retention_days: int = Field(120, ge=1, le=3650, description="cached history kept")
    address_book: Path | None = Field(
        None, description="your labels file (JSON), over the shipped labels; `smt whales labels --add` adds"
    )
    model: Path | None = Field(
        None, description="classifier bundle (.cbm + .json) instead of the shipped bootstrap"
    )
    btc_proxy: bool = Field(True, description="use the ETH whale signal for BTC as a correlated proxy")
    btc_proxy_weight: float = Field(
        1.0, gt=0, le=1, description="BTC proxy confidence = ETH whale confidence x this"
    )
    max_records_per_request: int = Field(
        1000, ge=10, le=10_000, description="Etherscan records per request (free tier: 1000)"
    )


class ModelTuning(_Section):
    """Sampling and reasoning settings for one model family (matched by model-name prefix)."""

    temperature: float | None = Field(None, ge=0, le=2, description="unset = the model's own default")
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="Gemini 3 reasoning depth; unset = the model's default"
    )
    thinking_budget: int | None = Field(None, ge=-1, description="Gemini 2.5 thinking tokens; -1 = dynamic")


class ModelPrice(_Section):
    """USD list prices of one model (thinking tokens are billed as output)."""

    input_per_mtok: Decimal = Field(ge=0, description="USD per million input tokens")
    output_per_mtok: Decimal = Field(ge=0, description="USD per million output and thinking tokens")
    search_per_kquery: Decimal = Field(
        Decimal(0), ge=0, description="USD per thousand Google Search queries the model ran"
    )


DEFAULT_MODEL = "gemini-3.8-flash"
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


class AnalystSettings(_Section):
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
    daily_max_calls: int = Field(60, ge=0, description="Gemini calls per UTC day; beyond it the heuristic")
    daily_max_usd: Decimal = Field(
        Decimal("2.00"), ge=0, description="Gemini spend per UTC day in USD; beyond it the heuristic"
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
        Decimal(8), gt=0, le=100, description="largest accepted stop-loss distance, %"
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> AnalystSettings:
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


class AiLogSettings(_Section):
    """Uploads of every decision to WEEX's AI-log endpoint."""

    enabled: bool | None = Field(None, description="upload AI logs; unset = only in live mode")
    model_name: str = Field("SMT-CatBoost-Gemini", description="model name reported with each log")
    max_attempts: int = Field(8, ge=1, le=100, description="upload attempts before a row is left failed")


class NotifySettings(_Section):
    """Notifications through apprise; the URLs are a secret (`smt keys set notify_urls`), never set here."""

    enabled: bool = Field(True, description="send notifications when the notify_urls secret is set")
    events: list[NotificationKind] = Field(
        default_factory=lambda: list(NotificationKind), description="which notifications to send"
    )
    min_level: Literal["info", "warning", "error", "critical"] = Field(
        "info", description="send only notifications at or above this level"
    )
    stream_down_after: Duration = Field(
        timedelta(minutes=5), description="notify when an exchange stream has been down this long"
    )
    dedup_window: Duration = Field(
        timedelta(minutes=10), description="the same notice about the same thing is sent once in this window"
    )
    rate_limit: int = Field(20, ge=1, le=1000, description="at most this many per channel per rate_window")
    rate_window: Duration = Field(timedelta(minutes=10), description="window of the rate limit; more wait")
    timeout: Duration = Field(timedelta(seconds=20), description="hard limit per send")
    poll_interval: Duration = Field(timedelta(seconds=5), description="how often new events are checked")
    give_up_after: Duration = Field(
        timedelta(days=1), description="a notice still undelivered after this long is marked failed"
    )

    @model_validator(mode="after")
    def _check_times(self) -> NotifySettings:
        for name in ("timeout", "poll_interval", "rate_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"notify.{name} must be longer than 0s")
        return self


class LoggingSettings(_Section):
    """Process logging (the events table is always written)."""

    level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    format: Literal["text", "json"] = Field("text", description="text for people, json for journald/shippers")


class Settings(BaseModel):
    """Everything the engine and console read from configuration."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineSettings = Field(default_factory=EngineSettings)
    pairs: PairsSettings = Field(default_factory=PairsSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    trading: TradingSettings = Field(default_factory=TradingSettings)
    competition: CompetitionSettings = Field(default_factory=CompetitionSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    whales: WhalesSettings = Field(default_factory=WhalesSettings)
    analyst: AnalystSettings = Field(default_factory=AnalystSettings)
    ailog: AiLogSettings = Field(default_factory=AiLogSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @property
    def ailog_enabled(self) -> bool:
        if self.ailog.enabled is not None:
            return self.ailog.enabled
        return self.engine.mode is Mode.LIVE


# --------------------------------------------------------------------------- loading


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML value when it is one (numbers, booleans, lists)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    data: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        data.setdefault(section, {})[key] = _parse_env_value(raw)
        origin[(section, key)] = name
    return data, origin


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings; raise ``ConfigError`` listing every problem.

    ``path=None`` uses the default location and treats a missing file as "all defaults";
    an explicitly named file must exist.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("SMT_CONFIG"))
    path = (
        path
        if path is not None
        else (Path(env["SMT_CONFIG"]) if env.get("SMT_CONFIG") else default_config_path())
    )
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise ConfigError(
                [
                    f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line}): "
                    "save the file as UTF-8"
                ]
            ) from None
        except IsADirectoryError:
            raise ConfigError([f"{path}: is a directory, not a configuration file"]) from None
        except OSError as exc:
            raise ConfigError([f"{path}: cannot be read: {exc.strerror}"]) from None
    elif explicit:
        raise ConfigError(
            [f"{path}: no such configuration file (create one with `smt init --config {path}`)"]
        )
    overrides, origin = _env_overrides(env)
    problems: list[str] = []
    for section, values in overrides.items():
        if section not in Settings.model_fields:
            names = ", ".join(f"{origin[(section, k)]}" for k in values)
            problems.append(f"{names}: unknown section {section!r}{_suggest(section, Settings.model_fields)}")
            continue
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            problems.append(f"{section}: must be a table ([{section}])")
            continue
        target.update(values)
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, origin) for err in exc.errors()]) from None


# --------------------------------------------------------------------------- error messages


def _suggest(name: str, choices: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_info(loc: tuple[str | int, ...]) -> FieldInfo | None:
    model: type[BaseModel] = Settings
    info: FieldInfo | None = None
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return info
        info = model.model_fields[part]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return info


def _bounds(info: FieldInfo | None) -> tuple[Any, Any]:
    lo = hi = None
    for meta in info.metadata if info else []:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            lo = meta.ge if isinstance(meta, annotated_types.Ge) else meta.gt
        if isinstance(meta, annotated_types.Le | annotated_types.Lt):
            hi = meta.le if isinstance(meta, annotated_types.Le) else meta.lt
    return lo, hi


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return json.dumps(value, default=str)
    return str(value).lower() if isinstance(value, bool) else str(value)


_TYPE_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": 'must be a list, e.g. ["ETH", "BTC"]',
    "date_from_datetime_parsing": "must be a date like 2026-01-12",
    "date_parsing": "must be a date like 2026-01-12",
    "date_type": "must be a date like 2026-01-12",
    "path_type": "must be a file path",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "decimal_max_places": "has too many decimal places",
}


def _describe(err: Mapping[str, Any], origin: Mapping[tuple[str, str], str]) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if len(loc) >= 2 and (str(loc[0]), str(loc[1])) in origin:
        key = f"{key} (from {origin[(str(loc[0]), str(loc[1]))]})"
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        parent: Mapping[str, Any] = Settings.model_fields
        if len(loc) > 1:
            info = _field_info(loc[:-1])
            if (
                info is not None
                and isinstance(info.annotation, type)
                and issubclass(info.annotation, BaseModel)
            ):
                parent = info.annotation.model_fields
        return f"{key}: unknown key{_suggest(str(loc[-1]), parent)}"
    if kind == "value_error" or kind == "assertion_error":
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if len(loc) >= 2:
            return f"{key} = {_show(value)}: {message}"
        return message if not loc or message.startswith(str(loc[0])) else f"{key}: {message}"
    shown = f"{key} = {_show(value)}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        lo, hi = _bounds(_field_info(loc))
        if lo is not None and hi is not None:
            return f"{shown}: must be between {lo} and {hi}"
        ctx = err.get("ctx", {})
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        return f"{shown}: must be {op} {next(iter(ctx.values()), '?')}"
    if kind in {"literal_error", "enum"}:
        expected = err.get("ctx", {}).get("expected", "")
        return f"{shown}: must be one of {expected}"
    if kind in _TYPE_MESSAGES:
        return f"{shown}: {_TYPE_MESSAGES[kind]}"
    return f"{shown}: {err['msg']}"


# --------------------------------------------------------------------------- rendering


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):  # an inline table; unset (None) entries are left out
        items = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(str(value))


def _sections(settings: Settings) -> Iterator[tuple[str, _Section, type[_Section]]]:
    for name, info in Settings.model_fields.items():
        cls = info.annotation
        assert isinstance(cls, type) and issubclass(cls, _Section)
        yield name, getattr(settings, name), cls


def render_template() -> str:
    """A commented TOML file holding every setting at its default."""
    defaults = Settings()
    lines = [
        "# SMT configuration. Every key is shown at its default; delete what you do not change.",
        "# Environment overrides: SMT_<SECTION>__<KEY>, e.g. SMT_RISK__MAX_LEVERAGE=10.",
        "# Secrets (API keys) never go here: see `smt keys --help`.",
    ]
    for name, section, cls in _sections(defaults):
        lines += ["", f"[{name}]", f"# {(cls.__doc__ or '').strip()}"]
        for key, info in cls.model_fields.items():
            value = getattr(section, key)
            lines.append(f"# {info.description}")
            if value is None:
                lines.append(f"# {key} =")
            elif key == "database":
                lines.append(f"# {key} = {_toml_value(value)}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def render_effective(settings: Settings) -> str:
    """The settings in force, as TOML, for `smt config check`."""
    lines: list[str] = []
    for name, section, cls in _sections(settings):
        lines += [f"[{name}]"]
        for key in cls.model_fields:
            value = getattr(section, key)
            lines.append(f"{key} = {'(unset)' if value is None else _toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def render_reference() -> str:
    """Markdown reference of every setting, for docs/configuration.md."""
    defaults = Settings()
    out = [
        "# Configuration reference",
        "",
        "Generated from `smt_engine/config.py` by `smt config reference`; do not edit by hand.",
        "",
        "Settings are read from TOML (`--config FILE`, else `$SMT_CONFIG`, else "
        "`$XDG_CONFIG_HOME/smt/config.toml`). Any key can be overridden from the environment as "
        "`SMT_<SECTION>__<KEY>` (for example `SMT_RISK__MAX_LEVERAGE=10`). Durations are written "
        "`15s`, `30m`, `4h`, `2d` or `1h30m`.",
    ]
    for name, section, cls in _sections(defaults):
        out += [
            "",
            f"## [{name}]",
            "",
            (cls.__doc__ or "").strip(),
            "",
            "| key | default | meaning |",
            "|---|---|---|",
        ]
        for key, info in cls.model_fields.items():
            value = getattr(section, key)
            shown = "(unset)" if value is None else _toml_value(value)
            shown = "`$XDG_DATA_HOME/smt/smt.db`" if key == "database" else f"`{shown}`"
            out.append(f"| `{key}` | {shown} | {info.description} |")
    return "\n".join(out) + "\n"
