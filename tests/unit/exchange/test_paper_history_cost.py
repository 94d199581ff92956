"""The paper venue's per-call cost does not grow with its history: finished orders are not re-examined.

Counted, not timed: how many order statuses a call reads, after few and after many finished trades.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.domain import Side
from smt_engine.exchange.base import OrderStatus
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.paper.state import AccountFile, encode_state
from tests.unit.exchange.test_paper import entry, venue

D = Decimal


class StatusReads:
    """Counts ``OrderStatus.is_open`` reads: one per order a scan examines."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        original = OrderStatus.is_open

        def counted(status: OrderStatus) -> bool:
            self.n += 1
            return bool(original.fget(status))  # type: ignore[attr-defined]

        monkeypatch.setattr(OrderStatus, "is_open", property(counted))


async def _round_trips(ex: PaperExchange, start: int, count: int) -> None:
    """Open and close ``count`` positions and cancel their left-over legs: history, nothing open."""
    for i in range(start, start + count):
        await ex.place_order(entry(f"e{i}"))
        await ex.close_position("BTCUSDT", Side.LONG, f"c{i}")
        await ex.cancel_many("BTCUSDT", regular=True, algo=True)


async def _reads_of_a_tick(ex: PaperExchange, reads: StatusReads) -> int:
    """Status reads of what a monitor tick asks the venue, with one position and its legs open."""
    await ex.open_orders("BTCUSDT")  # settles the scans of earlier calls
    reads.n = 0
    await ex.balance()
    await ex.open_orders("BTCUSDT")
    await ex.open_algo_orders("BTCUSDT")
    await ex.positions()
    return reads.n


async def test_a_tick_reads_the_same_orders_after_ten_and_forty_finished_trades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex, _, _ = venue(tmp_path)
    await _round_trips(ex, 0, 10)
    await ex.place_order(entry("open"))
    reads = StatusReads(monkeypatch)
    early = await _reads_of_a_tick(ex, reads)
    await ex.close_position("BTCUSDT", Side.LONG, "close-open")
    await ex.cancel_many("BTCUSDT", regular=True, algo=True)
    await _round_trips(ex, 10, 30)
    await ex.place_order(entry("open-again"))
    late = await _reads_of_a_tick(ex, reads)
    assert len(ex._acct.orders) > 150  # the history is there: 40 trades of entry, close and two legs
    assert late == early
    assert early <= 4 * 3  # each call examines the open entry's two legs, not the account's history


async def test_a_save_examines_only_orders_open_at_the_last_save_or_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex, _, _ = venue(tmp_path)
    await _round_trips(ex, 0, 20)
    file = AccountFile(tmp_path / "paper.json")
    account = file.load()
    assert len(account.orders) == 80
    assert not account.live()
    reads = StatusReads(monkeypatch)
    file.save(account)
    assert reads.n == 0  # nothing open at load, nothing new: no order is looked at
    snapshot = json.loads((tmp_path / "paper.json").read_text())
    assert snapshot["orders"] == []
    assert snapshot["journal_bytes"] == file.journal.stat().st_size


async def test_the_snapshot_does_not_grow_with_finished_trades(tmp_path: Path) -> None:
    ex, _, _ = venue(tmp_path)
    await _round_trips(ex, 0, 5)
    small = (tmp_path / "paper.json").stat().st_size
    await _round_trips(ex, 5, 45)
    large = (tmp_path / "paper.json").stat().st_size
    assert len(ex._acct.orders) == 200
    assert abs(large - small) <= 16  # only counters and the cursor change width


async def test_orders_of_a_file_from_before_the_journal_are_journalled_not_dropped(tmp_path: Path) -> None:
    ex, market, clock = venue(tmp_path)
    await _round_trips(ex, 0, 3)
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(encode_state(AccountFile(tmp_path / "paper.json").load())))
    again = PaperExchange(market, clock, state_path=legacy, slippage_pct=D(0))
    await again.place_order(entry("after"))  # a save: the legacy file's final orders move to the journal
    reloaded = PaperExchange(market, clock, state_path=legacy, slippage_pct=D(0))
    history = {o.client_order_id for o in await reloaded.order_history("BTCUSDT")}
    assert {"e0", "c0", "e2", "c2"} <= history


async def test_a_replaced_order_list_is_rescanned(tmp_path: Path) -> None:
    """The backtest drops finished orders by replacing the list; the open view follows it."""
    ex, _, _ = venue(tmp_path)
    await ex.place_order(entry("e1"))
    assert len(ex._acct.live()) == 2  # the two legs
    ex._acct.orders = [o for o in ex._acct.orders if o.status.is_open][:1]
    assert ex._acct.live() == ex._acct.orders
