"""`smt whales ...`: the labelled address book, training the classifier on real labels, a discovery scan."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.whales_backfill import etherscan_key, progress_bar

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    whales = sub.add_parser("whales", parents=[common], help="whale intelligence: labels, train, scan")
    wsub = whales.add_subparsers(dest="whales_command", metavar="ACTION", required=True)

    p = wsub.add_parser(
        "train",
        parents=[common],
        help="train a classifier bundle (.cbm + .json) and report",
        description="--labels fetches each labelled address's history through Etherscan (rate-limited, "
        "cached, resumable: run the same command again to continue), builds the serving features, "
        "trains only on complete histories (one cut by the page cap is left out and continued next run) "
        "of active addresses, holds out by entity (every wallet of one labelled operator on one side), "
        "trains CatBoost and writes the bundle with its holdout metrics as served (confidence below 0.5 "
        "is 'unknown') and its label source.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--labels",
        metavar="FILE.csv",
        help="address,label per line; label = a class (large_holder, fund_market_maker...) or a category",
    )
    src.add_argument("--dataset", metavar="FILE.csv", help="labelled features (address,label,<32 features>)")
    src.add_argument(
        "--synthetic",
        action="store_true",
        help="train a bootstrap on the wallet-behaviour simulator (never weighs in a signal)",
    )
    p.add_argument(
        "--out", metavar="DIR", default="whale_model", help="output directory (default ./whale_model)"
    )
    p.add_argument("--per-class", type=int, default=150, help="synthetic wallets per class")
    p.add_argument("--seed", type=int, default=2026, help="random seed (data split and model)")
    p.add_argument("--iterations", type=int, default=300, help="CatBoost iterations")
    p.add_argument("--depth", type=int, default=5, help="CatBoost tree depth")
    p.add_argument("--holdout", type=float, default=0.2, help="stratified holdout fraction")
    p.set_defaults(handler=cmd_train)

    from smt_engine.cli import whales_backfill

    whales_backfill.register(wsub, common)

    p = wsub.add_parser(
        "labels",
        parents=[common],
        help="list, search or add labelled addresses (public label set, curated book, your file)",
        description="Lists the address book with each entry's source and each source's age. --add writes "
        "one entry to your labels file (whales.address_book), which wins over the shipped labels.",
    )
    p.add_argument("--search", metavar="TEXT", help="address, name, label, role or tag containing TEXT")
    p.add_argument("--category", metavar="CAT", help="only this category (with --add: the new entry's)")
    p.add_argument("--json", action="store_true", help="JSON: sources and entries")
    p.add_argument("--add", metavar="ADDRESS", help="add or replace this address in your labels file")
    p.add_argument("--name", help="with --add: the entity (e.g. 'Binance')")
    p.add_argument("--label", help="with --add: the wallet's label (e.g. 'Binance 99'); default the name")
    p.add_argument("--role", default="", help="with --add: hot, cold, deposit, fiat gateway")
    p.add_argument("--watch", action="store_true", help="with --add: poll this exchange wallet every cycle")
    p.set_defaults(handler=cmd_labels)

    p = wsub.add_parser(
        "flows",
        parents=[common],
        help="recorded exchange net flows per cycle (ETH, WETH, stETH, USDT, USDC; 1 h / 6 h / 24 h)",
    )
    p.add_argument("--window", type=int, choices=(1, 6, 24), default=6, help="window in hours (default 6)")
    p.add_argument("--cycles", type=int, default=12, help="how many recent cycles (default 12)")
    p.add_argument("--json", action="store_true", help="one JSON array, one object per cycle")
    p.set_defaults(handler=cmd_flows)

    p = wsub.add_parser("scan", parents=[common], help="discover and classify whales, print and store them")
    p.add_argument(
        "--once", action="store_true", help="one cycle, then exit (default: every signal_interval)"
    )
    p.set_defaults(handler=cmd_scan)


def cmd_train(ctx: Context) -> int:
    from smt_engine.whales.addressbook import AddressBook
    from smt_engine.whales.classifier import BundleError, Dataset, format_report, train_bundle
    from smt_engine.whales.holdout import entity_of

    args = ctx.args
    if not 0 < args.holdout < 1:
        raise VerbError("--holdout must be between 0 and 1")
    try:
        bootstrap = bool(args.synthetic)
        if args.labels:
            dataset = _fetch_labelled(ctx, Path(args.labels), Path(args.out))
            command = f"smt whales train --labels {args.labels} --seed {args.seed}"
        elif args.synthetic:
            from smt_engine.whales.synth import synthetic_dataset

            dataset = synthetic_dataset(AddressBook.curated(), per_class=args.per_class, seed=args.seed)
            command = f"smt whales train --synthetic --per-class {args.per_class} --seed {args.seed}"
        else:
            dataset = Dataset.read_csv(Path(args.dataset))
            book = AddressBook.load(ctx.settings().whales.address_book)
            dataset.groups = [
                entity_of(entry.label if (entry := book.get(a)) is not None else None, a)
                for a in dataset.addresses
            ]
            command = f"smt whales train --dataset {args.dataset} --seed {args.seed}"
        result = train_bundle(
            dataset,
            Path(args.out),
            iterations=args.iterations,
            depth=args.depth,
            holdout=args.holdout,
            seed=args.seed,
            provenance={"command": command},
            bootstrap=bootstrap,
        )
    except BundleError as exc:
        raise VerbError(str(exc)) from None
    print(format_report(result.report))
    left_out = _left_out(dataset.provenance, result.meta["training"].get("dormant_rows_dropped", 0))
    if left_out:
        print(f"\nleft out of training: {left_out}")
    print(f"\nwrote {result.model_path} and {result.bundle_path} (model {result.meta['model_version']})")
    return 0


def _left_out(provenance: dict[str, Any], dormant_rows: int) -> str:
    """What the dataset does not train on, and why (histories cut by the page cap continue next run)."""
    parts = []
    if provenance.get("incomplete"):
        parts.append(f"{provenance['incomplete']} history(ies) cut by the page cap (run again to continue)")
    dormant = int(provenance.get("dormant", 0)) + int(dormant_rows)
    if dormant:
        parts.append(f"{dormant} dormant address(es) (no activity in the window)")
    if provenance.get("skipped"):
        parts.append(f"{provenance['skipped']} address(es) whose history failed")
    return "; ".join(parts)


def cmd_labels(ctx: Context) -> int:
    from datetime import UTC, datetime

    from smt_engine.whales.addressbook import AddressBook, AddressBookError, add_operator_label
    from smt_engine.whales.addresses import Category, LabelledAddress, normalize_address

    args = ctx.args
    settings = ctx.settings()
    category: Category | None = None
    if args.category:
        try:
            category = Category(args.category.strip().lower())
        except ValueError:
            allowed = ", ".join(c.value for c in Category)
            raise VerbError(f"unknown category {args.category!r}: one of {allowed}") from None
    if args.add:
        target = settings.whales.address_book
        if target is None:
            raise VerbError(
                "no labels file configured: set whales.address_book in the config file "
                '(e.g. address_book = "/var/lib/smt/labels.json") so the engine reads what you add'
            )
        if category is None or not args.name:
            raise VerbError("--add needs --category and --name")
        try:
            entry = LabelledAddress(
                address=normalize_address(args.add),
                category=category,
                name=args.name.strip(),
                label=(args.label or args.name).strip(),
                watch=args.watch,
                role=args.role.strip().lower(),
                source="operator",
            )
            add_operator_label(Path(target), entry)
        except (ValueError, OSError) as exc:
            raise VerbError(str(exc)) from None
        print(f"added {entry.address} ({entry.category.value}, {entry.label}) to {target}")
        return 0
    try:
        book = AddressBook.load(settings.whales.address_book)
    except AddressBookError as exc:
        raise VerbError(str(exc)) from None
    entries = book.search(args.search) if args.search else book.entries()
    if category is not None:
        entries = [e for e in entries if e.category is category]
    today = datetime.now(UTC).date()
    sources = [
        {
            "source": s.key,
            "description": s.description,
            "as_of": s.as_of.isoformat() if s.as_of else None,
            "age_days": s.age_days(today),
        }
        for s in book.sources
    ]
    if args.json:
        import json

        print(json.dumps({"sources": sources, "entries": [e.as_dict() for e in entries]}))
        return 0
    for s in sources:
        age = f"as of {s['as_of']} ({s['age_days']} days old)" if s["as_of"] else "undated"
        print(f"source {s['source']:<17} {age}: {s['description']}")
    print(f"\n{len(entries)} of {len(book)} labelled addresses")
    print(f"{'address':<44}{'category':<12}{'role':<14}{'label':<32}source")
    for e in entries:
        print(f"{e.address:<44}{e.category.value:<12}{e.role or '-':<14}{e.label[:31]:<32}{e.source}")
    return 0


def cmd_flows(ctx: Context) -> int:
    import json
    from decimal import Decimal

    from smt_engine.whales.flows import FLOW_ASSETS

    args = ctx.args
    if args.cycles < 1:
        raise VerbError("--cycles must be at least 1")
    store = ctx.store(readonly=True)
    rows = store.exchange_flows.recent(args.window, args.cycles * len(FLOW_ASSETS))
    by_cycle: dict[str, dict[str, Any]] = {}
    for f in rows:
        entry = by_cycle.setdefault(f.cycle_id, {"cycle_id": f.cycle_id, "at": f.at.isoformat(), "net": {}})
        entry["net"][f.asset] = str(f.net)
    cycles = sorted(by_cycle.values(), key=lambda e: str(e["at"]))[-args.cycles :]
    if args.json:  # one document, so no recorded flows is `[]` rather than no output
        print(json.dumps([{**entry, "window_hours": args.window} for entry in cycles]))
        return 0
    if not cycles:
        print("no exchange flows recorded yet (they are measured in each whale cycle)")
        return 0
    print(
        f"exchange net flows over {args.window} h (positive = onto exchanges; ETH-like in ETH, stables in $)"
    )
    print(f"{'at (UTC)':<18}" + "".join(f"{a:>16}" for a in FLOW_ASSETS))
    for entry in cycles:
        values = "".join(f"{Decimal(entry['net'].get(a, 0)):>+16,.2f}" for a in FLOW_ASSETS)
        print(f"{entry['at'][:16].replace('T', ' '):<18}{values}")
    return 0


def _fetch_labelled(ctx: Context, labels_path: Path, out: Path) -> Any:
    from smt_engine.clock import WallClock
    from smt_engine.whales.addressbook import AddressBook
    from smt_engine.whales.etherscan import EtherscanClient, EtherscanRateLimiter
    from smt_engine.whales.health_report import calls_already_today, record_calls_outside_cycles
    from smt_engine.whales.training import FetchStopped, LabelsError, fetch_dataset, read_labels

    try:
        labels = read_labels(labels_path)
    except LabelsError as exc:
        raise VerbError(str(exc)) from None
    settings = ctx.settings()
    store = ctx.store()
    key = etherscan_key(ctx)
    book = AddressBook.load(settings.whales.address_book)
    out.mkdir(parents=True, exist_ok=True)

    clock = WallClock()

    async def run() -> Any:
        # Starts from the day's count the engine recorded, so the daily allowance is not spent twice.
        limiter = EtherscanRateLimiter(
            settings.whales.calls_per_second,
            settings.whales.daily_call_limit,
            used_today=calls_already_today(store, clock),
            today=lambda: clock.now().date().isoformat(),
        )
        try:
            async with EtherscanClient.from_settings(settings.whales, key, limiter=limiter) as client:
                return await fetch_dataset(
                    client, store, book, labels, out, clock.now(), settings.whales.history_days, progress_bar
                )
        finally:  # the engine's next start counts these calls too
            record_calls_outside_cycles(store, clock, limiter, "smt whales train")

    # A running engine reads Etherscan on the same key: both together would exceed the per-second rate.
    with ctx.engine_lock(
        "it calls Etherscan on the same key every cycle; stop it first, or train from --dataset"
    ):
        try:
            return asyncio.run(run())
        except (FetchStopped, LabelsError) as exc:
            print(file=sys.stderr)
            raise VerbError(str(exc)) from None


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
            raise VerbError(str(exc)) from None
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
    print(f"unlabelled whales classified by the {result.classifier}")
    signals = {s.address: s for s in result.signals}
    if result.whales:
        print(f"{'address':<44}{'class':<18}{'conf':>6}  {'by':<10}{'volume ETH':>12}  label / signal")
        for w in result.whales:
            s = signals.get(w.address)
            sig = (
                f"{s.bias.value} {s.confidence:.0%} ({s.flow.value if s.flow else ''})"
                if s
                else "mixed: none"
            )
            print(
                f"{w.address:<44}{w.whale_class:<18}{w.class_confidence:>6.2f}  {w.classified_by:<10}"
                f"{w.volume_eth:>12.2f}  {(w.label + ' / ') if w.label else ''}{sig}"
            )
    for problem in result.errors:
        print(f"problem: {problem}")
    for base in ("ETH", "BTC"):
        sig = result.signal_for(base)
        if sig is not None:
            print(f"{base} whale signal: {sig.bias.value} {sig.confidence:.0%} - {sig.reasoning}")
    flows = {(f.window_hours, f.asset): f for f in result.flows}
    if flows:
        print("exchange net flows (positive = onto exchanges; ETH-like in ETH, stablecoins in USD):")
        for hours in sorted({h for h, _ in flows}):
            row = "  ".join(f"{a} {f.net:+,.2f}" for (h, a), f in flows.items() if h == hours)
            print(f"  {hours:>2} h: {row}")
    for base in ("ETH", "BTC"):
        flow = result.flow_signal_for(base)
        if flow is not None:
            print(f"{base} flow signal: {flow.bias.value} {flow.confidence:.0%} - {flow.reasoning}")
