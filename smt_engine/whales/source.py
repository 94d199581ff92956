"""The facade the engine pipeline calls once per cycle: discover, classify, score, store.

``EtherscanWhaleSource`` reads the chain through Etherscan; ``SyntheticWhaleSource`` (the demo) reads
the wallet simulator on the engine's clock. Both run the same ``WhalePipeline`` and write the same
``whale_transfers``, ``whales`` and ``whale_signals`` rows under the cycle id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.config.fields import format_duration
from smt_engine.domain import Mode
from smt_engine.secrets import SecretName, SecretStore, redact
from smt_engine.store import Store
from smt_engine.store.flows import ExchangeFlow, ExchangeFlowsRepo
from smt_engine.store.records import Whale, WhaleSignal, WhaleTransfer
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.addresses import Category
from smt_engine.whales.classifier import LABEL_CLASSES, WhaleClassifier, label_classification
from smt_engine.whales.discovery import LargeTransfer, WhaleCandidate, large_transfers, rank_whales
from smt_engine.whales.etherscan import EtherscanClient, EtherscanError, EtherscanRateLimiter
from smt_engine.whales.features import as_dict, compute_features
from smt_engine.whales.flows import (
    ETH_LIKE,
    SIGNAL_STABLES,
    SIGNAL_WINDOW_HOURS,
    FlowSignal,
    eth_equivalent,
    flow_signal,
    measure_flows,
)
from smt_engine.whales.health_report import calls_already_today, report_etherscan_health, report_flows_health
from smt_engine.whales.history import ChainSource, HistoryCache
from smt_engine.whales.signals import aggregate, btc_proxy, recent_flow, whale_signal
from smt_engine.whales.transfers import ALL_KINDS, ZERO, Transfer, TransferKind

log = logging.getLogger(__name__)

# Per watched exchange wallet and cycle: txlist, txlistinternal and tokentx from where the cache stopped.
WATCHED_KINDS: tuple[TransferKind, ...] = (TransferKind.NORMAL, TransferKind.INTERNAL, TransferKind.ERC20)
FLOW_HISTORY = 96  # past cycles a flow is compared with (16 days at the default 4 h signal interval)


class WhaleSourceError(Exception):
    """A whale source cannot be built (e.g. no Etherscan key outside demo mode)."""


@dataclass
class WhaleCycleResult:
    cycle_id: str
    at: datetime
    transfers: list[WhaleTransfer] = field(default_factory=list)
    whales: list[Whale] = field(default_factory=list)
    signals: list[WhaleSignal] = field(default_factory=list)
    aggregate: WhaleSignal | None = None
    errors: list[str] = field(default_factory=list)
    btc_proxy: bool = False
    btc_proxy_weight: float = 1.0
    flows: list[ExchangeFlow] = field(default_factory=list)
    flow_signals: dict[str, FlowSignal] = field(default_factory=dict)
    classifier: str = ""  # how unlabelled whales were classified ("bootstrap model ...", "model ...")

    def signal_for(self, base: str) -> WhaleSignal | None:
        """The whale signal for a pair's base asset: ETH directly, BTC as a correlated proxy, else None."""
        if self.aggregate is None:
            return None
        base = base.upper()
        if base == "ETH":
            return self.aggregate
        if base == "BTC" and self.btc_proxy:
            return btc_proxy(self.aggregate, self.btc_proxy_weight)
        return None

    def flow_signal_for(self, base: str) -> FlowSignal | None:
        """The exchange-flow reading for ETH or BTC (with its numbers), else None."""
        return self.flow_signals.get(base.upper())


class WhaleSource(Protocol):
    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult: ...

    async def aclose(self) -> None: ...


class WhalePipeline:
    """One cycle over any ``ChainSource``; every external failure is recorded and skipped."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        chain: ChainSource,
        *,
        book: AddressBook | None = None,
        classifier: WhaleClassifier | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.whales
        self.store = store
        self.clock = clock
        self.chain = chain
        self.book = book or AddressBook.load(self.cfg.address_book)
        self.classifier = classifier or WhaleClassifier.load(self.cfg.model)
        self.cache = HistoryCache(store, chain)

    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult:
        now = self.clock.now()
        result = WhaleCycleResult(
            cycle_id,
            now,
            btc_proxy=self.cfg.btc_proxy,
            btc_proxy_weight=self.cfg.btc_proxy_weight,
            classifier=self.classifier.description,
        )
        lookback = timedelta(hours=self.cfg.lookback_hours)
        watch_span = max(lookback, timedelta(hours=max(self.cfg.flow_windows_hours)))
        try:
            end_block = await self.chain.block_at(now)
            window_block = await self.chain.block_at(now - watch_span)
            history_block = await self.chain.block_at(now - timedelta(days=self.cfg.history_days))
        except EtherscanError as exc:
            report_flows_health(
                self.store, self.clock, result.flow_signals.get("ETH"), 0, len(self.book.watched())
            )
            return self._fail(result, f"block lookup failed: {exc}")

        # Bounded (whales.step_budget): past the deadline no new read starts; what was read by then is
        # used, the rest is marked (wallets as incomplete, whales as not scored) and the cycle goes on.
        deadline = now + self.cfg.step_budget
        watched: dict[str, list[Transfer]] = {}
        wallets = self.book.watched()
        incomplete: list[str] = []  # failed, or synced range ending before end_block (page budget)
        for entry in wallets:
            if self.clock.now() >= deadline:
                incomplete.append(f"{entry.label} (not read: whales.step_budget spent)")
                continue
            try:
                await self.cache.sync(entry.address, WATCHED_KINDS, window_block, end_block, now)
            except EtherscanError as exc:
                self._record(result, f"exchange wallet {entry.label}: {exc}")
                incomplete.append(f"{entry.label} (failed)")
                continue
            if not self._synced_through(entry.address, end_block):
                incomplete.append(f"{entry.label} (newest blocks not read)")
            watched[entry.address] = self.cache.window(entry.address, now - watch_span, now)
        self._flows(result, watched, now, len(wallets), incomplete)
        report_flows_health(
            self.store,
            self.clock,
            result.flow_signals.get("ETH"),
            len(watched),
            len(wallets),
            incomplete,
        )
        big = large_transfers(watched, self.book, now - lookback, now, self.cfg.min_transfer_eth)
        candidates = rank_whales(big, self.book, self.cfg.max_whales)
        result.transfers = [self._transfer_record(lt, cycle_id) for lt in big]

        balances: dict[str, Decimal] = {}
        if candidates:
            try:
                balances = await self.chain.balances([c.address for c in candidates])
            except EtherscanError as exc:
                self._record(result, f"balances: {exc}")
        for i, cand in enumerate(candidates):
            if self.clock.now() >= deadline:
                self._record(
                    result,
                    f"whales.step_budget ({format_duration(self.cfg.step_budget)}) spent: {i} of "
                    f"{len(candidates)} whale(s) scored this cycle, the rest wait for the next",
                )
                break
            # The transfers that made it a whale are already known: cache them under the whale too, so
            # its signal sees them even when its own history is too long to read in one cycle.
            self.cache.remember(cand.address, [lt.transfer for lt in big if lt.counterparty == cand.address])
            try:
                await self.cache.sync(cand.address, ALL_KINDS, history_block, end_block, now)
            except EtherscanError as exc:
                self._record(result, f"history of {cand.address}: {exc}")
                continue
            self._score(result, cand, balances.get(cand.address), now, lookback)

        labels = {w.address: w.label for w in result.whales if w.label}
        result.aggregate = aggregate(result.signals, cycle_id, now, labels)
        self._persist(result)
        self.cache.prune(now, self.cfg.history_retention_days)
        log.info(
            "whale cycle: %d large transfers, %d whales, %d signals; ETH %s %.0f%%",
            len(result.transfers),
            len(result.whales),
            len(result.signals),
            result.aggregate.bias.value,
            result.aggregate.confidence * 100,
            extra={"event": "whale_cycle", "cycle_id": cycle_id},
        )
        return result

    def _score(
        self,
        result: WhaleCycleResult,
        cand: WhaleCandidate,
        balance: Decimal | None,
        now: datetime,
        lookback: timedelta,
    ) -> None:
        history = self.cache.load(cand.address, now - timedelta(days=self.cfg.history_days))
        vector = compute_features(cand.address, history, balance, self.book)
        cls = label_classification(self.book.get(cand.address)) or self.classifier.classify(vector)
        result.whales.append(
            Whale(
                address=cand.address,
                whale_class=cls.whale_class,
                class_confidence=round(cls.confidence, 4),
                classified_by=cls.classified_by,
                model_version=cls.model_version,
                label=cand.label,
                features=as_dict(vector),
                volume_eth=cand.volume_eth,
                first_seen_at=now,
                updated_at=now,
            )
        )
        flow = recent_flow(cand.address, history, self.book, now, lookback, self.cfg.min_transfer_eth)
        signal = whale_signal(cand.address, cls, flow, result.cycle_id, now)
        if signal is not None:
            result.signals.append(signal)

    def _synced_through(self, address: str, end_block: int) -> bool:
        for kind in WATCHED_KINDS:
            state = self.cache.repo.sync_state(address, kind.value)
            if state is None or state.to_block < end_block:
                return False
        return True

    def _flows(
        self,
        result: WhaleCycleResult,
        watched: dict[str, list[Transfer]],
        now: datetime,
        full: int,
        incomplete: list[str],
    ) -> None:
        """Flows are recorded even when incomplete (with fewer complete wallets); only full cycles score."""
        if not watched:
            return
        complete = full - len(incomplete)
        cfg = self.cfg
        window = cfg.flow_signal_window_hours
        result.flows = measure_flows(
            watched, self.book, result.cycle_id, now, complete, windows=cfg.flow_windows_hours
        )
        repo = self.store.exchange_flows
        eth_hist = series_history(repo, ETH_LIKE, now, full, window)
        stable_hist = series_history(repo, SIGNAL_STABLES, now, full, window)
        labels = [e.label for a in sorted(watched) if (e := self.book.get(a)) is not None]
        for base in ("ETH", "BTC"):
            signal = flow_signal(base, result.flows, eth_hist, stable_hist, labels, incomplete, window)
            if signal is not None:
                result.flow_signals[base] = signal
        repo.add_cycle(result.flows)

    def _transfer_record(self, lt: LargeTransfer, cycle_id: str) -> WhaleTransfer:
        t = lt.transfer
        return WhaleTransfer(
            tx_hash=t.tx_hash,
            from_address=t.from_address,
            to_address=t.to_address,
            value_eth=eth_equivalent(t),
            block=t.block,
            at=t.at,
            exchange_label=lt.exchange_label,
            direction=lt.direction,
            cycle_id=cycle_id,
        )

    def _persist(self, result: WhaleCycleResult) -> None:
        with self.store.transaction():
            self.store.whale_transfers.add_new(result.transfers)
            for whale in result.whales:
                self.store.whales.upsert(whale)
            result.signals = [self.store.whale_signals.insert(s) for s in result.signals]
            if result.aggregate is not None:
                result.aggregate = self.store.whale_signals.insert(result.aggregate)

    def _record(self, result: WhaleCycleResult, problem: str) -> None:
        problem = redact(problem)
        result.errors.append(problem)
        log.warning("whale cycle: %s", problem, extra={"event": "whale_error", "cycle_id": result.cycle_id})

    def _fail(self, result: WhaleCycleResult, problem: str) -> WhaleCycleResult:
        self._record(result, problem)
        return result


def series_history(
    repo: ExchangeFlowsRepo,
    assets: tuple[str, ...],
    before: datetime,
    wallets: int,
    window: int = SIGNAL_WINDOW_HOURS,
) -> list[Decimal]:
    """Earlier cycles' net flow of a series over ``window`` hours (assets summed per cycle), newest first.

    Only cycles that read all ``wallets`` whole: a partial total would skew the mean and spread.
    """
    per_cycle: dict[str, Decimal] = {}
    for asset in assets:
        for f in repo.series(asset, window, before, FLOW_HISTORY):
            if f.wallets != wallets:
                continue
            per_cycle[f.cycle_id] = per_cycle.get(f.cycle_id, ZERO) + f.net
    return list(per_cycle.values())


class EtherscanWhaleSource:
    """Paper and live mode: the chain through Etherscan V2; reports ``whales.etherscan`` health each cycle."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        api_key: str,
        http_client: httpx.AsyncClient | None = None,
        **client_options: Any,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cycles_per_day = timedelta(days=1) / settings.engine.signal_interval
        if "limiter" not in client_options:
            client_options["limiter"] = EtherscanRateLimiter(
                settings.whales.calls_per_second,
                settings.whales.daily_call_limit,
                used_today=calls_already_today(store, clock),
                today=lambda: clock.now().date().isoformat(),
            )
        self.client = EtherscanClient.from_settings(settings.whales, api_key, http_client, **client_options)
        self.pipeline = WhalePipeline(settings, store, clock, self.client)

    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult:
        calls_before = sum(self.client.calls.values())
        limited_before = self.client.rate_limited
        result = await self.pipeline.run_cycle(cycle_id)
        report_etherscan_health(
            self.store,
            self.clock,
            self.client.limiter,
            result.errors,
            calls=sum(self.client.calls.values()) - calls_before,
            rate_limited=self.client.rate_limited - limited_before,
            cycles_per_day=self.cycles_per_day,
        )
        return result

    async def aclose(self) -> None:
        await self.client.aclose()


class SyntheticWhaleSource:
    """Demo mode: simulated whales trading with the watched exchange wallets on the engine's clock."""

    def __init__(
        self, settings: Settings, store: Store, clock: Clock, seed: int = 7, whales: int = 30
    ) -> None:
        from smt_engine.whales.synth import SyntheticChain

        book = AddressBook.load(settings.whales.address_book)
        # The simulator's world is drawn from the curated book only, so the demo feed stays the same
        # whatever the public label set holds; a few real labelled addresses join the simulated whales
        # so the demo shows label classes (the bootstrap's classes carry no weight).
        self.chain = SyntheticChain(
            AddressBook.curated(), seed=seed, whales=whales, labelled=demo_labelled_whales(book)
        )
        self.pipeline = WhalePipeline(settings, store, clock, self.chain, book=book)

    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult:
        return await self.pipeline.run_cycle(cycle_id)

    async def aclose(self) -> None:
        return None


DEMO_LABELLED_CATEGORIES = (Category.FUND, Category.STAKING, Category.FUND, Category.MEV_BOT, Category.BRIDGE)


def demo_labelled_whales(book: AddressBook) -> list[tuple[str, str]]:
    """The first labelled addresses of a few whale-like categories, with the class their label names."""
    by_category: dict[Category, list[str]] = {}
    for entry in book.entries():
        if entry.category in DEMO_LABELLED_CATEGORIES and book.can_be_whale(entry.address):
            by_category.setdefault(entry.category, []).append(entry.address)
    out: list[tuple[str, str]] = []
    taken: dict[Category, int] = {}
    for category in DEMO_LABELLED_CATEGORIES:
        i = taken.get(category, 0)
        candidates = by_category.get(category, [])
        if i < len(candidates):
            out.append((candidates[i], LABEL_CLASSES[category]))
            taken[category] = i + 1
    return out


def make_whale_source(
    settings: Settings, store: Store, clock: Clock, secrets: SecretStore
) -> EtherscanWhaleSource | SyntheticWhaleSource:
    """Demo -> synthetic feed; paper/live -> Etherscan (needs the ``etherscan_api_key`` secret)."""
    if settings.engine.mode is Mode.DEMO:
        return SyntheticWhaleSource(settings, store, clock)
    key = secrets.get(SecretName.ETHERSCAN_API_KEY)
    if not key:
        raise WhaleSourceError(
            "whale discovery needs an Etherscan API key: set etherscan_api_key with `smt keys set "
            "etherscan_api_key`, a systemd credential, or the ETHERSCAN_API_KEY environment variable"
        )
    return EtherscanWhaleSource(settings, store, clock, key)
