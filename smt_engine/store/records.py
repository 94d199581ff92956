"""Typed rows of the database contract, shared by the engine (writer) and the console (reader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.domain import (
    Action,
    AiLogState,
    AnalystKind,
    Bias,
    CloseReason,
    CommandKind,
    CommandState,
    EngineState,
    EventLevel,
    Flow,
    HealthStatus,
    Mode,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)


@dataclass(slots=True, kw_only=True)
class EngineStatus:
    """The single ``engine`` row: what the console shows in its header."""

    mode: Mode
    state: EngineState
    pid: int | None = None
    host: str | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    next_cycle_at: datetime | None = None
    last_cycle_at: datetime | None = None
    state_reason: str | None = None
    last_error: str | None = None
    approval: str | None = None
    heartbeat_s: float | None = None
    """The heartbeat period this engine keeps (``engine.heartbeat_interval``): front ends judge a
    heartbeat late by it, not by their own configuration. None: an engine from before it was declared."""


@dataclass(slots=True, kw_only=True)
class ContractRecord:
    symbol: str
    step_size: Decimal
    tick_size: Decimal
    min_size: Decimal
    max_size: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    max_leverage: int = 125
    fetched_at: datetime


@dataclass(slots=True, kw_only=True)
class AccountSnapshot:
    at: datetime
    balance: Decimal
    equity: Decimal
    available: Decimal
    unrealized_pnl: Decimal = Decimal(0)
    margin_used: Decimal = Decimal(0)
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Cycle:
    id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    steps: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    trigger: str = "schedule"


@dataclass(slots=True, kw_only=True)
class WhaleTransfer:
    tx_hash: str
    from_address: str
    to_address: str
    value_eth: Decimal
    block: int
    at: datetime
    exchange_label: str | None = None
    direction: str | None = None
    cycle_id: str | None = None
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Whale:
    address: str
    whale_class: str
    class_confidence: float
    classified_by: str
    model_version: str | None = None
    label: str | None = None
    features: dict[str, float] = field(default_factory=dict)
    volume_eth: Decimal = Decimal(0)
    first_seen_at: datetime
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class WhaleSignal:
    cycle_id: str
    at: datetime
    bias: Bias
    confidence: float
    address: str | None = None
    whale_class: str | None = None
    flow: Flow | None = None
    net_eth: Decimal = Decimal(0)
    inflow_eth: Decimal = Decimal(0)
    outflow_eth: Decimal = Decimal(0)
    reasoning: str = ""
    is_aggregate: bool = False
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Analysis:
    cycle_id: str | None
    pair: str
    analyst: AnalystKind
    model: str
    created_at: datetime
    action: Action = Action.WAIT
    confidence: float = 0.0
    prompt: str = ""
    raw_response: str | None = None
    decision: dict[str, Any] | None = None
    grounded: bool = False
    queries: list[str] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    latency_ms: int | None = None
    attempts: int = 0
    error: str | None = None
    search_entry_point: str | None = None
    search_suggestions: list[dict[str, str]] = field(default_factory=list)
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Proposal:
    pair: str
    symbol: str
    side: Side
    confidence: float
    margin: Decimal
    notional: Decimal
    leverage: int
    size: Decimal
    entry_ref: Decimal
    tp_price: Decimal
    sl_price: Decimal
    tp_pct: Decimal
    sl_pct: Decimal
    state: ProposalState
    created_at: datetime
    expires_at: datetime | None = None
    cycle_id: str | None = None
    analysis_id: int | None = None
    source: str = "analyst"
    reason_codes: list[str] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    decided_at: datetime | None = None
    decided_by: str | None = None
    rationale: str = ""
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Order:
    client_order_id: str
    symbol: str
    side: Side
    kind: OrderKind
    size: Decimal
    state: OrderState
    created_at: datetime
    updated_at: datetime
    exchange_order_id: str | None = None
    proposal_id: int | None = None
    position_id: int | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    error: str | None = None
    orphan: bool = False
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Position:
    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    opened_at: datetime
    state: PositionState
    leverage: int
    updated_at: datetime
    margin: Decimal = Decimal(0)
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    tp_order_id: str | None = None
    sl_order_id: str | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = Decimal(0)
    proposal_id: int | None = None
    adopted: bool = False
    close_reason: CloseReason | None = None
    close_order_id: str | None = None
    closed_at: datetime | None = None
    exit_price: Decimal | None = None
    realized_pnl: Decimal | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedTrade:
    """The columns of a closed position that its performance figures need (a narrow read, no TP/SL)."""

    id: int
    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    exit_price: Decimal | None
    margin: Decimal
    opened_at: datetime
    closed_at: datetime
    realized_pnl: Decimal | None
    close_reason: CloseReason | None


@dataclass(slots=True, kw_only=True)
class Command:
    kind: CommandKind
    actor: str
    created_at: datetime
    state: CommandState = CommandState.PENDING
    args: dict[str, Any] = field(default_factory=dict)
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class Event:
    at: datetime
    level: EventLevel
    kind: str
    message: str
    cycle_id: str | None = None
    proposal_id: int | None = None
    order_id: int | None = None
    position_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class AiLog:
    stage: str
    model: str
    input: dict[str, Any]
    output: dict[str, Any]
    explanation: str
    created_at: datetime
    state: AiLogState = AiLogState.PENDING
    order_id: str | None = None
    cycle_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    id: int | None = None


@dataclass(slots=True, kw_only=True)
class ComponentHealth:
    """One row of ``health``: ``since`` is when ``status`` last changed, ``updated_at`` the last report."""

    component: str
    status: HealthStatus
    detail: str = ""
    since: datetime
    updated_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
