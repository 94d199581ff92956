"""Engine verbs: the daemon, one-shot cycles, status, and operator verbs through the command queue."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.queued import add_queue_options, send
from smt_engine.commands.args import CloseAllArgs, CloseArgs
from smt_engine.commands.contract import parse_args
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.values import as_text
from smt_engine.domain import CommandKind, EventLevel, Mode
from smt_engine.exitcodes import ExitCode

if TYPE_CHECKING:
    from smt_engine.config import Settings
    from smt_engine.store import Store

log = logging.getLogger(__name__)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "engine", parents=[common], help="run the engine daemon in the foreground (systemd runs this)"
    )
    _skip_probe_option(p)
    p.set_defaults(handler=cmd_engine)

    p = sub.add_parser("run", parents=[common], help="run one full signal cycle and exit")
    p.add_argument("--once", action="store_true", required=True, help="one cycle, then exit (required)")
    p.add_argument(
        "--test",
        action="store_true",
        help="paper venue with live (or synthetic) market data and a throwaway database: no side effects",
    )
    _skip_probe_option(p)
    p.set_defaults(handler=cmd_run_once)
    p = sub.add_parser(
        "test", parents=[common], help="one paper cycle with no side effects (= run --once --test)"
    )
    p.set_defaults(handler=cmd_run_once, once=True, test=True)

    p = sub.add_parser(
        "status",
        parents=[common],
        help="engine state, heartbeat, balance, positions, next cycle (exit 7 when no engine runs)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser(
        "positions", parents=[common], help="open positions as the engine last reconciled them"
    )
    p.add_argument("--json", action="store_true", help="one JSON array")
    p.set_defaults(handler=cmd_positions)
    p = sub.add_parser("events", parents=[common], help="the engine's event log")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--level", choices=[lv.value for lv in EventLevel], default="info", help="minimum level")
    p.add_argument("-n", type=int, default=30, help="events of history to show first")
    p.set_defaults(handler=cmd_events)

    verbs = {
        "pause": (
            CommandKind.PAUSE,
            "pause entries",
            "stop opening positions (closes and protection continue)",
        ),
        "resume": (CommandKind.RESUME, "resume entries", "resume entries (also clears a halt)"),
        "cycle": (CommandKind.RUN_CYCLE, "run cycle now", "run a signal cycle now"),
        "cleanup": (
            CommandKind.CLEANUP,
            "clean up",
            "cancel orphaned orders (TP/SL left behind by closed positions)",
        ),
        "reload": (CommandKind.RELOAD_CONFIG, "reload configuration", "re-read the configuration file"),
    }
    for name, (kind, what, text) in verbs.items():
        p = sub.add_parser(name, parents=[common], help=f"{text} (queued for the engine)")
        add_queue_options(p)
        p.set_defaults(handler=cmd_queue, kind=kind, what=what)
    p = sub.add_parser("close", parents=[common], help="close a position at market (or --all)")
    p.add_argument("symbol", nargs="?", help="e.g. SOLUSDT or SOL")
    p.add_argument("side", nargs="?", choices=["LONG", "SHORT", "long", "short"], help="position side")
    p.add_argument("--all", action="store_true", help="close every open position")
    part = p.add_mutually_exclusive_group()
    part.add_argument(
        "--size",
        help="close only this size (floored to the venue's step; the rest stays open, TP/SL resized)",
    )
    part.add_argument("--fraction", help="close only this fraction of the size, e.g. 0.5 (below 1)")
    add_queue_options(p)
    p.set_defaults(handler=cmd_close)


def _skip_probe_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--skip-probe",
        action="store_true",
        help="live mode: start without a passing `smt venue probe` for this key and SMT version "
        "(a WARNING event, and `exchange.probe` warns in `smt status` and the console header)",
    )


# --------------------------------------------------------------------------- daemon


def cmd_engine(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.config.paths import default_config_path
    from smt_engine.exchange.base import AuthError
    from smt_engine.exchange.weex.probe_gate import ProbeRequired
    from smt_engine.runtime import build_runtime
    from smt_engine.store import DatabaseUnusable, EngineLock

    settings = ctx.settings()
    source = ctx.config_path or default_config_path()
    with EngineLock(settings.engine.database):
        store = ctx.store()
        problems = store.check()
        if problems:
            raise DatabaseUnusable(
                f"{store.path}: the database is damaged ({len(problems)} problem(s), first: {problems[0]}): "
                "stop SMT and restore the file from a backup (`smt db check` lists every problem)"
            )
        try:
            runtime = build_runtime(
                settings,
                store,
                WallClock(),
                ctx.secrets(),
                config_path=source if source.exists() else None,
                skip_probe=ctx.args.skip_probe,
            )
        except (AuthError, ProbeRequired) as exc:  # missing live keys or probe: a restart cannot fix that
            raise VerbError(f"engine cannot start: {exc}", ExitCode.CONFIG) from None
        except Exception as exc:
            known = ctx.explain(exc)
            if known is not exc:  # a full disk or a damaged database: its own exit code, not a restart loop
                raise known from None
            raise VerbError(f"engine cannot start: {exc}") from None

        async def main() -> None:
            runtime.engine.install_signal_handlers()
            try:
                await runtime.engine.run()
            finally:
                await runtime.aclose()

        asyncio.run(main())
    return 0


def cmd_run_once(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.store import EngineLock, Store

    settings = ctx.settings()
    if ctx.args.test:
        # No side effects anywhere: a throwaway database, a paper venue, no AI-log uploads.
        tmp = Path(tempfile.mkdtemp(prefix="smt-test-"))
        settings = settings.model_copy(deep=True)
        if settings.engine.mode is Mode.LIVE:
            settings.engine.mode = Mode.PAPER
        settings.engine.database = tmp / "test.db"
        settings.ailog.enabled = False
        store = Store.open(settings.engine.database)
        print(
            f"test cycle ({settings.engine.mode.value} venue, throwaway database {settings.engine.database})"
        )
        return _one_cycle(ctx, settings, store, WallClock())
    with EngineLock(settings.engine.database):
        return _one_cycle(ctx, settings, ctx.store(), WallClock())


def _one_cycle(ctx: Context, settings: Any, store: Any, clock: Any) -> int:
    from smt_engine.domain import EngineState
    from smt_engine.exchange.weex.probe_gate import ProbeRequired
    from smt_engine.runtime import build_runtime

    try:
        runtime = build_runtime(
            settings,
            store,
            clock,
            ctx.secrets(),
            config_path=ctx.config_path,
            skip_probe=bool(getattr(ctx.args, "skip_probe", False)),
        )
    except ProbeRequired as exc:
        raise VerbError(str(exc), ExitCode.CONFIG) from None

    def one_shot_state() -> EngineState:
        # This run is the engine for one cycle: it trades unless an operator paused or a limit halted it.
        recorded = store.engine.state_or(EngineState.RUNNING)
        return recorded if recorded in (EngineState.PAUSED, EngineState.HALTED) else EngineState.RUNNING

    runtime.pipeline.engine_state = one_shot_state

    async def main() -> str | None:
        try:
            report = await runtime.monitor.tick(startup=True)
            if not report.ok:
                print(f"reconciliation failed: {report.error}; no cycle run")
                return None
            return await runtime.pipeline.run_cycle("once")
        finally:
            await runtime.aclose()

    cycle_id = asyncio.run(main())
    if cycle_id is None:
        return ExitCode.FAILED
    _print_cycle(store, cycle_id)
    cycle = store.cycles.get(cycle_id)
    if cycle is None or cycle.status != "done":
        failed = ", ".join(
            f"{name} ({step.get('error', step.get('status'))})"
            for name, step in (cycle.steps if cycle else {}).items()
            if step.get("status") != "ok"
        )
        raise VerbError(f"cycle {cycle_id} did not complete: {failed or 'no step record'}")
    return ExitCode.OK


def _print_cycle(store: Any, cycle_id: str) -> None:
    cycle = store.cycles.get(cycle_id)
    print(f"cycle {cycle_id}: {cycle.status if cycle else '?'}")
    if cycle:
        for name, step in cycle.steps.items():
            print(
                f"  {name:<10} {step.get('status', '?'):<8} {step.get('ms', '')} ms {step.get('error', '')}"
            )
    for a in store.analyses.for_cycle(cycle_id):
        print(
            f"  {a.pair:<5} {a.analyst.value:<9} {a.action.value:<5} conf {a.confidence:.2f} {a.error or ''}"
        )
    for p in store.proposals.for_cycle(cycle_id):
        codes = ",".join(p.reason_codes)
        print(
            f"  proposal #{p.id} {p.pair} {p.side.value} {p.state.value}: margin {p.margin} / notional "
            f"{p.notional} USDT {codes}"
        )


# --------------------------------------------------------------------------- read-only views


def _age(at: datetime | None) -> float | None:
    return None if at is None else max(0.0, (datetime.now(UTC) - at).total_seconds())


def cmd_status(ctx: Context) -> int:
    from smt_engine.cli.service import SERVICE, systemd_running
    from smt_engine.store import EngineLock

    settings = ctx.settings()
    db = settings.engine.database
    if not db.exists() and EngineLock(db).is_held_elsewhere():
        raise VerbError(
            f"{db}: the database file is gone while an engine still runs on it (deleted or moved): that "
            "engine stops at its next heartbeat (exit 4); put the file back before starting one again",
            ExitCode.DATABASE,
        )
    if not db.exists():
        detail = f"{db}: no database yet (start the engine, or run `smt db migrate`)"
        if ctx.args.json:
            print(
                json.dumps({"database": str(db), "running": False, "state": "not running", "detail": detail})
            )
        else:
            print(f"engine      not running: {detail}")
        return ExitCode.NOT_RUNNING
    store = ctx.store(readonly=True)
    engine = store.engine.current()
    running = EngineLock(db).is_held_elsewhere()
    snap = store.account.latest()
    positions = store.positions.open_positions()
    pending = store.proposals.pending()
    data: dict[str, Any] = {
        "database": str(db),
        "running": running,
        "mode": engine.mode.value if engine else settings.engine.mode.value,
        "state": engine.state.value if engine else "never started",
        "pid": engine.pid if engine else None,
        "heartbeat_age_s": round(a, 1) if engine and (a := _age(engine.heartbeat_at)) is not None else None,
        "state_reason": engine.state_reason if engine else None,
        "last_error": engine.last_error if engine else None,
        "next_cycle_at": engine.next_cycle_at.isoformat() if engine and engine.next_cycle_at else None,
        "balance": str(snap.balance) if snap else None,
        "equity": str(snap.equity) if snap else None,
        "available": str(snap.available) if snap else None,
        "open_positions": len(positions),
        "pending_proposals": len(pending),
        "analyst_today": _analyst_spend(store, settings),
        "health": [
            {
                "component": h.component,
                "status": h.status.value,
                "since": h.since.isoformat(),
                "detail": h.detail,
                "data": h.data,
            }
            for h in store.health.all()
        ],
        "etherscan_calls_today": _etherscan_calls_today(store),
        "cooldowns": _cooldowns(store, settings),
    }
    code = ExitCode.OK if running else ExitCode.NOT_RUNNING
    if ctx.args.json:
        print(json.dumps(data))
        return code
    state = data["state"] if running else f"{data['state']} (no engine process holds the database)"
    print(f"engine      {state}, {data['mode']} mode" + (f", pid {data['pid']}" if running else ""))
    if data["heartbeat_age_s"] is not None:
        print(f"heartbeat   {data['heartbeat_age_s']:.0f} s ago")
    for key in ("state_reason", "last_error"):
        if data[key]:
            print(f"{key.replace('_', ' '):<11} {data[key]}")
    print(
        f"balance     {data['balance'] or '?'} USDT "
        f"(equity {data['equity'] or '?'}, available {data['available'] or '?'})"
    )
    print(f"positions   {len(positions)} open; {len(pending)} proposal(s) waiting for approval")
    print(f"next cycle  {data['next_cycle_at'] or '?'}")
    spend = data["analyst_today"]
    print(
        f"analyst     today {spend['calls']}/{spend['max_calls']} Gemini calls, "
        f"${spend['usd']}/${spend['max_usd']} (UTC day {spend['day']}; {_OVER_CAP[spend['fallback']]})"
    )
    for h in data["health"]:
        since = h["since"][:19].replace("T", " ")
        print(f"health      {h['component']:<24} {h['status']:<4} since {since}  {h['detail']}")
    if data["etherscan_calls_today"] is not None:
        calls = data["etherscan_calls_today"]
        print(f"etherscan   {calls['calls']} of {calls['limit']} calls on {calls['day']} (UTC)")
    for c in data["cooldowns"]:
        print(
            f"cooldown    {c['symbol']} no entry until {c['until'][:16].replace('T', ' ')} UTC ({c['why']})"
        )
    if systemd_running():
        import subprocess

        subprocess.run(["systemctl", "status", "--no-pager", "--lines=0", SERVICE], check=False)
    return code


def cooldowns_json(active: list[Any]) -> list[dict[str, str]]:
    return [{"symbol": c.symbol, "until": c.until.isoformat(), "why": c.why} for c in active]


def _cooldowns(store: Store, settings: Settings) -> list[dict[str, str]]:
    """Stop-loss cooldowns in force now (`smt cooldowns clear SYMBOL` ends one)."""
    from smt_engine.trading.cooldowns import active_cooldowns

    return cooldowns_json(active_cooldowns(store, settings, datetime.now(UTC)))


def _analyst_spend(store: Store, settings: Settings) -> dict[str, Any]:
    """Today's Gemini calls and spend against the daily caps (the analyst's budget)."""
    spend = store.analyst_usage.day_spend(datetime.now(UTC).date())
    return {
        "day": spend.day,
        "calls": spend.requests,
        "max_calls": settings.analyst.daily_max_calls,
        "usd": f"{spend.cost_usd:.4f}",
        "max_usd": str(settings.analyst.daily_max_usd),
        "fallback": settings.analyst.fallback,
    }


_OVER_CAP = {"wait": "over a cap each analysis is a WAIT", "heuristic": "over a cap the heuristic answers"}


def _etherscan_calls_today(store: Store) -> dict[str, Any] | None:
    """The day's Etherscan call count, from the whale source's health report."""
    row = store.health.get("whales.etherscan")
    if row is None or "calls_today" not in row.data:
        return None
    return {
        "day": row.data.get("day"),
        "calls": row.data["calls_today"],
        "limit": row.data.get("daily_limit"),
    }


def cmd_positions(ctx: Context) -> int:
    store = ctx.store(readonly=True)
    rows = store.positions.open_positions()
    if ctx.args.json:
        out = []
        for p in rows:
            row = {
                "symbol": p.symbol,
                "side": p.side.value,
                "size": str(p.size),
                "entry": str(p.entry_price),
                "unrealized_pnl": str(p.unrealized_pnl),
                "tp": str(p.tp_price),
                "sl": str(p.sl_price),
                "opened_at": p.opened_at.isoformat(),
            }
            out.append(row)
        print(json.dumps(out))
        return 0
    if not rows:
        print("no open positions")
        return 0
    print(f"{'symbol':<10} {'side':<5} {'size':>12} {'entry':>12} {'uPnL':>10} {'TP':>12} {'SL':>12}  age")
    for p in rows:
        age = (datetime.now(UTC) - p.opened_at).total_seconds() / 3600
        print(
            f"{p.symbol:<10} {p.side.value:<5} {p.size!s:>12} {p.entry_price!s:>12} {p.unrealized_pnl!s:>10} "
            f"{p.tp_price!s:>12} {p.sl_price!s:>12}  {age:.1f} h" + ("  NO STOP" if not p.sl_order_id else "")
        )
    return 0


def cmd_events(ctx: Context) -> int:
    store = ctx.store(readonly=True)
    level = EventLevel(ctx.args.level)
    events = store.events.recent(limit=ctx.args.n, min_level=level)[::-1]
    last = 0
    for e in events:
        print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.level.value:<8} {e.kind:<24} {e.message}")
        last = max(last, e.id or 0)
    if not events:
        newest = store.events.recent(limit=1)
        last = (newest[0].id or 0) if newest else 0
    while ctx.args.follow:
        time.sleep(1.0)
        for e in store.events.recent(limit=500, min_level=level, after_id=last)[::-1]:
            print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.level.value:<8} {e.kind:<24} {e.message}", flush=True)
            last = max(last, e.id or 0)
    return 0


# --------------------------------------------------------------------------- queued operator verbs


def cmd_queue(ctx: Context) -> int:
    return send(ctx, parse_args(ctx.args.kind, {}), ctx.args.what)


def cmd_close(ctx: Context) -> int:
    partial = ctx.args.size is not None or ctx.args.fraction is not None  # "" is a bad part, not none
    if ctx.args.all:
        if partial:
            raise VerbError("--size/--fraction close part of one position: not with --all")
        return send(ctx, CloseAllArgs(), "close all")
    if not ctx.args.symbol or not ctx.args.side:
        raise VerbError("name the position (`smt close SOLUSDT LONG`) or use --all")
    raw = {
        "symbol": ctx.args.symbol,
        "side": ctx.args.side,
        "size": ctx.args.size,
        "fraction": ctx.args.fraction,
    }
    try:
        args = CloseArgs.parse(raw)
        if args.partial:  # a part is checked against the position before it is queued (the step comes later)
            from smt_engine.commands.adjust_handlers import held_position

            held_position(ctx.store(), args.symbol, args.side)
    except CommandRejected as exc:
        raise VerbError(f"refused, nothing was sent: {exc}") from None
    return send(ctx, args, _close_what(args))


def _close_what(args: CloseArgs) -> str:
    part = f" size {as_text(args.size)}" if args.size is not None else ""
    part += f" fraction {as_text(args.fraction)}" if args.fraction is not None else ""
    return f"close {args.symbol} {args.side.value}{part}"
