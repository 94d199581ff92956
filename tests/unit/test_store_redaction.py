"""The store's one redaction choke point: every text a repository writes is masked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from smt_engine.domain import (
    CommandKind,
    EngineState,
    EventLevel,
    HealthStatus,
    Mode,
    OrderKind,
    OrderState,
    Side,
)
from smt_engine.secrets import MASK, register_secret
from smt_engine.store import Store
from smt_engine.store.records import Cycle, EngineStatus, Order

AT = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
SECRET = "st0re-canary/with+chars=9d2f"


def test_every_write_path_masks_registered_secrets_in_the_file_and_wal(tmp_path: Path) -> None:
    register_secret(SECRET)
    echo = f"venue said: bad key {SECRET} (url-encoded {quote(SECRET, safe='')})"
    store = Store.open(tmp_path / "smt.db")
    # Whole-record inserts and replaces.
    store.engine.put(EngineStatus(mode=Mode.PAPER, state=EngineState.RUNNING, last_error=echo))
    store.cycles.insert(Cycle(id="c1", started_at=AT, steps={"market": {"error": echo}}, error=echo))
    order = store.orders.insert(
        Order(
            client_order_id="cid-1",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.ENTRY,
            size=Decimal(1),
            state=OrderState.PENDING_SUBMIT,
            created_at=AT,
            updated_at=AT,
            request={SECRET: [echo]},
        )
    )
    # Partial updates, through the generic and the engine row's own path.
    store.engine.set(last_error=echo, state_reason=echo)
    assert order.id is not None
    store.orders.update(order.id, error=echo, response={"msg": echo})
    # Repositories with their own insert helpers.
    store.events.append(AT, EventLevel.ERROR, "probe", echo, data={"detail": echo, SECRET: 1})
    store.health.report("exchange.rest", HealthStatus.DOWN, AT, detail=echo, data={"e": echo})
    command = store.commands.enqueue(CommandKind.PAUSE, AT, "test", {"note": echo})
    assert command.id is not None
    store.commands.fail(command.id, AT, echo)

    wal = tmp_path / "smt.db-wal"
    blobs = [(tmp_path / "smt.db").read_bytes(), wal.read_bytes()]
    status = store.engine.current()
    assert status is not None
    assert status.last_error == f"venue said: bad key {MASK} (url-encoded {MASK})"
    assert store.orders.get(order.id).request == {MASK: [status.last_error]}  # type: ignore[union-attr]
    store.close()
    blobs.append((tmp_path / "smt.db").read_bytes())
    for blob in blobs:
        assert SECRET.encode() not in blob
        assert quote(SECRET, safe="").encode() not in blob
