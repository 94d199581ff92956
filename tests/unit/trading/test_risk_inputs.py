"""The proposal step records exactly what its gates saw, and that record reads back to the same account."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.competition import Phase
from smt_engine.domain import Contract, EngineState, Pair, Side, Tier
from smt_engine.store import Store
from smt_engine.trading.account import OpenExposure
from smt_engine.trading.proposals import Candidate, ProposalBook
from smt_engine.trading.risk_inputs import RiskInputsError, account_from_record, risk_inputs_record
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings

ETH = Pair("ETH", Tier.ONE)


def test_the_record_reads_back_to_the_same_account_exactly() -> None:
    settings = make_settings()
    contracts = {
        **CONTRACTS,
        "XUSDT": Contract("XUSDT", Decimal("0.001"), Decimal("0.0001"), Decimal("0.001"), Decimal("5E+3")),
    }
    original = account(
        settings,
        available=Decimal("812.3456789"),
        equity=Decimal("1003.10"),
        peak=Decimal("1100.000001"),
        opening=Decimal("1015.60"),
        open_positions=(OpenExposure("BTCUSDT", Side.SHORT, Decimal("60.96")),),
        last_stop_loss={"ETHUSDT": NOW - timedelta(minutes=7, microseconds=3)},
        engine_state=EngineState.PAUSED,
        comp_balance=Decimal("1234.5678"),
    )
    original = replace(original, contracts=contracts, prices={**PRICES, "XUSDT": Decimal("0.00012345")})
    at = NOW + timedelta(seconds=3, microseconds=17)
    record = json.loads(json.dumps(risk_inputs_record(original, at, settings)))  # as stored
    assert record["available"] == "812.3456789"
    assert record["open_positions"][0]["margin"] == "60.96"
    back, when = account_from_record(record, settings)
    assert when == at
    assert back == original  # every field, Decimals and times exact, competition recomputed identically


def test_replay_under_other_settings_recomputes_the_competition_status() -> None:
    settings = make_settings()
    record = risk_inputs_record(account(settings, comp_balance=Decimal(1300)), NOW, settings)
    other = make_settings(competition={"starting_balance": "2000"})
    back, _ = account_from_record(record, other)
    assert back.competition.pnl == Decimal(1300) - Decimal(2000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 99}, "unknown risk-inputs version 99"),
        ({"available": "lots"}, "unreadable"),
        ({"at": None}, "unreadable"),
        ({"open_positions": [{"symbol": "ETHUSDT", "side": "up", "margin": "1"}]}, "unreadable"),
    ],
)
def test_a_damaged_record_is_a_clear_error(change: dict[str, object], message: str) -> None:
    settings = make_settings()
    record = {**risk_inputs_record(account(settings), NOW, settings), **change}
    with pytest.raises(RiskInputsError, match=message):
        account_from_record(record, settings)


class TickingClock(SimulatedClock):
    """Every reading is a second later, as when the demo's simulated time runs during a cycle."""

    def now(self) -> datetime:
        at = super().now()
        self._now = at + timedelta(seconds=1)
        return at


def test_run_cycle_records_the_inputs_and_gates_at_one_instant(store: Store) -> None:
    settings = make_settings(risk={"stop_loss_cooldown": "30m"})
    book = ProposalBook(store, TickingClock(NOW), settings)
    # The cooldown ends half a second after the cycle's instant: every gate must see that instant.
    stopped = NOW - timedelta(minutes=30) + timedelta(milliseconds=500)
    acct = account(settings, last_stop_loss={"ETHUSDT": stopped})
    cands = [
        Candidate(ETH, decision(confidence=c), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"]) for c in (0.9, 0.8)
    ]
    out = book.run_cycle(cands, acct, cycle_id="c1")
    assert [p.reason_codes for p in out.proposals] == [["stop_loss_cooldown"]] * 2
    assert out.risk_inputs is not None
    back, at = account_from_record(out.risk_inputs, settings)
    assert at == NOW
    assert back == acct


def test_a_skipped_cycle_still_records_what_it_saw(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings()
    out = ProposalBook(store, clock, settings).run_cycle([], account(settings, available=None))
    assert out.skipped
    assert out.risk_inputs is not None
    assert out.risk_inputs["available"] is None


def test_a_version_1_record_reads_its_opening_equity_as_equity_plus_the_days_loss() -> None:
    """Version 1 kept today's realised PnL: its replay must measure the same daily loss as the gates did."""
    settings = make_settings()
    record = risk_inputs_record(account(settings, equity=Decimal("1003.10")), NOW, settings)
    del record["opening_equity"]
    v1 = {**record, "version": 1, "realized_pnl_today": "-12.50"}
    back, at = account_from_record(v1, settings)
    assert (back.opening_equity, back.equity, at) == (Decimal("1015.60"), Decimal("1003.10"), NOW)
    back, _ = account_from_record({**v1, "equity": None}, settings)
    assert (back.opening_equity, back.equity) == (None, None)


def test_a_version_2_record_reads_its_own_opening_equity_and_ignores_a_days_pnl() -> None:
    settings = make_settings()
    acct = account(settings, equity=Decimal("1003.10"), opening=Decimal("990"))
    record = {**risk_inputs_record(acct, NOW, settings), "realized_pnl_today": "-12.50"}
    assert record["version"] == 2
    back, _ = account_from_record(record, settings)
    assert back.opening_equity == Decimal("990")


def test_a_record_with_no_amounts_reads_back_with_none_of_them() -> None:
    settings = make_settings()
    none = replace(account(settings), available=None, equity=None, peak_equity=None, opening_equity=None)
    none = replace(none, contracts={"ETHUSDT": replace(CONTRACTS["ETHUSDT"], max_size=None)})
    record = json.loads(json.dumps(risk_inputs_record(none, NOW, settings)))
    assert [record[k] for k in ("available", "equity", "peak_equity", "opening_equity")] == [None] * 4
    assert record["contracts"]["ETHUSDT"]["max_size"] is None
    back, _ = account_from_record(record, settings)
    assert back == none


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"version": 3},
            "unknown risk-inputs version 3",
        ),
        (
            {"version": None},
            "unknown risk-inputs version None",
        ),
        (
            {"available": "lots"},
            "recorded risk inputs are unreadable: InvalidOperation: ",
        ),
        (
            {"prices": {"ETHUSDT": "1.2.3"}},
            "recorded risk inputs are unreadable: InvalidOperation: ",
        ),
        (
            {"contracts": {"ETHUSDT": {"step_size": "0.01"}}},
            "recorded risk inputs are unreadable: KeyError: 'tick_size'",
        ),
    ],
)
def test_a_damaged_record_says_exactly_what_is_wrong(change: dict[str, object], message: str) -> None:
    settings = make_settings()
    record = {**risk_inputs_record(account(settings), NOW, settings), **change}
    with pytest.raises(RiskInputsError) as caught:
        account_from_record(record, settings)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_record_missing_its_version_is_an_unknown_version() -> None:
    settings = make_settings()
    record = risk_inputs_record(account(settings), NOW, settings)
    del record["version"]
    with pytest.raises(RiskInputsError, match=r"^unknown risk-inputs version None$"):
        account_from_record(record, settings)


def test_a_record_made_in_a_competition_window_reads_back_its_phase_and_every_contract_limit() -> None:
    """The replay's competition status is computed at the gates' own instant, and a contract's notional and
    leverage limits come back as recorded, not as a contract's defaults."""
    settings = make_settings(competition={"start": "2026-01-05", "end": "2026-01-25"})
    limited = Contract(
        "XUSDT", Decimal("0.001"), Decimal("0.0001"), Decimal("0.001"), None, Decimal("5.5"), 33
    )
    original = replace(account(settings), contracts={"XUSDT": limited}, prices={"XUSDT": Decimal("0.5")})
    record = json.loads(json.dumps(risk_inputs_record(original, NOW, settings)))
    back, _ = account_from_record(record, settings)
    assert back.contracts == {"XUSDT": limited}
    assert (back.competition.phase, back.competition.days_left) == (Phase.ACTIVE, 5)
    assert back.competition == original.competition
