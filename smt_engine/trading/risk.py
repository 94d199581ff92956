"""Sizing and risk gates: the analyst proposes, this module disposes.

Nothing the analyst says reaches an order except side, confidence and the TP/SL distances, and each of
those is bounded here. Leverage comes from configuration only, the margin from the sizing table only.
Every refusal carries a ``ReasonCode``; every assessment keeps the result of every gate so the console
can show why a trade was or was not taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from smt_engine.competition import StrategyMode
from smt_engine.config import Settings
from smt_engine.domain import (
    CONFIDENCE_STEP,
    Contract,
    Decision,
    MarginUsdt,
    Pair,
    Side,
    Sizing,
    Tier,
    round_confidence,
)
from smt_engine.exchange.precision import PrecisionError, check_tp_sl, floor_to_step, plain, round_stop
from smt_engine.exchange.precision import round_to_tick as _round_to_tick
from smt_engine.trading.account import AccountState
from smt_engine.trading.loss_limits import daily_loss, drawdown

CENT = Decimal("0.01")
_MARGIN_Q = Decimal("0.00000001")
_HOUR = timedelta(hours=1)


class ReasonCode(StrEnum):
    """One per gate; a failed gate's code is the reason a proposal is denied."""

    ENGINE_STATE = "engine_state"
    BALANCE_UNKNOWN = "balance_unknown"
    NO_PRICE = "no_price"
    NO_CONTRACT = "no_contract"
    NOT_A_TRADE = "not_a_trade"
    INVALID_DECISION = "invalid_decision"
    MIN_CONFIDENCE = "min_confidence"
    COMPETITION_WINDOW = "competition_window"
    DAILY_LOSS = "daily_loss_limit"
    MAX_DRAWDOWN = "max_drawdown"
    DUPLICATE_POSITION = "duplicate_position"
    MAX_OPEN_POSITIONS = "max_open_positions"
    COOLDOWN = "stop_loss_cooldown"
    MAX_LEVERAGE = "max_leverage"
    SINGLE_EXPOSURE = "max_single_position"
    TOTAL_EXPOSURE = "max_total_exposure"
    MIN_SIZE = "min_order_size"
    MAX_SIZE = "max_order_size"
    MIN_NOTIONAL = "min_notional"
    TP_SL_INVALID = "tp_sl_invalid"
    REWARD_RISK = "reward_risk"
    NO_PROVEN_EDGE = "no_proven_edge"
    # Proposal-level refusals (not risk gates, but reported the same way).
    PRICE_DRIFT = "price_drift"
    EXPIRED = "expired"
    CYCLE_ENTRY_LIMIT = "max_entries_per_cycle"


@dataclass(frozen=True, slots=True)
class GateResult:
    code: ReasonCode
    passed: bool
    detail: str
    halt: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.code.value, "passed": self.passed, "detail": self.detail, "halt": self.halt}


@dataclass(frozen=True, slots=True)
class DecisionEvidence:
    """What the record says about one decision (``trading.evidence``), gathered before the gates run.

    ``calibrated``: the confidence the source's record supports, which sizes the trade instead of the
    stated one (None: size on the stated confidence). ``edge``: the edge gate's verdict (None: not gated).
    """

    calibrated: Decimal | None = None
    edge: GateResult | None = None


@dataclass(frozen=True, slots=True)
class OperatorSize:
    """An operator's own entry (``trading.manual_entry``): a margin in USDT or a size in contracts.

    It replaces the sizing table and the confidence floor, never a limit: the size is floored to the
    step (never raised) and every exposure, size and TP/SL gate judges it as it would a table size.
    """

    margin: Decimal | None = None
    size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """A sized, priced trade and the verdict of every gate on it."""

    pair: Pair
    side: Side | None
    confidence: Decimal
    sizing: Sizing
    size: Decimal
    entry_ref: Decimal
    tp_price: Decimal
    sl_price: Decimal
    tp_pct: Decimal
    sl_pct: Decimal
    max_hold: timedelta
    size_pct: Decimal
    gates: tuple[GateResult, ...]
    sizing_confidence: Decimal
    """The confidence the size came from: calibrated when the record supplied one, else the stated one."""

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def reason_codes(self) -> list[str]:
        return [g.code.value for g in self.gates if not g.passed]

    @property
    def halt_reason(self) -> str | None:
        """Set when a loss limit is hit: the engine must switch to ``halted``."""
        failed = [g for g in self.gates if g.halt and not g.passed]
        return "; ".join(f"{g.code.value}: {g.detail}" for g in failed) or None

    @property
    def halt_code(self) -> ReasonCode | None:
        return next((g.code for g in self.gates if g.halt and not g.passed), None)

    @property
    def margin(self) -> MarginUsdt:
        return self.sizing.margin

    @property
    def notional(self) -> Decimal:
        return self.sizing.notional


# --------------------------------------------------------------------------- pure helpers


_TIER_TABLE: dict[Tier, tuple[tuple[Decimal, Decimal], ...]] = {
    Tier.ONE: (
        (Decimal("0.85"), Decimal(20)),
        (Decimal("0.75"), Decimal(15)),
        (Decimal("0.65"), Decimal(10)),
        (Decimal(0), Decimal(5)),
    ),
    Tier.TWO: (
        (Decimal("0.85"), Decimal(10)),
        (Decimal("0.75"), Decimal(7)),
        (Decimal(0), Decimal(5)),
    ),
}

_STRATEGY_FACTOR = {
    StrategyMode.AGGRESSIVE: Decimal("1.5"),
    StrategyMode.MODERATE: Decimal(1),
    StrategyMode.CONSERVATIVE: Decimal("0.7"),
}


def size_pct(tier: Tier, confidence: Decimal, strategy: StrategyMode, cap_pct: Decimal) -> Decimal:
    """Margin as % of available balance: the seed's table x strategy factor, capped at the single limit."""
    base = next(pct for floor, pct in _TIER_TABLE[tier] if confidence >= floor)
    return min(base * _STRATEGY_FACTOR[strategy], cap_pct)


def effective_leverage(settings: Settings, contract: Contract | None) -> int:
    """Configuration alone decides leverage: the lowest of the configured value and both caps."""
    caps = [settings.risk.leverage, settings.risk.max_leverage]
    if contract is not None:
        caps.append(contract.max_leverage)
    return max(1, min(caps))


def tp_sl_prices(
    side: Side, price: Decimal, tp_pct: Decimal, sl_pct: Decimal, tick: Decimal
) -> tuple[Decimal, Decimal]:
    """TP rounded to the tick, SL rounded to the tighter side (toward the entry)."""
    tp_raw = price * (1 + side.sign * tp_pct / 100)
    sl_raw = price * (1 - side.sign * sl_pct / 100)
    return _round_to_tick(tp_raw, tick), round_stop(sl_raw, tick, side)


def drift_pct(reference: Decimal, live: Decimal) -> Decimal:
    return abs(live - reference) / reference * 100


# --------------------------------------------------------------------------- the engine


class RiskEngine:
    """Sizes a decision and runs every gate on it. Stateless: all inputs are arguments."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def assess(
        self,
        pair: Pair,
        decision: Decision,
        account: AccountState,
        contract: Contract | None,
        price: Decimal | None,
        now: datetime,
        *,
        force: bool = False,
        evidence: DecisionEvidence | None = None,
        requested: OperatorSize | None = None,
    ) -> Assessment:
        risk = self.settings.risk
        comp = account.competition
        gates: list[GateResult] = []

        def gate(code: ReasonCode, passed: bool, detail: str) -> None:
            gates.append(GateResult(code, passed, detail))

        side = decision.action.side
        confidence = round_confidence(decision.confidence)

        # ---- account-wide gates (independent of this trade's size)
        gate(
            ReasonCode.ENGINE_STATE,
            account.engine_state.accepts_entries,
            f"engine is {account.engine_state.value}",
        )
        gate(
            ReasonCode.BALANCE_UNKNOWN,
            account.available is not None and account.available > 0,
            "available balance could not be read"
            if account.available is None
            else f"available {plain(account.available)} USDT",
        )
        allowed, why = comp.entries_allowed(self.settings.competition.practice, force)
        gate(ReasonCode.COMPETITION_WINDOW, allowed, why or f"phase {comp.phase.value}")
        gates.append(self.daily_loss_gate(account))
        gates.append(self.drawdown_gate(account))

        # ---- the decision itself
        gate(ReasonCode.NOT_A_TRADE, side is not None, f"action {decision.action}")
        valid, why = self._valid_decision(decision, confidence)
        gate(ReasonCode.INVALID_DECISION, valid, why)
        if requested is None:
            gate(
                ReasonCode.MIN_CONFIDENCE,
                confidence >= risk.min_confidence.quantize(CONFIDENCE_STEP),
                f"confidence {confidence} vs minimum {risk.min_confidence}",
            )
        else:  # a confidence floor filters a source's signals; an operator's entry states none
            gate(ReasonCode.MIN_CONFIDENCE, True, "not applied: an operator's entry, sized by the operator")
        if evidence is not None and evidence.edge is not None:
            gates.append(evidence.edge)
        sizing_confidence = (
            round_confidence(evidence.calibrated)
            if evidence is not None and evidence.calibrated is not None
            else confidence
        )

        # ---- position bookkeeping
        symbol = pair.symbol
        if side is not None:
            dup = any(p.symbol == symbol and p.side is side for p in account.open_positions)
            gate(ReasonCode.DUPLICATE_POSITION, not dup, f"{symbol} {side.value} already open" if dup else "")
        n_open = len(account.open_positions)
        gate(
            ReasonCode.MAX_OPEN_POSITIONS,
            n_open < risk.max_open_positions,
            f"{n_open} open, limit {risk.max_open_positions}",
        )
        last_sl = account.last_stop_loss.get(symbol)
        cooling = last_sl is not None and now < last_sl + risk.stop_loss_cooldown
        gate(
            ReasonCode.COOLDOWN,
            not cooling,
            f"stop-loss at {last_sl:%Y-%m-%d %H:%M} UTC, cooldown {risk.stop_loss_cooldown}"
            if cooling and last_sl is not None
            else "",
        )

        # ---- TP/SL distances: the decision's, shortened in the competition's final days
        tp_pct, sl_pct = Decimal(decision.tp_pct), Decimal(decision.sl_pct)
        max_hold = comp.max_hold
        hold_h = decision.hold_hours
        if isinstance(hold_h, int | float) and math.isfinite(hold_h) and 0 < hold_h < max_hold / _HOUR:
            max_hold = timedelta(hours=hold_h)
        if comp.final_days:
            tp_pct, sl_pct = min(tp_pct, comp.default_tp_pct), min(sl_pct, comp.default_sl_pct)

        leverage = effective_leverage(self.settings, contract)
        empty = Sizing(MarginUsdt(Decimal(0)), leverage)

        def result(
            sizing: Sizing = empty,
            size: Decimal = Decimal(0),
            tp: Decimal = Decimal(0),
            sl: Decimal = Decimal(0),
            pct: Decimal = Decimal(0),
        ) -> Assessment:
            return Assessment(
                pair=pair,
                side=side,
                confidence=confidence,
                sizing=sizing,
                size=size,
                entry_ref=price if price is not None and price > 0 else Decimal(0),
                tp_price=tp,
                sl_price=sl,
                tp_pct=tp_pct,
                sl_pct=sl_pct,
                max_hold=max_hold,
                size_pct=pct,
                gates=tuple(gates),
                sizing_confidence=sizing_confidence,
            )

        priced = price is not None and price > 0
        gate(ReasonCode.NO_PRICE, priced, "" if priced else "no live price")
        gate(
            ReasonCode.NO_CONTRACT, contract is not None, "contract precision unknown" if not contract else ""
        )
        if side is None or not valid or price is None or price <= 0 or contract is None:
            return result()
        if account.available is None or account.available <= 0:
            return result()

        # ---- sizing: table margin (or the operator's) -> notional -> size floored to the step
        if requested is None:
            pct = size_pct(pair.tier, sizing_confidence, comp.strategy, risk.max_single_position_pct)
            planned = (account.available * pct / 100).quantize(CENT, rounding=ROUND_DOWN)
            size = floor_to_step(planned * leverage / price, contract.step_size)
        else:
            wanted = requested.size
            if wanted is None:
                assert requested.margin is not None
                wanted = requested.margin * leverage / price
            size = floor_to_step(wanted, contract.step_size)
        margin = MarginUsdt((size * price / leverage).quantize(_MARGIN_Q, rounding=ROUND_HALF_UP))
        if requested is not None:
            pct = (margin / account.available * 100).quantize(CENT, rounding=ROUND_HALF_UP)
        sizing = Sizing(margin, leverage)

        gate(
            ReasonCode.MAX_LEVERAGE,
            leverage <= risk.max_leverage and leverage <= contract.max_leverage,
            f"{leverage}x (caps: config {risk.max_leverage}x, contract {contract.max_leverage}x)",
        )
        gates.extend(self.exposure_gates(account, sizing))
        gates.extend(self._size_gates(contract, size, price))

        # ---- TP/SL prices and fee-aware reward/risk
        tp, sl = tp_sl_prices(side, price, tp_pct, sl_pct, contract.tick_size)
        try:
            if tp <= 0 or sl <= 0:
                raise PrecisionError("price_zero", f"TP {plain(tp)} / SL {plain(sl)} must be positive")
            check_tp_sl(side, price, tp, sl)
        except PrecisionError as exc:
            gate(ReasonCode.TP_SL_INVALID, False, str(exc))
            return result(sizing, size, tp, sl, pct)
        gate(ReasonCode.TP_SL_INVALID, True, f"TP {plain(tp)}, SL {plain(sl)}")
        gates.append(self.reward_risk_gate(price, tp, sl))
        return result(sizing, size, tp, sl, pct)

    # ------------------------------------------------------------------ individual gates

    def _valid_decision(self, decision: Decision, confidence: Decimal) -> tuple[bool, str]:
        """Absurd analyst output is refused, not clamped: it says the model is not behaving."""
        bounds = self.settings.analyst
        if not Decimal(0) <= confidence <= Decimal(1):
            return False, f"confidence {decision.confidence} outside [0, 1]"
        tp, sl = decision.tp_pct, decision.sl_pct
        if not (tp.is_finite() and sl.is_finite()):
            return False, "TP/SL percentages are not finite"
        if not bounds.min_tp_pct <= tp <= bounds.max_tp_pct:
            return False, f"TP {tp}% outside [{bounds.min_tp_pct}, {bounds.max_tp_pct}]%"
        if not bounds.min_sl_pct <= sl <= bounds.max_sl_pct:
            return False, f"SL {sl}% outside [{bounds.min_sl_pct}, {bounds.max_sl_pct}]%"
        return True, ""

    def daily_loss_gate(self, account: AccountState) -> GateResult:
        """Fails, halting the engine, when ``daily_loss`` reaches ``risk.daily_loss_limit_pct``."""
        limit = self.settings.risk.daily_loss_limit_pct
        measure = daily_loss(account)
        if measure is None:
            return GateResult(ReasonCode.DAILY_LOSS, True, "")
        ok = measure.pct < limit
        detail = (
            f"loss today {plain(measure.loss.quantize(CENT))} USDT = {measure.pct:.2f}% of opening equity "
            f"{plain(measure.reference)} (limit {limit}%)"
        )
        return GateResult(ReasonCode.DAILY_LOSS, ok, detail, halt=not ok)

    def drawdown_gate(self, account: AccountState) -> GateResult:
        """Fails, halting the engine, when ``drawdown`` reaches ``risk.max_drawdown_pct``."""
        limit = self.settings.risk.max_drawdown_pct
        measure = drawdown(account)
        if measure is None:
            return GateResult(ReasonCode.MAX_DRAWDOWN, True, "")
        ok = measure.pct < limit
        detail = f"drawdown {measure.pct:.2f}% from peak {plain(measure.reference)} (limit {limit}%)"
        return GateResult(ReasonCode.MAX_DRAWDOWN, ok, detail, halt=not ok)

    def exposure_base(self, account: AccountState) -> Decimal:
        """What exposure limits are % of: available balance plus margin already locked in positions."""
        return (account.available or Decimal(0)) + account.open_margin

    def exposure_gates(self, account: AccountState, sizing: Sizing) -> list[GateResult]:
        risk = self.settings.risk
        base = self.exposure_base(account)
        margin = sizing.margin
        single_cap = base * risk.max_single_position_pct / 100
        total_cap = base * risk.max_total_exposure_pct / 100
        total = account.open_margin + margin
        return [
            GateResult(
                ReasonCode.SINGLE_EXPOSURE,
                margin <= single_cap,
                f"margin {plain(margin)} USDT (notional {plain(sizing.notional)}), "
                f"cap {plain(single_cap.quantize(CENT))}",
            ),
            GateResult(
                ReasonCode.TOTAL_EXPOSURE,
                total <= total_cap,
                f"margin in use {plain(total.quantize(CENT))} USDT with this trade, "
                f"cap {plain(total_cap.quantize(CENT))}",
            ),
        ]

    def _size_gates(self, contract: Contract, size: Decimal, price: Decimal) -> list[GateResult]:
        """After flooring to the step: too small is refused, never raised to the minimum."""
        notional = size * price
        big = contract.max_size is not None and size > contract.max_size
        return [
            GateResult(
                ReasonCode.MIN_SIZE,
                size > 0 and size >= contract.min_size,
                f"size {plain(size)} (step {plain(contract.step_size)}, min {plain(contract.min_size)})",
            ),
            GateResult(
                ReasonCode.MAX_SIZE,
                not big,
                f"size {plain(size)} above max {plain(contract.max_size)}"
                if big and contract.max_size
                else "",
            ),
            GateResult(
                ReasonCode.MIN_NOTIONAL,
                notional >= contract.min_notional,
                f"notional {plain(notional)} USDT (min {plain(contract.min_notional)})",
            ),
        ]

    def reward_risk_gate(self, price: Decimal, tp: Decimal, sl: Decimal) -> GateResult:
        """TP distance net of round-trip taker fees must beat SL distance x ``min_reward_risk``."""
        fees = self.settings.exchange.taker_fee_pct * 2
        tp_dist = abs(tp - price) / price * 100
        sl_dist = abs(price - sl) / price * 100
        net = tp_dist - fees
        need = sl_dist * self.settings.risk.min_reward_risk
        return GateResult(
            ReasonCode.REWARD_RISK,
            net > need,
            f"TP {tp_dist:.3f}% - fees {fees}% = {net:.3f}% vs SL {sl_dist:.3f}% x "
            f"{self.settings.risk.min_reward_risk} = {need:.3f}%",
        )
