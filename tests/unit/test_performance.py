"""Performance figures on four trades whose fees, buckets and drawdown were worked out by hand.

Taker fee 0.1 % a side. Stored realised PnL is gross minus the closing fee (as the closer stores it from
the venue's fills); the entry fee is at the rate.

- T4 BTC SHORT 0.02 @ 52000 -> 51500, Sat 2026-12-05 10:00, realised 8.97: gross 10, fees 1.04 + 1.03,
  net 7.93, margin 104 -> 7.625 %.
- T1 BTC LONG 0.01 @ 50000 -> 51000, Sun 2026-12-06 23:30 (ISO week 49), realised 9.49: gross 10,
  fees 0.50 + 0.51, net 8.99, margin 50 -> 17.98 %.
- T2 ETH SHORT 1 @ 3000 -> 3030, Mon 2026-12-07 00:10 (week 50, past midnight), realised -33.03:
  gross -30, fees 3.00 + 3.03, net -36.03, margin 300 -> -12.01 %.
- T3 SOL LONG 10 @ 100 -> 103, Mon 12:00, closing fills unreadable (no realised): gross 30, fees
  1.00 + 1.03 at the rate, net 27.97, margin 100 -> 27.97 %.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import CloseReason, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.performance import compute, from_store, max_drawdown, trade_result
from smt_engine.store.records import AccountSnapshot, ClosedTrade, Position

FEE = D("0.1")
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def trade(
    id: int,
    symbol: str,
    side: Side,
    size: str,
    entry: str,
    exit: str | None,
    margin: str,
    closed: datetime,
    realized: str | None,
) -> ClosedTrade:
    return ClosedTrade(
        id=id,
        symbol=symbol,
        side=side,
        size=D(size),
        entry_price=D(entry),
        exit_price=D(exit) if exit else None,
        margin=D(margin),
        opened_at=closed - timedelta(hours=2),
        closed_at=closed,
        realized_pnl=D(realized) if realized else None,
        close_reason=CloseReason.TAKE_PROFIT,
    )


T1 = trade(
    1, "BTCUSDT", Side.LONG, "0.01", "50000", "51000", "50", datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "9.49"
)
T2 = trade(
    2, "ETHUSDT", Side.SHORT, "1", "3000", "3030", "300", datetime(2026, 12, 7, 0, 10, tzinfo=UTC), "-33.03"
)
T3 = trade(3, "SOLUSDT", Side.LONG, "10", "100", "103", "100", datetime(2026, 12, 7, 12, 0, tzinfo=UTC), None)
T4 = trade(
    4,
    "BTCUSDT",
    Side.SHORT,
    "0.02",
    "52000",
    "51500",
    "104",
    datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    "8.97",
)
TRADES = [T1, T2, T3, T4]


def test_each_trade_has_its_gross_fees_net_and_return_on_margin() -> None:
    r1, r2, r3, r4 = (trade_result(t, FEE) for t in TRADES)
    assert r1 is not None
    assert (r1.gross, r1.fees, r1.net, r1.return_pct) == (
        D(10),
        D("1.01"),
        D("8.99"),
        D("17.98"),
    )
    assert r1.fee_source == "fills"
    assert r2 is not None
    assert (r2.gross, r2.fees, r2.net) == (D(-30), D("6.03"), D("-36.03"))
    assert r2.return_pct == D("-12.01")
    assert r3 is not None
    assert (r3.gross, r3.fees, r3.net, r3.return_pct) == (
        D(30),
        D("2.03"),
        D("27.97"),
        D("27.97"),
    )
    assert r3.fee_source == "rate"
    assert r4 is not None
    assert (r4.gross, r4.fees, r4.net, r4.return_pct) == (
        D(10),
        D("2.07"),
        D("7.93"),
        D("7.625"),
    )


def test_a_trade_with_neither_exit_nor_realised_pnl_is_left_out_and_counted() -> None:
    lost = trade(5, "ADAUSDT", Side.LONG, "1", "1", None, "1", NOW, None)
    assert trade_result(lost, FEE) is None
    perf = compute([*TRADES, lost], now=NOW, taker_fee_pct=FEE)
    assert perf.unpriced == 1
    assert perf.total.trades == 4


def test_without_an_exit_price_the_closing_fee_is_at_the_rate_on_the_entry_notional() -> None:
    r = trade_result(trade(6, "SOLUSDT", Side.LONG, "10", "100", None, "100", NOW, "5"), FEE)
    assert r is not None
    assert r.fee_source == "rate"
    assert (r.gross, r.fees, r.net) == (D(6), D(2), D(4))


def test_all_time_win_rate_profit_factor_and_drawdown() -> None:
    perf = compute(TRADES, now=NOW, taker_fee_pct=FEE)
    assert (perf.total.trades, perf.total.wins, perf.losses) == (4, 3, 1)
    assert (perf.total.gross, perf.total.fees, perf.total.net) == (D(20), D("11.14"), D("8.86"))
    assert perf.win_rate == D(75)
    assert perf.profit_factor == D("44.89") / D("36.03")
    # cumulative 7.93, 16.92, -19.11, 8.86: the high after T1, the low after T2
    assert perf.max_drawdown.amount == D("36.03")
    assert perf.max_drawdown.peak_at == T1.closed_at
    assert perf.max_drawdown.trough_at == T2.closed_at


def test_days_split_at_utc_midnight_and_weeks_at_monday() -> None:
    perf = compute(TRADES, now=NOW, taker_fee_pct=FEE, days=4, weeks=2)
    days = {b.label: b for b in perf.days}
    assert [b.label for b in perf.days] == ["2026-12-07", "2026-12-06", "2026-12-05", "2026-12-04"]
    assert (days["2026-12-07"].trades, days["2026-12-07"].wins, days["2026-12-07"].net) == (2, 1, D("-8.06"))
    assert days["2026-12-07"].fees == D("8.06")
    assert days["2026-12-07"].gross == D(0)
    assert (days["2026-12-06"].trades, days["2026-12-06"].net) == (1, D("8.99"))
    assert (days["2026-12-05"].trades, days["2026-12-05"].net) == (1, D("7.93"))
    assert (days["2026-12-04"].trades, days["2026-12-04"].net) == (0, D(0))
    assert [b.label for b in perf.weeks] == ["2026-W50", "2026-W49"]
    w50, w49 = perf.weeks
    assert (w50.trades, w50.net) == (2, D("-8.06"))
    assert (w49.trades, w49.gross, w49.fees, w49.net) == (2, D(20), D("3.08"), D("16.92"))


def test_no_loss_means_no_profit_factor_and_no_trade_means_no_win_rate() -> None:
    perf = compute([T1, T4], now=NOW, taker_fee_pct=FEE)
    assert perf.profit_factor is None
    assert perf.win_rate == D(100)
    assert perf.max_drawdown.amount == 0
    empty = compute([], now=NOW, taker_fee_pct=FEE)
    assert empty.win_rate is None
    assert empty.profit_factor is None
    assert empty.total.net == 0
    assert len(empty.days) == 7
    assert len(empty.weeks) == 4


def test_the_trade_list_is_the_most_recent_first_and_limited() -> None:
    perf = compute(TRADES, now=NOW, taker_fee_pct=FEE, trade_limit=2)
    assert [r.trade.id for r in perf.trades] == [3, 2]
    assert perf.total.trades == 4  # the limit is on the list, never on the figures


def test_a_drawdown_from_the_first_trade_has_no_peak_time() -> None:
    results = [r for r in (trade_result(t, FEE) for t in (T2, T1)) if r is not None]
    dd = max_drawdown(results)
    assert dd.amount == D("36.03")
    assert dd.peak_at is None
    assert dd.trough_at == T2.closed_at


def closed_position(t: ClosedTrade) -> Position:
    return Position(
        symbol=t.symbol,
        side=t.side,
        size=t.size,
        entry_price=t.entry_price,
        opened_at=t.opened_at,
        state=PositionState.CLOSED,
        leverage=10,
        updated_at=t.closed_at,
        margin=t.margin,
        close_reason=t.close_reason,
        closed_at=t.closed_at,
        exit_price=t.exit_price,
        realized_pnl=t.realized_pnl,
    )


def seed(store: Store) -> None:
    for t in TRADES:
        store.positions.insert(closed_position(t))
    store.positions.insert(
        Position(
            symbol="DOGEUSDT",
            side=Side.LONG,
            size=D(100),
            entry_price=D("0.4"),
            opened_at=NOW,
            state=PositionState.OPEN,
            leverage=10,
            updated_at=NOW,
            margin=D(4),
        )
    )
    for minutes, equity in ((0, "1000"), (10, "1100"), (20, "1045")):
        e = D(equity)
        store.account.insert(
            AccountSnapshot(at=NOW + timedelta(minutes=minutes), balance=e, equity=e, available=e)
        )


def test_the_store_reads_closed_positions_only_and_the_kept_equity_peak(store: Store) -> None:
    seed(store)
    rows = store.positions.closed_trades()
    assert [t.symbol for t in rows] == ["BTCUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT"]  # by close time
    assert rows[0] == trade(4, "BTCUSDT", Side.SHORT, "0.02", "52000", "51500", "104", T4.closed_at, "8.97")
    perf = from_store(store, now=NOW, taker_fee_pct=FEE)
    assert perf.total.net == D("8.86")
    assert (perf.equity, perf.peak_equity, perf.drawdown_now) == (D(1045), D(1100), D(55))
    assert perf.drawdown_now_pct == D(5)


def test_a_database_whose_clock_ran_ahead_is_shown_as_of_its_last_close(store: Store) -> None:
    seed(store)
    perf = from_store(store, now=NOW - timedelta(days=2), taker_fee_pct=FEE, days=1)
    assert perf.at == T3.closed_at
    assert [(b.label, b.trades) for b in perf.days] == [("2026-12-07", 2)]


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n[exchange]\ntaker_fee_pct = 0.1\n')
    return path


def test_the_cli_prints_the_figures_and_one_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    s = Store.open(tmp_path / "smt.db")
    seed(s)
    s.close()
    assert main(["performance", "--config", str(cfg), "--json", "--days", "2000", "--trades", "3"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["all_time"] == {
        "period": "all time",
        "start": None,
        "trades": 4,
        "wins": 3,
        "gross_pnl": "20",
        "fees": "11.14",
        "net_pnl": "8.86",
    }
    assert body["win_rate_pct"] == "75"
    assert body["max_drawdown"]["amount"] == "36.03"
    assert D(body["profit_factor"]) == D("44.89") / D("36.03")
    assert [t["symbol"] for t in body["trades"]] == ["SOLUSDT", "ETHUSDT", "BTCUSDT"]
    sol = body["trades"][0]
    assert (sol["fees"], sol["fee_source"], D(sol["return_pct"])) == ("2.03", "rate", D("27.97"))
    assert (body["peak_equity"], body["drawdown_now"]) == ("1100", "55")
    assert len(body["daily"]) == 2000
    assert main(["performance", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "all time: net +8.86  gross +20.00  fees 11.14  4 trades" in text
    assert "win rate 75% (3 of 4)  profit factor 1.25  max drawdown 36.03" in text
    assert "~ fees at exchange.taker_fee_pct" in text


def test_the_cli_refuses_a_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["performance", "--days", "0"])
    assert "--days: 0 is out of range: give 1 to 3660" in capsys.readouterr().err
