"""Adjusting what is open: `smt move-stop`, `smt move-tp`, `smt cooldowns [clear SYMBOL]` (and the partial
close, `smt close SYMBOL SIDE --size/--fraction`, in ``cli/engine.py``).

Each is checked here as the engine will check it (so a stop past the limit is refused before it is
queued), then queued for the engine, which checks again against the venue's price and trades.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.engine import cooldowns_json
from smt_engine.cli.queued import add_queue_options, send
from smt_engine.commands.args import ClearCooldownArgs, MoveProtectionArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.values import as_text


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    for verb, leg, what in (
        ("move-stop", "sl_price", "stop-loss"),
        ("move-tp", "tp_price", "take-profit"),
    ):
        rule = (
            "A stop may be tightened freely; it is loosened only up to analyst.max_sl_pct from the entry "
            "(the phase's default stop distance in the final days), and it must be below the price for a "
            "LONG, above it for a SHORT."
            if leg == "sl_price"
            else "A take-profit must be above the price for a LONG, below it for a SHORT."
        )
        p = sub.add_parser(
            verb,
            parents=[common],
            help=f"move an open position's {what} (queued for the engine)",
            description=f"Move an open position's {what}. {rule} The engine places the new order before it "
            "cancels the old one, and records both; a refusal names the limit and the value.",
        )
        p.add_argument("symbol", help="e.g. ETHUSDT or ETH")
        p.add_argument("side", type=str.upper, choices=["LONG", "SHORT"], help="position side")
        p.add_argument("price", help=f"the new {what} trigger price (rounded to the venue's tick)")
        add_queue_options(p)
        p.set_defaults(handler=cmd_move, leg=leg, what=what)

    p = sub.add_parser(
        "cooldowns",
        parents=[common],
        help="stop-loss cooldowns in force (no entry on the pair until each ends); `clear SYMBOL` ends one",
    )
    p.add_argument("action", nargs="?", choices=["clear"], help="clear: end SYMBOL's cooldown now (audited)")
    p.add_argument("symbol", nargs="?", help="the pair to clear, e.g. ETHUSDT or ETH")
    p.add_argument("--json", action="store_true", help="one JSON array (listing only)")
    add_queue_options(p)
    p.set_defaults(handler=cmd_cooldowns)


def _symbol(text: str) -> str:
    symbol = text.strip().upper()
    return symbol if symbol.endswith("USDT") else f"{symbol}USDT"


def cmd_move(ctx: Context) -> int:
    from smt_engine.commands.adjust_handlers import check_move

    raw = {"symbol": ctx.args.symbol, "side": ctx.args.side, ctx.args.leg: ctx.args.price}
    try:
        args = MoveProtectionArgs.parse(raw)
        check_move(ctx.store(), ctx.settings(), datetime.now(UTC), args)  # the store that queues it
    except CommandRejected as exc:
        raise VerbError(f"refused, nothing was sent: {exc}") from None
    return send(ctx, args, f"move {args.symbol} {args.side.value} {ctx.args.what} to {as_text(args.price)}")


def cmd_cooldowns(ctx: Context) -> int:
    from smt_engine.trading.cooldowns import active_cooldowns

    settings = ctx.settings()
    store = ctx.store(readonly=ctx.args.action != "clear")  # a listing never creates or migrates one
    active = active_cooldowns(store, settings, datetime.now(UTC))
    if ctx.args.action == "clear":
        if not ctx.args.symbol:
            raise VerbError("name the pair: `smt cooldowns clear ETHUSDT`")
        symbol = _symbol(ctx.args.symbol)
        if symbol not in {c.symbol for c in active}:
            listed = ", ".join(c.symbol for c in active) or "none"
            raise VerbError(f"{symbol} has no active stop-loss cooldown (active: {listed}); nothing was sent")
        return send(ctx, ClearCooldownArgs(symbol=symbol), f"clear {symbol} cooldown")
    if ctx.args.json:
        print(json.dumps(cooldowns_json(active)))
        return 0
    if not active:
        print(
            f"no stop-loss cooldown in force (cooldown after a stop-loss: {settings.risk.stop_loss_cooldown})"
        )
        return 0
    for c in active:
        print(f"{c.symbol:<10} until {c.until:%Y-%m-%d %H:%M} UTC  ({c.why})")
    print("`smt cooldowns clear SYMBOL` ends one now")
    return 0
