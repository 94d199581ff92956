"""One signal cycle: account -> whales -> market data -> analysis -> proposals -> execution.

Each step is recorded under the cycle id (in ``cycles.steps``) and its failure is contained: a
failing Etherscan still lets every pair be analysed; a pair whose price or candles cannot be read, or
whose price fails the plausibility check, is skipped (not analysed, nothing proposed; it is read again
next cycle); a pair whose price cannot be re-read just before proposing is gated without one, so its
trade is denied ``no_price`` and nothing is sized; and an unreadable balance or position list means no
proposals at all (never a made-up balance).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.analyst import analyse_all, build_context
from smt_engine.analyst.base import AnalysisOutcome, Analyst
from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import Action, Contract, EngineState, Pair
from smt_engine.exchange.base import Exchange, ExchangeError
from smt_engine.exchange.market.plausibility import ImplausiblePrice
from smt_engine.scorecard.recording import record_and_score
from smt_engine.store import Store
from smt_engine.store.records import Cycle
from smt_engine.trading.account_reader import AccountReader, AccountUnreadable, Holdings
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import ExecutionResult, Executor
from smt_engine.trading.monitor import record_equity
from smt_engine.trading.proposals import Candidate, ProposalBook
from smt_engine.trading.shielded import ShieldedWork
from smt_engine.whales.source import WhaleCycleResult, WhaleSource

log = logging.getLogger(__name__)

CANDLE_INTERVAL = "1h"
CANDLE_COUNT = 48


@dataclass
class CycleReport:
    cycle_id: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    executions: list[ExecutionResult] = field(default_factory=list)

    @property
    def failed_steps(self) -> list[str]:
        return [name for name, step in self.steps.items() if step.get("status") == "failed"]


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        analyst: Analyst,
        book: ProposalBook,
        executor: Executor,
        ailog: AiLogOutbox,
        *,
        whales: WhaleSource | None = None,
        trade_lock: asyncio.Lock | None = None,
        work: ShieldedWork | None = None,
        engine_state: Callable[[], EngineState] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.analyst = analyst
        self.book = book
        self.executor = executor
        self.ailog = ailog
        self.whales = whales
        self.trade_lock = trade_lock or asyncio.Lock()
        self.work = work or ShieldedWork()
        self.engine_state = engine_state or self._stored_engine_state
        self.last_report: CycleReport | None = None
        self.reader = AccountReader(settings, store, clock, exchange)

    def _stored_engine_state(self) -> EngineState:
        return self.store.engine.state_or(EngineState.RUNNING)

    async def run_cycle(self, trigger: str = "schedule") -> str:
        now = self.clock.now()
        cycle_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        report = CycleReport(cycle_id)
        self.last_report = report
        self.store.cycles.insert(Cycle(id=cycle_id, started_at=now, trigger=trigger))
        log.info(
            "cycle %s started (%s)", cycle_id, trigger, extra={"event": "cycle.started", "cycle_id": cycle_id}
        )
        status = "abandoned"
        try:
            # A failed step returns None: an unreadable account means no balance and no positions.
            holdings: Holdings | None = await self._step(report, "account", self._account)
            whale_result = await self._step(report, "whales", lambda: self._whales(cycle_id))
            market = await self._step(report, "market", self._market)
            contracts, prices, candles, read_at = market if market is not None else ({}, {}, {}, {})
            await self._step(
                report,
                "scorecard",
                lambda: record_and_score(
                    self.settings,
                    self.store,
                    self.exchange,
                    now,
                    cycle_id,
                    prices,
                    candles,
                    CANDLE_INTERVAL,
                    contracts,
                    read_at,
                ),
            )
            outcomes = await self._step(
                report,
                "analysis",
                lambda: self._analyse(cycle_id, holdings, whale_result, prices, candles),
            )
            outcome = await self._step(
                report,
                "proposals",
                lambda: self._propose(cycle_id, holdings, outcomes or [], contracts, prices),
            )
            if outcome is not None:  # what the gates saw, for an exact replay
                report.steps["proposals"]["risk_inputs"] = outcome.risk_inputs
            if outcome is not None and outcome.approved:
                await self._step(report, "execution", lambda: self._execute(report, outcome.approved))
            status = "partial" if report.failed_steps else "done"
        finally:
            self.store.cycles.update(
                cycle_id,
                finished_at=self.clock.now(),
                status=status,
                steps=report.steps,
                error=", ".join(report.failed_steps) or None,
            )
        return cycle_id

    async def _step(self, report: CycleReport, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run one step, record its outcome and duration, and contain its failure."""
        started = time.perf_counter()
        try:
            result = await fn()
        except asyncio.CancelledError:
            report.steps[name] = {"status": "abandoned"}
            raise
        except Exception as exc:
            report.steps[name] = {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "ms": round((time.perf_counter() - started) * 1000),
            }
            log.warning(
                "cycle %s: step %s failed: %s",
                report.cycle_id,
                name,
                exc,
                exc_info=not isinstance(exc, ExchangeError),
                extra={"event": "cycle.step_failed", "cycle_id": report.cycle_id},
            )
            return None
        report.steps.setdefault(name, {})
        report.steps[name].update(status="ok", ms=round((time.perf_counter() - started) * 1000))
        return result

    # ------------------------------------------------------------------ steps

    async def _account(self) -> Holdings:
        """The balance (recorded as a point of the equity curve) and the positions, or the step fails."""
        try:
            holdings = await self.reader.holdings()
        except AccountUnreadable as exc:
            log.warning("%s unreadable (%s): this cycle makes no proposals", exc.part, exc)
            if exc.balance is not None:
                record_equity(self.store, self.clock.now(), exc.balance)
            raise ExchangeError("account could not be read: no proposals this cycle") from exc
        record_equity(self.store, self.clock.now(), holdings.balance)
        return holdings

    async def _whales(self, cycle_id: str) -> WhaleCycleResult | None:
        if self.whales is None or not self.settings.whales.enabled:
            return None
        result: WhaleCycleResult = await self.whales.run_cycle(cycle_id)
        transfers, found, aggregate = result.transfers, result.whales, result.aggregate
        classifier = result.classifier
        labelled = sum(1 for w in found if w.classified_by == "label")
        self.ailog.whale_discovery(
            {
                "lookback_hours": self.settings.whales.lookback_hours,
                "min_transfer_eth": self.settings.whales.min_transfer_eth,
            },
            {
                "large_transfers": len(transfers),
                "whales_found": len(found),
                "classified_by_label": labelled,
                "classifier": classifier,
            },
            f"{len(transfers)} transfer(s) of at least {self.settings.whales.min_transfer_eth} ETH in the "
            f"last {self.settings.whales.lookback_hours} h; {len(found)} whale(s): {labelled} by their "
            f"public label, the rest by the {classifier or 'classifier'}",
            cycle_id=cycle_id,
        )
        if aggregate is not None:
            self.ailog.whale_signal(
                {"whales": len(found)},
                {"bias": aggregate.bias.value, "confidence": round(aggregate.confidence, 4)},
                aggregate.reasoning or f"aggregate whale bias {aggregate.bias.value}",
                cycle_id=cycle_id,
            )
        return result

    async def _market(
        self,
    ) -> tuple[dict[str, Contract], dict[str, Decimal], dict[str, list[Any]], dict[str, datetime]]:
        """Contracts, prices and candles, each price with the moment it was read (the scorecard's stamp)."""
        pairs = self.settings.pairs.all()
        contracts = await self.exchange.contracts([p.symbol for p in pairs])
        prices: dict[str, Decimal] = {}
        candles: dict[str, list[Any]] = {}
        read_at: dict[str, datetime] = {}
        for pair in pairs:
            # Both or neither: a pair analysed on a price without its candles would be judged blind.
            try:
                price = await self.reader.price(pair.symbol)
                at = self.clock.now()
                bars = await self.exchange.candles(pair.symbol, CANDLE_INTERVAL, CANDLE_COUNT)
            except ImplausiblePrice:
                continue  # recorded as price.implausible; the pair waits this cycle
            except ExchangeError as exc:
                log.warning(
                    "%s: market data unreadable (%s): no analysis for it this cycle", pair.symbol, exc
                )
                continue
            prices[pair.symbol] = price
            candles[pair.symbol] = bars
            read_at[pair.symbol] = at
        if pairs and not prices:  # a step that read nothing is not "ok"
            raise ExchangeError(
                f"market data unreadable for all {len(pairs)} pairs: is the exchange reachable?"
            )
        return contracts, prices, candles, read_at

    async def _analyse(
        self,
        cycle_id: str,
        holdings: Holdings | None,
        whale_result: WhaleCycleResult | None,
        prices: dict[str, Decimal],
        candles: dict[str, list[Any]],
    ) -> list[tuple[Pair, AnalysisOutcome]]:
        now = self.clock.now()
        open_positions = self.store.positions.open_positions()
        balance = holdings.balance if holdings is not None else None
        bal = balance.balance if balance else self.settings.competition.starting_balance
        avail = balance.available if balance else Decimal(0)
        equity = balance.equity if balance else bal
        pairs: list[Pair] = []
        contexts = []
        for pair in self.settings.pairs.all():
            if pair.symbol not in prices:
                continue
            mine = next((p for p in open_positions if p.symbol == pair.symbol), None)
            contexts.append(
                build_context(
                    self.settings,
                    cycle_id=cycle_id,
                    now=now,
                    pair=pair,
                    price=prices[pair.symbol],
                    candles=candles.get(pair.symbol, []),
                    balance=bal,
                    available=avail,
                    equity=equity,
                    open_positions=len(holdings.positions) if holdings is not None else len(open_positions),
                    whale_signal=whale_result.signal_for(pair.base) if whale_result is not None else None,
                    exchange_flows=(
                        whale_result.flow_signal_for(pair.base) if whale_result is not None else None
                    ),
                    open_position=mine,
                )
            )
            pairs.append(pair)
        outcomes = await analyse_all(self.analyst, contexts, store=self.store, clock=self.clock)
        for pair, out in zip(pairs, outcomes, strict=True):
            d = out.decision
            self.ailog.analysis(
                pair.base,
                {
                    "pair": pair.base,
                    "tier": pair.tier.value,
                    "price": prices[pair.symbol],
                    "has_whale_data": d is not None and pair.tier.value == "1" and whale_result is not None,
                    "analyst": out.record.analyst.value,
                    "model": out.record.model,
                },
                {
                    "decision": d.action.value,
                    "confidence": round(d.confidence, 4),
                    "tp_pct": d.tp_pct,
                    "sl_pct": d.sl_pct,
                    "grounded": d.grounded,
                    "error": d.error,
                },
                d.reasoning or (d.error or "no reasoning given"),
                cycle_id=cycle_id,
                model=out.record.model,
            )
        return list(zip(pairs, outcomes, strict=True))

    async def _propose(
        self,
        cycle_id: str,
        holdings: Holdings | None,
        outcomes: list[tuple[Pair, AnalysisOutcome]],
        contracts: dict[str, Contract],
        prices: dict[str, Decimal],
    ) -> Any:
        prices = await self._prices_now(outcomes, prices)
        account = self.reader.account(holdings, self.engine_state(), contracts=contracts, prices=prices)
        candidates = [
            Candidate(pair, out.decision, contracts.get(pair.symbol), prices.get(pair.symbol), out.record.id)
            for pair, out in outcomes
        ]
        outcome = self.book.run_cycle(candidates, account, cycle_id=cycle_id)
        best = outcome.approved[0] if outcome.approved else (outcome.waiting[0] if outcome.waiting else None)
        trades = [c for c in candidates if c.decision.action is not Action.WAIT]
        self.ailog.trade_decision(
            {
                "pairs_analysed": len(candidates),
                "trade_signals": len(trades),
                "approval": self.settings.engine.approval,
            },
            {
                "proposals": len(outcome.proposals),
                "approved": [p.id for p in outcome.approved],
                "waiting": [p.id for p in outcome.waiting],
                "best": (
                    {
                        "pair": best.pair,
                        "side": best.side.value,
                        "confidence": best.confidence,
                        "margin_usdt": best.margin,
                        "notional_usdt": best.notional,
                    }
                    if best is not None
                    else None
                ),
                "skipped": outcome.skipped,
            },
            (
                f"{best.pair} {best.side.value} at confidence {best.confidence:.2f}: margin {best.margin} "
                f"USDT, notional {best.notional} USDT at {best.leverage}x"
                if best is not None
                else outcome.skipped or "no proposal passed the risk gates"
            ),
            cycle_id=cycle_id,
        )
        return outcome

    async def _prices_now(
        self, outcomes: list[tuple[Pair, AnalysisOutcome]], prices: dict[str, Decimal]
    ) -> dict[str, Decimal]:
        """Re-read the price of every pair the analyst wants to trade: a proposal's price (the reference
        its approval drift is measured from) is the price when it is proposed, not when the cycle began."""
        fresh = dict(prices)
        for pair, out in outcomes:
            if out.decision.action is Action.WAIT or pair.symbol not in prices:
                continue
            try:
                fresh[pair.symbol] = await self.reader.price(pair.symbol)
            except ImplausiblePrice:
                del fresh[pair.symbol]  # recorded as price.implausible; no proposal is sized on it
            except ExchangeError as exc:
                # The cycle's first read may be older than risk.price_max_age by now: nothing is sized on
                # it; the pair waits this cycle, the others go on.
                del fresh[pair.symbol]
                log.warning(
                    "%s: price not readable before proposing (%s): the pair waits this cycle",
                    pair.symbol,
                    exc,
                    extra={"event": "price.unreadable", "data": {"pair": pair.symbol}},
                )
        return fresh

    async def _execute(self, report: CycleReport, approved: list[Any]) -> None:
        # Claimed until executed, so the in-flight tracker does not finish them between two entries.
        queued = {p.id for p in approved}
        self.executor.claimed.update(queued)
        try:
            for proposal in approved:
                queued.discard(proposal.id)  # from here on, _execute_one holds the claim
                # Shielded: stopping the engine abandons analysis, never an order half-sent.
                # The state the cycle gated with is the state it executes with.
                result = await self.work.run(self._execute_one(proposal, self.engine_state()))
                report.executions.append(result)
                report.steps.setdefault("execution", {}).setdefault("results", []).append(
                    {"proposal_id": proposal.id, "outcome": result.outcome, "detail": result.detail}
                )
        finally:
            self.executor.claimed.difference_update(queued)

    async def _execute_one(self, proposal: Any, state: EngineState) -> ExecutionResult:
        try:
            async with self.trade_lock:
                return await self.executor.execute(proposal, state)
        finally:
            self.executor.claimed.discard(proposal.id)
