"""`smt replay CYCLE_ID [--config FILE]`: a past cycle's recorded inputs through risk and sizing again.

Shows which proposals the settings in FILE would have allowed, denied or sized differently. Reads
the database only; no exchange client is created, so nothing can be sent anywhere.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="what-if: re-run risk and sizing on a recorded cycle with the given settings (no exchange)",
        description="Re-runs risk and sizing on the recorded inputs of a past cycle (account snapshot, open "
        "positions, analyses, prices) with the settings of --config, and shows what would differ. The "
        "database is only read and no exchange is contacted.",
    )
    p.add_argument("cycle_id", metavar="CYCLE_ID", help="a cycle id, as shown by the console or the events")
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(handler=cmd_replay)


def cmd_replay(ctx: Context) -> int:
    from smt_engine.backtest.replay import ReplayError, render_replay, replay_cycle

    settings = ctx.settings()
    store = ctx.store(readonly=True, path=Path(ctx.args.db) if ctx.args.db else None)
    try:
        result = replay_cycle(store, settings, ctx.args.cycle_id)
    except ReplayError as exc:
        raise VerbError(str(exc)) from None
    print(json.dumps(result.as_dict(), indent=2, default=str) if ctx.args.json else render_replay(result))
    return 0
