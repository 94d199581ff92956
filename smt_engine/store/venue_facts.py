"""Facts the exchange client learned from the venue and must not forget on restart.

Example: which of WEEX's two AI-log paths answered (``ai_log_path``), so a restart does not pay a 404
first and, worse, never flips back to a path that was already found missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row


@dataclass(slots=True, kw_only=True)
class VenueFact:
    """One ``venue_facts`` row: ``key`` is namespaced by venue, e.g. ``weex.ai_log_path``."""

    key: str
    value: str
    learned_at: datetime


class VenueFactsRepo(Repo[VenueFact]):
    table = "venue_facts"
    record = VenueFact
    pk = "key"

    def value(self, key: str) -> str | None:
        row = self.get(key)
        return row.value if row is not None else None

    def remember(self, key: str, value: str, at: datetime) -> None:
        self.write_row(to_row(VenueFact(key=key, value=value, learned_at=at)), "INSERT OR REPLACE")
