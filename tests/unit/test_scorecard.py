"""The scorecard on constructed price histories whose right answers are known."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.backtest.replay import ReplayResult, ReplayRow, render_replay
from smt_engine.config import Settings
from smt_engine.domain import Action, AnalystKind, Bias, ProposalState, Side
from smt_engine.scorecard import build_report, render_report, score_due
from smt_engine.scorecard.stats import wilson
from smt_engine.store import Store
from smt_engine.store.prices import StoredCandle
from smt_engine.store.records import Analysis, Proposal, WhaleSignal
from tests.analyst_support import open_store

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


SETTINGS = Settings.model_validate({"pairs": {"tier1": ["ETH", "BTC"], "tier2": ["SOL"]}})


def history(store: Store, symbol: str, price: Callable[[float], float], hours: float = 30) -> None:
    """5-minute bars from T0: ``price(h)`` is the close at ``h`` hours; high/low hug open and close."""
    bars = []
    for i in range(int(hours * 12)):
        o, c = price(i / 12), price((i + 1) / 12)
        open_time = T0 + i * FIVE
        bars.append(
            StoredCandle(
                symbol=symbol,
                interval="5m",
                open_time=open_time,
                close_time=open_time + FIVE,
                open=Decimal(f"{o:.6f}"),
                high=Decimal(f"{max(o, c):.6f}"),
                low=Decimal(f"{min(o, c):.6f}"),
                close=Decimal(f"{c:.6f}"),
                volume=Decimal(1),
                seen_at=open_time + FIVE,
            )
        )
    store.candles.record_closed(bars)


def rising(h: float) -> float:
    return 100 * 1.01**h


def falling(h: float) -> float:
    return 100 * 0.99**h


def flat(h: float) -> float:
    return 50.0


def analysis(store: Store, pair: str, action: Action, confidence: float, at: datetime, **kw: Any) -> Analysis:
    return store.analyses.insert(
        Analysis(
            cycle_id=kw.pop("cycle_id", None),
            pair=pair,
            analyst=kw.pop("analyst", AnalystKind.GEMINI),
            model=kw.pop("model", "gemini-3.5-flash"),
            created_at=at,
            action=action,
            confidence=confidence,
            decision=kw.pop("decision", {"decision": action.value, "hold_time_hours": 12}),
            **kw,
        )
    )


def markets(store: Store) -> None:
    history(store, "BTCUSDT", rising)
    history(store, "ETHUSDT", falling)
    history(store, "SOLUSDT", flat)


def decide(store: Store, right: bool) -> None:
    """Every 30 min from 0:31 to 5:01, a call on each pair: right (or contrarian) at full confidence."""
    for k in range(10):
        at = T0 + timedelta(minutes=30 * (k + 1) + 1)
        up, down = (Action.LONG, Action.SHORT) if right else (Action.SHORT, Action.LONG)
        analysis(store, "BTC", up, 1.0, at)
        analysis(store, "ETH", down, 1.0, at)


def overall(report: dict[str, Any], subject: str, horizon: str) -> dict[str, Any]:
    (row,) = [r for r in report["groups"]["overall"] if (r["subject"], r["horizon"]) == (subject, horizon)]
    return row


def test_a_perfect_analyst_scores_100_percent_and_calibrated(store: Store) -> None:
    markets(store)
    decide(store, right=True)
    now = T0 + timedelta(hours=30)
    assert score_due(SETTINGS, store, now) == 20 * 3
    report = build_report(store.scores.since(), since=None, now=now)
    for horizon in ("1h", "4h", "24h"):
        row = overall(report, "analysis", horizon)
        assert (row["n"], row["hits"], row["hit_rate"]) == (20, 20, 1.0)
        assert row["brier"] == 0.0
        assert row["calibration"] == [
            {"bin": "0.9-1.0", "n": 20, "stated": 1.0, "realised": 1.0, "realised_ci": wilson(20, 20)}
        ]
        assert row["avg_return_pct"] > 0
    # 1 h: +1 % (BTC up) and +1 % (ETH down, short) less 0.16 % round-trip fees.
    one = overall(report, "analysis", "1h")
    assert one["avg_return_pct"] == pytest.approx((1.0 + 1.0) / 2 - 0.16, abs=0.02)
    by_pair = {r["group"]: r for r in report["groups"]["pair"] if r["horizon"] == "4h"}
    assert by_pair["BTC"]["n"] == 10
    assert by_pair["ETH"]["hit_rate"] == 1.0
    assert "100%" in render_report(report)


def test_a_contrarian_analyst_scores_0_percent(store: Store) -> None:
    markets(store)
    decide(store, right=False)
    now = T0 + timedelta(hours=30)
    score_due(SETTINGS, store, now)
    report = build_report(store.scores.since(), since=None, now=now)
    for horizon in ("1h", "4h", "24h"):
        row = overall(report, "analysis", horizon)
        assert (row["n"], row["hits"], row["hit_rate"], row["brier"]) == (20, 0, 0.0, 1.0)
        assert row["calibration"][0]["stated"] == 1.0
        assert row["calibration"][0]["realised"] == 0.0
        assert row["avg_return_pct"] < 0
        lo, hi = row["hit_rate_ci"]
        assert lo == 0.0
        assert hi < 0.2


def test_wait_is_right_on_a_flat_market_and_wrong_on_a_trend(store: Store) -> None:
    markets(store)
    analysis(store, "SOL", Action.WAIT, 0.3, T0 + timedelta(minutes=6))
    analysis(store, "BTC", Action.WAIT, 0.3, T0 + timedelta(minutes=6))
    score_due(SETTINGS, store, T0 + timedelta(hours=2))
    hits = {s.pair: s.hit for s in store.scores.since()}
    assert hits == {"SOL": True, "BTC": False}
    assert all(s.return_pct is None for s in store.scores.since())


def test_nothing_is_scored_before_its_horizon(store: Store) -> None:
    markets(store)
    young = analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(hours=10))
    older = analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(hours=8))
    now = T0 + timedelta(hours=10, minutes=30)
    score_due(SETTINGS, store, now)
    scored = {(s.subject_id, s.horizon) for s in store.scores.since()}
    assert scored == {(older.id, "1h")}  # 4 h and 24 h have not passed; the young one has nothing
    # Scoring again later adds the rest, each horizon once.
    score_due(SETTINGS, store, T0 + timedelta(hours=14, minutes=30))
    score_due(SETTINGS, store, T0 + timedelta(hours=14, minutes=30))
    scored = sorted((s.subject_id, s.horizon) for s in store.scores.since())
    assert scored == sorted([(older.id, "1h"), (older.id, "4h"), (young.id, "1h"), (young.id, "4h")])


def test_no_look_ahead_the_exit_is_the_price_known_at_the_horizon(store: Store) -> None:
    # Up 1 %/h for 5 h, then a crash: a LONG at 1 h is right at 4 h whatever comes after.
    history(store, "BTCUSDT", lambda h: 100 * 1.01**h if h <= 5 else 50.0, hours=30)
    a = analysis(store, "BTC", Action.LONG, 0.7, T0 + timedelta(hours=1))
    score_due(SETTINGS, store, T0 + timedelta(hours=26))
    four = next(s for s in store.scores.since() if s.horizon == "4h" and s.subject_id == a.id)
    assert four.ref_price == Decimal(f"{100 * 1.01:.6f}")
    assert four.hit
    assert four.exit_price == Decimal(f"{100 * 1.01**5:.6f}")
    assert four.due_at == T0 + timedelta(hours=5)
    day = next(s for s in store.scores.since() if s.horizon == "24h")
    assert not day.hit
    assert day.exit_price == Decimal("50.000000")


def test_no_price_known_at_the_horizon_means_no_score(store: Store) -> None:
    history(store, "BTCUSDT", rising, hours=2)  # the engine stopped watching after 2 h
    analysis(store, "BTC", Action.LONG, 0.7, T0 + timedelta(minutes=30))
    score_due(SETTINGS, store, T0 + timedelta(hours=30))
    assert {s.horizon for s in store.scores.since()} == {"1h"}


def test_an_exit_price_is_observed_after_the_decision_and_close_to_the_horizon(store: Store) -> None:
    history(store, "BTCUSDT", rising, hours=2)  # the last bar closes at 2:00
    # Decided after the last bar: its only price is the decision-time one, so no 1 h score (not move 0).
    late = analysis(store, "BTC", Action.LONG, 0.7, T0 + timedelta(hours=2, minutes=10))
    # Decided before the last bar, but that bar closed 50 min before the 1 h horizon (over half of it).
    stale = analysis(store, "BTC", Action.LONG, 0.7, T0 + timedelta(hours=1, minutes=50))
    # The last bar closed 25 min before this one's 1 h horizon: a price close enough to stand for it.
    fresh = analysis(store, "BTC", Action.LONG, 0.7, T0 + timedelta(hours=1, minutes=25))
    score_due(SETTINGS, store, T0 + timedelta(hours=30))
    scores = store.scores.since()
    assert [(s.subject_id, s.horizon) for s in scores] == [(fresh.id, "1h")]
    assert scores[0].exit_price == Decimal(f"{rising(2):.6f}")
    assert scores[0].move_pct > 0
    assert late.id is not None
    assert stale.id is not None


def proposal(
    store: Store, side: Side, state: ProposalState, at: datetime, tp: str, sl: str, **kw: Any
) -> Proposal:
    return store.proposals.insert(
        Proposal(
            pair="BTC",
            symbol="BTCUSDT",
            side=side,
            confidence=0.7,
            margin=Decimal(100),
            notional=Decimal(1000),
            leverage=10,
            size=Decimal("0.01"),
            entry_ref=Decimal(100),
            tp_price=Decimal(tp),
            sl_price=Decimal(sl),
            tp_pct=Decimal(3),
            sl_pct=Decimal(2),
            state=state,
            created_at=at,
            **kw,
        )
    )


def test_proposals_are_scored_to_tp_sl_or_max_hold_whatever_their_state(store: Store) -> None:
    history(store, "BTCUSDT", rising, hours=30)  # +1 %/h from 100
    a = analysis(store, "BTC", Action.LONG, 0.7, T0, decision={"decision": "LONG", "hold_time_hours": 2})
    tp = proposal(store, Side.LONG, ProposalState.DENIED, T0, "103", "98")
    sl = proposal(store, Side.SHORT, ProposalState.EXPIRED, T0, "97", "102")
    held = proposal(store, Side.LONG, ProposalState.REJECTED, T0, "150", "50", analysis_id=a.id)
    pending = proposal(store, Side.LONG, ProposalState.CLOSED, T0 + timedelta(hours=29), "150", "50")
    score_due(SETTINGS, store, T0 + timedelta(hours=30))
    outcomes = {
        s.subject_id: s for s in store.scores.since() if s.subject == "proposal" and s.horizon == "outcome"
    }
    assert outcomes[tp.id].outcome == "tp"
    assert outcomes[tp.id].hit
    assert outcomes[tp.id].state == "denied"
    assert outcomes[tp.id].due_at <= T0 + timedelta(hours=3)  # 1.01^3 > 1.03 reached within 3 h
    assert outcomes[sl.id].outcome == "sl"
    assert not outcomes[sl.id].hit
    assert outcomes[sl.id].state == "expired"
    # Max hold of 2 h from its analysis: exit at 1.01^2.
    assert outcomes[held.id].outcome == "max_hold"
    assert outcomes[held.id].due_at == T0 + timedelta(hours=2)
    assert outcomes[held.id].exit_price == Decimal(f"{100 * 1.01**2:.6f}")
    assert pending.id not in outcomes  # its max hold (48 h default) has not passed, nothing touched


def test_signal_agreement_and_whale_signals_are_scored(store: Store) -> None:
    markets(store)
    store.whale_signals.insert(
        WhaleSignal(
            cycle_id="c1", at=T0 + timedelta(minutes=6), bias=Bias.BEARISH, confidence=0.9, is_aggregate=True
        )
    )
    analysis(store, "ETH", Action.SHORT, 0.8, T0 + timedelta(minutes=6), cycle_id="c1")
    analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(minutes=6), cycle_id="c1")
    analysis(store, "SOL", Action.WAIT, 0.2, T0 + timedelta(minutes=6), cycle_id="c1")
    score_due(SETTINGS, store, T0 + timedelta(hours=2))
    report = build_report(store.scores.since(), since=None, now=T0 + timedelta(hours=2))
    agreement = {(r["subject"], r["group"]): r["n"] for r in report["groups"]["signal_agreement"]}
    assert agreement == {
        ("analysis", "agree"): 1,
        ("analysis", "disagree"): 1,
        ("analysis", "none"): 1,
        ("signal", "none"): 1,
    }
    signal = overall(report, "signal", "1h")
    assert signal["hits"] == 1  # bearish whales, ETH fell


def test_an_unscored_database_says_so() -> None:
    report = build_report([], since=T0, now=T0)
    assert report["scores"] == 0
    assert all(rows == [] for rows in report["groups"].values())
    assert "Nothing scored yet" in render_report(report)


def test_wilson_interval_bounds() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(5, 10) or (0, 0)
    assert lo < 0.5 < hi
    assert wilson(10, 10) == (pytest.approx(0.7225, abs=1e-3), 1.0)


def test_old_bars_are_pruned_and_recent_ones_kept(store: Store) -> None:
    history(store, "BTCUSDT", rising, hours=2)
    assert store.candles.prune(T0 + timedelta(hours=1)) == 11  # bars closing before 1:00 (0:05 .. 0:55)
    assert store.candles.count() == 24 - 11


def test_a_proposal_resolved_early_still_gets_its_later_horizons(store: Store) -> None:
    history(store, "BTCUSDT", rising, hours=30)
    p = proposal(store, Side.LONG, ProposalState.REJECTED, T0 + timedelta(minutes=30), "103", "98")
    score_due(SETTINGS, store, T0 + timedelta(hours=5))  # TP touched within 3 h; 1 h and 4 h due
    first = {s.horizon for s in store.scores.since() if s.subject_id == p.id}
    assert first == {"1h", "4h", "outcome"}
    score_due(SETTINGS, store, T0 + timedelta(hours=25))
    later = sorted(s.horizon for s in store.scores.since() if s.subject_id == p.id)
    assert later == ["1h", "24h", "4h", "outcome"]
    # Fully scored: read no more.
    assert store.history.proposals_since(T0, unless_scored=("24h", "outcome")) == []


def test_an_over_budget_wait_is_not_scored_as_the_models_own_wait(store: Store) -> None:
    markets(store)
    over = "over analyst.daily_max_usd ($2.00)"
    analysis(
        store, "SOL", Action.WAIT, 0.0, T0 + timedelta(minutes=6), decision={"over_budget": over}, error=over
    )
    own = analysis(store, "SOL", Action.WAIT, 0.3, T0 + timedelta(minutes=6))
    heuristic = analysis(
        store,
        "SOL",
        Action.WAIT,
        0.4,
        T0 + timedelta(minutes=6),
        analyst=AnalystKind.HEURISTIC,
        decision={"decision": "WAIT", "hold_time_hours": 12, "over_budget": over},
    )
    score_due(SETTINGS, store, T0 + timedelta(hours=30))
    scored = {(s.subject_id, s.analyst) for s in store.scores.since() if s.subject == "analysis"}
    assert scored == {(own.id, "gemini"), (heuristic.id, "heuristic")}


def test_a_cached_copy_is_not_scored_twice(store: Store) -> None:
    markets(store)
    source = analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(minutes=6))
    analysis(
        store,
        "BTC",
        Action.LONG,
        0.8,
        T0 + timedelta(minutes=16),
        decision={"decision": "LONG", "hold_time_hours": 12, "cached_from": source.id},
    )
    score_due(SETTINGS, store, T0 + timedelta(hours=30))
    scored = [(s.subject_id, s.horizon) for s in store.scores.since() if s.subject == "analysis"]
    assert sorted(scored) == sorted((source.id, h) for h in ("1h", "4h", "24h"))


def test_the_replay_table_keeps_a_space_between_a_long_recorded_state_and_the_replay() -> None:
    row = ReplayRow(
        pair="BTC",
        side="LONG",
        confidence=0.8,
        analysis_id=1,
        recorded_state="denied",
        recorded_codes=["max_open_positions", "cooldown_after_loss_this_cycle"],
        replay_state="denied",
        replay_codes=["max_open_positions"],
        recorded_margin=None,
        replay_margin=Decimal(0),
        replay_leverage=5,
    )
    lines = render_replay(ReplayResult("c1", T0, rows=[row])).splitlines()
    header, line = lines[1], lines[2]
    assert "cooldown_after_loss_this_cycle)  denied (max_open_positions)" in line
    assert header.index("with these settings") == line.index("denied (max_open_positions)")


def test_a_cycle_reads_only_decisions_with_a_horizon_due_and_unscored(store: Store) -> None:
    """Incremental scoring: what is too young for any horizon, or already scored at every due one, is not
    read at all, so a cycle's work does not grow with the decisions already scored."""
    markets(store)
    scored = analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(hours=1))
    young = analysis(store, "BTC", Action.LONG, 0.8, T0 + timedelta(hours=5, minutes=40))
    due_1h = analysis(store, "ETH", Action.SHORT, 0.8, T0 + timedelta(hours=4, minutes=30))
    now = T0 + timedelta(hours=6)
    score_due(SETTINGS, store, T0 + timedelta(hours=5, minutes=1))  # scores `scored` at 1 h and 4 h
    assert {(s.subject_id, s.horizon) for s in store.scores.since()} == {(scored.id, "1h"), (scored.id, "4h")}
    due = {"1h": now - timedelta(hours=1), "4h": now - timedelta(hours=4), "24h": now - timedelta(hours=24)}
    read = store.history.analyses_since(T0, unless_scored=("24h",), due=due)
    assert [a.id for a in read] == [due_1h.id]  # not `scored` (nothing new due), not `young` (under 1 h)
    assert young.id not in {a.id for a in read}
    assert score_due(SETTINGS, store, now) == 1
    assert store.scores.done("analysis", [due_1h.id]) == {(due_1h.id, "1h")}
