"""`smt enter`: queue an operator's own entry (pair, side, margin or size) for the running engine.

The arguments are checked here by the engine's own checks (``store.entry_args``), and again by the
engine, which runs the risk gates at a plausible live price and executes the entry as an approved
proposal. Nothing is queued when no engine runs: an entry must not wait hours for a price nobody saw.
"""

from __future__ import annotations

import argparse
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.trading import _decimal, _wait_options, wait_for
from smt_engine.exitcodes import ExitCode

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "enter",
        parents=[common],
        help="open a position by hand through the risk limits (queued for the running engine)",
        description="Queue a manual entry. The engine reads a plausible live price, runs the risk gates "
        "on the margin or size you give (floored to the contract step, never raised; refused past a "
        "limit with the gate's reason), then opens the position with TP/SL resting, as it does for an "
        "approved proposal. Leverage is the configured one. Refused, with nothing queued, when no "
        "engine is running.",
    )
    p.add_argument("pair", metavar="PAIR", help="pair base, e.g. ETH (a configured pair)")
    p.add_argument(
        "side", metavar="long|short", type=str.upper, choices=["LONG", "SHORT"], help="the position side"
    )
    amount = p.add_mutually_exclusive_group(required=True)
    amount.add_argument("--margin", type=_decimal, metavar="USDT", help="margin to commit, in USDT")
    amount.add_argument("--size", type=_decimal, metavar="N", help="position size in contracts")
    p.add_argument(
        "--tp-pct",
        type=_decimal,
        metavar="PCT",
        help="take-profit distance in %% (default: the phase default)",
    )
    p.add_argument(
        "--sl-pct", type=_decimal, metavar="PCT", help="stop-loss distance in %% (default: the phase default)"
    )
    _wait_options(p)
    p.set_defaults(handler=cmd_enter)


def cmd_enter(ctx: Context) -> int:
    from smt_engine.commands.args import EnterArgs
    from smt_engine.commands.errors import NoEngine
    from smt_engine.store.entry_args import EntryArgsError, validate_entry

    args = ctx.args
    settings = ctx.settings()
    raw = {
        "pair": args.pair,
        "side": args.side,
        "margin": args.margin,
        "size": args.size,
        "tp_pct": args.tp_pct,
        "sl_pct": args.sl_pct,
    }
    try:
        request, _ = validate_entry({k: str(v) for k, v in raw.items() if v is not None}, settings)
    except EntryArgsError as exc:
        raise VerbError(f"entry refused: {exc}; nothing was queued") from None
    client = ctx.commands()
    try:
        command = client.send(EnterArgs.of(request))
    except NoEngine:
        raise VerbError(
            f"no engine is running on {settings.engine.database}: nothing was queued "
            "(an entry is priced and gated by the engine when it runs; start it with `smt start`)"
        ) from None
    assert command.id is not None
    print(f"queued entry {request.describe()} as command #{command.id}")
    if not args.wait:
        print("the engine runs the risk gates at the live price, then executes (see `smt events`)")
        return 0
    return _wait_for_entry(ctx, command.id, float(args.timeout))


def _wait_for_entry(ctx: Context, command_id: int, timeout: float) -> int:
    """Wait for the command; say what was opened or the gate that refused."""
    from smt_engine.commands.results import EnterResult
    from smt_engine.exchange.precision import plain

    store = ctx.store()
    outcome = wait_for(ctx.commands(), command_id, timeout)
    if outcome is None:
        return ExitCode.NO_RESULT
    if not isinstance(outcome.result, EnterResult):
        print(f"refused: {outcome.error or 'no reason given'}")
        return 1
    result = outcome.result
    position = store.positions.get(result.position_id) if result.position_id else None
    if position is None:
        print(f"done: {result.detail}")
        return 0
    tp = plain(position.tp_price) if position.tp_price else "-"
    sl = plain(position.sl_price) if position.sl_price else "-"
    print(
        f"opened {position.symbol} {position.side.value} {plain(position.size)} @ "
        f"{plain(position.entry_price)}, TP {tp} / SL {sl} (proposal #{result.proposal_id}, "
        f"position #{position.id})"
    )
    return 0
