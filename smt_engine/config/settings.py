"""The settings model: one strict section per concern, and ``Settings`` holding them all."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smt_engine.config.analyst import AnalystSettings
from smt_engine.config.fields import (
    Duration,
    Percent,
    Section,
    credentials_problem,
    format_duration,
    parse_duration,
)
from smt_engine.config.paths import default_database_path
from smt_engine.domain import AnalystKind, ApprovalMode, Mode, NotificationKind, Pair, Tier

KNOWN_BASES = ("BTC", "ETH", "SOL", "DOGE", "XRP", "ADA", "BNB", "LTC")
_VIRTUAL_FS = (Path("/proc"), Path("/sys"), Path("/dev"))
# The systemd unit's TimeoutStopSec is 90 s; the drain must end with room for the final writes.
MAX_SHUTDOWN_TIMEOUT = timedelta(seconds=80)


class EngineSettings(Section):
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
    monitor_interval_stream_down: Duration = Field(
        timedelta(seconds=2),
        description="position monitor period while the private stream is down (no push wakes it); "
        "never longer than monitor_interval",
    )
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
        if not timedelta(seconds=1) <= self.monitor_interval_stream_down <= timedelta(minutes=10):
            raise ValueError(
                'engine.monitor_interval_stream_down must be between 1s and 10m (e.g. "2s": a tick is '
                "about 5 REST requests, so 2s stays far inside WEEX's rate limits)"
            )
        if not timedelta(milliseconds=100) <= self.command_poll_interval <= timedelta(seconds=10):
            raise ValueError("engine.command_poll_interval must be between 0.1s and 10s")
        return self


class PairsSettings(Section):
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


class RiskSettings(Section):
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
        Decimal(10),
        description="equity lost since the day's opening equity, % of it, that halts the engine",
    )
    max_drawdown_pct: Percent = Field(
        Decimal(25), description="drawdown from peak equity that halts the engine"
    )
    loss_day_timezone: str = Field(
        "UTC", description="time zone whose midnight starts the day the daily loss limit counts"
    )
    stop_loss_cooldown: Duration = Field(
        timedelta(hours=4),
        description="no new entry on a pair after its stop-loss (`smt cooldowns clear SYMBOL` ends one)",
    )
    max_hold: Duration = Field(timedelta(hours=48), description="force-close positions held longer")
    final_days: int = Field(3, ge=0, le=30, description="competition days counted as the final phase")
    final_days_max_hold: Duration = Field(timedelta(hours=6), description="max hold in the final phase")
    max_drift_pct: Decimal = Field(
        Decimal("0.5"), gt=0, le=10, description="refuse approval if price moved more"
    )
    evidence_horizon: Literal["1h", "4h", "24h"] = Field(
        "4h", description="scorecard horizon whose scores form a source's record (edge gate, calibration)"
    )
    edge_min_decisions: int = Field(
        100, ge=2, le=1_000_000, description="live entries need a proven record over at least this many"
    )
    edge_overrides: list[str] = Field(
        default_factory=list,
        description='live entries allowed without a proven record, as "source:PAIR" (e.g. "gemini:ETH"); '
        "logged and shown",
    )
    size_on_calibrated: bool = Field(
        True, description="size on the calibrated confidence (the record's), not the stated one"
    )
    calibration_prior: int = Field(
        20, ge=0, le=100_000, description="pseudo-decisions at 50% that shrink each calibration bin"
    )
    price_band_pct: Decimal = Field(
        Decimal(1),
        gt=0,
        le=50,
        description="a price further than this from the venue's newest 1-minute bar sizes nothing (the pair "
        "waits)",
    )
    price_max_age: Duration = Field(
        timedelta(seconds=10), description="a price older than this by its own timestamp sizes nothing"
    )

    @field_validator("loss_day_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("edge_overrides")
    @classmethod
    def _overrides(cls, value: list[str]) -> list[str]:
        sources = [k.value for k in AnalystKind]
        out = []
        for entry in value:
            source, _, base = entry.strip().partition(":")
            if source.lower() not in sources or base.upper() not in KNOWN_BASES:
                raise ValueError(
                    f'{entry!r} is not source:PAIR: write e.g. "gemini:ETH" (sources: {", ".join(sources)}; '
                    f"pairs: {', '.join(KNOWN_BASES)})"
                )
            out.append(f"{source.lower()}:{base.upper()}")
        return out

    @model_validator(mode="after")
    def _check_limits(self) -> RiskSettings:
        if self.leverage > self.max_leverage:
            raise ValueError(
                f"risk.leverage = {self.leverage}: must not exceed risk.max_leverage ({self.max_leverage})"
            )
        if self.max_single_position_pct > self.max_total_exposure_pct:
            raise ValueError("risk.max_single_position_pct must not exceed risk.max_total_exposure_pct")
        if not timedelta(seconds=1) <= self.price_max_age <= timedelta(minutes=5):
            raise ValueError(
                f"risk.price_max_age = {format_duration(self.price_max_age)}: must be between 1s and 5m "
                "(a price is judged by its own timestamp; 10s is the default)"
            )
        for name in ("max_hold", "final_days_max_hold"):
            if getattr(self, name) < timedelta(minutes=1):
                raise ValueError(
                    f"risk.{name} = {format_duration(getattr(self, name))}: must be at least 1m "
                    "(0 would force-close every position as soon as it opens)"
                )
        return self


class TradingSettings(Section):
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

    @model_validator(mode="after")
    def _check_visibility(self) -> TradingSettings:
        if not timedelta(seconds=1) <= self.order_visibility <= timedelta(hours=1):
            raise ValueError(
                f"trading.order_visibility = {format_duration(self.order_visibility)}: must be between 1s "
                "and 1h (shorter takes an order the venue has not listed yet for one never placed; the "
                "default is 30s)"
            )
        return self


class CompetitionSettings(Section):
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


class ExchangeSettings(Section):
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
        timedelta(seconds=30),
        description="keep-alive: a protocol ping this often (ccxt's 30 s); two unanswered in a row and the "
        "stream is reconnected and reconciled. A quiet stream that answers pings stays up",
    )
    stream_backoff_max: Duration = Field(
        timedelta(seconds=60),
        description="longest wait between reconnects (the back-off starts over only after a connection that "
        "lived 3 heartbeats)",
    )
    stream_handshakes_per_5min: int = Field(
        60,
        ge=1,
        le=150,
        description="hard cap on websocket handshakes per 5 minutes, private and public together (WEEX bans "
        "an IP past 300); a WARNING event when it binds",
    )
    ai_log_path: str = Field(
        "/capi/v3/order/uploadAiLog",
        description="AI-log upload path (WEEX v3 docs); a 404 tries /capi/v2/order/uploadAiLog once and "
        "remembers the one that worked",
    )

    @model_validator(mode="after")
    def _check_url(self) -> ExchangeSettings:
        for key, url in (("exchange.base_url", self.base_url), ("exchange.ws_url", self.ws_url)):
            problem = credentials_problem(key, url)
            if problem is not None:
                raise ValueError(problem)
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"exchange.base_url = {self.base_url!r}: must be an http(s) URL")
        if not re.match(r"^wss?://[^\s/]+", self.ws_url):
            raise ValueError(f"exchange.ws_url = {self.ws_url!r}: must be a ws(s) URL")
        if not timedelta(seconds=1) <= self.stream_heartbeat <= timedelta(minutes=10):
            raise ValueError("exchange.stream_heartbeat must be between 1s and 10m")
        if not re.match(r"^/capi/v[0-9]+/[A-Za-z0-9/_-]+$", self.ai_log_path):
            raise ValueError(f"exchange.ai_log_path = {self.ai_log_path!r}: must be a /capi/vN/... path")
        return self


class WhalesSettings(Section):
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
    btc_proxy: bool = Field(
        False,
        description="feed BTC the ETH whale signal as a correlated proxy (off: BTC reads its own flows only)",
    )
    btc_proxy_weight: float = Field(
        1.0, gt=0, le=1, description="BTC proxy confidence = ETH whale confidence x this"
    )
    max_records_per_request: int = Field(
        1000, ge=10, le=10_000, description="Etherscan records per request (free tier: 1000)"
    )
    flow_windows_hours: list[int] = Field(
        [1, 6, 24], description="exchange net-flow windows measured and scored, hours"
    )
    flow_signal_window_hours: int = Field(
        6, ge=1, le=168, description="the flow window the signal reads (one of flow_windows_hours)"
    )
    flow_score_horizons: list[str] = Field(
        ["1h", "4h", "24h"], description="horizons each flow (asset and window) is scored at"
    )
    step_budget: Duration = Field(
        timedelta(minutes=2),
        description="the whale step stops starting new reads after this; analysis uses what finished",
    )

    @field_validator("flow_windows_hours")
    @classmethod
    def _windows(cls, value: list[int]) -> list[int]:
        if not value or len(set(value)) != len(value) or any(not 1 <= h <= 168 for h in value):
            raise ValueError(
                "whales.flow_windows_hours: list distinct hours between 1 and 168, e.g. [1, 6, 24]"
            )
        return sorted(value)

    @field_validator("flow_score_horizons")
    @classmethod
    def _horizons(cls, value: list[str]) -> list[str]:
        out = []
        for text in value:
            try:
                length = parse_duration(text)
            except ValueError:
                length = None
            if not isinstance(length, timedelta) or not timedelta(minutes=5) <= length <= timedelta(days=7):
                raise ValueError(
                    f"whales.flow_score_horizons: {text!r} is not a horizon between 5m and 7d: write e.g. "
                    '["1h", "4h", "24h"]'
                )
            seconds = int(length.total_seconds())
            out.append(f"{seconds // 3600}h" if seconds % 3600 == 0 else format_duration(length))
        if not out or len(set(out)) != len(out):
            raise ValueError('whales.flow_score_horizons: list distinct horizons, e.g. ["1h", "4h", "24h"]')
        return out

    @model_validator(mode="after")
    def _signal_window(self) -> WhalesSettings:
        if self.flow_signal_window_hours not in self.flow_windows_hours:
            raise ValueError(
                f"whales.flow_signal_window_hours = {self.flow_signal_window_hours} is not measured: add it "
                f"to whales.flow_windows_hours ({self.flow_windows_hours}) or pick one of those"
            )
        return self

    @field_validator("step_budget")
    @classmethod
    def _budget(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=5) <= value <= timedelta(minutes=30):
            raise ValueError(
                f"whales.step_budget {format_duration(value)}: set it between 5s and 30m (the cycle waits "
                "for it before analysing)"
            )
        return value

    @model_validator(mode="after")
    def _check_url(self) -> WhalesSettings:
        problem = credentials_problem("whales.etherscan_base_url", self.etherscan_base_url)
        if problem is not None:
            raise ValueError(problem)
        return self


class AiLogSettings(Section):
    """Uploads of every decision to WEEX's AI-log endpoint."""

    enabled: bool | None = Field(None, description="upload AI logs; unset = only in live mode")
    model_name: str = Field("SMT-CatBoost-Gemini", description="model name reported with each log")
    max_attempts: int = Field(8, ge=1, le=100, description="upload attempts before a row is left failed")


class NotifySettings(Section):
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


class LoggingSettings(Section):
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
