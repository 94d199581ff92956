"""A populated SMT database built only through the store's repositories (tests and benchmarks).

Everything is dated relative to ``NOW`` so countdowns and ages are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.domain import (
    Action,
    AnalystKind,
    Bias,
    CloseReason,
    EngineState,
    EventLevel,
    Flow,
    HealthStatus,
    Mode,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.store import Store
from smt_engine.store import limits as names
from smt_engine.store.limits import Limit
from smt_engine.store.records import (
    AccountSnapshot,
    Analysis,
    Cycle,
    EngineStatus,
    Order,
    Position,
    Proposal,
    Whale,
    WhaleSignal,
    WhaleTransfer,
)

NOW = datetime(2026, 1, 20, 12, 0, 0, tzinfo=UTC)
CYCLE = "c-20260120-0800"
D = Decimal


@dataclass(frozen=True)
class Fixture:
    path: Path
    pending_id: int
    pending2_id: int
    denied_id: int
    protected_position_id: int
    unprotected_position_id: int
    orphan_order_id: int


def _gates(failed: str | None = None) -> list[dict[str, object]]:
    names = ["leverage", "open_positions", "single_exposure", "total_exposure", "daily_loss", "cooldown"]
    return [
        {
            "gate": n,
            "passed": n != failed,
            "detail": "over the cap: 64% > 60%" if n == failed else "ok",
        }
        for n in names
    ]


def _analysis(now: datetime, pair: str, action: Action, conf: float, **extra: object) -> Analysis:
    decision = {
        "action": action.value,
        "confidence": conf,
        "reasoning": f"{pair}: exchange outflows of 12,400 ETH by two large holders [1], funding flat [2]; "
        "momentum on the 4h chart is positive and the order book is thin above.",
        "key_catalyst": f"{pair} ETF inflows reported this morning",
        "risk_factors": ["FOMC minutes tonight", "funding could flip negative"],
        "tp_pct": 5.0,
        "sl_pct": 2.0,
    }
    fields: dict[str, object] = {
        "cycle_id": CYCLE,
        "pair": pair,
        "analyst": AnalystKind.GEMINI,
        "model": "gemini-2.5-flash",
        "created_at": now - timedelta(hours=4),
        "action": action,
        "confidence": conf,
        "prompt": f"Analyse {pair}USDT ...",
        "raw_response": "{...}",
        "decision": decision,
        "grounded": True,
        "queries": [f"{pair} price news today"],
        "search_suggestions": [
            {
                "text": f"{pair} price news today",
                "uri": f"https://www.google.com/search?q={pair}+price+news+today",
            }
        ],
        "sources": [
            {"title": "CoinDesk: ETF flows", "uri": "https://www.coindesk.com/markets/etf-flows"},
            {"title": "The Block: funding rates", "uri": "https://www.theblock.co/data/funding"},
        ],
        "latency_ms": 4210,
        "attempts": 1,
    }
    fields.update(extra)
    return Analysis(**fields)  # type: ignore[arg-type]


def _proposal(
    now: datetime, pair: str, side: Side, state: ProposalState, analysis_id: int | None, **extra: object
) -> Proposal:
    fields: dict[str, object] = {
        "pair": pair,
        "symbol": f"{pair}USDT",
        "side": side,
        "confidence": 0.78,
        "margin": D("100"),
        "notional": D("2000"),
        "leverage": 20,
        "size": D("0.6"),
        "entry_ref": D("3300.5"),
        "tp_price": D("3465.5"),
        "sl_price": D("3234.5"),
        "tp_pct": D("5"),
        "sl_pct": D("2"),
        "state": state,
        "created_at": now - timedelta(minutes=5),
        "expires_at": now + timedelta(minutes=10),
        "cycle_id": CYCLE,
        "analysis_id": analysis_id,
        "gates": _gates(),
        "rationale": f"{pair} {side.value}: whale outflows and ETF inflows.",
    }
    fields.update(extra)
    return Proposal(**fields)  # type: ignore[arg-type]


def build_database(
    path: Path, *, now_offset: timedelta = timedelta(0), closed_positions: int = 2, events: int = 0
) -> Fixture:
    """Create ``path`` and fill it; ``closed_positions``/``events`` scale it up for benchmarks."""
    now = NOW + now_offset
    store = Store.open(path)
    try:
        return _fill(store, path, now, closed_positions, events)
    finally:
        store.close()


def _fill(store: Store, path: Path, now: datetime, closed_positions: int, events: int) -> Fixture:
    store.engine.put(
        EngineStatus(
            mode=Mode.PAPER,
            state=EngineState.RUNNING,
            pid=4242,
            host="trader-1",
            started_at=now - timedelta(hours=5),
            heartbeat_at=now - timedelta(seconds=2),
            next_cycle_at=now + timedelta(hours=1, minutes=30),
            last_cycle_at=now - timedelta(hours=4),
            approval="manual",
        )
    )
    store.cycles.insert(
        Cycle(
            id=CYCLE, started_at=now - timedelta(hours=4), finished_at=now - timedelta(hours=4), status="done"
        )
    )
    with store.transaction():
        for i in range(48):
            equity = D("1000") + D(i * 3 % 17) + D(i) / 2
            store.account.insert(
                AccountSnapshot(
                    at=now - timedelta(minutes=30 * (47 - i)),
                    balance=D("1000.00"),
                    equity=equity,
                    available=D("700.00"),
                    unrealized_pnl=equity - D("1000"),
                    margin_used=D("300.00"),
                )
            )
    eth = store.analyses.insert(_analysis(now, "ETH", Action.LONG, 0.78))
    btc = store.analyses.insert(_analysis(now, "BTC", Action.LONG, 0.71))
    sol = store.analyses.insert(_analysis(now, "SOL", Action.SHORT, 0.66))
    doge = store.analyses.insert(
        _analysis(
            now,
            "DOGE",
            Action.WAIT,
            0.0,
            grounded=False,
            sources=[],
            error="gemini: 429 RESOURCE_EXHAUSTED after 3 attempts",
        )
    )
    xrp = store.analyses.insert(
        _analysis(now, "XRP", Action.SHORT, 0.69, analyst=AnalystKind.HEURISTIC, model="rules-v1")
    )
    pending = store.proposals.insert(_proposal(now, "ETH", Side.LONG, ProposalState.PROPOSED, eth.id))
    denied = store.proposals.insert(
        _proposal(
            now,
            "SOL",
            Side.SHORT,
            ProposalState.DENIED,
            sol.id,
            gates=_gates("total_exposure"),
            reason_codes=["total_exposure"],
            expires_at=None,
            entry_ref=D("180.25"),
            tp_price=D("171.24"),
            sl_price=D("183.86"),
        )
    )
    opened = store.proposals.insert(
        _proposal(now, "BTC", Side.LONG, ProposalState.OPEN, btc.id, created_at=now - timedelta(hours=4))
    )
    pending2 = store.proposals.insert(
        _proposal(
            now,
            "XRP",
            Side.SHORT,
            ProposalState.PROPOSED,
            xrp.id,
            confidence=0.69,
            expires_at=now + timedelta(seconds=45),
            entry_ref=D("2.1034"),
            tp_price=D("1.9982"),
            sl_price=D("2.1455"),
        )
    )
    _ = doge
    btc_pos = store.positions.insert(
        Position(
            symbol="BTCUSDT",
            side=Side.LONG,
            size=D("0.02"),
            entry_price=D("98000.0"),
            opened_at=now - timedelta(hours=3, minutes=50),
            state=PositionState.OPEN,
            leverage=20,
            updated_at=now - timedelta(seconds=10),
            margin=D("98.00"),
            tp_price=D("102900.0"),
            sl_price=D("96040.0"),
            tp_order_id="smt-btc-tp-1",
            sl_order_id="smt-btc-sl-1",
            mark_price=D("98750.5"),
            unrealized_pnl=D("15.01"),
            proposal_id=opened.id,
        )
    )
    eth_pos = store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.SHORT,
            size=D("0.5"),
            entry_price=D("3310.00"),
            opened_at=now - timedelta(hours=50),
            state=PositionState.OPEN,
            leverage=10,
            updated_at=now - timedelta(seconds=10),
            margin=D("165.50"),
            tp_price=D("3150.00"),
            sl_price=None,
            mark_price=D("3325.20"),
            unrealized_pnl=D("-7.60"),
            adopted=True,
        )
    )
    with store.transaction():
        for i in range(closed_positions):
            closed_at = now - timedelta(hours=6 + i)
            store.positions.insert(
                Position(
                    symbol=["SOLUSDT", "ADAUSDT", "LTCUSDT", "BNBUSDT"][i % 4],
                    side=Side.LONG if i % 2 else Side.SHORT,
                    size=D("10"),
                    entry_price=D("100"),
                    opened_at=closed_at - timedelta(hours=2),
                    state=PositionState.CLOSED,
                    leverage=10,
                    updated_at=closed_at,
                    margin=D("100"),
                    close_reason=CloseReason.TAKE_PROFIT if i % 3 else CloseReason.STOP_LOSS,
                    closed_at=closed_at,
                    exit_price=D("104") if i % 3 else D("98"),
                    realized_pnl=D("40") if i % 3 else D("-20"),
                )
            )

    def order(cid: str, kind: OrderKind, state: OrderState, **extra: object) -> Order:
        fields: dict[str, object] = {
            "client_order_id": cid,
            "symbol": "BTCUSDT",
            "side": Side.LONG,
            "kind": kind,
            "size": D("0.02"),
            "state": state,
            "created_at": now - timedelta(hours=3, minutes=50),
            "updated_at": now - timedelta(hours=3, minutes=49),
            "exchange_order_id": f"x-{cid}",
            "position_id": btc_pos.id,
            "proposal_id": opened.id,
            "request": {"symbol": "BTCUSDT", "quantity": "0.02"},
            "response": {"orderId": f"x-{cid}"},
        }
        fields.update(extra)
        return store.orders.insert(Order(**fields))  # type: ignore[arg-type]

    order("smt-btc-entry-1", OrderKind.ENTRY, OrderState.FILLED, price=D("98000.0"))
    order("smt-btc-tp-1", OrderKind.TP, OrderState.SUBMITTED, trigger_price=D("102900.0"))
    order("smt-btc-sl-1", OrderKind.SL, OrderState.SUBMITTED, trigger_price=D("96040.0"))
    orphan = order(
        "smt-xrp-sl-7",
        OrderKind.SL,
        OrderState.SUBMITTED,
        symbol="XRPUSDT",
        side=Side.SHORT,
        size=D("100"),
        trigger_price=D("2.2"),
        position_id=None,
        proposal_id=None,
        orphan=True,
    )
    addresses = [
        ("0x28c6c06298d514db089934071355e5743bf21d60", "Binance 14", "CEX_Wallet", 0.97),
        ("0x00000000219ab540356cbb839cbe05303d7705fa", None, "Staker", 0.88),
        ("0x9845e1909dca337944a0272f1f9f7249833d2d19", None, "Large_Holder", 0.74),
    ]
    for i, (address, label, cls, conf) in enumerate(addresses):
        store.whales.upsert(
            Whale(
                address=address,
                label=label,
                whale_class=cls,
                class_confidence=conf,
                classified_by="catboost",
                model_version="wc-2026.01",
                features={"tx_count": 120.0 + i, "avg_value_eth": 45.5, "cex_ratio": 0.3 * i},
                volume_eth=D(25000 - 5000 * i),
                first_seen_at=now - timedelta(days=30),
                updated_at=now - timedelta(hours=4, minutes=i),
            )
        )
    store.whale_transfers.add_new(
        [
            WhaleTransfer(
                tx_hash=f"0x{i:064x}",
                from_address=addresses[i % 3][0],
                to_address=addresses[(i + 1) % 3][0],
                value_eth=D(500 + 250 * i),
                block=21_000_000 + i,
                at=now - timedelta(hours=4, minutes=10 * i),
                exchange_label="Binance" if i % 2 == 0 else None,
                direction="inflow" if i % 2 == 0 else "outflow",
                cycle_id=CYCLE,
            )
            for i in range(6)
        ]
    )
    for address, _label, cls, conf in addresses:
        store.whale_signals.insert(
            WhaleSignal(
                cycle_id=CYCLE,
                at=now - timedelta(hours=4),
                bias=Bias.BULLISH if cls != "CEX_Wallet" else Bias.BEARISH,
                confidence=conf,
                address=address,
                whale_class=cls,
                flow=Flow.OUTFLOW if cls != "CEX_Wallet" else Flow.INFLOW,
                net_eth=D(-1200) if cls != "CEX_Wallet" else D(800),
                inflow_eth=D(300),
                outflow_eth=D(1500),
                reasoning=f"{cls} moving coins",
            )
        )
    store.whale_signals.insert(
        WhaleSignal(
            cycle_id=CYCLE,
            at=now - timedelta(hours=4),
            bias=Bias.BULLISH,
            confidence=0.72,
            net_eth=D(-3400),
            inflow_eth=D(1100),
            outflow_eth=D(4500),
            reasoning="net exchange outflow from large holders",
            is_aggregate=True,
        )
    )
    levels = list(EventLevel)
    samples = [
        (EventLevel.DEBUG, "tick", "monitor tick: 2 positions, 3 open orders"),
        (EventLevel.INFO, "cycle", f"cycle {CYCLE} finished: 1 proposal"),
        (EventLevel.WARNING, "unprotected", "ETHUSDT SHORT has no stop-loss on the exchange"),
        (EventLevel.ERROR, "analyst", "gemini: 429 RESOURCE_EXHAUSTED for DOGE"),
        (EventLevel.CRITICAL, "orphan", "XRPUSDT SL order smt-xrp-sl-7 has no position"),
    ]
    with store.transaction():
        for i in range(events):
            level = levels[i % len(levels)]
            store.events.append(now - timedelta(seconds=events - i + 600), level, "bulk", f"bulk event {i}")
        for i, (level, kind, message) in enumerate(samples):
            store.events.append(now - timedelta(minutes=5 - i), level, kind, message, cycle_id=CYCLE)
    assert pending.id
    assert pending2.id
    assert denied.id
    assert btc_pos.id
    assert eth_pos.id
    assert orphan.id
    _publish(store, now, pending.id, pending2.id)
    return Fixture(
        path=path,
        pending_id=pending.id,
        pending2_id=pending2.id,
        denied_id=denied.id,
        protected_position_id=btc_pos.id,
        unprotected_position_id=eth_pos.id,
        orphan_order_id=orphan.id,
    )


def _publish(store: Store, now: datetime, pending_id: int, pending2_id: int) -> None:
    """What a running engine publishes: its limits, each waiting proposal's drift, component health."""
    store.limits.replace_all(
        [
            Limit(name=names.MAX_HOLD, value=D(48 * 3600), unit="s", detail="active phase", updated_at=now),
            Limit(
                name=names.TOTAL_EXPOSURE,
                value=D("600.00"),
                unit="USDT",
                used=D("263.50"),
                detail="margin of all positions: 60% of available balance + margin in positions",
                updated_at=now,
            ),
            Limit(name=names.MAX_DRIFT, value=D("0.5"), unit="%", updated_at=now),
            Limit(name=names.DAILY_LOSS, value=D(10), unit="%", used=D("2.00"), updated_at=now),
            Limit(name=names.DRAWDOWN, value=D(25), unit="%", used=D("1.50"), updated_at=now),
            Limit(
                name=names.drift_name(pending_id), value=D("0.5"), unit="%", used=D("0.120"), updated_at=now
            ),
            Limit(
                name=names.drift_name(pending2_id), value=D("0.5"), unit="%", used=D("0.610"), updated_at=now
            ),
        ]
    )
    store.health.report("exchange.rest", HealthStatus.OK, now)
    store.health.report("exchange.stream.private", HealthStatus.OK, now)
    store.health.report("analyst", HealthStatus.WARN, now, "3 of 8 analyses failed")
    store.health.report("whales.etherscan", HealthStatus.OK, now)
