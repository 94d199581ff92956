"""Runs the exchange's websockets beside the engine: a push about an order, a fill or a position wakes
the monitor at once (the REST close path then runs without waiting for its poll), every (re)connect
triggers a REST reconciliation (whatever happened while the stream was away is read back), and the
streams' state is reported through ``StreamReports`` as the ``exchange.stream.private`` /
``exchange.stream.public`` health components (the factory writes them to the store's health rows).

REST stays the source of truth: a push is a reason to look now, and a pushed TP/SL fill is booked only
once the venue's position list confirms the position is gone (``trading.pushed_closes``); a pushed
"position flat" lets the sibling's cancel go out before that read returns. The supervisor hands the
rows to a ``PushInbox`` it is given (the monitor's ``trading.pushed.PushedFills``), so the adapter
never imports the trading code above it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Protocol, TypeVar

from smt_engine.clock import Clock, WallClock
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.exchange.market.plausibility import number_problem
from smt_engine.exchange.market.streamed import StreamPrices
from smt_engine.exchange.weex.handshakes import DEFAULT_HANDSHAKES_PER_WINDOW, HandshakeBudget
from smt_engine.exchange.weex.parsing import leg_kind
from smt_engine.exchange.weex.streams import (
    PRIVATE_CHANNELS,
    Credentials,
    StreamMessage,
    StreamState,
    WeexStream,
)

log = logging.getLogger(__name__)

WAKING_CHANNELS = frozenset({"orders", "fill", "positions"})


class PushInbox(Protocol):
    """Where pushed order and position rows go for the monitor to settle from."""

    def note(self, row: dict[str, Any]) -> bool: ...

    def note_position(self, row: dict[str, Any]) -> None: ...

    def forget_positions(self) -> None: ...


InboxT = TypeVar("InboxT", bound=PushInbox)


@dataclass(frozen=True, slots=True)
class StreamReports:
    """How the supervisor tells the engine about its streams: ``health(component, status, detail, data)``
    for each stream's state, ``event(level, kind, message, data)`` for one-off news (the handshake cap)."""

    health: Callable[[str, HealthStatus, str, dict[str, Any]], None]
    event: Callable[[EventLevel, str, str, dict[str, Any]], None]


class StreamSupervisor(Generic[InboxT]):
    """Owns the private and/or public stream and translates their news for the engine."""

    def __init__(
        self,
        clock: Clock,
        *,
        reports: StreamReports,
        pushed: InboxT,
        ws_url: str,
        credentials: Credentials | None,
        symbols: list[str],
        heartbeat: float,
        backoff_max: float,
        note_leg: Callable[[str, str], None] | None = None,
        prices: StreamPrices | None = None,
        server_offset: Callable[[], timedelta] | None = None,
        handshakes_per_window: int = DEFAULT_HANDSHAKES_PER_WINDOW,
    ) -> None:
        self.clock = clock
        self._reports = reports
        self.wake = asyncio.Event()
        self.prices = prices or StreamPrices()
        self.pushed = pushed
        """TP/SL fills and positions pushed on the private stream, for the monitor."""
        self._refusing: set[str] = set()
        self._note_leg = note_leg
        self._server_offset = server_offset
        self.streams: list[WeexStream] = []
        # One handshake budget for both streams: WEEX counts connection requests per IP.
        self.handshakes = HandshakeBudget.on_clock(clock, handshakes_per_window, on_bind=self._cap_binds)
        timing: dict[str, Any] = {"heartbeat": heartbeat, "backoff_max": backoff_max}
        timing["handshakes"] = self.handshakes
        if not isinstance(clock, WallClock):  # keep-alive and back-off on the engine's clock
            timing["sleep"] = clock.sleep
            timing["monotonic"] = lambda: clock.now().timestamp()
        if credentials is not None:
            self.streams.append(
                WeexStream(
                    ws_url,
                    list(PRIVATE_CHANNELS),
                    credentials=credentials,
                    on_message=self._on_private,
                    on_state=self._state_reporter("exchange.stream.private"),
                    on_connected=self._on_connected,
                    **timing,
                )
            )
        if symbols:
            self.streams.append(
                WeexStream(
                    ws_url,
                    [f"{s}@ticker" for s in symbols],
                    on_message=self._on_public,
                    on_state=self._state_reporter("exchange.stream.public"),
                    **timing,
                )
            )

    def _cap_binds(self, name: str, wait: float) -> None:
        """The handshake cap is a WARNING: the stream stays down until a slot frees (REST still polls)."""
        self._reports.event(
            EventLevel.WARNING,
            "stream.handshake_cap",
            f"{name}: {self.handshakes.limit} websocket handshakes in 5 minutes (the cap, well under WEEX's "
            f"300 per IP); the next waits {wait:.0f} s. REST polling keeps protecting positions.",
            {"stream": name, "limit": self.handshakes.limit, "wait_s": round(wait, 1)},
        )

    @property
    def private_down(self) -> bool:
        """A private stream exists and is down: no push will wake the monitor, so it polls faster."""
        return any(s.private and not s.state.up for s in self.streams)

    async def run(self) -> None:
        await asyncio.gather(*(s.run() for s in self.streams))

    async def stop(self) -> None:
        for stream in self.streams:
            await stream.stop()

    async def _on_connected(self) -> None:
        # Anything pushed while we were away is lost: reconcile over REST now.
        self.pushed.forget_positions()
        self.wake.set()

    async def _on_private(self, message: StreamMessage) -> None:
        if message.channel == "orders":
            for row in message.rows:
                if (
                    self._note_leg is not None
                    and leg_kind(row) is not None
                    and row.get("id")
                    and row.get("symbol")
                ):
                    self._note_leg(str(row["id"]), str(row["symbol"]))
                self.pushed.note(row)  # a filled TP/SL: the monitor settles it from the push
        elif message.channel == "positions":
            for row in message.rows:
                self.pushed.note_position(row)
        if message.channel in WAKING_CHANNELS:
            log.debug("stream push %s: waking the monitor", message.channel)
            self.wake.set()

    async def _on_public(self, message: StreamMessage) -> None:
        if message.channel != "ticker" or message.symbol is None or not message.rows:
            return
        row = message.rows[0]
        try:
            last = Decimal(str(row["c"]))
            mark = Decimal(str(row.get("m") or row["c"]))
        except (KeyError, TypeError, InvalidOperation) as exc:
            log.warning("ticker push for %s unreadable (%s); skipped", message.symbol, exc)
            return
        problem = number_problem(last) or number_problem(mark)
        if problem is not None:
            # NaN or Infinity (JSON allows neither, Python's parser both) or a price <= 0 is no price:
            # recorded once per run of them, and the pushed price forgotten so REST answers meanwhile.
            if message.symbol not in self._refusing:
                self._refusing.add(message.symbol)
                log.warning(
                    "%s: pushed ticker refused (last %s, mark %s: %s); prices come from REST until a good "
                    "push",
                    message.symbol,
                    last,
                    mark,
                    problem,
                    extra={
                        "event": "price.implausible",
                        "data": {
                            "pair": message.symbol,
                            "price": str(last),
                            "reference": None,
                            "reason": problem,
                        },
                    },
                )
            self.prices.forget(message.symbol)
            return
        self._refusing.discard(message.symbol)
        arrived = self.clock.now()
        self.prices.update(message.symbol, last, mark, self._host_time(message.at, arrived), arrived)

    def _host_time(self, venue_at: datetime | None, arrived: datetime) -> datetime:
        """The push's own time on this host's clock (the venue's stamp less the measured server offset),
        so a host a few seconds off WEEX does not make every push look old; a frame with no stamp is
        as old as its arrival says."""
        if venue_at is None:
            return arrived
        return venue_at - (self._server_offset() if self._server_offset is not None else timedelta(0))

    def _state_reporter(self, component: str) -> Callable[[StreamState], None]:
        was_up = False

        def report(state: StreamState) -> None:
            nonlocal was_up
            if component == "exchange.stream.private" and was_up and not state.up:
                # No push comes while it is down: look now, and the monitor's next wait is the shorter
                # stream-down period (engine.monitor_interval_stream_down).
                self.wake.set()
            was_up = state.up
            if state.up:
                status = HealthStatus.OK
            elif state.auth_refused:
                status = HealthStatus.DOWN
            else:
                status = HealthStatus.WARN  # REST polling still protects every position
            detail = state.detail if state.up else f"down: {state.detail} (REST polling only)"
            self._reports.health(component, status, detail, state.as_data())

        return report


__all__ = ["PushInbox", "StreamReports", "StreamSupervisor"]
