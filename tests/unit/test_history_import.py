"""`smt data import`: Binance public-data and plain OHLCV files, checked whole, stored whole or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.store import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _ms(i: int, step: timedelta = timedelta(hours=1), unit: int = 1000) -> int:
    return int((T0 + i * step).timestamp() * unit)


def binance_rows(n: int, unit: int = 1000, skip: tuple[int, ...] = ()) -> list[str]:
    """Rows as data.binance.vision writes them: 12 columns, close time = next open - 1."""
    rows = []
    for i in range(n):
        if i in skip:
            continue
        o = 2000 + i
        rows.append(
            f"{_ms(i, unit=unit)},{o}.10,{o + 5}.00,{o - 5}.00,{o + 1}.20,123.456,"
            f"{_ms(i + 1, unit=unit) - 1},246912.0,1000,60.1,120000.2,0"
        )
    return rows


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> int:
    return main(["data", "import", *args])


def test_binance_files_with_and_without_header_ms_and_us(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    old = write(tmp_path / "ETHUSDT-1h-2024-01.csv", binance_rows(30))
    header = (
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
        "taker_buy_volume,taker_buy_quote_volume,ignore"
    )
    new = write(tmp_path / "BTCUSDT-1h-2025-02.csv", [header, *binance_rows(20, unit=1_000_000)])
    assert run(str(old), str(new), "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "binance (no header), 30 row(s), ETHUSDT 1h" in out
    assert "binance (with a header), 20 row(s), BTCUSDT 1h" in out
    assert "stored 50 bar(s)" in out
    store = Store.open(db)
    eth = store.market_history.bars("ETHUSDT", "1h")
    btc = store.market_history.bars("BTCUSDT", "1h")
    assert len(eth) == 30
    assert eth[0].open_time == T0
    assert str(eth[0].close) == "2001.20"
    assert len(btc) == 20
    assert btc[-1].open_time == T0 + 19 * timedelta(hours=1)
    assert store.market_history.spans()[0].sources == ("import",)


def test_plain_ohlcv_iso_with_header_and_epoch_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    iso = write(
        tmp_path / "sol.csv",
        ["time,open,high,low,close,volume"]
        + [
            f"{(T0 + timedelta(hours=i)).isoformat()},{100 + i},{102 + i},{99 + i},{101 + i},5"
            for i in range(10)
        ],
    )
    assert run(str(iso), "--symbol", "solusdt", "--interval", "1h", "--db", str(db)) == 0
    epoch = write(
        tmp_path / "xrp.csv",
        [f"{int((T0 + timedelta(minutes=5 * i)).timestamp())},0.5,0.51,0.49,0.505" for i in range(12)],
    )
    assert run(str(epoch), "--symbol", "XRPUSDT", "--interval", "5m", "--db", str(db)) == 0
    store = Store.open(db)
    assert len(store.market_history.bars("SOLUSDT", "1h")) == 10
    xrp = store.market_history.bars("XRPUSDT", "5m")
    assert len(xrp) == 12
    assert xrp[1].open_time == T0 + timedelta(minutes=5)


def test_gaps_and_identical_duplicates_are_reported_and_the_rest_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    rows = binance_rows(30, skip=(10, 11, 12))
    rows.insert(5, rows[4])  # the same bar twice, same values
    path = write(tmp_path / "ETHUSDT-1h-2024-01.csv", rows)
    assert run(str(path), "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "1 duplicate bar(s) with identical values: kept once" in out
    assert "1 gap(s), 3 bar(s) missing: 2024-01-01 10:00 to 2024-01-01 13:00" in out
    assert len(Store.open(db).market_history.bars("ETHUSDT", "1h")) == 27


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda rows: [*rows[:5], rows[5].replace("2005.10", "nan"), *rows[6:]], "non-finite row(s)"),
        (
            lambda rows: [*rows[:5], rows[6], rows[5], *rows[7:]],
            # the earlier bar's day too: a file spanning days must not read "after 06:00" alone
            "timestamp(s) going backwards: 2024-01-01 05:00 after 2024-01-01 06:00",
        ),
        (lambda rows: [*rows, rows[3].replace("123.456", "999")], "conflicting duplicate(s)"),
        (
            lambda rows: [*rows[:5], rows[5].replace("2010.00", "1900.00"), *rows[6:]],
            "high/low do not contain",
        ),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, said: str
) -> None:
    db = tmp_path / "smt.db"
    good = write(tmp_path / "BTCUSDT-1h-2024-01.csv", binance_rows(10))
    bad = write(tmp_path / "ETHUSDT-1h-2024-01.csv", damage(binance_rows(30)))  # type: ignore[operator]
    assert run(str(good), str(bad), "--db", str(db)) != 0
    captured = capsys.readouterr()
    assert said in captured.out
    assert "nothing was stored" in captured.err
    store = Store.open(db)
    assert store.market_history.spans() == []  # not even the good file: one transaction or none


def test_a_file_of_another_interval_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "smt.db"
    step = timedelta(minutes=5)
    five = [f"{_ms(i, step)},2000,2001,1999,2000.5,1,{_ms(i + 1, step) - 1},0,0,0,0,0" for i in range(24)]
    path = write(tmp_path / "prices.csv", five)
    assert run(str(path), "--symbol", "ETHUSDT", "--interval", "1h", "--db", str(db)) != 0
    assert "off the 1h grid (another interval?)" in capsys.readouterr().out
    assert Store.open(db).market_history.spans() == []


def test_a_file_that_is_not_candles_says_what_it_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "x.csv", ["a,b,c", "1,2,3"])
    assert run(str(path), "--symbol", "ETHUSDT", "--interval", "1h", "--db", str(tmp_path / "smt.db")) != 0
    assert (
        "expected Binance's 12 kline columns or time, open, high, low, close[, volume]"
        in capsys.readouterr().err
    )


def test_an_import_over_stored_bars_with_other_values_says_it_replaces_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    first = write(tmp_path / "ETHUSDT-1h-2024-01.csv", binance_rows(10))
    assert run(str(first), "--db", str(db)) == 0
    assert run(str(first), "--db", str(db)) == 0  # the same values again: nothing to say
    assert "replaced" not in capsys.readouterr().out
    rows = binance_rows(10)
    rows[4] = rows[4].replace("2004.10", "2003.90")  # another source's open for 04:00
    second = write(tmp_path / "ETHUSDT-1h-2024-01b.csv", rows)
    assert run(str(second), "--symbol", "ETHUSDT", "--interval", "1h", "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "ETHUSDT 1h: 1 stored bar(s) had other values and are replaced by this import" in out
    assert "(first 2024-01-01 04:00 UTC)" in out
    assert Store.open(db).market_history.bars("ETHUSDT", "1h")[4].open == Decimal("2003.90")
