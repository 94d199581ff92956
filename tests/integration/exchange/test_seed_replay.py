"""The seed system's ten live order attempts of 2026-01-07/08 (nine rejected for step/tick errors).

Replayed through our precision path against the fake configured with the steps and ticks WEEX
quoted then, all ten must be accepted with TP/SL on the tick.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.ids import make_client_id
from smt_engine.exchange.precision import PrecisionError, floor_to_step, round_stop, round_to_tick
from smt_engine.exchange.weex import WeightLimiter
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for

D = Decimal

# time, pair, notional USDT, entry_ref, tp %, sl %, step, tick, the size the seed sent (rejected but one)
SEED_ATTEMPTS = [
    ("2026-01-07T07:58:58Z", "BTC", "100", "92851.8", "5.0", "2.5", "0.0001", "0.1", "0.0010769850449856653"),
    ("2026-01-07T12:04:56Z", "SOL", "100", "137.73", "5.0", "2.5", "0.1", "0.01", "0.7261"),
    ("2026-01-07T16:04:56Z", "DOGE", "100", "0.14699", "5.0", "2.5", "100", "0.00001", "680.3184"),
    ("2026-01-07T16:56:37Z", "ETH", "100", "3154.58", "5.0", "2.5", "0.001", "0.01", "0.0317"),
    ("2026-01-07T20:05:00Z", "XRP", "100", "2.1927", "5.0", "2.5", "10", "0.0001", "45.6059"),
    ("2026-01-08T00:05:02Z", "XRP", "100", "2.1633", "5.0", "2.5", "10", "0.0001", "46.2257"),
    ("2026-01-08T04:05:07Z", "SOL", "100", "136.38", "5.0", "2.5", "0.1", "0.01", "0.7332"),
    ("2026-01-08T06:30:57Z", "XRP", "100", "2.1272", "5.0", "2.5", "10", "0.0001", "47.01"),
    ("2026-01-08T06:50:58Z", "SOL", "100", "135.17", "5.0", "2.5", "0.1", "0.01", "0.7"),
    ("2026-01-08T08:05:11Z", "ETH", "91", "3127.23", "5.0", "2.5", "0.001", "0.01", "0.0291"),
]


async def test_seed_attempts_are_all_accepted_on_step_and_tick() -> None:
    contracts = {
        f"{pair}USDT": Contract(f"{pair}USDT", D(step), D(tick), D(step), D(step) * 10**7, max_leverage=75)
        for _, pair, *_rest, step, tick, _sent in SEED_ATTEMPTS
    }
    with FakeWeex(contracts=contracts, balance=D(10_000)) as fake:
        client = client_for(fake, limiter=WeightLimiter(weight_per_window=100_000))
        loaded = await client.contracts(list(contracts))
        assert {s: (c.step_size, c.tick_size) for s, c in loaded.items()} == {
            s: (c.step_size, c.tick_size) for s, c in contracts.items()
        }
        accepted = 0
        for n, (_, pair, notional, ref, tp_pct, sl_pct, *_x, sent) in enumerate(SEED_ATTEMPTS, 1):
            symbol = f"{pair}USDT"
            contract = loaded[symbol]
            entry = D(ref)
            fake.set_price(symbol, entry)
            size = floor_to_step(D(notional) / entry, contract.step_size)
            tp = round_to_tick(entry * (1 + D(tp_pct) / 100), contract.tick_size)
            sl = round_stop(entry * (1 - D(sl_pct) / 100), contract.tick_size, Side.LONG)
            assert size <= D(sent)
            assert size * entry <= D(notional)
            cid = make_client_id("seedrun0", n, "entry")
            await client.place_order(OrderRequest(symbol, Side.LONG, size, cid, tp_price=tp, sl_price=sl))
            found = await client.find_order(symbol, cid)
            assert found is not None
            assert found.filled_size == size
            accepted += 1
        assert accepted == 10
        legs = await client.open_algo_orders()
        for leg in legs:
            assert leg.trigger_price % loaded[leg.symbol].tick_size == 0
        # XRP fell from 2.1927 to 2.1272 during the replay: the first XRP stop (2.1379) fired.
        history = await client.order_history("XRPUSDT")
        fired = [o for o in history if o.kind in ("tp", "sl") and not o.status.is_open]
        assert [(o.kind, o.trigger_price) for o in fired] == [("sl", D("2.1379"))]
        assert len(legs) + len(fired) == 20
        assert fake.counts["POST /capi/v3/order"] == 10
        await client.aclose()


@pytest.mark.parametrize("attempt", SEED_ATTEMPTS[:8] + SEED_ATTEMPTS[9:], ids=lambda a: f"{a[1]}-{a[0]}")
async def test_the_sizes_the_seed_sent_would_still_be_refused(attempt: tuple[str, ...]) -> None:
    """The raw sizes the seed sent (WEEX rejected them) are refused locally, before anything is sent."""
    _, pair, _n, ref, *_x, step, tick, sent = attempt
    contract = Contract(f"{pair}USDT", D(step), D(tick), D(step))
    with FakeWeex(contracts={contract.symbol: contract}, prices={contract.symbol: D(ref)}) as fake:
        client = client_for(fake)
        with pytest.raises(PrecisionError):
            await client.place_order(OrderRequest(contract.symbol, Side.LONG, D(sent), "seed-raw"))
        await client.aclose()
