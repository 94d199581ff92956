"""The one shape every scored call takes (an analysis, a whale signal, a flow, a proposal).

Its own module so that each kind's reader (``scoring``, ``flow_subjects``) builds subjects without
importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """What every scored thing has in common."""

    kind: str
    id: int
    pair: str
    symbol: str
    tier: str
    analyst: str
    model: str
    direction: str
    confidence: float
    signal_agrees: str
    decided_at: datetime
    cycle_id: str | None
    state: str | None = None
