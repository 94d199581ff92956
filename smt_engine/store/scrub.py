"""Re-mask secrets that an older SMT wrote before every stored text passed through redaction.

The codec masks every value on its way in, but rows written by earlier versions stay as they were.
``scrub_secrets`` reads every text value of every table, JSON included, and writes back the ones the
redactor changes, all in one transaction: a scrub is either complete or not applied at all. The old
text must not survive on disk either, so the file is then rebuilt (VACUUM drops free pages that still
hold it) and the write-ahead log emptied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from smt_engine.secrets import redact, redact_obj
from smt_engine.store.db import Store


@dataclass(frozen=True, slots=True)
class ScrubReport:
    changed: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


def _masked(text: str) -> str:
    """``text`` with known secrets masked; JSON is masked value by value, so escaped forms are found too."""
    plain = redact(text)
    if text[:1] in "{[":
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            return plain
        masked = redact_obj(parsed)
        if masked != parsed:
            return json.dumps(masked, sort_keys=True)
    return plain


def _tables(store: Store) -> list[str]:
    rows = store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name"
    ).fetchall()
    return [str(row[0]) for row in rows]


def scrub_secrets(store: Store) -> ScrubReport:
    """Mask every registered secret in every stored text value; returns how many values changed."""
    by_table: dict[str, int] = {}
    with store.lock:
        store.conn.execute("BEGIN IMMEDIATE")
        try:
            for table in _tables(store):
                columns = [str(row[1]) for row in store.conn.execute(f'PRAGMA table_info("{table}")')]
                changed = 0
                for row in store.conn.execute(f'SELECT rowid, * FROM "{table}"').fetchall():
                    updates = {
                        column: masked
                        for column, value in zip(columns, row[1:], strict=True)
                        if isinstance(value, str) and (masked := _masked(value)) != value
                    }
                    if updates:
                        assignments = ", ".join(f'"{column}" = ?' for column in updates)
                        store.conn.execute(
                            f'UPDATE "{table}" SET {assignments} WHERE rowid = ?',  # names from the schema
                            [*updates.values(), row[0]],
                        )
                        changed += len(updates)
                if changed:
                    by_table[table] = changed
            store.conn.execute("COMMIT")
        except BaseException:
            store.conn.execute("ROLLBACK")
            raise
        if by_table:
            store.conn.execute("VACUUM")
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return ScrubReport(sum(by_table.values()), by_table)
