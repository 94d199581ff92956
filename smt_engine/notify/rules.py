"""Which events become notifications, and their text, read from the rows the events refer to.

Each rule turns one event into at most one ``Draft``; the notifier adds channels, filters, de-duplication
and the outbox. Text is plain and short: it must read well in Telegram, e-mail and a phone's lock screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.config import Settings
from smt_engine.domain import ApprovalMode, EventLevel, NotificationKind, ProposalState
from smt_engine.exchange.precision import plain
from smt_engine.store import Store
from smt_engine.store.records import ComponentHealth, Event

STREAM_COMPONENTS = ("exchange.stream.private", "exchange.stream.public")
_DOWN = ("warn", "down")


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification before it has a channel. ``topic`` names what it is about, for de-duplication."""

    kind: NotificationKind
    topic: str
    title: str
    body: str
    level: EventLevel

    @classmethod
    def of(cls, kind: NotificationKind, topic: str, title: str, body: str) -> Draft:
        return cls(kind, topic, title, body, kind.level)


def _money(value: Decimal | None) -> str:
    return "?" if value is None else format(value.quantize(Decimal("0.01")), "f")


def _left(until: datetime | None, now: datetime) -> str:
    if until is None:
        return "no expiry"
    minutes = int((until - now).total_seconds() // 60)
    if minutes < 0:
        return "expired"
    return f"{minutes // 60} h {minutes % 60} min left" if minutes >= 60 else f"{minutes} min left"


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


class Rules:
    """Maps one event to a draft, or None when the event is not something the operator is told about."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._by_kind: dict[str, Callable[[Event, datetime], Draft | None]] = {
            "proposal.proposed": self._proposal_waiting,
            "proposal.open": self._entry_filled,
            "position.closed": self._position_closed,
            "engine.halted": self._halted,
            "engine.resumed": self._resumed,
            "engine.starting": self._started,
            "engine.stopped": self._stopped,
            "engine.crash_restart": self._crash_restart,
            "engine.database_lost": self._database_lost,
            "health.degraded": self._degraded,
        }

    def draft(self, event: Event, now: datetime) -> Draft | None:
        rule = self._by_kind.get(event.kind)
        return rule(event, now) if rule is not None else None

    # ------------------------------------------------------------------ trading

    def _proposal_waiting(self, event: Event, now: datetime) -> Draft | None:
        if self.settings.engine.approval is not ApprovalMode.MANUAL or event.proposal_id is None:
            return None
        p = self.store.proposals.get(event.proposal_id)
        if p is None or p.state is not ProposalState.PROPOSED:
            return None  # already decided or expired: nothing is waiting any more
        expiry = (
            f"{_left(p.expires_at, now)} (expires {_hhmm(p.expires_at)})" if p.expires_at else "no expiry"
        )
        body = (
            f"{p.pair} {p.side.value}, confidence {p.confidence:.2f}\n"
            f"size {plain(p.size)} ({_money(p.notional)} USDT at {p.leverage}x, "
            f"margin {_money(p.margin)} USDT)\n"
            f"entry ~{plain(p.entry_ref)}, TP {plain(p.tp_price)}, SL {plain(p.sl_price)}\n"
            f"{expiry}\n"
            f"smt approve {p.id}    (or: smt reject {p.id})"
        )
        return Draft.of(
            NotificationKind.PROPOSAL_WAITING,
            f"proposal:{p.id}",
            f"SMT: proposal #{p.id} {p.pair} {p.side.value} waiting for approval",
            body,
        )

    def _entry_filled(self, event: Event, now: datetime) -> Draft | None:
        if event.proposal_id is None:
            return None
        p = self.store.proposals.get(event.proposal_id)
        if p is None:
            return None
        position = self.store.positions.open_for(p.symbol, p.side)
        entry = position.entry_price if position is not None else p.entry_ref
        size = position.size if position is not None else p.size
        body = (
            f"{p.symbol} {p.side.value} {plain(size)} at {plain(entry)} ({p.leverage}x)\n"
            f"TP {plain(p.tp_price)}, SL {plain(p.sl_price)}"
        )
        return Draft.of(
            NotificationKind.ENTRY_FILLED,
            f"proposal:{p.id}",
            f"SMT: entry filled, {p.pair} {p.side.value} (proposal #{p.id})",
            body,
        )

    def _position_closed(self, event: Event, now: datetime) -> Draft | None:
        if event.position_id is None:
            return None
        pos = self.store.positions.get(event.position_id)
        if pos is None:
            return None
        reason = pos.close_reason.value if pos.close_reason is not None else "closed"
        pnl = pos.realized_pnl
        pnl_text = "unknown" if pnl is None else f"{'+' if pnl > 0 else ''}{_money(pnl)} USDT"
        body = (
            f"{pos.symbol} {pos.side.value}: {reason}\n"
            f"entry {plain(pos.entry_price)}, exit {plain(pos.exit_price) if pos.exit_price else '?'}\n"
            f"realised PnL {pnl_text}"
        )
        draft = Draft.of(
            NotificationKind.POSITION_CLOSED,
            f"position:{pos.id}",
            f"SMT: {pos.symbol} {pos.side.value} closed ({reason}), PnL {pnl_text}",
            body,
        )
        if event.level is EventLevel.CRITICAL:  # e.g. closed because it could not be protected
            return Draft(draft.kind, draft.topic, draft.title, draft.body, EventLevel.CRITICAL)
        return draft

    # ------------------------------------------------------------------ engine

    # Halt and resume are each their own topic: the engine logs them only on a change of state, so a
    # halt -> resume -> halt inside the de-duplication window is three things the operator must hear.

    def _halted(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(
            NotificationKind.HALTED,
            f"halt:{event.id}",
            "SMT: engine HALTED, entries refused",
            f"{event.message}\nCloses and protection continue. Resume with: smt resume",
        )

    def _resumed(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(NotificationKind.RESUMED, f"resume:{event.id}", "SMT: engine resumed", event.message)

    def _started(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(NotificationKind.STARTED, "engine", "SMT: engine starting", event.message)

    def _stopped(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(NotificationKind.STOPPED, "engine", "SMT: engine stopped", event.message)

    def _crash_restart(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(
            NotificationKind.CRASH_RESTART,
            "engine",
            "SMT: engine restarted after an unclean stop",
            event.message,
        )

    def _database_lost(self, event: Event, now: datetime) -> Draft | None:
        return Draft.of(
            NotificationKind.DATABASE_LOST,
            f"database:{event.id}",
            "SMT: engine STOPPED, its database file was removed or replaced",
            f"{event.message}\nPositions keep their exchange-side stops. Put the right file back, then start "
            "the engine again.",
        )

    def _degraded(self, event: Event, now: datetime) -> Draft | None:
        component = str(event.data.get("component", ""))
        kinds = {
            "analyst.model": (NotificationKind.MODEL_UNAVAILABLE, "SMT: analyst model unavailable"),
            "analyst.budget": (NotificationKind.BUDGET_REACHED, "SMT: analyst budget reached"),
        }
        if component not in kinds:
            return None  # streams are checked against their delay in stream_down(); others stay on screen
        kind, title = kinds[component]
        if kind is NotificationKind.MODEL_UNAVAILABLE and event.data.get("to") == "warn":
            title = "SMT: analyst model degraded"  # working on a fallback model, not as configured
        return Draft.of(kind, f"health:{component}", title, event.message)

    # ------------------------------------------------------------------ streams

    def stream_down(self, row: ComponentHealth, now: datetime, after: timedelta) -> Draft | None:
        """A stream that has been down (or degraded) for longer than ``after``; None otherwise."""
        if row.component not in STREAM_COMPONENTS or row.status.value not in _DOWN:
            return None
        if now - row.since < after:
            return None
        minutes = int((now - row.since).total_seconds() // 60)
        return Draft.of(
            NotificationKind.STREAM_DOWN,
            f"stream:{row.component}:{row.since.isoformat()}",
            f"SMT: {row.component} {row.status.value} for {minutes} min",
            f"{row.component} {row.status.value} since {_hhmm(row.since)}: {row.detail or 'no detail'}\n"
            "REST reconciliation continues as the safety net.",
        )
