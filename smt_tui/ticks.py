"""Whether the once-a-second tick has anything to draw.

Countdowns show minutes, and seconds only in their last two minutes, so most ticks are a comparison and
nothing else: a tick draws when the minute, the engine's liveness, the snapshot or the screen changed
since the time figures were last drawn, or when some figure on screen counts seconds. Measured in
docs/benchmarks.md (console idle CPU).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from smt_tui.state import Liveness, Snapshot

DRAWN_RECENTLY = 1.9
"""Real seconds after a snapshot drew the time figures during which a tick leaves them as they are."""

SECONDS_SHOWN = timedelta(seconds=125)
"""Countdowns show seconds below two minutes (fmt.countdown); a little margin for the tick's jitter."""


class TickGate:
    """The moment the time figures were last drawn from, and when: the tick compares, then draws."""

    def __init__(self, stale_after: timedelta) -> None:
        self._stale_after = stale_after
        self._last_moment: tuple[object, ...] | None = None
        self._drawn_at = 0.0

    def moment(self, snap: Snapshot, now: datetime, screen: type) -> tuple[object, ...]:
        """What the time figures on screen are drawn from, at the minute (countdowns show minutes)."""
        live = snap.engine.liveness(now, self._stale_after)
        return (now.replace(second=0, microsecond=0), live, id(snap), screen)

    def snapshot_drawn(self, snap: Snapshot, now: datetime, screen: type) -> None:
        """A snapshot drew every time figure: the ticks of this minute have nothing left to draw (unless
        a figure counts seconds)."""
        self.drawn()
        self._last_moment = self.moment(snap, now, screen)

    def drawn(self) -> None:
        self._drawn_at = time.monotonic()

    def due(self, snap: Snapshot, now: datetime, screen: type) -> bool:
        """Whether this tick draws; when it does, its moment counts as drawn."""
        moment = self.moment(snap, now, screen)
        seconds = seconds_matter(snap, now, snap.engine.liveness(now, self._stale_after))
        if moment == self._last_moment and not seconds:
            return False
        if not seconds and time.monotonic() - self._drawn_at < DRAWN_RECENTLY:
            # A snapshot drew every time figure a moment ago (the demo clock at 60x moves a minute a
            # second, and the engine's writes arrive about as often): this tick would draw it again.
            return False
        self._last_moment = moment
        return True


def seconds_matter(snap: Snapshot, now: datetime, live: Liveness) -> bool:
    """Whether some figure on screen counts seconds right now."""
    if live is not Liveness.ALIVE:
        age = snap.engine.heartbeat_age(now)
        return age is None or age < SECONDS_SHOWN  # the heartbeat's age is shown
    ends = [v.proposal.expires_at for v in snap.waiting if v.proposal.expires_at is not None]
    max_hold = snap.max_hold()
    if max_hold is not None:
        ends += [p.opened_at + max_hold for p in snap.positions]
    status = snap.engine.status
    if status is not None and status.next_cycle_at is not None:
        ends.append(status.next_cycle_at)
    return any(timedelta(0) - SECONDS_SHOWN < end - now < SECONDS_SHOWN for end in ends)
