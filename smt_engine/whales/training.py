"""Training on real labels: fetch each labelled address's history through Etherscan, build the serving
features with the engine's own code, and hand the dataset to ``classifier.train_bundle``.

Fetching a few hundred histories at 3 calls/s takes a while and can hit the daily allowance, so it is
resumable: histories go to the same SQLite cache the engine uses, and ``fetch-progress.json`` in the
output directory records the block range and the addresses already done. Running the same command again
(same labels file) skips those and continues; a changed labels file starts a new range.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from smt_engine.store import Store
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.addresses import Category, normalize_address
from smt_engine.whales.classifier import CLASSES, LABEL_CLASSES, Dataset
from smt_engine.whales.etherscan import EtherscanClient, EtherscanError, EtherscanQuotaExhausted
from smt_engine.whales.features import compute_features
from smt_engine.whales.history import HistoryCache
from smt_engine.whales.holdout import entity_of
from smt_engine.whales.transfers import ALL_KINDS

log = logging.getLogger(__name__)

PROGRESS_FILE = "fetch-progress.json"
DATASET_FILE = "dataset.csv"


class LabelsError(ValueError):
    """The labels file cannot be used; the message names the file and line."""


@dataclass
class LabelsFile:
    path: Path
    rows: list[tuple[str, str]]  # (address, class)
    sha256: str


def read_labels(path: Path) -> LabelsFile:
    """CSV ``address,label``; a label is a class (``large_holder``) or an address-book category (``fund``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LabelsError(f"{path}: {exc}") from None
    reader = csv.DictReader(raw.decode("utf-8").splitlines())
    if not reader.fieldnames or not {"address", "label"} <= set(reader.fieldnames):
        raise LabelsError(f"{path}: expected a header with the columns address,label")
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    allowed = sorted({*CLASSES, *(c.value for c in LABEL_CLASSES)})
    for line, row in enumerate(reader, start=2):
        try:
            address = normalize_address(row.get("address") or "")
        except ValueError as exc:
            raise LabelsError(f"{path}:{line}: {exc}") from None
        label = (row.get("label") or "").strip().lower()
        whale_class = label if label in CLASSES else _category_class(label)
        if whale_class is None or whale_class not in CLASSES:
            raise LabelsError(f"{path}:{line}: label {label!r} is not one of {', '.join(allowed)}")
        if address in seen:
            raise LabelsError(f"{path}:{line}: {address} is listed twice (the holdout is by address)")
        seen.add(address)
        rows.append((address, whale_class))
    if not rows:
        raise LabelsError(f"{path}: no labelled addresses")
    return LabelsFile(path, rows, hashlib.sha256(raw).hexdigest())


def _category_class(label: str) -> str | None:
    try:
        return LABEL_CLASSES.get(Category(label))
    except ValueError:
        return None


@dataclass
class FetchProgress:
    labels_sha256: str
    start_block: int
    end_block: int
    fetched_at: str
    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)
    """Histories cut by the page cap: kept out of the dataset, continued by the next run."""
    balances: dict[str, str | None] = field(default_factory=dict)  # ETH, read when the history was

    @classmethod
    def load(cls, path: Path) -> FetchProgress | None:
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


Progress = Callable[[int, int, str], None]


class FetchStopped(Exception):
    """The daily allowance ran out mid-way; what was fetched is kept for the next run."""


async def fetch_dataset(
    client: EtherscanClient,
    store: Store,
    book: AddressBook,
    labels: LabelsFile,
    out_dir: Path,
    now: datetime,
    history_days: int,
    progress: Progress,
) -> Dataset:
    """Histories of every labelled address (resuming a previous run), as a feature dataset.

    ``out_dir`` must exist; the progress file and ``dataset.csv`` are written there.
    """
    progress_path = out_dir / PROGRESS_FILE
    state = FetchProgress.load(progress_path)
    total = len(labels.rows)
    try:
        if state is None or state.labels_sha256 != labels.sha256:
            start = await client.block_at(now - timedelta(days=history_days))
            end = await client.block_at(now)
            state = FetchProgress(labels.sha256, start, end, now.isoformat())
            state.save(progress_path)
        pending = [a for a, _ in labels.rows if a not in state.done and a not in state.skipped]
        balances = await client.balances(pending) if pending else {}
    except EtherscanQuotaExhausted as exc:  # the day's allowance was spent before this run started
        done = len(state.done) if state is not None else 0
        raise FetchStopped(
            f"{exc.message}: {done} of {total} addresses fetched; run the same command again "
            "(after the UTC day changes) to continue"
        ) from None
    cache = HistoryCache(store, client)
    for address, _ in labels.rows:
        if address in state.done or address in state.skipped:
            continue
        progress(len(state.done) + len(state.skipped), total, address)
        try:
            await cache.sync(address, ALL_KINDS, state.start_block, state.end_block, now)
        except EtherscanQuotaExhausted as exc:
            state.save(progress_path)
            raise FetchStopped(
                f"{exc.message}: {len(state.done)} of {total} addresses fetched; run the same command "
                "again (after the UTC day changes) to continue"
            ) from None
        except EtherscanError as exc:
            state.skipped[address] = exc.message
            log.warning("training: skipped %s: %s", address, exc.message)
        else:
            balance = balances.get(address)
            state.balances[address] = None if balance is None else str(balance)
            cut = _cut_short(cache, address, state.start_block, state.end_block)
            if cut:
                state.incomplete[address] = cut
                log.warning("training: %s history incomplete (%s): left out until complete", address, cut)
            else:
                state.incomplete.pop(address, None)
                state.done.append(address)
        state.save(progress_path)
    progress(total, total, "")
    return _dataset(cache, book, labels, state, out_dir, now, history_days)


def _cut_short(cache: HistoryCache, address: str, start: int, end: int) -> str:
    """Why the cached history of ``address`` does not cover ``start..end`` (the page cap), or ""."""
    for kind in ALL_KINDS:
        sync = cache.repo.sync_state(address, kind.value)
        if sync is None or sync.from_block > start or sync.to_block < end:
            through = sync.to_block if sync is not None else start
            return (
                f"{kind.value} read through block {through} of {end} (page cap per fetch): "
                "run the same command again to continue it"
            )
    return ""


def _dataset(
    cache: HistoryCache,
    book: AddressBook,
    labels: LabelsFile,
    state: FetchProgress,
    out_dir: Path,
    now: datetime,
    history_days: int,
) -> Dataset:
    since = now - timedelta(days=history_days)
    rows, y, addresses, groups = [], [], [], []
    dormant = 0
    for address, whale_class in labels.rows:
        if address not in state.done:
            continue  # failed, or cut by the page cap: never trained on a partial history
        history = cache.load(address, since)
        if not history:
            dormant += 1  # nothing in the window: no behaviour to learn a class from
            continue
        raw = state.balances.get(address)
        balance = Decimal(raw) if raw is not None else None
        rows.append(compute_features(address, history, balance, book))
        y.append(whale_class)
        addresses.append(address)
        entry = book.get(address)
        groups.append(entity_of(entry.label if entry is not None else None, address))
    if not rows:
        raise LabelsError(
            f"{labels.path}: no complete, active history for any labelled address "
            f"({len(state.incomplete)} cut by the page cap, {dormant} dormant, {len(state.skipped)} failed)"
        )
    provenance = {
        "source": "etherscan",
        "labels_file": str(labels.path),
        "labels_sha256": labels.sha256,
        "fetched_at": state.fetched_at,
        "blocks": [state.start_block, state.end_block],
        "history_days": history_days,
        "skipped": len(state.skipped),
        "incomplete": len(state.incomplete),
        "dormant": dormant,
    }
    dataset = Dataset(np.vstack(rows), y, addresses, provenance, groups)
    dataset.write_csv(out_dir / DATASET_FILE)
    return dataset
