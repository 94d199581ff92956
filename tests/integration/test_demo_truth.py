"""The headless demo's database tells the truth the console shows: the engine published the limits it
enforces (the final-days max hold, not the 48 h default), and no order of a closed position looks live."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from smt_engine.domain import OrderKind, PositionState
from smt_engine.store import Store
from smt_engine.store import limits as names


def test_limits_are_published_and_closed_positions_leave_no_live_order(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "demo", "--headless", "--minutes", "120", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    store = Store.open(db, readonly=True)
    try:
        limits = store.limits.by_name()
        # The demo runs in a competition's final days with a 1 h hold: that is what the engine enforces.
        assert limits[names.MAX_HOLD].value == Decimal(3600)
        assert "final" in limits[names.MAX_HOLD].detail
        assert limits[names.TOTAL_EXPOSURE].value > 0
        assert limits[names.MAX_DRIFT].value == Decimal("0.5")
        closed = [p for p in store.positions.select() if p.state is PositionState.CLOSED]
        assert closed
        for pos in closed:
            assert pos.id is not None
            for order in store.orders.for_position(pos.id):
                if order.kind in (OrderKind.TP, OrderKind.SL):
                    assert order.state.is_terminal or order.orphan, (pos.close_reason, order)
    finally:
        store.close()
