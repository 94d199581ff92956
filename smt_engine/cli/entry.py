"""`smt enter`: queue an operator's own entry (pair, side, margin or size) for the running engine.

The arguments are checked here by the engine's own checks (``store.entry_args``), and again by the
engine, which runs the risk gates at a plausible live price and executes the entry as an approved
proposal. Nothing is queued when no engine runs unless the operator gives ``--queue`` (``cli/queued.py``);
the engine reads its own price when it runs the entry, never one from the time it was queued.
"""

from __future__ import annotations

import argparse
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.queued import add_queue_options, send
from smt_engine.cli.trading import _decimal

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
        "engine is running, unless you give --queue.",
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
    add_queue_options(p, wait_flag=True)
    p.set_defaults(handler=cmd_enter)


def cmd_enter(ctx: Context) -> int:
    from smt_engine.commands.args import EnterArgs
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
    return send(ctx, EnterArgs.of(request), f"entry {request.describe()}", wait=args.wait)
