"""Read model: typed snapshots of the engine's database for the console.

Runs on a worker thread only. ``poll()`` first asks SQLite whether another connection committed
(``PRAGMA data_version``) and whether an engine holds the lock; only when one of them moved does it
read again. Large tables are read incrementally (events after the last id seen, the equity curve only
when a new account snapshot landed) and each section is compared with the previous one, so the UI is
told exactly which sections changed and updates only those.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from smt_engine.domain import (
    CommandState,
    EngineState,
    EventLevel,
    Mode,
    PositionState,
    ProposalState,
)
from smt_engine.store import EngineLock, Store
from smt_engine.store.limits import MAX_HOLD, Limit, drift_name
from smt_engine.store.records import (
    AccountSnapshot,
    Analysis,
    Command,
    ComponentHealth,
    Cycle,
    EngineStatus,
    Event,
    Order,
    Position,
    Proposal,
    Whale,
    WhaleSignal,
    WhaleTransfer,
)

Now = Callable[[], datetime]

SECTIONS = (
    "engine",
    "account",
    "positions",
    "history",
    "proposals",
    "health",
    "limits",
    "whales",
    "decisions",
    "orders",
    "events",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Liveness(StrEnum):
    ALIVE = "alive"
    STALE = "stale"
    NO_ENGINE = "no engine"
    STARTING = "starting"
    """The lock is held but the engine has not written its first heartbeat of this run yet."""


TAKER_FEE_PCT = Decimal("0.08")
"""The default of ``exchange.taker_fee_pct``, for a console built without settings."""


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """What the console needs from the settings (kept small so tests can build it directly)."""

    stale_after: timedelta = timedelta(seconds=15)
    competition_end: datetime | None = None
    refresh_interval: float = 0.3
    equity_window: timedelta = timedelta(hours=24)
    event_limit: int = 300
    history_limit: int = 200
    confirm_live_approvals: bool = True
    """Ask before an approval sends a real-money order (live mode only)."""
    whale_pairs: frozenset[str] | None = None
    """The pairs the engine gives whale intelligence (``pairs.tier1``); None: not known, shown for all."""
    taker_fee_pct: Decimal = TAKER_FEE_PCT
    """``exchange.taker_fee_pct``: the Performance screen's entry fee (no entry fill fee is stored)."""
    entry_pairs: tuple[str, ...] = ()
    """The configured pairs the manual entry form offers (``pairs``); empty: the pair is typed."""
    routine_gap: float = 0.0
    """Seconds before the next read after one that found only the engine's routine writes (``for_demo``);
    0: the next read after ``refresh_interval``, so a live engine's mark is shown within half a second."""

    @classmethod
    def for_demo(cls, settings: Any) -> ConsoleConfig:
        """The demo console: its engine at 60x commits several times a second, and reading and drawing
        each routine commit was most of the demo console's CPU; new proposals and closes are still read
        at the next ``refresh_interval``."""
        return dataclasses.replace(cls.from_settings(settings), routine_gap=2.0)

    @classmethod
    def from_settings(cls, settings: Any, stale_after: timedelta | None = None) -> ConsoleConfig:
        """Built from ``smt_engine.config.Settings``; stale after three missed heartbeats by default."""
        end = settings.competition.end
        return cls(
            stale_after=stale_after or settings.engine.heartbeat_interval * 3,
            whale_pairs=frozenset(p.upper() for p in settings.pairs.tier1),
            taker_fee_pct=settings.exchange.taker_fee_pct,
            entry_pairs=tuple(p.base for p in settings.pairs.all()),
            # The competition's last trading day ends at midnight UTC after it.
            competition_end=(
                datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1) if end else None
            ),
        )


def stale_limit(status: EngineStatus | None, stale_after: timedelta) -> timedelta:
    """``stale_after``, or three of the engine's own declared heartbeats when that is longer: an engine
    is never called late before it has missed three of its beats, whatever this console's configuration
    says (the demo engine beats once a demo minute)."""
    declared = status.heartbeat_s if status is not None else None
    if declared is None or declared <= 0:
        return stale_after
    return max(stale_after, timedelta(seconds=3 * declared))


@dataclass(frozen=True, slots=True)
class EngineView:
    status: EngineStatus | None
    lock_held: bool | None
    """None: the lock file exists but this user cannot open it (a viewer in another account)."""
    last_cycle: Cycle | None = None

    @property
    def mode(self) -> Mode | None:
        return self.status.mode if self.status else None

    def heartbeat_age(self, now: datetime) -> timedelta | None:
        if self.status is None or self.status.heartbeat_at is None:
            return None
        return max(timedelta(0), now - self.status.heartbeat_at)

    def liveness(self, now: datetime, stale_after: timedelta) -> Liveness:
        """No engine when nobody holds the lock; stale when the heartbeat is older than ``stale_limit``.

        When the lock cannot be read the heartbeat is the only evidence: fresh is alive, old is no engine.
        """
        if self.lock_held is True and (self.status is None or self.status.heartbeat_at is None):
            return Liveness.STARTING  # a process holds the lock and has not reported yet: not a dead engine
        if self.lock_held is False or self.status is None or self.status.state is EngineState.STOPPED:
            return Liveness.NO_ENGINE
        age = self.heartbeat_age(now)
        if age is not None and self.last_cycle is not None and self.last_cycle.status == "running":
            # A cycle in progress is a sign of life as recent as its start (the demo's synthetic cycle
            # holds the engine's loop for a moment; at 60x that moment is minutes of demo time).
            age = min(age, max(timedelta(0), now - self.last_cycle.started_at))
        if age is None or age > stale_limit(self.status, stale_after):
            return Liveness.NO_ENGINE if self.lock_held is None else Liveness.STALE
        return Liveness.ALIVE

    def running(self, now: datetime, stale_after: timedelta) -> bool:
        """An engine is there to act (alive, starting or late): countdowns and approval hints apply."""
        return self.liveness(now, stale_after) is not Liveness.NO_ENGINE


@dataclass(frozen=True, slots=True)
class AccountView:
    latest: AccountSnapshot | None
    curve: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal: Proposal
    analysis: Analysis | None

    @property
    def key(self) -> str:
        return f"proposal:{self.proposal.id}"


@dataclass(frozen=True, slots=True)
class WhaleFeedView:
    """What the whale feed shows: recent large transfers, the whales, their signals (the widget is
    ``widgets.whale_feed.WhaleFeed``)."""

    transfers: tuple[WhaleTransfer, ...] = ()
    whales: tuple[Whale, ...] = ()
    signals: tuple[WhaleSignal, ...] = ()

    @property
    def aggregate(self) -> WhaleSignal | None:
        return next((s for s in self.signals if s.is_aggregate), None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the console shows, as of one read; ``changed`` names the sections that moved."""

    data_version: int
    read_at: datetime
    engine: EngineView
    account: AccountView
    positions: tuple[Position, ...]
    """The open book (anything not yet closed)."""
    history: tuple[Position, ...]
    """Closed positions, most recent first."""
    proposals: tuple[ProposalView, ...]
    whales: WhaleFeedView
    decisions: tuple[Analysis, ...]
    orders: tuple[Order, ...]
    events: tuple[Event, ...]
    event_level: EventLevel
    health: tuple[ComponentHealth, ...] = ()
    limits: dict[str, Limit] = field(default_factory=dict)
    finished_commands: tuple[Command, ...] = ()
    changed: frozenset[str] = field(default_factory=frozenset)
    read_ms: float = 0.0

    @property
    def open_positions(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.state is not PositionState.CLOSED)

    @property
    def waiting(self) -> tuple[ProposalView, ...]:
        """Proposals waiting for the operator, soonest to expire first."""
        views = [v for v in self.proposals if v.proposal.state is ProposalState.PROPOSED]
        far = datetime.max.replace(tzinfo=UTC)
        return tuple(sorted(views, key=lambda v: v.proposal.expires_at or far))

    @property
    def orphans(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.orphan and not o.state.is_terminal)

    def max_hold(self) -> timedelta | None:
        """The max hold the engine enforces now (published), None before the engine published it."""
        row = self.limits.get(MAX_HOLD)
        return timedelta(seconds=int(row.value)) if row is not None else None

    def drift(self, proposal_id: int | None) -> Limit | None:
        """The engine's last measurement of a waiting proposal's drift (used) against its limit (value)."""
        return self.limits.get(drift_name(proposal_id)) if proposal_id is not None else None

    def find(self, key: str) -> object | None:
        """The record behind a row key such as ``proposal:12``; None when this snapshot does not hold it."""
        kind, _, ident = key.partition(":")
        sources: dict[str, Iterable[tuple[str, object]]] = {
            "proposal": ((str(v.proposal.id), v) for v in self.proposals),
            "position": ((str(p.id), p) for p in (*self.positions, *self.history)),
            "order": ((str(o.id), o) for o in self.orders),
            "event": ((str(e.id), e) for e in self.events),
            "analysis": ((str(a.id), a) for a in self.decisions),
            "whale": ((w.address, w) for w in self.whales.whales),
            "transfer": ((str(t.id), t) for t in self.whales.transfers),
        }
        for candidate, record in sources.get(kind, ()):
            if candidate == ident:
                return record
        return None


_CLOSED = "positions.closed"
"""The change counter of closed positions (rows entering, leaving or changing in the closed state)."""

_SECTION_TABLES: dict[str, frozenset[str]] = {
    "engine": frozenset({"engine", "cycles"}),
    "account": frozenset({"account_snapshots"}),
    "positions": frozenset({"positions"}),
    "history": frozenset({_CLOSED}),
    "proposals": frozenset({"proposals", "analyses"}),
    "health": frozenset({"health"}),
    "limits": frozenset({"limits"}),
    "whales": frozenset({"whale_transfers", "whales", "whale_signals"}),
    "decisions": frozenset({"analyses"}),
    "orders": frozenset({"orders"}),
    "events": frozenset({"events"}),
}
"""The tables behind each section: a commit re-reads only the sections whose tables it wrote."""


def _moved(counters: dict[str, int], before: dict[str, int] | None) -> set[str]:
    if before is None:
        return set(counters)
    return {name for name, n in counters.items() if before.get(name) != n}


_TERMINAL_COMMANDS = {CommandState.DONE, CommandState.FAILED}


class ReadModel:
    """Reads the database for the console. Not for the UI thread: call ``poll`` from a worker."""

    def __init__(
        self,
        store: Store,
        *,
        config: ConsoleConfig | None = None,
        now: Now = utc_now,
        lock: EngineLock | None = None,
    ) -> None:
        self.store = store
        self.config = config or ConsoleConfig()
        self.now = now
        self.lock = lock or EngineLock(Path(store.path))
        self._mutex = threading.Lock()
        self._data_version: int | None = None
        self._lock_held: bool | None = None
        self._last: Snapshot | None = None
        self._event_level = EventLevel.DEBUG
        self._events: deque[Event] = deque(maxlen=self.config.event_limit)
        self._last_account_id: int | None = None
        self._curve: tuple[float, ...] = ()
        self._watched: set[int] = set()
        self._force = True
        self._history_key: object = None
        self._counters: dict[str, int] | None = None
        self._history_rows: tuple[Position, ...] = ()

    # --------------------------------------------------------------- called from any thread

    @property
    def event_level(self) -> EventLevel:
        with self._mutex:
            return self._event_level

    def set_event_level(self, level: EventLevel) -> None:
        with self._mutex:
            if level is not self._event_level:
                self._event_level = level
                self._events.clear()
                self._force = True

    def watch_command(self, command_id: int) -> None:
        with self._mutex:
            self._watched.add(command_id)

    def engine_running(self) -> bool:
        """Whether a command would be consumed: the lock is held, or (lock unreadable) a fresh heartbeat."""
        held = self.lock.probe()
        if held is not None:
            return held
        status = self.store.engine.current()
        beat = status.heartbeat_at if status else None
        return beat is not None and self.now() - beat <= stale_limit(status, self.config.stale_after)

    def has_changed(self) -> bool:
        """Whether ``poll`` would read: a commit by another connection, the lock moved, or a forced read.

        Two cheap syscalls-and-a-pragma (tens of microseconds), so the UI loop may call it directly and
        start a reader thread only when there is something to read.
        """
        with self._mutex:
            if self._force:
                return True
        return self.store.data_version() != self._data_version or self.lock.probe() != self._lock_held

    # --------------------------------------------------------------- worker thread only

    def poll(self) -> Snapshot | None:
        """A new snapshot when something changed since the last call, else None (cheap).

        After a commit only the sections whose tables moved are read again (the engine's triggers count
        writes per table in ``table_changes``); a commit that touched none of them reads nothing more.
        """
        version = self.store.data_version()
        held = self.lock.probe()
        with self._mutex:
            force, self._force = self._force, False
            level = self._event_level
            watched = set(self._watched)
        if not force and version == self._data_version and held == self._lock_held:
            return None
        started = datetime.now(UTC)
        counters = self.store.table_changes()
        prev = self._last
        if force or prev is None or counters is None or self._counters is None:
            due = set(SECTIONS)
        else:
            moved = _moved(counters, self._counters)
            due = {section for section, tables in _SECTION_TABLES.items() if moved & tables}
            if held != self._lock_held:
                due.add("engine")
        if watched and (prev is None or counters is None or "commands" in _moved(counters, self._counters)):
            finished = self._finished_commands(watched)
        else:
            finished = ()
        self._data_version, self._lock_held, self._counters = version, held, counters
        if not due and not finished and prev is not None:
            return None
        snap = self._read(version, held, level, due, finished)
        elapsed = (datetime.now(UTC) - started).total_seconds() * 1000
        self._last = snap
        return dataclasses.replace(snap, read_ms=elapsed)

    def _read(
        self,
        version: int,
        held: bool | None,
        level: EventLevel,
        due: set[str],
        finished: tuple[Command, ...],
    ) -> Snapshot:
        s = self.store
        prev = self._last
        readers: dict[str, Callable[[], Any]] = {
            "engine": lambda: EngineView(s.engine.current(), held, s.cycles.latest()),
            "account": self._account,
            "positions": lambda: tuple(s.positions.open_positions()),
            "history": self._history,
            "proposals": self._proposals,
            "health": lambda: tuple(s.health.all()),
            "limits": s.limits.by_name,
            "whales": lambda: WhaleFeedView(
                tuple(s.whale_transfers.recent(50)),
                tuple(s.whales.recent(50)),
                tuple(s.whale_signals.recent(30)),
            ),
            "decisions": lambda: tuple(s.analyses.latest_per_pair()),
            "orders": self._orders,
            "events": lambda: (level, self._read_events(level)),
        }
        before: dict[str, Any] = (
            {}
            if prev is None
            else {
                "engine": prev.engine,
                "account": prev.account,
                "positions": prev.positions,
                "history": prev.history,
                "proposals": prev.proposals,
                "health": prev.health,
                "limits": prev.limits,
                "whales": prev.whales,
                "decisions": prev.decisions,
                "orders": prev.orders,
                "events": (prev.event_level, prev.events),
            }
        )
        current = {name: readers[name]() if name in due or not before else before[name] for name in SECTIONS}
        if prev is None:
            changed = frozenset(SECTIONS)
        else:
            changed = frozenset(name for name in SECTIONS if name in due and current[name] != before[name])
        event_level, events = current["events"]
        return Snapshot(
            data_version=version,
            read_at=self.now(),
            engine=current["engine"],
            account=current["account"],
            positions=current["positions"],
            history=current["history"],
            proposals=current["proposals"],
            health=current["health"],
            limits=current["limits"],
            whales=current["whales"],
            decisions=current["decisions"],
            orders=current["orders"],
            events=events,
            event_level=event_level,
            finished_commands=finished,
            changed=changed,
        )

    def _account(self) -> AccountView:
        latest = self.store.account.latest()
        latest_id = latest.id if latest else None
        if latest_id != self._last_account_id:
            start = self.now() - self.config.equity_window
            self._curve = tuple(float(a.equity) for a in self.store.account.since(start, limit=400))
            self._last_account_id = latest_id
        return AccountView(latest, self._curve)

    def _history(self) -> tuple[Position, ...]:
        """Closed positions; decoded again only when a closed position changed (or one closed).

        Open positions change on every monitor tick; the ``positions.closed`` counter moves only for
        closed rows, so those ticks cost one counter read, not hundreds of decoded rows.
        """
        key: object = self._counters.get(_CLOSED) if self._counters is not None else object()
        if key is None or key != self._history_key:
            self._history_key = key
            self._history_rows = tuple(self.store.positions.recent_closed(self.config.history_limit))
        return self._history_rows

    def _proposals(self) -> tuple[ProposalView, ...]:
        rows = {p.id: p for p in self.store.proposals.recent(50)}
        for p in self.store.proposals.pending():
            rows[p.id] = p
        ordered = sorted(rows.values(), key=lambda p: (p.state is not ProposalState.PROPOSED, -(p.id or 0)))
        ids = [p.analysis_id for p in ordered if p.analysis_id is not None]
        analyses = self.store.analyses.by_ids(ids)
        return tuple(ProposalView(p, analyses.get(p.analysis_id) if p.analysis_id else None) for p in ordered)

    def _orders(self) -> tuple[Order, ...]:
        rows = {o.id: o for o in self.store.orders.recent(100)}
        for o in self.store.orders.orphans():
            rows[o.id] = o
        return tuple(sorted(rows.values(), key=lambda o: -(o.id or 0)))

    def _read_events(self, level: EventLevel) -> tuple[Event, ...]:
        """Oldest first (a log); only rows newer than the last one seen are read."""
        after = self._events[-1].id if self._events else 0
        new = self.store.events.recent(limit=self.config.event_limit, min_level=level, after_id=after or 0)
        self._events.extend(reversed(new))
        return tuple(self._events)

    def _finished_commands(self, watched: set[int]) -> tuple[Command, ...]:
        done: list[Command] = []
        for command_id in sorted(watched):
            command = self.store.commands.get(command_id)
            if command is None or command.state in _TERMINAL_COMMANDS:
                if command is not None:
                    done.append(command)
                with self._mutex:
                    self._watched.discard(command_id)
        return tuple(done)
