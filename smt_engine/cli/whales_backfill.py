"""`smt whales backfill --from DATE --to DATE`: hourly exchange net flows over history (docs/whales.md).

Says what it will cost (calls a day, ETA) before it starts; resumable (run the same command again);
refuses beside a running engine, which calls Etherscan on the same key every cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from smt_engine.cli.context import Context, VerbError


def register(wsub: Any, common: argparse.ArgumentParser) -> None:
    p = wsub.add_parser(
        "backfill",
        parents=[common],
        help="hourly exchange net flows (ETH, WETH, stETH, USDT, USDC) over a past range, from Etherscan",
        description="Reads the watched exchange wallets' transfers over the blocks of --from..--to through "
        "the engine's cache (resumable: run the same command again to continue), within the key's daily "
        "allowance minus what the engine needs, then writes each hour's net flow per asset to "
        "flow_history. Prints the calls a day and the ETA before it starts. Stop the engine first (both "
        "would call Etherscan on the same key).",
    )
    p.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="start (YYYY-MM-DD[THH:MM], UTC)"
    )
    p.add_argument("--to", dest="end", required=True, metavar="DATE", help="end (YYYY-MM-DD[THH:MM], UTC)")
    p.set_defaults(handler=cmd_backfill)


def _when(flag: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise VerbError(f"{flag} {text!r}: expected a date like 2026-11-01 or 2026-11-01T12:00") from None
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value.replace(minute=0, second=0, microsecond=0)


def cmd_backfill(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.whales.addressbook import AddressBook
    from smt_engine.whales.backfill import BackfillStopped, backfill, engine_reserve, plan_backfill
    from smt_engine.whales.etherscan import EtherscanClient, EtherscanError, EtherscanRateLimiter
    from smt_engine.whales.health_report import calls_already_today, record_calls_outside_cycles

    start, end = _when("--from", ctx.args.start), _when("--to", ctx.args.end)
    settings = ctx.settings()
    cfg = settings.whales
    store = ctx.store()
    key = etherscan_key(ctx)
    book = AddressBook.load(cfg.address_book)
    clock = WallClock()
    reserve = engine_reserve(cfg.daily_call_limit, settings.engine.signal_interval)

    async def run() -> int:
        limiter = EtherscanRateLimiter(
            cfg.calls_per_second,
            max(1, cfg.daily_call_limit - reserve),
            used_today=calls_already_today(store, clock),
            today=lambda: clock.now().date().isoformat(),
        )
        try:
            async with EtherscanClient.from_settings(cfg, key, limiter=limiter) as client:
                plan = await plan_backfill(
                    client,
                    book,
                    start,
                    end,
                    cfg.daily_call_limit,
                    reserve,
                    cfg.calls_per_second,
                    now=clock.now(),
                    retention_days=cfg.history_retention_days,
                )
                print(plan.describe(), flush=True)
                return await backfill(client, store, book, plan, clock.now(), progress_bar)
        finally:  # the engine's next start counts these calls too
            record_calls_outside_cycles(store, clock, limiter, "smt whales backfill")

    with ctx.engine_lock("it calls Etherscan on the same key every cycle; stop it first"):
        try:
            rows = asyncio.run(run())
        except (BackfillStopped, EtherscanError, ValueError) as exc:
            print(file=sys.stderr)
            raise VerbError(str(exc)) from None
    print(
        f"wrote {rows} hourly flow rows (flow_history) for {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC"
    )
    return 0


def etherscan_key(ctx: Context) -> str:
    from smt_engine.secrets import SecretName

    key = ctx.secrets().get(SecretName.ETHERSCAN_API_KEY)
    if not key:
        raise VerbError("etherscan_api_key is not set: `smt keys set etherscan_api_key` or ETHERSCAN_API_KEY")
    return key


def progress_bar(done: int, total: int, address: str) -> None:
    """A one-line progress bar on stderr (the report goes to stdout)."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    tail = f" fetching {address}" if address else " done"
    print(f"\r[{bar}] {done}/{total}{tail}", end="" if address else "\n", file=sys.stderr, flush=True)
