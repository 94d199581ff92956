"""One way for every engine component to say how it is doing, loudly when it degrades.

A component calls ``report_health`` on every attempt (success or failure). The row in ``health`` is what
`smt status` and the console's health strip show; a change into WARN or DOWN appends a WARNING (or
ERROR for DOWN) event ``health.degraded``, a return to OK an INFO ``health.recovered``. Notifications
subscribe to those events, so nothing that stops the engine doing its job fails quietly.

Component names are dotted and stable: ``exchange.rest``, ``exchange.legs``, ``exchange.stream.private``,
``exchange.stream.public``, ``exchange.reconcile``, ``exchange.probe``, ``analyst``, ``analyst.model``,
``analyst.budget``, ``whales.etherscan``, ``whales.flows``, ``notify``, ``risk.kill_switch``.
"""

from __future__ import annotations

from typing import Any

from smt_engine.clock import Clock
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.store.db import Store

_LEVEL = {
    HealthStatus.WARN: EventLevel.WARNING,
    HealthStatus.DOWN: EventLevel.ERROR,
}


def report_health(
    store: Store,
    clock: Clock,
    component: str,
    status: HealthStatus,
    detail: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Record ``component``'s status and announce a change with an event."""
    now = clock.now()
    before = store.health.report(component, status, now, detail, data)
    if before is None:
        return
    payload = {"component": component, "from": before.value, "to": status.value, **(data or {})}
    if status in _LEVEL:
        store.events.append(
            now, _LEVEL[status], "health.degraded", f"{component} {status.value}: {detail}", data=payload
        )
    elif status is HealthStatus.OK:
        store.events.append(
            now, EventLevel.INFO, "health.recovered", f"{component} ok again: {detail}", data=payload
        )
