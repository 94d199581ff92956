"""`smt tui`: the operator console. Textual and ``smt_tui`` are imported only when it runs."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.config.fields import parse_duration

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tui",
        parents=[common],
        help="open the operator console on the engine's database",
        description="Attach to the engine's SQLite database: live positions, proposals, whale feed, "
        "rationales; approve, reject, close and clean up through the engine's command queue. "
        "Opens read-only (actions unavailable) when the database cannot be written.",
    )
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.add_argument("--read-only", action="store_true", help="never write, even when the database is writable")
    p.add_argument(
        "--stale-after",
        metavar="DURATION",
        help="heartbeat age shown as stale (default: 3 x engine.heartbeat_interval; never less than three of "
        "the heartbeats the running engine declares)",
    )
    p.add_argument(
        "--no-confirm-approvals",
        action="store_true",
        help="approve or enter with one key in live mode too (by default a live approval or manual entry "
        "shows its risk and asks)",
    )
    p.set_defaults(handler=cmd_tui)


def cmd_tui(ctx: Context) -> int:
    settings = ctx.settings()
    path = Path(ctx.args.db).expanduser() if ctx.args.db else settings.engine.database
    stale_after: timedelta | None = None
    if ctx.args.stale_after:
        try:
            value = parse_duration(ctx.args.stale_after)
        except ValueError as exc:
            raise VerbError(f"--stale-after {ctx.args.stale_after!r}: {exc}") from None
        assert isinstance(value, timedelta)
        stale_after = value
    if not path.exists():
        raise VerbError(f"{path}: no database here; start the engine first or pass --db PATH")

    from smt_tui.app import open_console
    from smt_tui.state import ConsoleConfig

    # Log lines on stderr would tear the full-screen display; the console reports through notifications.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.NullHandler())

    config = ConsoleConfig.from_settings(settings, stale_after=stale_after)
    if ctx.args.no_confirm_approvals:
        config = dataclasses.replace(config, confirm_live_approvals=False)
    from smt_engine.store import StoreError

    try:
        app = open_console(path, config=config, readonly=True if ctx.args.read_only else None)
    except StoreError as exc:
        raise VerbError(str(exc)) from None
    try:
        app.run()
    finally:
        app.model.store.close()
    return 0
