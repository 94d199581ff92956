"""`smt analyse PAIR`: ask the analyst about one pair now and show its decision, rationale and sources.

The analysis is recorded in the database like any cycle's (without a cycle id) and never leads to an
order: this verb has no exchange client for trading at all.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from smt_engine.cli.context import Context, VerbError

if TYPE_CHECKING:
    from smt_engine.analyst.base import AnalysisOutcome
    from smt_engine.analyst.context import PairContext
    from smt_engine.clock import Clock
    from smt_engine.config import Settings
    from smt_engine.exchange.market import PriceSource

Sub = Any
CANDLE_INTERVAL = "1h"
CANDLE_COUNT = 48


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "analyse",
        aliases=["analyze"],
        parents=[common],
        help="analyse one pair now and print the decision, rationale and sources (no order is placed)",
    )
    p.add_argument("pair", help="a configured pair, e.g. BTC or ETH")
    p.add_argument(
        "--heuristic", action="store_true", help="use the offline heuristic analyst instead of Gemini"
    )
    p.set_defaults(handler=cmd_analyse)


def market_for(settings: Settings, clock: Clock) -> PriceSource:
    """Market data for the configured mode (live WEEX public data or the synthetic market)."""
    from smt_engine.exchange.factory import make_market

    return make_market(settings, clock)


def cmd_analyse(ctx: Context) -> int:
    settings = ctx.settings()
    pair = settings.pairs.by_base(ctx.args.pair)
    if pair is None:
        configured = ", ".join(p.base for p in settings.pairs.all())
        raise VerbError(f"{ctx.args.pair!r} is not a configured pair (configured: {configured})")
    return asyncio.run(_analyse(ctx, pair.base))


async def _analyse(ctx: Context, base: str) -> int:
    from smt_engine.analyst.context import build_context
    from smt_engine.analyst.factory import make_analyst
    from smt_engine.analyst.heuristic import HeuristicAnalyst
    from smt_engine.clock import WallClock
    from smt_engine.domain import Tier

    settings = ctx.settings()
    pair = settings.pairs.by_base(base)
    assert pair is not None
    store = ctx.store()
    clock = WallClock()
    market = market_for(settings, clock)
    try:
        try:
            price = await market.last_price(pair.symbol)
            candles = await market.candles(pair.symbol, CANDLE_INTERVAL, CANDLE_COUNT)
        except Exception as exc:
            raise VerbError(f"cannot read market data for {pair.symbol}: {exc}") from None
    finally:
        await market.aclose()
    if price <= 0:
        raise VerbError(f"{pair.symbol}: the market reported no usable price ({price})")

    snapshot = store.account.latest()
    if snapshot is not None:
        balance, available, equity = snapshot.balance, snapshot.available, snapshot.equity
    else:
        balance = available = equity = settings.exchange.paper_balance
        print(f"(no account snapshot yet: assuming a balance of {balance} USDT)")
    open_positions = store.positions.open_positions()
    on_pair = next((p for p in open_positions if p.symbol == pair.symbol), None)
    whale = store.whale_signals.latest_aggregate() if pair.tier is Tier.ONE else None
    pctx = build_context(
        settings,
        cycle_id=None,
        now=clock.now(),
        pair=pair,
        price=price,
        candles=candles,
        balance=balance,
        available=available,
        equity=equity,
        open_positions=len(open_positions),
        whale_signal=whale,
        open_position=on_pair,
    )
    analyst = (
        HeuristicAnalyst(store) if ctx.args.heuristic else make_analyst(settings, store, clock, ctx.secrets())
    )
    try:
        outcome = await analyst.analyse(pctx)
    finally:
        await analyst.aclose()
    print(render_outcome(pctx, outcome))
    return 1 if outcome.failed else 0


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}"


def render_outcome(ctx: PairContext, outcome: AnalysisOutcome) -> str:
    """Human-readable decision, rationale and sources."""
    from smt_engine.analyst.grounding import source_lines

    d, r = outcome.decision, outcome.record
    lines = [
        f"{ctx.pair.base} ({ctx.pair.symbol}) at {ctx.price} USDT — analyst {r.analyst.value} ({r.model}), "
        f"analysis #{r.id}",
        f"Decision: {d.action.value}, confidence {d.confidence:.2f}"
        + (" (grounded)" if d.grounded else " (not grounded)"),
    ]
    if d.action.side is not None:
        lines.append(f"Take-profit {_pct(d.tp_pct)} %, stop-loss {_pct(d.sl_pct)} %, hold {d.hold_hours:g} h")
    lines.append(f"Sentiment: {d.sentiment.value}")
    if d.key_catalyst:
        lines.append(f"Key catalyst: {d.key_catalyst}")
    lines.append(f"Reasoning: {d.reasoning}")
    if d.risk_factors:
        lines.append("Risk factors:")
        lines += [f"  - {f}" for f in d.risk_factors]
    if r.queries:
        lines.append("Search queries: " + "; ".join(r.queries))
    if r.sources:
        lines.append("Sources:")
        lines += ["  " + line for line in source_lines(r.sources)]
    elif r.analyst.value == "gemini":
        lines.append("Sources: none (the answer was not grounded)")
    if r.search_suggestions:
        lines.append("Google Search suggestions:")
        lines += [f"  {s.get('text', '')} — {s.get('uri', '')}" for s in r.search_suggestions]
    if r.error:
        lines.append(f"Error: {r.error}")
    if "cost_usd" in r.usage:
        # Search results Google feeds the model are billed as input: "in" counts them, as the cost does.
        search_in = int(r.usage.get("tool_use_prompt_tokens", 0))
        tokens_in = int(r.usage.get("prompt_tokens", 0)) + search_in
        lines.append(
            f"Usage: {tokens_in} in"
            + (f" ({search_in} of them search results)" if search_in else "")
            + f", {r.usage.get('output_tokens', 0)} out, "
            f"{r.usage.get('thoughts_tokens', 0)} thinking tokens, {r.usage.get('search_queries', 0)} "
            f"search queries; cost ${r.usage['cost_usd']}"
        )
    lines.append(
        f"Attempts {r.attempts}, latency {r.latency_ms if r.latency_ms is not None else '-'} ms. "
        "Size and leverage are decided by the risk engine, not by the analyst."
    )
    return "\n".join(lines)
