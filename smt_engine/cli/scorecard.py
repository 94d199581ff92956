"""`smt scorecard [--since DATE] [--json]`: how the recorded decisions did against the market.

Reads the ``scores`` the engine writes (each decision is scored by the engine's cycle once its
horizon has passed); opens the database read-only and never talks to an exchange.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "scorecard",
        parents=[common],
        help="hit rate, return after fees, calibration and Brier score of every scored decision",
        description="Every analysis (WAIT included), whale signal and proposal (denied, rejected and "
        "expired included) is scored by the engine at 1h, 4h and 24h, and proposals on their TP/SL/max-hold "
        "outcome, once each horizon has passed. Figures are grouped by analyst and model, pair, tier and "
        "whether the whale signal agreed, each with its counts and 95%% confidence intervals; then each "
        "source's calibration map (stated vs calibrated confidence, what sizing uses).",
    )
    p.add_argument(
        "--since", metavar="DATE", help="only decisions made on or after DATE (YYYY-MM-DD or ISO time)"
    )
    p.add_argument("--json", action="store_true", help="print the whole scorecard as JSON")
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.set_defaults(handler=cmd_scorecard)


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise VerbError(f"--since {text!r}: expected a date like 2026-11-30 or 2026-11-30T12:00") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cmd_scorecard(ctx: Context) -> int:
    from smt_engine.scorecard import build_report, render_report
    from smt_engine.scorecard.calibration import calibration_section

    since = parse_since(ctx.args.since)
    store = ctx.store(readonly=True, path=Path(ctx.args.db) if ctx.args.db else None)
    report = build_report(store.scores.lines_since(since), since=since, now=datetime.now(UTC))
    risk = ctx.settings().risk
    report["calibrated"] = calibration_section(
        store.scores.lines_of("analysis", risk.evidence_horizon),
        risk.evidence_horizon,
        risk.calibration_prior,
    )
    print(json.dumps(report, indent=2) if ctx.args.json else render_report(report))
    return 0
