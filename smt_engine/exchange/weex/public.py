"""WEEX v3 public market endpoints: contract specifications (cached, corrected from rejections),
tickers and klines.

A layer of its own under ``WeexClient`` so the account and order code reads apart from the market
data it relies on; tickers come from the public websocket while fresh (``use_stream_prices``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from smt_engine.domain import Candle, Contract
from smt_engine.exchange.base import ExchangeError, InvalidOrder, Ticker
from smt_engine.exchange.market import candles_from_answer, interval_seconds, ticker_from_answer
from smt_engine.exchange.market.plausibility import plausible_price
from smt_engine.exchange.market.streamed import STREAM_PRICE_MAX_AGE, LatestPrices, fresh_ticker
from smt_engine.exchange.precision import plain, quoted_increment
from smt_engine.exchange.weex.parsing import parse_contract
from smt_engine.exchange.weex.transport import WeexTransport

log = logging.getLogger(__name__)


class WeexPublic(WeexTransport):
    """Market data every WEEX request path needs: exchangeInfo, 24h ticker, klines."""

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
        """exchangeInfo for the named symbols not cached within ``contracts_ttl``; ``None`` (the engine's
        start-up load) always reads the venue, so a restart never keeps a step changed while it was down."""
        now = self.clock.now()
        wanted = symbols or []
        out: dict[str, Contract] = {}
        missing = []
        for symbol in wanted:
            cached = self._cached_contract(symbol, now)
            if cached is None:
                missing.append(symbol)
            else:
                out[symbol] = cached
        if missing or not wanted:
            body = await self._get("/capi/v3/market/exchangeInfo", signed=False)
            if isinstance(body, dict):
                self.limiter.apply_rate_limits(body.get("rateLimits"))
            rows = body.get("symbols", []) if isinstance(body, dict) else []
            for row in rows:
                try:
                    contract = parse_contract(row)
                except (KeyError, ValueError, TypeError) as exc:
                    log.warning("exchangeInfo: skipping a malformed symbol row (%s)", exc)
                    continue
                self._remember(contract, now)
                if not wanted or contract.symbol in wanted:
                    out[contract.symbol] = contract
        return out

    def _cached_contract(self, symbol: str, now: datetime) -> Contract | None:
        hit = self._contracts.get(symbol)
        if hit is None and self.store is not None:
            hit = self.store.contracts.load(symbol)
            if hit is not None:
                self._contracts[symbol] = hit
        if hit is not None and now - hit[1] < self.contracts_ttl:
            return hit[0]
        return None

    def _remember(self, contract: Contract, at: datetime) -> None:
        self._contracts[contract.symbol] = (contract, at)
        if self.store is not None:
            self.store.contracts.save(contract, at)

    async def contract(self, symbol: str) -> Contract:
        found = (await self.contracts([symbol])).get(symbol)
        if found is None:
            raise InvalidOrder(f"{symbol}: not listed in WEEX exchangeInfo", code="-1121")
        return found

    def learn_from_rejection(self, symbol: str, message: str) -> Contract | None:
        """A precision rejection quoting the increment (v2 ``stepSize '10'``, v3 ``stepSize``/``tickSize``/
        ``quantityPrecision``) corrects the cached step, or the tick when the text is about a price."""
        quoted = quoted_increment(message)
        hit = self._contracts.get(symbol)
        if quoted is None or hit is None:
            return None
        what, step = quoted
        contract = (
            replace(hit[0], tick_size=step)
            if what == "price"
            else replace(hit[0], step_size=step, min_size=max(step, hit[0].min_size))
        )
        self._remember(contract, self.clock.now())
        log.warning(
            "%s: WEEX quoted %s %s; cache updated", symbol, "tick" if what == "price" else "step", plain(step)
        )
        return contract

    def use_stream_prices(self, prices: LatestPrices) -> None:
        """Tickers from the public websocket while fresh, REST otherwise (as ``StreamedMarket`` in paper)."""
        self._stream_prices = prices

    async def ticker(self, symbol: str) -> Ticker:
        if self._stream_prices is not None:
            pushed = fresh_ticker(self._stream_prices, symbol, self.clock, STREAM_PRICE_MAX_AGE)
            if pushed is not None:
                return pushed
        body = await self._get("/capi/v3/market/ticker/24hr", {"symbol": symbol}, signed=False)
        return ticker_from_answer(symbol, body, self.clock.now())

    async def last_price(self, symbol: str) -> Decimal:
        return (await self.ticker(symbol)).last

    async def checked_price(self, symbol: str) -> Decimal | None:
        """The price our own pre-flight checks of a close or a trigger compare against, or ``None`` when
        no plausible one can be had: then WEEX alone judges the order. A glitching push must never make
        a good stop look wrong-sided, and so close a healthy position for want of a stop."""
        try:
            return await plausible_price(self, symbol, self.clock, self.price_rule)
        except ExchangeError as exc:
            log.warning("%s: no plausible price for the pre-flight check, WEEX judges: %s", symbol, exc)
            return None

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        interval_seconds(interval)
        body = await self._get(
            "/capi/v3/market/klines",
            {"symbol": symbol, "interval": interval, "limit": min(limit, 1000)},
            signed=False,
        )
        return candles_from_answer(symbol, body, limit)
