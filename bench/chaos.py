"""Chaos: SIGKILL the real engine at random moments and check the books after every restart.

The engine runs as a subprocess (``smt engine``, live mode) against the fake WEEX (REST and its
websockets) and fake Gemini in their own long-lived process (bench/fake_venues.py), so exchange state
outlives each engine; about half the trials also cut the websockets or push unreadable frames. The
engine's configuration is checked to reach only 127.0.0.1 before it starts (``loopback``). Every
trial restarts the engine, checks the state it reconciled, then starts work (a signal cycle's entries,
a stripped stop to re-place, an operator close, an orphan to cancel, or a held symbol's price taken
through its stop or take-profit, while the engine runs or once it is killed), widens that window with
the fake's per-endpoint latency, and kills the engine with SIGKILL at a random moment; in a fifth of
the other windows a price also crosses a leg. Every random choice comes from the seed. Checks (all
must be zero, read from the fake venue's own books and the database): see ``chaos_checks.CHECKS``.

``--soak MINUTES`` instead runs one engine for that long with about 20 % of WEEX and Gemini requests
failing in every way the fakes can fail (429, 5xx, hangs, malformed bodies, connections dropped after
acceptance), a cycle every few seconds, then lifts the faults and checks the same books, the limits and
the log (no traceback).

Run: python bench/chaos.py [--trials 200] [--soak 20] [--json [FILE]]   (default bench/results/chaos.json)
SIGTERM ends a kill-trial run after the trial under way; the trials done are checked and reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos_checks import (
    CHECKS,
    Tally,
    Truth,
    books_contradict_venue,
    by_venue_id,
    double_fills,
    duplicate_rows,
    filled_entries_of_failed_proposals,
    keyed,
    legs_of_closed_positions,
    mismatches,
    orphan_legs,
    phantom_refusals,
    stops_missing,
    stuck_orders,
    stuck_proposals,
    summary,
)
from chaos_procs import MAX_OPEN, ROOT, TICK_S, Engine, Venues, write_config
from provenance import stamped  # bench/ is on the path when a bench runs

from smt_engine.clock import WallClock
from smt_engine.domain import (
    CommandKind,
    CommandState,
    EngineState,
    OrderKind,
    OrderState,
    PositionState,
    Side,
)
from smt_engine.exchange.base import AlgoOrder, ExchangeError, ExchangePosition
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store, StoreError

RESULTS = ROOT / "bench" / "results" / "chaos.json"
WINDOWS = {
    "entry": "/capi/v3/order",
    "tp_sl": "/capi/v3/placeTpSlOrder",
    "close": "/capi/v3/closePositions",
    "orphan_cancel": "/capi/v3/algoOrder",
    # A stop or take-profit fires; the engine settles the position and cancels the sibling leg (an
    # attached take-profit is cancelled through /order).
    "price": "/capi/v3/order",
}
MOVED_ANYWAY = 0.2
"""Share of the other windows in which a held symbol's price also crosses one of its legs."""


class Bench:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.venues = Venues(seed, workdir / "venues.log")
        self.config = write_config(workdir, self.venues)
        self.db = workdir / "chaos.db"
        self.engine = Engine(self.config, self.venues, workdir / "engine.log")
        self.client = WeexClient(
            api_key=self.venues.info["api_key"],
            api_secret=self.venues.info["secret"],
            passphrase=self.venues.info["passphrase"],
            base_url=self.venues.info["weex"],
            clock=WallClock(),
            read_retries=3,
            backoff=0.05,
        )
        self.tally = Tally()
        self.windows: dict[str, int] = dict.fromkeys(WINDOWS, 0)
        self.kills_in_flight: dict[str, int] = dict.fromkeys(WINDOWS, 0)
        self.seen_proposal = 0
        self.stream_faults = {"drops": 0, "bad_frames": 0}
        self.price_moves = {"sl": 0, "tp": 0, "while_engine_down": 0}

    # ------------------------------------------------------------------ venue reads

    async def venue(self) -> tuple[list[ExchangePosition], list[AlgoOrder]]:
        for _ in range(10):
            try:
                return await self.client.positions(), await self.client.open_algo_orders()
            except ExchangeError:
                await asyncio.sleep(0.2)
        raise RuntimeError("the fake venue cannot be read")

    def truth(self) -> Truth:
        """The venue's open orders and positions from its own books (attached take-profits included)."""
        return Truth.parse(self.venues.send(cmd="orders"))

    def store(self) -> Store:
        return Store.open(self.db)

    async def wait_running(self, pid: int, limit_s: float = 90.0) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.db.exists():
                # Read-only, retried: the engine may still be creating and migrating the file.
                try:
                    store = Store.open(self.db, readonly=True)
                    try:
                        row = store.engine.current()
                    finally:
                        store.close()
                except (StoreError, sqlite3.Error):
                    await asyncio.sleep(0.1)
                    continue
                busy = (EngineState.STARTING, EngineState.RECONCILING)
                if row is not None and row.pid == pid and row.state not in busy:
                    return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"engine pid {pid} did not finish start-up reconciliation in {limit_s} s")

    # ------------------------------------------------------------------ checks

    async def check_after_restart(self, before: datetime | None = None) -> None:
        """``before``: orders and proposals created earlier must be finished (default: the engine's start)."""
        await asyncio.sleep(TICK_S * 1.5)  # one monitor tick after reconciliation
        truth = self.truth()
        store = self.store()
        try:
            rows = store.orders.select(order_by="id")
            open_ids = {(p.symbol, p.side): p.id or 0 for p in store.positions.open_positions()}
            self.tally.add(
                "positions_without_stop", stops_missing(truth.held, truth.legs, by_venue_id(rows), open_ids)
            )
        finally:
            store.close()
        await asyncio.sleep(TICK_S * 2)  # three ticks in all
        positions, _ = await self.venue()
        truth = self.truth()
        store = self.store()
        try:
            row = store.engine.current()
            assert row is not None
            assert row.started_at is not None
            before = before or row.started_at
            rows = store.orders.select(order_by="id")
            books = {p.id or 0: p for p in store.positions.select()}
            resting = {o.order_id for o in truth.orders}
            self.tally.add("tp_sl_left_for_closed_positions", orphan_legs(truth.held, truth.legs))
            self.tally.add(
                "legs_of_closed_positions",
                legs_of_closed_positions(truth.held, truth.legs, by_venue_id(rows), books),
            )
            self.tally.add("books_contradict_venue", books_contradict_venue(rows, truth.orders))
            self.tally.add("duplicate_rows_per_venue_order", duplicate_rows(rows))
            self.tally.add("position_mismatches", mismatches(store, positions))
            self.tally.add("stuck_orders", stuck_orders(store, resting, before))
            self.tally.add("stuck_proposals", stuck_proposals(store, before))
            self.tally.add("double_filled_entries", double_fills(store))
            states = {p.id or 0: p.state for p in store.proposals.select()}
            lost = filled_entries_of_failed_proposals(rows, states)
            self.tally.add("filled_entries_of_failed_proposals", lost)
        finally:
            store.close()
        dups = self.venues.send(cmd="stats")["duplicates"]  # cumulative: the latest answer is the count
        self.tally.counts["duplicate_client_ids"] = 0
        self.tally.examples.pop("duplicate_client_ids", None)
        self.tally.add("duplicate_client_ids", [f"{cid} x{n}" for cid, n in dups.items()])

    def integrity(self) -> None:
        store = self.store()
        try:
            problems = store.check()
        finally:
            store.close()
        self.tally.add("integrity_failures", ["; ".join(problems)[:200]] if problems else [])

    # ------------------------------------------------------------------ work to interrupt

    def enqueue(self, kind: CommandKind, args: dict[str, Any] | None = None) -> None:
        store = self.store()
        try:
            store.commands.enqueue(kind, WallClock().now(), "chaos", args)
        finally:
            store.close()

    def stream_fault(self) -> None:
        """About half the trials also cut the websockets or send unreadable frames while the work runs."""
        roll = self.rng.random()
        if roll < 0.25:
            self.venues.send(cmd="ws", drop=True)
            self.stream_faults["drops"] += 1
        elif roll < 0.5:
            self.venues.send(cmd="ws", malformed=self.rng.randint(1, 3))
            self.stream_faults["bad_frames"] += 1

    def move_price(self, *, engine_down: bool = False) -> None:
        """Take a held symbol's price through one of its resting legs, so that stop or take-profit fires.

        Seeded: the leg, how far past its trigger (0.1 to 1 %) and whether the price stays there or
        only wicks through and returns. A symbol with no resting leg held is left alone.
        """
        truth = self.truth()
        legs = [
            leg
            for leg in truth.legs
            if (leg.symbol, leg.side) in truth.held
            and leg.trigger_price is not None
            and leg.symbol in truth.prices
        ]
        if not legs:
            return
        leg = self.rng.choice(legs)
        assert leg.trigger_price is not None
        beyond = Decimal(str(round(self.rng.uniform(0.001, 0.01), 4)))
        down = (leg.kind == "sl") == (leg.side is Side.LONG)  # a long's stop, a short's take-profit
        through = (leg.trigger_price * (1 - beyond if down else 1 + beyond)).quantize(Decimal("0.0001"))
        if self.rng.random() < 0.5:
            wick = {"low" if down else "high": str(through)}
            self.venues.send(cmd="price", symbol=leg.symbol, price=str(truth.prices[leg.symbol]), **wick)
        else:
            self.venues.send(cmd="price", symbol=leg.symbol, price=str(through))
        self.price_moves[leg.kind] += 1
        self.price_moves["while_engine_down"] += engine_down

    async def start_work(self, positions: list[ExchangePosition], algos: list[AlgoOrder]) -> tuple[str, bool]:
        """Start one window's work; ``True`` with it: the price moves once the engine is killed."""
        window = self.rng.choice(list(WINDOWS))
        self.venues.send(cmd="faults", weex={"path_latency": {WINDOWS[window]: self.rng.uniform(0.3, 1.5)}})
        self.windows[window] += 1
        self.stream_fault()
        held = [p for p in positions if p.size > 0]
        if held and window != "price" and self.rng.random() < MOVED_ANYWAY:
            self.move_price()
        if window == "entry" or not held:
            self.enqueue(CommandKind.RUN_CYCLE)
        elif window == "price":
            if self.rng.random() < 0.5:
                return window, True  # the leg fires while the engine is away
            self.move_price()  # the leg fires while the engine runs; killed as it settles
        elif window == "tp_sl":
            target = self.rng.choice(held)
            for a in algos:
                if a.kind == "sl" and (a.symbol, a.position_side) == (target.symbol, target.side):
                    with contextlib.suppress(ExchangeError):  # fired or gone since the read: nothing to strip
                        await self.client.cancel_algo_order(a.symbol, a.order_id)  # a stripped stop
        elif window == "close":
            target = self.rng.choice(held)
            self.enqueue(CommandKind.CLOSE, {"symbol": target.symbol, "side": target.side.value})
        else:
            target = self.rng.choice(held)
            cid = f"chaos-{self.rng.randrange(10**9)}"
            with contextlib.suppress(ExchangeError):  # closed since the read (a leg fired): nothing to close
                await self.client.close_position(target.symbol, target.side, cid)
        return window, False

    # ------------------------------------------------------------------ trials

    async def ensure_positions(self, positions: list[ExchangePosition]) -> list[ExchangePosition]:
        """Let one cycle open positions undisturbed, so stops, closes and orphans have something to act on."""
        if len(keyed(positions)) >= 2:
            return positions
        self.enqueue(CommandKind.RUN_CYCLE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            store = self.store()
            try:
                busy = stuck_proposals(store, datetime.now(UTC)) or store.commands.count(
                    "state IN (?, ?)", [CommandState.PENDING.value, CommandState.RUNNING.value]
                )
            finally:
                store.close()
            positions, _ = await self.venue()
            if len(keyed(positions)) >= 2 or (keyed(positions) and not busy):
                break
        return positions

    def work_in_flight(self) -> bool:
        """After the kill: did it land while an order, a proposal or a close was unfinished?"""
        store = self.store()
        try:
            orders = [
                o
                for o in store.orders.open_orders()
                if o.state in (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN)
                or o.kind in (OrderKind.ENTRY, OrderKind.CLOSE)
            ]
            closing = [p for p in store.positions.open_positions() if p.state is PositionState.CLOSING]
            return bool(orders or closing or stuck_proposals(store, datetime.now(UTC)))
        finally:
            store.close()

    async def trial(self) -> None:
        self.engine.start()
        assert self.engine.proc is not None
        await self.wait_running(self.engine.proc.pid)
        await self.check_after_restart()
        positions, algos = await self.venue()
        positions = await self.ensure_positions(positions)
        positions, algos = await self.venue()
        before = keyed(positions)
        window, move_later = await self.start_work(positions, algos)
        await asyncio.sleep(self.rng.uniform(0.0, 4.0 if window == "entry" else 2.5))
        self.engine.kill()
        if self.work_in_flight():
            self.kills_in_flight[window] += 1
        if move_later:
            self.move_price(engine_down=True)
        self.venues.send(cmd="faults", weex={"path_latency": {}})
        self.integrity()
        after, _ = await self.venue()
        store = self.store()
        try:
            self.tally.add(
                "phantom_exposure_refusals",
                phantom_refusals(store, self.seen_proposal, [before, keyed(after)], MAX_OPEN),
            )
            last = store.proposals.recent(1)
            self.seen_proposal = last[0].id or 0 if last else 0
        finally:
            store.close()

    async def run_trials(self, trials: int) -> dict[str, Any]:
        """Kill trials; SIGTERM stops after the trial under way, and what ran is checked and reported."""
        started = time.monotonic()
        cut = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, cut.set)
        done = 0
        for n in range(1, trials + 1):
            await self.trial()
            done = n
            if n % 10 == 0 or n == trials or cut.is_set():
                print(f"  {n}/{trials} trials, {time.monotonic() - started:.0f} s", file=sys.stderr)
            if cut.is_set():
                break
        # A last clean start: the books after the final kill.
        self.engine.start()
        assert self.engine.proc is not None
        await self.wait_running(self.engine.proc.pid)
        await self.check_after_restart()
        self.engine.terminate()
        seconds = round(time.monotonic() - started, 1)
        return await self.report(
            trials=done,
            trials_asked=trials,
            seconds=seconds,
            seconds_per_trial=round(seconds / max(done, 1), 1),
        )

    async def soak(self, minutes: float, fail: float) -> dict[str, Any]:
        started = time.monotonic()
        share = fail * 0.4  # 429s and 5xx; hangs, malformed bodies and dropped answers come on top
        self.venues.send(
            cmd="faults",
            weex={"rate_429": share, "rate_5xx": share, "retry_after": 0.05, "hang_seconds": 5.0},
            gemini_fail=fail,
        )
        self.engine.start()
        assert self.engine.proc is not None
        cycles = closes = 0
        most_positions = highest_leverage = 0
        while time.monotonic() - started < minutes * 60:
            with contextlib.suppress(ExchangeError):
                held = [p for p in await self.client.positions() if p.size > 0]
                most_positions = max(most_positions, len(held))
                highest_leverage = max([highest_leverage, *(int(p.leverage) for p in held)])
                if len(held) >= 2 and self.rng.random() < 0.5:
                    # Keep entries and closes flowing under faults (prices alone would not close them).
                    target = self.rng.choice(held)
                    self.enqueue(CommandKind.CLOSE, {"symbol": target.symbol, "side": target.side.value})
                    closes += 1
            # The one-shot faults (hang, malformed, dropped after acceptance) are re-armed continuously.
            self.venues.send(
                cmd="faults",
                weex={
                    "next_hang": int(self.rng.random() < 0.3),
                    "next_malformed": int(self.rng.random() < 0.5),
                    "next_drop_after_accept": int(self.rng.random() < 0.5),
                },
            )
            self.stream_fault()
            self.enqueue(CommandKind.RUN_CYCLE)
            cycles += 1
            await asyncio.sleep(3.0)
        self.venues.send(
            cmd="faults",
            weex={
                "rate_429": 0.0,
                "rate_5xx": 0.0,
                "next_hang": 0,
                "next_malformed": 0,
                "next_drop_after_accept": 0,
            },
            gemini_fail=0.0,
        )
        await asyncio.sleep(TICK_S * 3)
        # Anything created more than three ticks before the check must be finished by then.
        await self.check_after_restart(before=datetime.now(UTC) - timedelta(seconds=TICK_S * 3))
        positions, _ = await self.venue()
        self.engine.terminate()
        self.integrity()
        log = self.engine.log.read_text(errors="replace")
        return await self.report(
            soak_minutes=minutes,
            failure_share=fail,
            cycles_requested=cycles,
            closes_requested=closes,
            tracebacks=log.count("Traceback"),
            most_positions=most_positions,
            max_open_positions=MAX_OPEN,
            highest_leverage=highest_leverage,
            max_leverage=20,
            limits_held=most_positions <= MAX_OPEN
            and highest_leverage <= 20
            and len(keyed(positions)) <= MAX_OPEN,
            seconds=round(time.monotonic() - started, 1),
        )

    async def report(self, **extra: Any) -> dict[str, Any]:
        stats = self.venues.send(cmd="stats")
        await self.client.aclose()
        # A run in which the engine sent no order tested nothing about orders: never report it clean.
        exercised = stats["order_posts"] > 0
        return summary(
            self.tally,
            exercised=exercised,
            windows=self.windows,
            kills_with_work_in_flight=self.kills_in_flight,
            order_posts=stats["order_posts"],
            stream_faults=self.stream_faults,
            price_moves=self.price_moves,
            ws_handshakes=stats["ws_handshakes"],
            ws_pushes=stats["ws_pushes"],
            **extra,
        )


def print_table(result: dict[str, Any]) -> None:
    print(f"{'check':40} {'count':>7}")
    for name in CHECKS:
        print(f"{name:40} {result['checks'][name]:>7}")
    for key, value in result.items():
        if key not in ("checks", "check_runs", "examples"):
            print(f"{key:40} {value!s:>7}")
    for name, found in result["examples"].items():
        print(f"  e.g. {name}: {found}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="SIGKILL trials (default 200)")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="fault soak instead of kill trials")
    parser.add_argument("--fail", type=float, default=0.2, help="share of failing requests in the soak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", nargs="?", const=str(RESULTS), metavar="FILE", help="write the figures")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the database and engine log in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smt-chaos-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        bench = Bench(workdir, args.seed)
        try:
            if args.soak:
                result = asyncio.run(bench.soak(args.soak, args.fail))
            else:
                result = asyncio.run(bench.run_trials(args.trials))
        finally:
            bench.engine.kill()
            bench.venues.close()
    print_table(result)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        run = {"seed": args.seed, "argv": sys.argv[1:]}
        out.write_text(json.dumps(stamped(result | run), indent=2) + "\n")
    return 0 if result["clean"] and not result.get("tracebacks") and result.get("limits_held", True) else 1


if __name__ == "__main__":
    sys.exit(main())
