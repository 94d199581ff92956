"""A backtest report as text: one line per source over all pairs, the record per pair, and a chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smt_engine.backtest.metrics import ALL, RECORD_HORIZON


def _ci(ci: Any) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "[   n/a   ]"


def _pct(value: float | None, width: int = 7) -> str:
    return f"{value:+{width}.3f}" if value is not None else " " * (width - 3) + "n/a"


def render(report: dict[str, Any]) -> str:
    data = report["data"]
    lines = [
        f"Backtest run {report['run_id']}: {data['interval']} bars {data['from'][:16]} to "
        f"{data['to'][:16]} UTC, {data['decision_times']} decision times, pairs "
        + ", ".join(f"{p} ({n} bars)" for p, n in data["pairs"].items()),
        f"Fees {report['settings']['taker_fee_pct']} % per side (+{report['settings']['slippage_pct']} % "
        f"slippage in trading); returns are after the round-trip fee; intervals are 95 %.",
        "calls, acting (LONG/SHORT) and 4h mean: decisions scored at 4 h; hit (LONG/SHORT right), "
        f"outcome mean, its interval and Brier: at the {RECORD_HORIZON} (TP, SL or end of hold).",
        "",
        f"{'source':<14} {'kind':<8} {'calls':>6} {'acting':>6} {'hit':>5} {'4h mean':>8} "
        f"{'outcome mean':>12} {'95% (overlap)':>17} {'Brier':>6} | {'equity %':>8} {'max DD':>7} "
        f"{'turnover':>8} {'trades':>6}",
    ]
    for name, src in report["sources"].items():
        figs = src["figures"].get(ALL, {})
        four = figs.get("4h", {})
        out = figs.get(RECORD_HORIZON, {})
        port = src["portfolio"]
        trading = (
            f"{port['return_pct']:>+8.2f} {port['max_drawdown_pct']:>6.2f}% {port['turnover']:>8.1f} "
            f"{port['entries']:>6}"
            if port is not None
            else f"{'scored only, not traded':>32}"
        )
        hit = out.get("directional_hit_rate")
        brier = out.get("brier")
        lines.append(
            f"{name:<14} {src['kind']:<8} {four.get('n', 0):>6} {four.get('directional', 0):>6} "
            f"{(f'{hit:.2f}' if hit is not None else 'n/a'):>5} {_pct(four.get('avg_return_pct'), 8)} "
            f"{_pct(out.get('avg_return_pct'), 12)} {_ci(out.get('avg_return_ci_overlap')):>17} "
            f"{(f'{brier:.3f}' if brier is not None else 'n/a'):>6} | {trading}"
        )
    lines += [
        "",
        f"Records per pair ({RECORD_HORIZON}: TP, SL or end of hold; mean after fees, 95 % interval, n):",
    ]
    pairs = list(data["pairs"])
    lines.append(f"{'source':<14} " + " ".join(f"{p:>27}" for p in pairs))
    for name, src in report["sources"].items():
        cells = []
        for p in pairs:
            f = src["figures"].get(p, {}).get(RECORD_HORIZON)
            cells.append(
                f"{f['avg_return_pct']:+.2f} {_ci(f['avg_return_ci_overlap'])} {f['directional']:>4}"
                if f and f["avg_return_pct"] is not None
                else "-"
            )
        lines.append(f"{name:<14} " + " ".join(f"{c:>27}" for c in cells))
    lines.append("")
    min_n = report["settings"]["min_decisions"]
    if report["edge"]:
        lines.append(f"Records passing the edge criterion (95 % lower bound > 0 over >= {min_n} decisions):")
        lines += [
            f"  {e['source']} {e['pair']}: mean {e['mean']:+.3f} % {_ci(e['ci'])}" for e in report["edge"]
        ]
    else:
        lines.append(f"No record passes the edge criterion (95 % lower bound > 0 over >= {min_n} decisions).")
    lines += [f"Note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def chart(report: dict[str, Any], width: int = 100, height: int = 24, *, color: bool = True) -> str:
    """Equity curves of every source on one plot (plotext, text only; ``color`` off for pipes)."""
    import plotext as plt  # type: ignore[import-untyped]

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.date_form("Y-m-d")
    plt.title("Equity by source (USDT)")
    for name, src in report["sources"].items():
        points = src["portfolio"]["equity"] if src["portfolio"] is not None else []
        if not points:
            continue
        xs = [datetime.fromisoformat(t).strftime("%Y-%m-%d") for t, _ in points]
        plt.plot(xs, [e for _, e in points], label=name)
    text: str = plt.build()
    plt.clear_figure()
    return text if color else str(plt.uncolorize(text))
