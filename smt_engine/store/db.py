"""Opening the database: WAL, busy timeout, foreign keys, a 0600 file, and numbered migrations."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from smt_engine.store.ailogs import AiLogsRepo
from smt_engine.store.analyst_usage import AnalystUsageRepo
from smt_engine.store.backtest_records import BacktestRecordsRepo
from smt_engine.store.commands import CommandsRepo
from smt_engine.store.cooldowns import CooldownClearancesRepo
from smt_engine.store.decision_history import DecisionHistory
from smt_engine.store.engine_state import EngineRepo
from smt_engine.store.errors import DatabaseFull, DatabaseUnusable, StoreError, database_error
from smt_engine.store.events import EventsRepo
from smt_engine.store.flow_history import FlowHistoryRepo
from smt_engine.store.flows import ExchangeFlowsRepo
from smt_engine.store.health import HealthRepo
from smt_engine.store.intel import AnalysesRepo, CyclesRepo, WhaleSignalsRepo, WhalesRepo, WhaleTransfersRepo
from smt_engine.store.kill_switch import KillSwitchRepo
from smt_engine.store.limits import LimitsRepo
from smt_engine.store.market_history import MarketHistoryRepo
from smt_engine.store.migrations import MIGRATIONS
from smt_engine.store.notifications import CursorsRepo, NotificationsRepo
from smt_engine.store.prices import CandlesRepo, PricesRepo
from smt_engine.store.scores import ScorecardReportsRepo, ScoresRepo
from smt_engine.store.trading import OrdersRepo, PositionsRepo, ProposalsRepo
from smt_engine.store.venue import AccountRepo, ContractsRepo
from smt_engine.store.venue_facts import VenueFactsRepo
from smt_engine.store.whale_history import WhaleHistoryRepo

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
LATEST_SCHEMA = max(number for number, _, _ in MIGRATIONS)


class WatchedConnection(sqlite3.Connection):
    """A connection that remembers the first failure making the file unusable (full disk, damage).

    Every statement of every repository passes here, so the engine can ask ``Store.fatal`` once per
    heartbeat and stop with the documented exit code, instead of trading on while nothing is recorded.
    """

    db_path: Path | str = "database"
    fatal: StoreError | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            self._note(exc)
            raise

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            self._note(exc)
            raise

    def _note(self, exc: sqlite3.Error) -> None:
        error = database_error(self.db_path, exc)
        if self.fatal is None and isinstance(error, DatabaseFull | DatabaseUnusable):
            self.fatal = error


class Store:
    """One connection to the SQLite file plus a typed repository per table."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()
        self.db = sqlite_utils.Database(conn)
        args = (self.db, self.lock)
        self.engine = EngineRepo(*args)
        self.contracts = ContractsRepo(*args)
        self.account = AccountRepo(*args)
        self.cycles = CyclesRepo(*args)
        self.whale_transfers = WhaleTransfersRepo(*args)
        self.whales = WhalesRepo(*args)
        self.whale_signals = WhaleSignalsRepo(*args)
        self.analyses = AnalysesRepo(*args)
        self.proposals = ProposalsRepo(*args)
        self.orders = OrdersRepo(*args)
        self.positions = PositionsRepo(*args)
        self.commands = CommandsRepo(*args)
        self.events = EventsRepo(*args)
        self.ailogs = AiLogsRepo(*args)
        self.whale_history = WhaleHistoryRepo(*args)
        self.health = HealthRepo(*args)
        self.notifications = NotificationsRepo(*args)
        self.cursors = CursorsRepo(*args)
        self.analyst_usage = AnalystUsageRepo(*args)
        self.candles = CandlesRepo(*args)
        self.prices = PricesRepo(*args)
        self.scores = ScoresRepo(*args)
        self.scorecard_reports = ScorecardReportsRepo(*args)
        self.history = DecisionHistory(*args)
        self.venue_facts = VenueFactsRepo(*args)
        self.exchange_flows = ExchangeFlowsRepo(*args)
        self.flow_history = FlowHistoryRepo(*args)
        self.limits = LimitsRepo(*args)
        self.kill_switch = KillSwitchRepo(*args)
        self.market_history = MarketHistoryRepo(*args)
        self.backtest_records = BacktestRecordsRepo(*args)
        self.cooldown_clearances = CooldownClearancesRepo(*args)

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False, migrate: bool = True) -> Store:
        """Open (and by default create and migrate) the database at ``path``.

        Anything wrong with the file raises a ``StoreError`` that names it and says what to do.
        """
        path = Path(path).expanduser()
        if path.is_dir():
            raise DatabaseUnusable(
                f"{path}: is a directory, not a database file: set engine.database to a file such as "
                f"{path / 'smt.db'}"
            )
        if readonly and not path.exists():
            raise StoreError(f"{path}: no database here (has the engine been started?)")
        try:
            conn = cls._connect(path, readonly)
        except OSError as exc:
            raise DatabaseUnusable(
                f"{path}: cannot create the database file ({exc.strerror}): set engine.database to a file "
                "path on a writable disk"
            ) from None
        except sqlite3.Error as exc:
            raise database_error(path, exc) from None
        try:
            store = cls(conn, path, readonly)
            store._check_schema(migrate=migrate and not readonly)
            if not readonly:  # only once the file is known to be SMT's (or new): WAL rewrites its header
                store._use_wal()
            if migrate and not readonly:
                store.migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise database_error(path, exc) from None
        except StoreError:
            conn.close()
            raise
        return store

    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                factory=WatchedConnection,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                # Create the file ourselves so it is never world-readable, even for an instant.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, factory=WatchedConnection
            )
        assert isinstance(conn, WatchedConnection)
        conn.db_path = path
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _use_wal(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL journal mode (got {mode})")
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def _check_schema(self, *, migrate: bool) -> None:
        """Refuse a database from a newer SMT or another program (their tables mean something else)."""
        version = self.schema_version()
        if version > LATEST_SCHEMA:
            raise DatabaseUnusable(
                f"{self.path}: schema version {version} is newer than this SMT understands "
                f"({LATEST_SCHEMA}): upgrade SMT to the version that wrote it, or restore a backup made "
                "by this version"
            )
        if version == 0:
            tables = self._foreign_tables()
            if tables:
                # Migrating would write SMT's tables into another program's file.
                raise DatabaseUnusable(
                    f"{self.path}: is another program's SQLite database (tables: {', '.join(tables)}); "
                    "choose another engine.database"
                )
            if not migrate:
                raise DatabaseUnusable(
                    f"{self.path}: an empty SQLite file, not an SMT database yet: run `smt db migrate` or "
                    "start the engine to create it, or choose another engine.database"
                )

    def _foreign_tables(self) -> list[str]:
        """Tables in a file with no SMT schema version: only another program could have made them."""
        rows = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def check(self) -> list[str]:
        """SQLite's full integrity check plus foreign keys; an empty list means the file is sound."""
        with self.lock:
            problems = [
                line.strip()
                for row in self.conn.execute("PRAGMA integrity_check")
                for line in str(row[0]).splitlines()
                if line.strip() and line.strip() != "ok" and not line.startswith("***")
            ]
            for table, rowid, parent, _ in self.conn.execute("PRAGMA foreign_key_check"):
                problems.append(f"{table} row {rowid}: refers to a missing {parent} row")
        return problems

    @property
    def fatal(self) -> StoreError | None:
        """The failure that made the database unusable since it was opened (full disk, damage), if any."""
        return self.conn.fatal if isinstance(self.conn, WatchedConnection) else None

    @staticmethod
    def writable(path: Path | str) -> bool:
        """Whether this process could open ``path`` for writing (the console's read-only test)."""
        p = Path(path)
        return os.access(p, os.W_OK) and os.access(p.parent, os.W_OK)

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def instance_id(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
        return str(row[0]) if row else ""

    def migrate(self) -> list[int]:
        """Apply every migration newer than the recorded version; returns those applied."""
        applied: list[int] = []
        with self.lock:
            for number, description, sql in MIGRATIONS:
                # Take the write lock before reading the version: two processes opening a fresh database
                # must not both see version 0 and both apply the same migration.
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute(
                        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    if number <= self.schema_version():
                        self.conn.execute("COMMIT")
                        continue
                    for statement in _statements(sql):
                        self.conn.execute(statement)
                    self.conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", [str(number)]
                    )
                    self.conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance_id', ?)",
                        [uuid.uuid4().hex],
                    )
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:  # a full disk may have rolled it back already
                        self.conn.execute("ROLLBACK")
                    raise
                log.info("database %s: applied migration %d (%s)", self.path, number, description)
                applied.append(number)
        return applied

    def data_version(self) -> int:
        """Changes whenever another connection commits: the console's cheap change detector."""
        with self.lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def table_changes(self) -> dict[str, int] | None:
        """How many writes each watched table has seen (migration 12's triggers); None on an older file.

        The console compares two readings to re-read only the sections whose tables were written.
        """
        with self.lock:
            try:
                rows = self.conn.execute("SELECT name, changes FROM table_changes").fetchall()
            except sqlite3.OperationalError:
                return None
        return {str(name): int(n) for name, n in rows}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several repository writes into one atomic commit."""
        with self.lock, self.db.atomic():
            yield

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside literals; a trigger body holds several,
    so pieces are joined until SQLite calls the statement complete)."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().removesuffix(";"))
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().removesuffix(";"))
    return statements
