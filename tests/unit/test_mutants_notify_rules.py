"""Notification rules asserted to the character: one event in, one draft out, as the operator reads it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EventLevel,
    HealthStatus,
    NotificationKind,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.notify.rules import Draft, Rules
from smt_engine.store import Store
from smt_engine.store.records import ComponentHealth, Event, Position
from tests.unit.test_notify import T0, StepClock, proposal


def event(kind: str, message: str = "m", level: EventLevel = EventLevel.INFO, **fields: Any) -> Event:
    return Event(at=T0, level=level, kind=kind, message=message, id=fields.pop("id", 7), **fields)


def rules(store: Store, **engine: Any) -> Rules:
    return Rules(store, Settings.model_validate({"engine": {"approval": "manual", **engine}}))


def drafted(store: Store, e: Event, now: datetime = T0) -> Draft | None:
    return rules(store).draft(e, now)


def closed_position(store: Store, **fields: Any) -> Position:
    row = Position(
        symbol="ETHUSDT",
        side=Side.SHORT,
        size=Decimal("0.5"),
        entry_price=Decimal("3000"),
        opened_at=T0,
        state=PositionState.CLOSED,
        leverage=5,
        updated_at=T0,
        close_reason=CloseReason.STOP_LOSS,
        exit_price=Decimal("3045.5"),
        realized_pnl=Decimal("-22.754"),
    )
    for name, value in fields.items():
        setattr(row, name, value)
    return store.positions.insert(row)


# --------------------------------------------------------------------------- rules: which events notify


def test_every_notifying_event_kind_has_its_own_rule(store: Store) -> None:
    kinds = {
        "engine.halted": NotificationKind.HALTED,
        "engine.resumed": NotificationKind.RESUMED,
        "engine.starting": NotificationKind.STARTED,
        "engine.stopped": NotificationKind.STOPPED,
        "engine.crash_restart": NotificationKind.CRASH_RESTART,
        "engine.database_lost": NotificationKind.DATABASE_LOST,
    }
    for kind, expected in kinds.items():
        draft = drafted(store, event(kind))
        assert draft is not None, kind
        assert draft.kind is expected
        assert draft.level is expected.level
    assert drafted(store, event("engine.heartbeat")) is None
    assert drafted(store, event("ENGINE.HALTED")) is None


def test_the_engine_notices_read_to_the_character(store: Store) -> None:
    assert drafted(store, event("engine.halted", "engine HALTED: daily loss", id=11)) == Draft(
        NotificationKind.HALTED,
        "halt:11",
        "SMT: engine HALTED, entries refused",
        "engine HALTED: daily loss\nCloses and protection continue. Resume with: smt resume",
        EventLevel.CRITICAL,
    )
    assert drafted(store, event("engine.resumed", "resumed by cli:ops", id=12)) == Draft(
        NotificationKind.RESUMED, "resume:12", "SMT: engine resumed", "resumed by cli:ops", EventLevel.INFO
    )
    assert drafted(store, event("engine.starting", "starting (pid 8)")) == Draft(
        NotificationKind.STARTED, "engine", "SMT: engine starting", "starting (pid 8)", EventLevel.INFO
    )
    assert drafted(store, event("engine.stopped", "stopped")) == Draft(
        NotificationKind.STOPPED, "engine", "SMT: engine stopped", "stopped", EventLevel.WARNING
    )
    assert drafted(store, event("engine.crash_restart", "pid 7 did not stop")) == Draft(
        NotificationKind.CRASH_RESTART,
        "engine",
        "SMT: engine restarted after an unclean stop",
        "pid 7 did not stop",
        EventLevel.ERROR,
    )


# --------------------------------------------------------------------------- rules: trading notices


def test_a_waiting_proposal_reads_to_the_character(store: Store) -> None:
    clock = StepClock()
    p = proposal(store, clock)
    e = event("proposal.proposed", proposal_id=p.id)
    assert drafted(store, e, T0 + timedelta(minutes=2)) == Draft(
        NotificationKind.PROPOSAL_WAITING,
        f"proposal:{p.id}",
        f"SMT: proposal #{p.id} ETH LONG waiting for approval",
        "ETH LONG, confidence 0.80\n"
        "size 0.333 (1000.00 USDT at 10x, margin 100.00 USDT)\n"
        "entry ~3000, TP 3090, SL 2955\n"
        "13 min left (expires 12:15 UTC)\n"
        f"smt approve {p.id}    (or: smt reject {p.id})",
        EventLevel.WARNING,
    )


def test_a_waiting_proposal_with_no_expiry_says_so(store: Store) -> None:
    p = proposal(store, StepClock())
    assert p.id is not None
    store.proposals.update(p.id, expires_at=None)
    draft = drafted(store, event("proposal.proposed", proposal_id=p.id))
    assert draft is not None
    assert draft.body.splitlines()[3] == "no expiry"


def test_no_waiting_notice_without_a_proposal_or_outside_manual_mode(store: Store) -> None:
    p = proposal(store, StepClock())
    assert drafted(store, event("proposal.proposed")) is None  # no proposal named
    assert drafted(store, event("proposal.proposed", proposal_id=999)) is None  # no such proposal
    auto = rules(store, approval="auto")
    assert auto.draft(event("proposal.proposed", proposal_id=p.id), T0) is None
    assert p.id is not None
    for state in (ProposalState.EXPIRED, ProposalState.REJECTED):
        store.proposals.update(p.id, state=state)
        assert drafted(store, event("proposal.proposed", proposal_id=p.id)) is None


def test_an_entry_filled_reads_the_position_it_opened(store: Store) -> None:
    clock = StepClock()
    p = proposal(store, clock)
    e = event("proposal.open", proposal_id=p.id)
    # Before the position is booked: the proposal's own figures.
    assert drafted(store, e) == Draft(
        NotificationKind.ENTRY_FILLED,
        f"proposal:{p.id}",
        f"SMT: entry filled, ETH LONG (proposal #{p.id})",
        "ETHUSDT LONG 0.333 at 3000 (10x)\nTP 3090, SL 2955",
        EventLevel.INFO,
    )
    store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            size=Decimal("0.331"),
            entry_price=Decimal("3001.5"),
            opened_at=T0,
            state=PositionState.OPEN,
            leverage=10,
            updated_at=T0,
            proposal_id=p.id,
        )
    )
    draft = drafted(store, e)
    assert draft is not None
    assert draft.body == "ETHUSDT LONG 0.331 at 3001.5 (10x)\nTP 3090, SL 2955"
    assert drafted(store, event("proposal.open")) is None
    assert drafted(store, event("proposal.open", proposal_id=999)) is None


def test_a_closed_position_reads_to_the_character(store: Store) -> None:
    pos = closed_position(store)
    assert drafted(store, event("position.closed", position_id=pos.id)) == Draft(
        NotificationKind.POSITION_CLOSED,
        f"position:{pos.id}",
        "SMT: ETHUSDT SHORT closed (stop-loss), PnL -22.75 USDT",
        "ETHUSDT SHORT: stop-loss\nentry 3000, exit 3045.5\nrealised PnL -22.75 USDT",
        EventLevel.INFO,
    )


def test_a_closed_position_with_unknown_figures_says_so(store: Store) -> None:
    pos = closed_position(store, close_reason=None, exit_price=None, realized_pnl=None)
    draft = drafted(store, event("position.closed", position_id=pos.id))
    assert draft is not None
    assert draft.title == "SMT: ETHUSDT SHORT closed (closed), PnL unknown"
    assert draft.body == "ETHUSDT SHORT: closed\nentry 3000, exit ?\nrealised PnL unknown"
    even = closed_position(store, realized_pnl=Decimal("0"))
    draft = drafted(store, event("position.closed", position_id=even.id))
    assert draft is not None
    assert draft.title.endswith("PnL 0.00 USDT")  # no sign on a flat result
    small = closed_position(store, realized_pnl=Decimal("0.5"))
    draft = drafted(store, event("position.closed", position_id=small.id))
    assert draft is not None
    assert draft.title.endswith("PnL +0.50 USDT")
    assert drafted(store, event("position.closed")) is None
    assert drafted(store, event("position.closed", position_id=999)) is None


def test_a_position_closed_because_it_was_unprotected_is_a_critical_notice(store: Store) -> None:
    pos = closed_position(store, close_reason=CloseReason.UNPROTECTED)
    e = event("position.closed", level=EventLevel.CRITICAL, position_id=pos.id)
    draft = drafted(store, e)
    assert draft is not None
    assert draft.level is EventLevel.CRITICAL
    assert (draft.kind, draft.topic) == (NotificationKind.POSITION_CLOSED, f"position:{pos.id}")
    assert draft.title == "SMT: ETHUSDT SHORT closed (unprotected), PnL -22.75 USDT"
    assert draft.body == "ETHUSDT SHORT: unprotected\nentry 3000, exit 3045.5\nrealised PnL -22.75 USDT"
    error = drafted(store, event("position.closed", level=EventLevel.ERROR, position_id=pos.id))
    assert error is not None
    assert error.level is EventLevel.INFO


# --------------------------------------------------------------------------- rules: health and streams


def test_model_and_budget_notices_read_to_the_character(store: Store) -> None:
    def degraded(component: str, to: str = "down") -> Draft | None:
        e = event("health.degraded", f"{component} {to}", data={"component": component, "to": to})
        return drafted(store, e)

    assert degraded("analyst.model") == Draft(
        NotificationKind.MODEL_UNAVAILABLE,
        "health:analyst.model",
        "SMT: analyst model unavailable",
        "analyst.model down",
        EventLevel.ERROR,
    )
    assert degraded("analyst.model", "warn") == Draft(
        NotificationKind.MODEL_UNAVAILABLE,
        "health:analyst.model",
        "SMT: analyst model degraded",
        "analyst.model warn",
        EventLevel.ERROR,
    )
    assert degraded("analyst.budget", "warn") == Draft(
        NotificationKind.BUDGET_REACHED,
        "health:analyst.budget",
        "SMT: analyst budget reached",
        "analyst.budget warn",
        EventLevel.WARNING,
    )
    assert degraded("exchange.stream.public") is None  # judged by its delay in stream_down
    assert drafted(store, event("health.degraded")) is None  # no component named


def stream(component: str, status: HealthStatus, since: datetime, detail: str = "reset") -> ComponentHealth:
    return ComponentHealth(component=component, status=status, detail=detail, since=since, updated_at=since)


def test_a_stream_down_notice_reads_to_the_character(store: Store) -> None:
    r = rules(store)
    after = timedelta(minutes=5)
    row = stream("exchange.stream.public", HealthStatus.WARN, T0)
    assert r.stream_down(row, T0 + after - timedelta(seconds=1), after) is None
    assert r.stream_down(row, T0 + after, after) == Draft(
        NotificationKind.STREAM_DOWN,
        "stream:exchange.stream.public:2026-11-30T12:00:00+00:00",
        "SMT: exchange.stream.public warn for 5 min",
        "exchange.stream.public warn since 12:00 UTC: reset\n"
        "REST reconciliation continues as the safety net.",
        EventLevel.ERROR,
    )
    quiet = stream("exchange.stream.private", HealthStatus.DOWN, T0, detail="")
    draft = r.stream_down(quiet, T0 + timedelta(minutes=61, seconds=59), after)
    assert draft is not None
    assert draft.title == "SMT: exchange.stream.private down for 61 min"
    assert draft.body.startswith("exchange.stream.private down since 12:00 UTC: no detail\n")
    later = timedelta(hours=2)
    assert r.stream_down(stream("exchange.stream.private", HealthStatus.OK, T0), T0 + later, after) is None
    assert r.stream_down(stream("analyst.model", HealthStatus.DOWN, T0), T0 + later, after) is None
