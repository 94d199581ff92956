"""`smt performance [--days N] [--weeks N] [--trades N] [--json]`: realised PnL net of fees by day, week
and all time, per closed trade, win rate, profit factor and drawdown; the console's Performance screen
(key ``$``) shows the same figures.

Opens the database read-only and never talks to an exchange. How fees are derived:
``smt_engine/store/performance.py``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context
from smt_engine.store.performance import Bucket, Performance, TradeResult

Sub = Any

CENT = Decimal("0.01")


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "performance",
        parents=[common],
        help="realised PnL net of fees by day, week and all time; per-trade return; win rate, profit factor",
        description="Realised PnL of closed positions net of both fees, per UTC day, ISO week and all time; "
        "each closed trade's gross PnL, fees, net PnL and return on margin; win rate, profit factor (gross "
        "wins over gross losses after fees) and the deepest fall of cumulative net PnL, with the current "
        "drawdown from the equity peak. The closing fee comes from the venue's fills, the entry fee from "
        "exchange.taker_fee_pct (both from the rate when the closing fills were not readable).",
    )
    p.add_argument("--days", type=_positive, default=7, metavar="N", help="daily rows to show (default 7)")
    p.add_argument("--weeks", type=_positive, default=4, metavar="N", help="weekly rows to show (default 4)")
    p.add_argument(
        "--trades",
        type=_positive,
        default=20,
        metavar="N",
        help="most recent closed trades to list (default 20)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.set_defaults(handler=cmd_performance)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 3660:
        raise argparse.ArgumentTypeError(f"{value} is out of range: give 1 to 3660")
    return value


def _s(value: Decimal | None) -> str | None:
    """Exact, without the trailing zeros that multiplication leaves (``20.000`` is ``20``)."""
    return None if value is None else format(value.normalize(), "f")


def _bucket_json(b: Bucket) -> dict[str, Any]:
    return {
        "period": b.label,
        "start": b.start.isoformat() if b.start else None,
        "trades": b.trades,
        "wins": b.wins,
        "gross_pnl": _s(b.gross),
        "fees": _s(b.fees),
        "net_pnl": _s(b.net),
    }


def _trade_json(r: TradeResult) -> dict[str, Any]:
    t = r.trade
    return {
        "position_id": t.id,
        "symbol": t.symbol,
        "side": t.side.value,
        "size": _s(t.size),
        "entry_price": _s(t.entry_price),
        "exit_price": _s(t.exit_price),
        "margin": _s(t.margin),
        "opened_at": t.opened_at.isoformat(),
        "closed_at": t.closed_at.isoformat(),
        "close_reason": t.close_reason.value if t.close_reason else None,
        "gross_pnl": _s(r.gross),
        "fees": _s(r.fees),
        "fee_source": r.fee_source,
        "net_pnl": _s(r.net),
        "return_pct": _s(r.return_pct),
    }


def to_json(perf: Performance) -> dict[str, Any]:
    """Decimals as strings (exact), times in ISO 8601 UTC."""
    dd = perf.max_drawdown
    return {
        "at": perf.at.isoformat(),
        "all_time": _bucket_json(perf.total),
        "daily": [_bucket_json(b) for b in perf.days],
        "weekly": [_bucket_json(b) for b in perf.weeks],
        "losses": perf.losses,
        "win_rate_pct": _s(perf.win_rate),
        "profit_factor": _s(perf.profit_factor),
        "max_drawdown": {
            "amount": _s(dd.amount),
            "peak_at": dd.peak_at.isoformat() if dd.peak_at else None,
            "trough_at": dd.trough_at.isoformat() if dd.trough_at else None,
        },
        "equity": _s(perf.equity),
        "peak_equity": _s(perf.peak_equity),
        "drawdown_now": _s(perf.drawdown_now),
        "drawdown_now_pct": _s(perf.drawdown_now_pct),
        "unpriced": perf.unpriced,
        "trades": [_trade_json(r) for r in perf.trades],
    }


def _m(value: Decimal | None, sign: bool = True) -> str:
    if value is None:
        return "n/a"
    q = value.quantize(CENT)
    return f"{q:+}" if sign else f"{q}"


def render(perf: Performance) -> str:
    t = perf.total
    lines = [
        f"Performance at {perf.at:%Y-%m-%d %H:%M}Z (realised, net of fees, USDT)",
        f"all time: net {_m(t.net)}  gross {_m(t.gross)}  fees {_m(t.fees, sign=False)}  {t.trades} trades",
        "win rate "
        + (
            f"{perf.win_rate:.0f}% ({t.wins} of {t.trades})"
            if perf.win_rate is not None
            else "n/a (no trade)"
        )
        + "  profit factor "
        + (f"{perf.profit_factor:.2f}" if perf.profit_factor is not None else "n/a (no losing trade)")
        + f"  max drawdown {_m(perf.max_drawdown.amount, sign=False)}",
    ]
    if perf.drawdown_now is not None:
        pct = f" ({perf.drawdown_now_pct:.1f}%)" if perf.drawdown_now_pct is not None else ""
        lines.append(
            f"equity {_m(perf.equity, sign=False)}, {_m(perf.drawdown_now, sign=False)}{pct} below its peak"
        )
    if perf.unpriced:
        lines.append(f"{perf.unpriced} closed position(s) with no exit price or realised PnL left out")
    for title, buckets in (("day (UTC)", perf.days), ("ISO week", perf.weeks)):
        lines.append("")
        lines.append(f"{title:<12} {'trades':>6} {'wins':>5} {'gross':>12} {'fees':>10} {'net':>12}")
        for b in buckets:
            lines.append(
                f"{b.label:<12} {b.trades:>6} {b.wins:>5} {_m(b.gross):>12} {_m(b.fees, sign=False):>10} "
                f"{_m(b.net):>12}"
            )
    lines.append("")
    if not perf.trades:
        lines.append("no closed trade yet")
        return "\n".join(lines)
    lines.append(
        f"{'closed':<16} {'symbol':<10} {'side':<5} {'size':>10} {'entry':>12} {'exit':>12} "
        f"{'gross':>10} {'fees':>8} {'net':>10} {'return':>8}"
    )
    for r in perf.trades:
        tr = r.trade
        ret = f"{r.return_pct:+.2f}%" if r.return_pct is not None else "n/a"
        lines.append(
            f"{tr.closed_at:%Y-%m-%d %H:%M} {tr.symbol:<10} {tr.side.value:<5} {tr.size!s:>10} "
            f"{tr.entry_price!s:>12} {tr.exit_price!s:>12} {_m(r.gross):>10} "
            f"{_m(r.fees, sign=False) + ('~' if r.fee_source == 'rate' else ''):>8} {_m(r.net):>10} {ret:>8}"
        )
    if any(r.fee_source == "rate" for r in perf.trades):
        lines.append("~ fees at exchange.taker_fee_pct: the closing fills were not readable")
    return "\n".join(lines)


def cmd_performance(ctx: Context) -> int:
    from smt_engine.store.performance import from_store

    args = ctx.args
    store = ctx.store(readonly=True, path=Path(args.db) if args.db else None)
    fee = ctx.settings().exchange.taker_fee_pct
    perf = from_store(
        store,
        now=datetime.now(UTC),
        taker_fee_pct=fee,
        days=args.days,
        weeks=args.weeks,
        trade_limit=args.trades,
    )
    print(json.dumps(to_json(perf), indent=2) if args.json else render(perf))
    return 0
