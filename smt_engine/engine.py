"""The engine daemon: independent tasks for the signal cycle, the monitor, operator commands, AI-log
uploads and the heartbeat.

The slow signal cycle never delays the monitor: they are separate tasks, and only the short
critical sections that touch positions (execution, monitor tick, operator commands) share one lock.
The next cycle time is persisted, so a restart does not trade again before its time, and never two
cycles within ``min_cycle_gap``. Entries are refused until the start-up reconciliation (which also
finishes every order and proposal a previous run left in flight) succeeded. Stopping waits for the
shielded work in flight (an entry and its TP/SL, a close), bounded by ``engine.shutdown_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from smt_engine.clock import Clock
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import CommandResult
from smt_engine.config import Settings
from smt_engine.domain import CommandKind, EngineState, EventLevel
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.logsetup import EventsHandler
from smt_engine.reload import Rebuilder
from smt_engine.sdnotify import SdNotify
from smt_engine.store import Store
from smt_engine.store.identity import DatabaseIdentity
from smt_engine.store.records import Command, EngineStatus
from smt_engine.trading.limits import LimitsPublisher
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.pushed import PushedFills
from smt_engine.trading.risk import ReasonCode
from smt_engine.trading.shielded import ShieldedWork

log = logging.getLogger(__name__)


class CycleRunner(Protocol):
    async def run_cycle(self, trigger: str) -> str:
        """Run one signal cycle; returns its id. Failures inside steps are recorded, not raised."""
        ...


class Housekeeping(Protocol):
    """Periodic work the monitor task does besides reconciliation (e.g. expiring proposals)."""

    async def __call__(self, now: datetime) -> None: ...


class Uploader(Protocol):
    async def run_once(self) -> object: ...


class Notifications(Protocol):
    """The operator-notification task (smt_engine.notify.Notifier): runs beside trading, never inside it."""

    async def run(self) -> None: ...

    async def flush(self, grace: timedelta) -> None: ...


class Commands(Protocol):
    """The command service (``smt_engine.commands.service``): every operator command's handler."""

    async def execute(self, command: Command) -> CommandResult: ...


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        monitor: Monitor,
        cycle: CycleRunner,
        *,
        housekeeping: Housekeeping | None = None,
        uploader: Uploader | None = None,
        notify: SdNotify | None = None,
        config_path: Path | None = None,
        notifier: Notifications | None = None,
        streams: StreamSupervisor[PushedFills] | None = None,
        rebuild: Rebuilder | None = None,
    ) -> None:
        self.settings = settings
        self.streams = streams
        self.store = store
        self.clock = clock
        self.monitor = monitor
        self.cycle = cycle
        self.housekeeping = housekeeping
        self.uploader = uploader
        self.notify = notify or SdNotify()
        self._identity: DatabaseIdentity | None = None
        self.notifier = notifier
        self.config_path = config_path
        self.rebuild = rebuild
        self.work = ShieldedWork()
        monitor.on_halt = self.halt
        if streams is not None:
            monitor.pushed = streams.pushed
        self.lock = asyncio.Lock()
        self.stop_event = asyncio.Event()
        self.cycle_requested = asyncio.Event()
        self.state = EngineState.STARTING
        self.reconciled = False
        self._cycle_task: asyncio.Task[str] | None = None
        self.commands: Commands | None = (
            None  # the command service; ``runtime`` sets it (it needs this engine)
        )
        self.limits = LimitsPublisher(settings, store, clock, monitor.exchange.last_price)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run until ``stop()`` (or SIGTERM/SIGINT when installed)."""
        events = EventsHandler(self.store, self.clock)
        logging.getLogger().addHandler(events)
        package = logging.getLogger("smt_engine")
        if package.getEffectiveLevel() > logging.INFO:
            package.setLevel(logging.INFO)  # the events table always gets INFO; stderr keeps its own level
        try:
            await self._run()
        finally:
            logging.getLogger().removeHandler(events)

    async def _run(self) -> None:
        self._start_row()
        failed = self.store.commands.requeue_running()
        if failed:
            log.warning("%d command(s) left running by a previous engine were failed, not re-run", failed)
        self._identity = DatabaseIdentity.watch(self.store.path)
        tasks = [asyncio.create_task(self._heartbeat_loop(), name="heartbeat")]
        if self.notifier is not None:
            # Started before reconciliation, so an engine stuck reconciling still tells the operator.
            tasks.append(asyncio.create_task(self.notifier.run(), name="notifier"))
        try:
            await self._reconcile_until_ok()
            if self.stop_event.is_set():
                return
            self.set_state(
                EngineState.RUNNING if self.state is not EngineState.HALTED else EngineState.HALTED
            )
            self.notify.ready(self._status_text())
            log.info("engine running (%s mode)", self.settings.engine.mode, extra={"event": "engine.running"})
            tasks += [
                asyncio.create_task(self._cycle_loop(), name="cycle"),
                asyncio.create_task(self._monitor_loop(), name="monitor"),
                asyncio.create_task(self._command_loop(), name="commands"),
                asyncio.create_task(self._limits_loop(), name="limits"),
            ]
            if self.uploader is not None:
                tasks.append(asyncio.create_task(self._upload_loop(), name="ailog"))
            if self.streams is not None:
                tasks.append(asyncio.create_task(self.streams.run(), name="streams"))
            stopper = asyncio.create_task(self.stop_event.wait(), name="stop")
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            self.notify.stopping()
            await self._shutdown(tasks)
            if self.notifier is not None:
                await self.notifier.flush(self.settings.notify.timeout)
            if self._identity is not None:
                self._identity.close()

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        # systemctl reload: queue a reload like an operator would, so it is audited and serialised.
        loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)

    def _on_reload_signal(self) -> None:
        self.store.commands.enqueue(CommandKind.RELOAD_CONFIG, self.clock.now(), "signal:SIGHUP")

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s: stopping cleanly", sig.name, extra={"event": "engine.signal"})
        self.stop()

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        # Cancelling the cycle loop cancels the cycle it awaits. Order placement is shielded, so this
        # abandons analysis, never an order.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.work.pending:
            timeout = self.settings.engine.shutdown_timeout.total_seconds()
            log.info(
                "stopping: waiting up to %.0f s for %d order operation(s) in flight",
                timeout,
                self.work.pending,
                extra={"event": "engine.draining"},
            )
            left = await self.work.drain(timeout)
            if left:
                log.critical(
                    "stopped with %d order operation(s) still in flight; the next start reconciles them",
                    left,
                    extra={"event": "engine.drain_timeout"},
                )
        self.set_state(EngineState.STOPPED, reason="stopped")
        log.info("engine stopped", extra={"event": "engine.stopped"})

    def _start_row(self) -> None:
        previous = self.store.engine.current()
        now = self.clock.now()
        next_cycle = self._first_cycle_time(previous, now)
        self.store.engine.put(
            EngineStatus(
                mode=self.settings.engine.mode,
                state=EngineState.STARTING,
                pid=os.getpid(),
                host=socket.gethostname(),
                started_at=now,
                heartbeat_at=now,
                next_cycle_at=next_cycle,
                last_cycle_at=previous.last_cycle_at if previous else None,
                approval=self.settings.engine.approval.value,
                heartbeat_s=self.settings.engine.heartbeat_interval.total_seconds(),
                state_reason="halted before restart"
                if previous and previous.state is EngineState.HALTED
                else None,
            )
        )
        if previous is not None and previous.state is EngineState.HALTED:
            # A kill switch survives restarts: an operator must resume.
            self.state = EngineState.HALTED
        if previous is not None and previous.state is not EngineState.STOPPED:
            self.store.events.append(
                now,
                EventLevel.WARNING,
                "engine.crash_restart",
                f"the previous engine (pid {previous.pid}) ended without stopping cleanly "
                f"(last state {previous.state.value}); reconciling what it left in flight",
                data={"previous_pid": previous.pid, "previous_state": previous.state.value},
            )
        log.info(
            "engine starting (pid %d, %s mode, approval %s); next cycle at %s",
            os.getpid(),
            self.settings.engine.mode,
            self.settings.engine.approval,
            next_cycle.isoformat(),
            extra={"event": "engine.starting"},
        )

    def _first_cycle_time(self, previous: EngineStatus | None, now: datetime) -> datetime:
        """No cycle on restart unless one is overdue, and never two within ``min_cycle_gap``."""
        earliest = now
        if previous is not None and previous.last_cycle_at is not None:
            earliest = max(now, previous.last_cycle_at + self.settings.engine.min_cycle_gap)
        if previous is not None and previous.next_cycle_at is not None:
            return max(previous.next_cycle_at, earliest)
        return earliest

    def set_state(self, state: EngineState, reason: str | None = None) -> None:
        """The state, its reason in the database and the systemd status (also for pause and resume)."""
        self.state = state
        self.store.engine.set(state=state, state_reason=reason)
        self.notify.status(self._status_text())

    def _status_text(self) -> str:
        status = self.store.engine.current()
        nxt = status.next_cycle_at.strftime("%H:%M UTC") if status and status.next_cycle_at else "?"
        return f"{self.state.value}, {len(self.store.positions.open_positions())} open, next cycle {nxt}"

    # ------------------------------------------------------------------ start-up reconciliation

    async def _reconcile_until_ok(self) -> None:
        self.set_state(
            EngineState.RECONCILING if self.state is not EngineState.HALTED else EngineState.HALTED
        )
        delay = 5.0
        while not self.stop_event.is_set():
            async with self.lock:
                report = await self.monitor.tick(startup=True)
            if report.ok:
                self.reconciled = True
                log.info(
                    "start-up reconciliation done: %d adopted, %d closed, %d orphan order(s) flagged",
                    len(report.adopted),
                    len(report.closed),
                    len(report.orphans_flagged),
                    extra={"event": "engine.reconciled"},
                )
                return
            self.store.engine.set(last_error=report.error)
            log.error(
                "start-up reconciliation failed (%s); no entries until it succeeds, retrying in %.0f s",
                report.error,
                delay,
                extra={"event": "engine.reconcile_failed"},
            )
            await self._sleep_or_stop(delay)
            delay = min(delay * 2, 120.0)

    # ------------------------------------------------------------------ tasks

    async def _sleep_or_stop(self, seconds: float) -> None:
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        stopper = asyncio.create_task(self.stop_event.wait())
        await asyncio.wait([sleeper, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in (sleeper, stopper):
            t.cancel()

    async def _heartbeat_loop(self) -> None:
        interval = self.settings.engine.heartbeat_interval.total_seconds()
        if self.notify.watchdog_interval:
            interval = min(interval, self.notify.watchdog_interval)
        while True:
            if self.store.fatal is not None:  # full disk or damaged file: stop, nothing would be recorded
                raise self.store.fatal
            if self._identity is not None:
                self._identity.ensure()  # deleted or replaced under us: CRITICAL event, then exit 4
            self.store.engine.set(heartbeat_at=self.clock.now())
            self.notify.watchdog()
            await self.clock.sleep(interval)

    async def _cycle_loop(self) -> None:
        while True:
            status = self.store.engine.current()
            due = status.next_cycle_at if status and status.next_cycle_at else self.clock.now()
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0 and not self.cycle_requested.is_set():
                sleeper = asyncio.create_task(self.clock.sleep(min(wait, 60.0)))
                waker = asyncio.create_task(self.cycle_requested.wait())
                await asyncio.wait([sleeper, waker], return_when=asyncio.FIRST_COMPLETED)
                sleeper.cancel()
                waker.cancel()
                if not self.cycle_requested.is_set():
                    continue
            trigger = "operator" if self.cycle_requested.is_set() else "schedule"
            self.cycle_requested.clear()
            await self._one_cycle(trigger)

    async def _one_cycle(self, trigger: str) -> None:
        started = self.clock.now()
        # Persist the next due time before running, so a crash mid-cycle cannot cause an immediate re-run.
        self.store.engine.set(
            last_cycle_at=started,
            next_cycle_at=started + self.settings.engine.signal_interval,
        )
        self._cycle_task = asyncio.create_task(self.cycle.run_cycle(trigger))
        try:
            cycle_id = await self._cycle_task
            log.info("cycle %s finished (%s)", cycle_id, trigger, extra={"event": "cycle.finished"})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a cycle must never take the engine down
            self.store.engine.set(last_error=f"cycle failed: {exc}")
            log.exception("signal cycle failed", extra={"event": "cycle.failed"})
        finally:
            self._cycle_task = None
        self.notify.status(self._status_text())

    async def _monitor_loop(self) -> None:
        while True:
            await self._monitor_wait(self._monitor_period())
            try:
                report = await self.work.run(self._tick())
                if not report.ok:
                    self.store.engine.set(last_error=report.error)
            except Exception:
                log.exception("monitor tick failed", extra={"event": "monitor.failed"})

    def _monitor_period(self) -> float:
        """The poll period: shorter while the private stream is down, as no push wakes the monitor then
        (docs/configuration.md, ``monitor_interval_stream_down``), and after a tick that stopped with a
        close the stream pushed still unconfirmed (``Monitor.recheck_soon``)."""
        engine = self.settings.engine
        if (self.streams is not None and self.streams.private_down) or self.monitor.recheck_soon:
            return min(engine.monitor_interval, engine.monitor_interval_stream_down).total_seconds()
        return engine.monitor_interval.total_seconds()

    async def _monitor_wait(self, seconds: float) -> None:
        """Until the next poll, or sooner when a stream push (or a reconnect) says to look now."""
        wake = self.streams.wake if self.streams is not None else None
        if wake is None:
            await self.clock.sleep(seconds)
            return
        if not wake.is_set():
            sleeper = asyncio.create_task(self.clock.sleep(seconds))
            waker = asyncio.create_task(wake.wait())
            await asyncio.wait([sleeper, waker], return_when=asyncio.FIRST_COMPLETED)
            for t in (sleeper, waker):
                t.cancel()
        wake.clear()

    async def _limits_loop(self) -> None:
        """Publish the limits enforced now (console and `smt status` show these, never their own)."""
        while True:
            try:
                await self.limits.publish(self.state)
            except Exception:
                log.exception("publishing limits failed", extra={"event": "limits.failed"})
            await self.clock.sleep(self.limits.interval())

    async def _tick(self) -> Any:
        async with self.lock:
            report = await self.monitor.tick()
            if self.housekeeping is not None:
                await self.housekeeping(self.clock.now())
        return report

    async def _command_loop(self) -> None:
        interval = self.settings.engine.command_poll_interval.total_seconds()
        while True:
            command = self.store.commands.claim_next(self.clock.now())
            if command is None:
                await self.clock.sleep(interval)
                continue
            # Shielded: a manual approval's entry and its TP/SL finish even if the engine stops now.
            await self.work.run(self.handle(command))

    async def handle(self, command: Command) -> None:
        """Run one claimed command and write its result back."""
        assert command.id is not None
        try:
            if self.commands is None:
                raise CommandRejected(f"{command.kind} is not available in this engine")
            async with self.lock:
                result = await self.commands.execute(command)
        except (CommandRejected, ValueError, KeyError) as exc:
            self.store.commands.fail(command.id, self.clock.now(), str(exc).strip("'\""))
            log.warning(
                "command %s %s failed: %s", command.id, command.kind, exc, extra={"event": "command.failed"}
            )
            return
        except Exception as exc:
            self.store.commands.fail(command.id, self.clock.now(), f"{type(exc).__name__}: {exc}")
            log.exception(
                "command %s %s crashed", command.id, command.kind, extra={"event": "command.failed"}
            )
            return
        row = result.to_row()
        self.store.commands.complete(command.id, self.clock.now(), row)
        log.info(
            "command %s %s by %s: done %s",
            command.id,
            command.kind,
            command.actor,
            row,
            extra={"event": "command.done"},
        )

    async def _upload_loop(self) -> None:
        assert self.uploader is not None
        while True:
            try:
                await self.uploader.run_once()
            except Exception:
                log.exception("AI-log upload pass failed", extra={"event": "ailog.failed"})
            await self.clock.sleep(15)

    # ------------------------------------------------------------------ what commands steer

    def cycle_running(self) -> bool:
        return self._cycle_task is not None and not self._cycle_task.done()

    def request_cycle(self) -> None:
        """Wake the cycle loop to run a cycle now (an operator's ``run_cycle``)."""
        self.cycle_requested.set()

    # ------------------------------------------------------------------ kill switch

    def halt(self, reason: str, code: ReasonCode) -> None:
        """Daily loss or drawdown limit hit: refuse entries until an operator resumes (closes go on)."""
        if self.state is not EngineState.HALTED:
            self.set_state(EngineState.HALTED, reason=reason)
            log.critical(
                "engine HALTED: %s; entries refused until resumed",
                reason,
                extra={"event": "engine.halted", "data": {"reason_code": code.value, "reason": reason}},
            )
