"""`smt data fetch` against the fake WEEX: pages, closed bars only, limiter, gaps, resume after a stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.weex.limiter import WeightLimiter
from smt_engine.history.fetch import HistoryFetcher, Progress, progress_line, run_fetch
from smt_engine.store import Store
from tests.fakes.weex_history import FakeHistory
from tests.fakes.weex_server import running_fake

NOW = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
START = datetime(2024, 1, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Interrupted(Exception):
    pass


def _fetcher(
    base_url: str, store: Store, clock: SimulatedClock, limiter: WeightLimiter | None = None
) -> HistoryFetcher:
    return HistoryFetcher(base_url, store, clock, limiter or WeightLimiter(400), retries=0)


def test_fetch_stores_every_closed_bar_once_and_resumes_after_an_interruption(tmp_path: Path) -> None:
    clock = SimulatedClock(NOW)
    store = Store.open(tmp_path / "smt.db")
    with running_fake(clock=clock) as fake:
        fake.history = FakeHistory(seed=3)
        pages: list[Progress] = []

        def stop_after_three(p: Progress) -> None:
            pages.append(p)
            if p.done == 3:
                raise Interrupted

        fetcher = _fetcher(fake.base_url, store, clock)
        with pytest.raises(Interrupted):
            asyncio.run(
                run_fetch(fetcher, ["ETHUSDT", "BTCUSDT"], ["1h"], START, NOW, on_progress=stop_after_three)
            )
        # 8 days to the hour before now = 192 bars per symbol, 100 a page: 2 pages each, 4 in all.
        assert pages[0].total == 4
        line = progress_line(Progress(1, 4, 2.0, "ETHUSDT 1h"))
        assert line.startswith("[#######.......................] 1/4 pages  ETA 0m06s  ETHUSDT 1h")
        kept = store.market_history.bars("ETHUSDT", "1h")
        assert len(kept) == 192  # ETH's two pages were written whole before the stop
        assert len(store.market_history.bars("BTCUSDT", "1h")) == 100
        calls_before = fake.history.calls

        reports = asyncio.run(
            run_fetch(_fetcher(fake.base_url, store, clock), ["ETHUSDT", "BTCUSDT"], ["1h"], START, NOW)
        )
        eth, btc = reports
        assert eth.stored == 0
        assert eth.resumed_from == START + 192 * HOUR
        assert btc.resumed_from == START + 100 * HOUR
        assert btc.stored == 92
        assert fake.history.calls - calls_before == 2  # only what was missing was asked for
        bars = store.market_history.bars("BTCUSDT", "1h")
        assert [b.open_time for b in bars] == [START + i * HOUR for i in range(192)]
        truth = {b.open_time: b for b in fake.history.series[("BTCUSDT", "1h")]}
        assert all(truth[b.open_time] == b for b in bars)  # exactly the exchange's bars
        # The bar still forming at 00:30 (opened 00:00) was served but never stored.
        assert bars[-1].open_time == NOW.replace(minute=0) - HOUR
        assert eth.gaps == []
        assert btc.gaps == []
    store.close()


def test_fetch_reports_the_exchanges_gaps_and_reads_5_minute_bars(tmp_path: Path) -> None:
    clock = SimulatedClock(NOW)
    store = Store.open(tmp_path / "smt.db")
    with running_fake(clock=clock) as fake:
        fake.history = FakeHistory(seed=1)
        full = fake.history.bars("ETHUSDT", "1h", NOW)
        hole = (START + 30 * HOUR, START + 35 * HOUR)
        fake.history.series[("ETHUSDT", "1h")] = [b for b in full if not hole[0] <= b.open_time < hole[1]]
        end = START + timedelta(days=2)
        (report,) = asyncio.run(
            run_fetch(_fetcher(fake.base_url, store, clock), ["ETHUSDT"], ["1h"], START, end)
        )
        assert report.gaps == [hole]
        assert report.stored == 48 - 5
        (five,) = asyncio.run(
            run_fetch(
                _fetcher(fake.base_url, store, clock), ["ETHUSDT"], ["5m"], START, START + timedelta(hours=10)
            )
        )
        assert five.stored == 120
        assert five.requests == 2
    store.close()


def test_fetch_waits_for_the_weight_budget(tmp_path: Path) -> None:
    """Ten weight per ten seconds and 5 per request: a third page within the window has to wait."""
    t = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        t[0] += seconds

    limiter = WeightLimiter(10, monotonic=lambda: t[0], sleep=sleep)
    clock = SimulatedClock(NOW)
    store = Store.open(tmp_path / "smt.db")
    with running_fake(clock=clock) as fake:
        fake.history = FakeHistory(seed=2)
        end = START + 400 * HOUR
        (report,) = asyncio.run(
            run_fetch(_fetcher(fake.base_url, store, clock, limiter), ["ETHUSDT"], ["1h"], START, end)
        )
    assert report.requests == 4
    assert report.stored == 192
    assert sum(slept) == pytest.approx(10.0)  # the third page waited for the window to roll
    store.close()


def test_smt_data_fetch_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command against the fake WEEX: stores two days of ETH, says there are no gaps, shows progress."""
    from smt_engine.cli.main import main

    with running_fake() as fake:
        fake.history = FakeHistory(seed=4)
        config = tmp_path / "smt.toml"
        config.write_text(f'[exchange]\nbase_url = "{fake.base_url}"\n')
        db = tmp_path / "smt.db"
        args = ["data", "fetch", "--pairs", "ETH", "--from", "2024-01-02", "--to", "2024-01-04"]
        assert main([*args, "--db", str(db), "--config", str(config)]) == 0
        captured = capsys.readouterr()
        assert "ETHUSDT 1h: 48 bar(s) stored in 1 request(s)" in captured.out
        assert "no gaps" in captured.out
        assert "1/1 pages" in captured.err
        assert main(["data", "status", "--db", str(db), "--config", str(config)]) == 0
        assert "ETHUSDT      1h       48 bar(s) 2024-01-02 00:00 to 2024-01-03 23:00 UTC  (weex)" in (
            capsys.readouterr().out
        )
