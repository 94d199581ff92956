"""The interactive demo's clock: fast while nothing waits for the operator, real time while a proposal waits.

At 60x a 20-minute proposal lives 20 real seconds and the price drifts past the approval limit before a
human has read it. So the demo engine slows its clock to real time whenever a proposal waits (the
proposal's 20 demo minutes become 20 real minutes, its drift moves at the market's real pace) and speeds
up again once it is decided. The engine process owns the pace and writes each change to a small JSON file
beside the database; the console follows that file, so both always agree on "now".
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from smt_engine.store import Store
from smt_engine.store.codec import parse_ts, ts

MAX_NAP = 0.5
"""A sleeper re-reads the pace at least this often (real seconds), so a pace change is felt at once."""
PACE_CHECK = 0.25
"""How often (real seconds) the demo engine looks for waiting proposals."""
REAL_TIME = 1.0


def pace_file(db: Path) -> Path:
    return db.with_name(db.name + ".pace")


@dataclass(frozen=True, slots=True)
class Anchor:
    """Demo time ``sim`` was real (Unix) time ``real``; from there it runs at ``factor``."""

    sim: datetime
    real: float
    factor: float

    def now(self, real: float) -> datetime:
        return self.sim + timedelta(seconds=(real - self.real) * self.factor)

    def dumps(self) -> str:
        return json.dumps({"sim": ts(self.sim), "real": self.real, "factor": self.factor})

    @classmethod
    def loads(cls, text: str) -> Anchor:
        data = json.loads(text)
        return cls(parse_ts(data["sim"]), float(data["real"]), float(data["factor"]))


class PacedClock:
    """The demo engine's clock. ``set_factor`` changes the pace from now on, without a jump in time."""

    def __init__(self, path: Path, factor: float, start: datetime, real_start: float) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.path = path
        self._anchor = Anchor(start, real_start, factor)
        self._write()

    @property
    def factor(self) -> float:
        return self._anchor.factor

    def now(self) -> datetime:
        return self._anchor.now(time.time())

    def set_factor(self, factor: float) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        if factor == self._anchor.factor:
            return
        real = time.time()
        self._anchor = Anchor(self._anchor.now(real), real, factor)
        self._write()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of demo time, at whatever pace it runs meanwhile."""
        target = self.now() + timedelta(seconds=max(0.0, seconds))
        while True:
            left = (target - self.now()).total_seconds()
            if left <= 0:
                await asyncio.sleep(0)
                return
            await asyncio.sleep(min(left / self._anchor.factor, MAX_NAP))

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self._anchor.dumps())
        os.replace(tmp, self.path)


class FollowedClock:
    """The console's view of the demo clock: re-reads the engine's pace file whenever it changes."""

    def __init__(self, path: Path, fallback: Anchor) -> None:
        self.path = path
        self._anchor = fallback
        self._mtime: int | None = None

    def now(self) -> datetime:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            mtime = None
        if mtime is not None and mtime != self._mtime:
            try:
                self._anchor = Anchor.loads(self.path.read_text())
                self._mtime = mtime
            except (OSError, ValueError, KeyError):
                pass  # caught mid-replace: keep the last pace, read again on the next call
        return self._anchor.now(time.time())


async def pace_by_waiting_proposals(clock: PacedClock, store: Store, fast: float) -> None:
    """Real time while a proposal waits for the operator, ``fast`` otherwise. Runs until cancelled."""
    while True:
        waiting = store.proposals.pending_count()
        clock.set_factor(REAL_TIME if waiting else fast)
        await asyncio.sleep(PACE_CHECK)
