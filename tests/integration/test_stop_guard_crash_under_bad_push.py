"""A missing stop, a glitching pushed price and a market that really went through the stop.

The guard waits instead of closing at market while the position's price is implausible, because the
refusal of the stop may rest on the glitch. The independent reference the plausibility check reads (the
venue's REST 1-minute bar) says whether it does: when the market has gone through the stop by that
reference, the stop cannot rest at any price the venue would accept, and waiting would hold a losing
position past its stop for as long as the feed stays bad. Then the guard closes at market, as the stop
itself would have. Live and paper, over the fake WEEX's REST on 127.0.0.1.
"""

from __future__ import annotations

from decimal import Decimal

from smt_engine.domain import EventLevel, PositionState
from tests.integration.test_stop_guard_bad_price import BTC, PRICE, Venue, venue

__all__ = ["venue"]


async def test_a_stop_the_market_went_through_is_closed_at_market_even_under_a_bad_push(
    venue: Venue,
) -> None:
    position_id = await venue.open_long_without_a_stop()
    crashed = PRICE * Decimal("0.95")  # 5 % down: past any default stop, on the venue's own prices
    venue.fake.set_price(BTC, crashed, low=crashed, high=crashed)

    for _ in range(3):  # the feed stays bad: one tick or many, the position must not stay open
        venue.push(PRICE / 10)
        await venue.monitor.tick()
        position = venue.store.positions.get(position_id)
        if position is None or position.state is not PositionState.OPEN:
            break
        await venue.clock.advance(5)

    position = venue.store.positions.get(position_id)
    assert position is not None
    assert position.state is not PositionState.OPEN
    assert len(venue.market_closes()) == 1
    assert await venue.stops() == []
    assert not venue.store.events.of_kind("protection.deferred")
    (closing,) = venue.store.events.of_kind("position.unprotected")
    assert closing.level is EventLevel.ERROR
    assert closing.position_id == position_id
    assert venue.store.events.of_kind("price.implausible")  # the glitch is still named
    # Closed at the venue's price, never at the glitch (a paper fill at the push would book a 90 % loss).
    assert position.exit_price is not None
    assert abs(position.exit_price / crashed - 1) < Decimal("0.002")


async def test_a_stop_still_valid_by_the_venues_price_is_placed_not_closed(venue: Venue) -> None:
    """The other side of the same judgement: the market fell, but not to the stop (0.5 % down), while
    the push says 90 % down. The venue judges the stop on its own price (the paper venue on the REST one,
    never on the push) and takes it; nothing is closed."""
    position_id = await venue.open_long_without_a_stop()
    dipped = PRICE * Decimal("0.995")
    venue.fake.set_price(BTC, dipped, low=dipped, high=dipped)
    venue.push(PRICE / 10)

    await venue.monitor.tick()

    position = venue.store.positions.get(position_id)
    assert position is not None
    assert position.state is PositionState.OPEN
    assert venue.market_closes() == []
    (stop,) = await venue.stops()
    assert stop < dipped
    assert not venue.store.events.of_kind("position.unprotected")
