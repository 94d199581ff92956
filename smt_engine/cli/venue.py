"""`smt venue probe`: check WEEX against every assumption the engine makes, with the engine's own keys,
before live mode may start (docs/operator-guide.md, "Before the first live trade")."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.exitcodes import ExitCode

DESCRIPTION = """\
Runs a scripted check of WEEX with the keys the engine would use (systemd credentials, keyring or
environment) and the configuration's hosts, and prints pass/fail and what it saw for each step:

  time            server time; the host clock must be within 5 s of WEEX's
  contracts       exchangeInfo of the traded pairs: steps, ticks, sizes, leverage; rateLimits shown
  account         balance and positions read
  stream.public   the public websocket: each pair's ticker subscribed, pings answered for --listen s
  stream.private  the private websocket: handshake, each channel (orders, fill, positions, account)
                  subscribed on its own, pings answered for --listen s, a protocol ping answered
  order           one LIMIT buy --distance % under the market at the minimum size, read back by its
                  client id, cancelled, the cancellation read back (never fills unless the price falls
                  that far within a second)
  position        only with --with-position: a market long at the minimum size with attached TP/SL,
                  both legs found, closed at once, the legs left behind cancelled (costs fees and spread)
  ai_log          only with --ai-log: one AI-log upload, marked as a probe

Writes happen only when every read before them passed. The whole exchange (every request, answer and
websocket frame, with the API key, secret, passphrase and signatures masked) goes to a transcript file
you can attach to a bug report. A pass is remembered in the database for this key (a fingerprint, never
the key), this WEEX host and this SMT version: live mode refuses to start without one
(`smt engine --skip-probe` overrides, with a WARNING). Stop the engine first: the probe refuses to run
beside one. Exit 0 when every step passed, 1 when one failed, 2 without the WEEX keys or with a bad
option, 3 while an engine runs on the database.
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    venue = sub.add_parser("venue", parents=[common], help="check the exchange before trading on it")
    verbs = venue.add_subparsers(dest="venue_command", metavar="VERB", required=True)
    p = verbs.add_parser(
        "probe",
        parents=[common],
        help="check every assumption about WEEX with your keys; required once before live mode",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        type=float,
        default=40.0,
        metavar="SECONDS",
        help="how long to hold each websocket open and watch its pings (default 40: longer than the "
        "engine's 30 s stream heartbeat)",
    )
    p.add_argument(
        "--with-position",
        action="store_true",
        help="also open and at once close the smallest position WEEX accepts, with attached TP/SL",
    )
    p.add_argument("--ai-log", action="store_true", help="also upload one AI log (marked as a probe)")
    p.add_argument(
        "--symbol",
        metavar="SYMBOL",
        help="pair for the order steps, e.g. XRPUSDT (default: the pair whose minimum order costs least)",
    )
    p.add_argument(
        "--distance",
        default="5",
        metavar="PCT",
        help="how far from the market the test order (and the TP/SL) is priced, in %% (default 5)",
    )
    p.add_argument(
        "--transcript",
        type=Path,
        metavar="FILE",
        help="where to write the masked transcript (default: venue-probe-<time>.jsonl next to the database)",
    )
    p.add_argument("--json", action="store_true", help="print the steps as one JSON object")
    p.set_defaults(handler=cmd_probe)


def _distance(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not Decimal("0.5") <= value <= Decimal(50):
        raise VerbError(f"--distance {raw}: give a percentage between 0.5 and 50", ExitCode.CONFIG)
    return value


def cmd_probe(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.exchange.weex import WeexClient, WeightLimiter
    from smt_engine.exchange.weex.probe import VenueProbe
    from smt_engine.exchange.weex.probe_gate import key_fingerprint, remember_pass, smt_version
    from smt_engine.exchange.weex.probe_types import ProbeOptions
    from smt_engine.exchange.weex.transcript import RecordingTransport, Transcript
    from smt_engine.secrets import SecretName
    from smt_engine.store import EngineLock

    args = ctx.args
    settings = ctx.settings()
    distance = _distance(args.distance)
    if args.listen < 1:
        raise VerbError("--listen: give at least 1 second", ExitCode.CONFIG)
    symbols = [pair.symbol for pair in settings.pairs.all()]
    symbol = args.symbol.upper() if args.symbol else None
    if symbol and not symbol.endswith("USDT"):
        symbol += "USDT"
    if symbol and symbol not in symbols:
        raise VerbError(f"--symbol {symbol}: not a traded pair ({', '.join(symbols)})", ExitCode.CONFIG)
    names = (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE)
    secrets = ctx.secrets()
    values = {name: secrets.get(name) or "" for name in names}
    missing = [name.value for name, value in values.items() if not value]
    if missing:
        raise VerbError(
            f"the probe needs the WEEX keys the engine uses; missing: {', '.join(missing)} "
            "(`smt keys set <name>`, systemd credentials or the environment)",
            ExitCode.CONFIG,
        )
    db = settings.engine.database
    if EngineLock(db).is_held_elsewhere():
        raise VerbError(
            f"an engine is running on {db}: stop it first (`smt stop`); the probe places orders the "
            "engine would see as someone else's",
            ExitCode.ALREADY_RUNNING,
        )
    store = ctx.store()
    started = datetime.now(UTC)
    path = args.transcript or db.parent / f"venue-probe-{started:%Y%m%dT%H%M%SZ}.jsonl"
    transcript = Transcript(path)
    ex = settings.exchange
    clock = WallClock()
    transcript.write(
        {
            "type": "probe",
            "smt_version": smt_version(),
            "base_url": ex.base_url,
            "ws_url": ex.ws_url,
            "started_at": started.isoformat(),
            "key_fingerprint": key_fingerprint(values[SecretName.WEEX_API_KEY]),
            "pairs": symbols,
            "options": {
                "listen": args.listen,
                "with_position": args.with_position,
                "ai_log": args.ai_log,
                "symbol": symbol,
                "distance": str(distance),
            },
        }
    )
    client = WeexClient(
        api_key=values[SecretName.WEEX_API_KEY],
        api_secret=values[SecretName.WEEX_API_SECRET],
        passphrase=values[SecretName.WEEX_API_PASSPHRASE],
        base_url=ex.base_url,
        clock=clock,
        timeout=ex.timeout.total_seconds(),
        limiter=WeightLimiter.on_clock(clock, ex.rate_limit_weight),
        transport=RecordingTransport(transcript),
        ai_log_path=ex.ai_log_path,
    )
    options = ProbeOptions(
        symbols=symbols,
        leverage=settings.risk.leverage,
        margin_mode=settings.trading.margin_mode,
        listen=args.listen,
        with_position=args.with_position,
        ai_log=args.ai_log,
        ai_log_model=settings.analyst.model,
        symbol=symbol,
        distance_pct=distance,
    )

    async def run() -> Any:
        try:
            return await VenueProbe(client, ex.ws_url, transcript, options).run()
        finally:
            await client.aclose()

    if not args.json:
        print(f"probing {ex.base_url} and {ex.ws_url} (transcript {path})", flush=True)
    try:
        report = asyncio.run(run())
        transcript.write({"type": "result", **report.as_data()})
    finally:
        transcript.close()
    if report.passed:
        remember_pass(store, values[SecretName.WEEX_API_KEY], ex.base_url, datetime.now(UTC))
    if args.json:
        out = {**report.as_data(), "transcript": str(path), "smt_version": smt_version()}
        if not report.passed:  # the scripting contract's failure object, with the steps beside it
            failed = ", ".join(s.name for s in report.steps if s.status == "fail")
            out = {"error": f"probe failed at {failed}", "code": int(ExitCode.FAILED), **out}
        print(json.dumps(out))
    else:
        for step in report.steps:
            print(f"{step.status.upper():<4}  {step.name:<15} {step.saw}")
        if report.passed:
            print(f"probe passed: live mode may start with this key and SMT {smt_version()}")
        else:
            failed = ", ".join(s.name for s in report.steps if s.status == "fail")
            print(f"probe FAILED at {failed}: see docs/operator-guide.md, 'Before the first live trade'")
        print(f"transcript: {path} (secrets masked; attach it to a bug report)")
    return ExitCode.OK if report.passed else ExitCode.FAILED
