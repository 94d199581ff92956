"""`smt whales ...`: train the classifier, build a labelled dataset from Etherscan, run a discovery scan."""

from __future__ import annotations

import argparse
import asyncio
import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

from smt_engine.commands.context import CommandError, Context

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    whales = sub.add_parser("whales", parents=[common], help="whale intelligence: train, label-fetch, scan")
    wsub = whales.add_subparsers(dest="whales_command", metavar="ACTION", required=True)

    p = wsub.add_parser("train", parents=[common], help="train a classifier bundle (.cbm + .json) and report")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", metavar="FILE.csv", help="labelled features (address,label,<32 features>)")
    src.add_argument("--synthetic", action="store_true", help="train on the wallet-behaviour simulator")
    p.add_argument(
        "--out", metavar="DIR", default="whale_model", help="output directory (default ./whale_model)"
    )
    p.add_argument("--per-class", type=int, default=150, help="synthetic wallets per class")
    p.add_argument("--seed", type=int, default=2026, help="random seed (data split and model)")
    p.add_argument("--iterations", type=int, default=300, help="CatBoost iterations")
    p.add_argument("--depth", type=int, default=5, help="CatBoost tree depth")
    p.add_argument("--holdout", type=float, default=0.2, help="stratified holdout fraction")
    p.set_defaults(handler=cmd_train)

    p = wsub.add_parser(
        "label-fetch", parents=[common], help="fetch histories of labelled addresses and write a dataset"
    )
    p.add_argument("--labels", metavar="FILE", required=True, help="CSV with columns address,label")
    p.add_argument("--out", metavar="FILE.csv", required=True, help="dataset to write")
    p.set_defaults(handler=cmd_label_fetch)

    p = wsub.add_parser("scan", parents=[common], help="discover and classify whales, print and store them")
    p.add_argument(
        "--once", action="store_true", help="one cycle, then exit (default: every signal_interval)"
    )
    p.set_defaults(handler=cmd_scan)


def cmd_train(ctx: Context) -> int:
    from smt_engine.whales.addressbook import AddressBook
    from smt_engine.whales.classifier import BundleError, Dataset, format_report, train_bundle

    args = ctx.args
    if not 0 < args.holdout < 1:
        raise CommandError("--holdout must be between 0 and 1")
    try:
        if args.synthetic:
            from smt_engine.whales.synth import synthetic_dataset

            dataset = synthetic_dataset(AddressBook.shipped(), per_class=args.per_class, seed=args.seed)
            command = f"smt whales train --synthetic --per-class {args.per_class} --seed {args.seed}"
        else:
            dataset = Dataset.read_csv(Path(args.dataset))
            command = f"smt whales train --dataset {args.dataset} --seed {args.seed}"
        result = train_bundle(
            dataset,
            Path(args.out),
            iterations=args.iterations,
            depth=args.depth,
            holdout=args.holdout,
            seed=args.seed,
            provenance={"command": command},
        )
    except BundleError as exc:
        raise CommandError(str(exc)) from None
    print(format_report(result.report))
    print(f"\nwrote {result.model_path} and {result.bundle_path} (model {result.meta['model_version']})")
    return 0


def _etherscan_key(ctx: Context) -> str:
    from smt_engine.secrets import SecretName

    key = ctx.secrets().get(SecretName.ETHERSCAN_API_KEY)
    if not key:
        raise CommandError(
            "etherscan_api_key is not set: `smt keys set etherscan_api_key` or ETHERSCAN_API_KEY"
        )
    return key


def _read_labels(path: Path) -> list[tuple[str, str]]:
    from smt_engine.whales.addressbook import normalize_address
    from smt_engine.whales.classifier import CLASSES

    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise CommandError(f"{path}: {exc}") from None
    out = []
    for i, row in enumerate(rows, start=2):
        try:
            address = normalize_address(row.get("address") or "")
        except ValueError as exc:
            raise CommandError(f"{path}:{i}: {exc}") from None
        label = (row.get("label") or "").strip()
        if label not in CLASSES:
            raise CommandError(f"{path}:{i}: label {label!r} is not one of {', '.join(CLASSES)}")
        out.append((address, label))
    if not out:
        raise CommandError(f"{path}: no labelled addresses (expected a header address,label)")
    return out


def cmd_label_fetch(ctx: Context) -> int:
    labels = _read_labels(Path(ctx.args.labels))
    settings = ctx.settings()
    store = ctx.store()
    key = _etherscan_key(ctx)
    return asyncio.run(_label_fetch(settings, store, key, labels, Path(ctx.args.out)))


async def _label_fetch(settings: Any, store: Any, key: str, labels: list[tuple[str, str]], out: Path) -> int:
    import numpy as np

    from smt_engine.clock import WallClock
    from smt_engine.whales.addressbook import AddressBook
    from smt_engine.whales.classifier import Dataset
    from smt_engine.whales.etherscan import EtherscanClient, EtherscanError
    from smt_engine.whales.features import compute_features
    from smt_engine.whales.history import HistoryCache
    from smt_engine.whales.transfers import ALL_KINDS

    book = AddressBook.load(settings.whales.address_book)
    now = WallClock().now()
    rows, y, addresses, skipped = [], [], [], 0
    async with EtherscanClient.from_settings(settings.whales, key) as client:
        cache = HistoryCache(store, client)
        start = await client.block_at(now - timedelta(days=settings.whales.history_days))
        end = await client.block_at(now)
        balances = await client.balances([a for a, _ in labels])
        for address, label in labels:
            try:
                await cache.sync(address, ALL_KINDS, start, end, now)
            except EtherscanError as exc:
                print(f"skipped {address}: {exc}")
                skipped += 1
                continue
            history = cache.load(address, now - timedelta(days=settings.whales.history_days))
            rows.append(compute_features(address, history, balances.get(address), book))
            y.append(label)
            addresses.append(address)
    if not rows:
        raise CommandError("no history could be fetched for any labelled address")
    provenance = {
        "source": "etherscan",
        "fetched_at": now.isoformat(),
        "history_days": settings.whales.history_days,
    }
    Dataset(np.vstack(rows), y, addresses, provenance).write_csv(out)
    print(f"wrote {out}: {len(rows)} labelled wallets ({skipped} skipped)")
    return 0


def cmd_scan(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.whales.source import WhaleSourceError, make_whale_source

    settings = ctx.settings()
    with ctx.engine_lock(
        "it owns the whale tables and runs this scan every cycle; see the console's whale feed"
    ):
        store = ctx.store()
        clock = WallClock()
        try:
            source = make_whale_source(settings, store, clock, ctx.secrets())
        except WhaleSourceError as exc:
            raise CommandError(str(exc)) from None
        return asyncio.run(_scan(source, store, clock, ctx.args.once, settings.engine.signal_interval))


async def _scan(source: Any, store: Any, clock: Any, once: bool, interval: timedelta) -> int:
    from smt_engine.store.records import Cycle

    try:
        while True:
            now = clock.now()
            cycle_id = f"scan-{now:%Y%m%dT%H%M%S}"
            store.cycles.insert(Cycle(id=cycle_id, started_at=now, trigger="scan"))
            result = await source.run_cycle(cycle_id)
            status = "failed" if result.errors and result.aggregate is None else "done"
            store.cycles.update(
                cycle_id, finished_at=clock.now(), status=status, error="; ".join(result.errors) or None
            )
            print_result(result)
            if once:
                return 0 if result.aggregate is not None else 1
            await clock.sleep(interval.total_seconds())
    finally:
        await source.aclose()


def print_result(result: Any) -> None:
    print(f"cycle {result.cycle_id}: {len(result.transfers)} large transfers, {len(result.whales)} whales")
    signals = {s.address: s for s in result.signals}
    if result.whales:
        print(f"{'address':<44}{'class':<14}{'conf':>6}  {'by':<6}{'volume ETH':>12}  signal")
        for w in result.whales:
            s = signals.get(w.address)
            sig = (
                f"{s.bias.value} {s.confidence:.0%} ({s.flow.value if s.flow else ''})"
                if s
                else "mixed: none"
            )
            print(
                f"{w.address:<44}{w.whale_class:<14}{w.class_confidence:>6.2f}  {w.classified_by:<6}"
                f"{w.volume_eth:>12.2f}  {sig}"
            )
    for problem in result.errors:
        print(f"problem: {problem}")
    for base in ("ETH", "BTC"):
        sig = result.signal_for(base)
        if sig is not None:
            print(f"{base} whale signal: {sig.bias.value} {sig.confidence:.0%} - {sig.reasoning}")
