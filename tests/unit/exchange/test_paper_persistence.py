"""Paper venue persistence: a change saves what changed (open state snapshot, journal of the final)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Side
from smt_engine.exchange.base import OrderStatus
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.paper.state import AccountFile, encode_state
from tests.unit.exchange.test_paper import entry, venue

D = Decimal


async def _trade_twice(tmp_path: Path) -> tuple[PaperExchange, ManualMarket, SimulatedClock]:
    ex, market, clock = venue(tmp_path)
    await ex.place_order(entry("e1"))
    await ex.close_position("BTCUSDT", Side.LONG, "c1")
    await ex.place_order(entry("e2"))
    return ex, market, clock


async def test_snapshot_holds_only_what_can_still_change(tmp_path: Path) -> None:
    await _trade_twice(tmp_path)
    snapshot = json.loads((tmp_path / "paper.json").read_text())
    statuses = {o["status"] for o in snapshot["orders"]}
    assert statuses <= {s.value for s in OrderStatus if s.is_open}  # filled entries and closes are journalled
    assert "fills" not in snapshot
    journal = (tmp_path / "paper.json.journal").read_text().splitlines()
    assert sum('"fill"' in line for line in journal) == 3  # e1, c1, e2
    assert snapshot["journal_bytes"] == (tmp_path / "paper.json.journal").stat().st_size
    assert (tmp_path / "paper.json.journal").stat().st_mode & 0o777 == 0o600


async def test_journal_is_appended_not_rewritten(tmp_path: Path) -> None:
    ex, _, _ = await _trade_twice(tmp_path)
    journal = tmp_path / "paper.json.journal"
    before = journal.read_bytes()
    await ex.close_position("BTCUSDT", Side.LONG, "c2")
    after = journal.read_bytes()
    assert after.startswith(before)
    assert len(after) > len(before)


async def test_restart_restores_orders_and_fills_in_order(tmp_path: Path) -> None:
    ex, market, clock = await _trade_twice(tmp_path)
    history = [o.order_id for o in await ex.order_history("BTCUSDT")]
    fills = await ex.fills("BTCUSDT")
    again = PaperExchange(market, clock, state_path=tmp_path / "paper.json", slippage_pct=D(0))
    assert [o.order_id for o in await again.order_history("BTCUSDT")] == history
    assert await again.fills("BTCUSDT") == fills
    assert (await again.balance()).balance == (await ex.balance()).balance
    assert len(await again.open_algo_orders("BTCUSDT")) == 4  # e1's legs stay behind, e2's are live


async def test_a_torn_append_is_cut_off_at_load(tmp_path: Path) -> None:
    ex, market, clock = await _trade_twice(tmp_path)
    fills = await ex.fills("BTCUSDT")
    journal = tmp_path / "paper.json.journal"
    with journal.open("ab") as fh:  # a crash between the journal append and the snapshot
        fh.write(b'{"fill": {"order_id": "torn')
    again = PaperExchange(market, clock, state_path=tmp_path / "paper.json", slippage_pct=D(0))
    assert await again.fills("BTCUSDT") == fills
    await again.close_position("BTCUSDT", Side.LONG, "c2")
    third = AccountFile(tmp_path / "paper.json").load()
    assert len(third.fills) == len(fills) + 1  # the torn bytes were truncated before the next append


async def test_a_file_from_before_the_journal_still_loads(tmp_path: Path) -> None:
    ex, market, clock = await _trade_twice(tmp_path)
    account = AccountFile(tmp_path / "paper.json").load()
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps(encode_state(account), indent=1))  # every order and fill in one file
    again = PaperExchange(market, clock, state_path=legacy, slippage_pct=D(0))
    assert await again.fills("BTCUSDT") == await ex.fills("BTCUSDT")
    await again.close_position("BTCUSDT", Side.LONG, "c2")
    moved = json.loads(legacy.read_text())
    assert "fills" not in moved
    assert moved["journal_bytes"] > 0
