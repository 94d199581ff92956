"""The exchange-flow signal scored forward on its own: every recorded flow (asset and window) is a call.

The call is the published effect's direction (arXiv 2411.06327, docs/whales.md): a stablecoin (USDT, and
USDC apart) flowing onto exchanges is buying power arriving, so LONG; ETH, WETH or stETH flowing onto
exchanges is coins arriving to be sold, so SHORT; a flow off exchanges the reverse; no net flow is no
call. Each is scored on ETH (else the first tier-1 pair) at ``whales.flow_score_horizons``, with the
scorecard's own rules (no look-ahead, fees), as subject ``flow``, analyst ``flow``, model
``"<asset> <window>h"``. Only cycles that read every watched wallet whole are scored: a partial total
is not a measurement. A flow carries no confidence of its own; it is scored at 0.5.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smt_engine.config import Settings
from smt_engine.config.fields import parse_duration
from smt_engine.scorecard.subject import Subject
from smt_engine.store import Store
from smt_engine.store.flows import ExchangeFlow
from smt_engine.whales.flows import ETH_LIKE, STABLES

SUBJECT = "flow"
FLOW_CONFIDENCE = 0.5


def flow_horizons(settings: Settings) -> dict[str, timedelta]:
    """``whales.flow_score_horizons`` as names and lengths (validated by the settings)."""
    out: dict[str, timedelta] = {}
    for name in settings.whales.flow_score_horizons:
        length = parse_duration(name)
        assert isinstance(length, timedelta)
        out[name] = length
    return out


def flow_direction(flow: ExchangeFlow) -> str | None:
    """LONG, SHORT, or None when the flow makes no call (no net flow, or an asset no effect covers)."""
    if flow.net == 0:
        return None
    onto = flow.net > 0
    if flow.asset in STABLES:
        return "LONG" if onto else "SHORT"
    if flow.asset in ETH_LIKE:
        return "SHORT" if onto else "LONG"
    return None


def flow_subjects(settings: Settings, store: Store, since: datetime, now: datetime) -> list[Subject]:
    """The flows since ``since`` with a horizon due at ``now`` and not scored yet (only those are read)."""
    tier1 = settings.pairs.tier1
    if not tier1:
        return []
    base = "ETH" if "ETH" in tier1 else tier1[0]
    pair = settings.pairs.by_base(base)
    assert pair is not None
    horizons = flow_horizons(settings)
    last = max(horizons, key=lambda name: horizons[name])
    rows = store.history.flows_since(
        since, unless_scored=(last,), due={name: now - length for name, length in horizons.items()}
    )
    full = store.exchange_flows.most_wallets_since(since)
    out = []
    for row in rows:
        direction = flow_direction(row)
        if row.id is None or direction is None or row.wallets < full:
            continue
        out.append(
            Subject(
                kind=SUBJECT,
                id=row.id,
                pair=base,
                symbol=pair.symbol,
                tier=pair.tier.value,
                analyst=SUBJECT,
                model=f"{row.asset} {row.window_hours}h",
                direction=direction,
                confidence=FLOW_CONFIDENCE,
                signal_agrees="none",
                decided_at=row.at,
                cycle_id=row.cycle_id,
            )
        )
    return out
