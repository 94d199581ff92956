"""The write steps of `smt venue probe`: one order far from the market, and (opt-in) the smallest
position with attached TP/SL, each cleaned up whatever a check found (docs/operator-guide.md,
"Before the first live trade").

Every call is a public ``WeexClient`` method the engine itself uses: ``place_order``, ``find_order`` (by
client id), ``cancel_order``, ``set_leverage``, ``positions``, ``open_algo_orders``, ``close_position``,
``cancel_algo_order``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    ExchangeError,
    ExchangeOrder,
    OrderRequest,
    OrderStatus,
)
from smt_engine.exchange.precision import PrecisionError, plain, quoted_increment, round_stop, round_to_tick
from smt_engine.exchange.weex.client import WeexClient
from smt_engine.exchange.weex.probe_types import CheckFailed, ProbeOptions

READBACK_WAIT = 3.0
"""Seconds an order is asked for again before its readback counts as failed."""


class OrderChecks:
    """The ``order`` and ``position`` steps for contracts the ``contracts`` step has read."""

    def __init__(self, client: WeexClient, contracts: dict[str, Contract], options: ProbeOptions) -> None:
        self.client = client
        self.contracts = contracts
        self.options = options
        self._tag = str(int(time.time() * 1000))

    async def _cheapest(self) -> tuple[str, Decimal]:
        """The traded pair whose minimum order costs least (or ``--symbol``), and its last price."""
        if self.options.symbol:
            if self.options.symbol not in self.contracts:
                raise CheckFailed(f"--symbol {self.options.symbol} is not one of the traded pairs")
            return self.options.symbol, await self.client.last_price(self.options.symbol)
        # One-bar klines cost a fraction of the 24h ticker's weight (reference §3.1): enough to rank pairs.
        closes = {s: await self._reference_price(s) for s in self.contracts}
        symbol = min(closes, key=lambda s: self.contracts[s].min_size * closes[s])
        return symbol, await self.client.last_price(symbol)

    async def _reference_price(self, symbol: str) -> Decimal:
        bars = await self.client.candles(symbol, "1m", 1)
        return bars[-1].close if bars else await self.client.last_price(symbol)

    async def _find(
        self,
        symbol: str,
        cid: str,
        until: Callable[[ExchangeOrder | None], bool] = lambda _o: True,
    ) -> ExchangeOrder | None:
        """The order by client id, asked again for up to ``READBACK_WAIT`` s until ``until`` holds (a
        listing may lag the write that changed it)."""
        deadline = time.monotonic() + READBACK_WAIT
        while True:
            found = await self.client.find_order(symbol, cid)
            if until(found) or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.5)

    async def order(self) -> tuple[str, dict[str, Any]]:
        symbol, last = await self._cheapest()
        contract = self.contracts[symbol]
        price = round_to_tick(last * (1 - self.options.distance_pct / 100), contract.tick_size)
        size = contract.min_size
        cid = f"smtprobe-o-{self._tag}"
        data: dict[str, Any] = {
            "symbol": symbol,
            "client_order_id": cid,
            "price": plain(price),
            "size": plain(size),
            "last": plain(last),
        }
        request = OrderRequest(symbol, Side.LONG, size, cid, order_type="LIMIT", price=price)
        try:
            placed = await self.client.place_order(request)
            order_id: str | None = placed.order_id
        except AmbiguousOutcome as exc:
            found = await self._find(symbol, cid)
            if found is None:
                raise CheckFailed(
                    f"no answer to the order and WEEX does not know client id {cid}: {exc}", **data
                ) from exc
            order_id = found.order_id
        except (ExchangeError, PrecisionError) as exc:
            quoted = quoted_increment(str(exc))
            mismatch = ""
            if quoted is not None:
                what, listed = (
                    ("tick", contract.tick_size) if quoted[0] == "price" else ("step", contract.step_size)
                )
                mismatch = (
                    f" WEEX enforces {what} {plain(quoted[1])} where exchangeInfo says {plain(listed)}."
                )
            raise CheckFailed(
                f"WEEX refused a LIMIT buy of {plain(size)} {symbol} at {plain(price)} "
                f"({self.options.distance_pct}% under {plain(last)}): {exc}.{mismatch} If it names the "
                "price band, probe again with a smaller --distance; if it names the size or step, "
                "exchangeInfo does not describe what WEEX enforces",
                **data,
            ) from exc
        data["order_id"] = order_id
        try:
            seen = await self._find(symbol, cid, until=lambda o: o is not None)
            problem = _readback_problem(seen, order_id, size, price)
            if problem:
                raise CheckFailed(f"placed order {order_id} ({cid}) but {problem}", **data)
            await self.client.cancel_order(symbol, order_id=order_id)
            after = await self._find(
                symbol, cid, until=lambda o: o is not None and o.status is OrderStatus.CANCELLED
            )
            if after is None or after.status is not OrderStatus.CANCELLED:
                state = "not found" if after is None else after.status.value
                raise CheckFailed(
                    f"cancelled order {order_id} but reading it back by {cid} says {state}", **data
                )
        except (CheckFailed, ExchangeError) as exc:
            data["cleanup"] = await self._cancel_quietly(symbol, order_id, cid)
            if isinstance(exc, CheckFailed):
                exc.data.update(data)
                raise
            raise CheckFailed(f"{type(exc).__name__}: {exc}; cleanup: {data['cleanup']}", **data) from exc
        except asyncio.CancelledError:  # Ctrl-C while the order rests: take it off the book first
            await asyncio.shield(self._cancel_quietly(symbol, order_id, cid))
            raise
        return (
            f"LIMIT buy {plain(size)} {symbol} at {plain(price)} (last {plain(last)}) placed as {order_id}, "
            f"read back by {cid} (open, size and price as sent), cancelled, read back cancelled",
            data,
        )

    async def _cancel_quietly(self, symbol: str, order_id: str | None, cid: str) -> str:
        """Cancel by id, else by client id; a cancel WEEX accepted counts only if the order is then not
        seen resting (a venue that says success and leaves the order must not be reported clean)."""
        cancelled = ""
        for how in ({"order_id": order_id}, {"client_order_id": cid}):
            if next(iter(how.values())) is None:
                continue
            try:
                await self.client.cancel_order(symbol, **how)
                cancelled = f"cancelled by {next(iter(how))}"
                break
            except ExchangeError:
                continue
        found = await self._safe_find(symbol, cid, until=lambda o: o is None or not o.status.is_open)
        if found is None and cancelled:
            return cancelled  # not listed by its client id: WEEX's answer to the cancel is all there is
        if found is not None and not found.status.is_open:
            return cancelled or f"order is {found.status.value}"
        return f"COULD NOT CANCEL {order_id or cid}: cancel it in the WEEX app"

    async def _safe_find(
        self, symbol: str, cid: str, until: Callable[[ExchangeOrder | None], bool] = lambda _o: True
    ) -> ExchangeOrder | None:
        try:
            return await self._find(symbol, cid, until)
        except ExchangeError:
            return None

    async def position(self) -> tuple[str, dict[str, Any]]:
        symbol, last = await self._cheapest()
        contract = self.contracts[symbol]
        if any(p.symbol == symbol for p in await self.client.positions()):
            raise CheckFailed(
                f"{symbol} already has a position: choose another --symbol (the probe never touches it)"
            )
        d = self.options.distance_pct / 100
        tp = round_to_tick(last * (1 + d), contract.tick_size)
        sl = round_stop(last * (1 - d), contract.tick_size, Side.LONG)
        size = contract.min_size
        entry_cid, close_cid = f"smtprobe-e-{self._tag}", f"smtprobe-c-{self._tag}"
        data: dict[str, Any] = {"symbol": symbol, "size": plain(size), "tp": plain(tp), "sl": plain(sl)}
        await self.client.set_leverage(symbol, self.options.leverage, self.options.margin_mode)
        request = OrderRequest(symbol, Side.LONG, size, entry_cid, tp_price=tp, sl_price=sl)
        try:
            await self.client.place_order(request)
        except AmbiguousOutcome:
            if await self._safe_find(symbol, entry_cid) is None:
                raise CheckFailed(
                    f"no answer to the entry and WEEX does not know {entry_cid}", **data
                ) from None
        problems: list[str] = []
        legs: dict[str, AlgoOrder] = {}
        try:
            held = await self._wait_position(symbol, present=True)
            if held is None:
                problems.append(f"the market entry {entry_cid} did not show as a position")
            else:
                data["entry"] = plain(held.entry_price)
                legs = {a.kind: a for a in _ours(await self.client.open_algo_orders(symbol), tp, sl)}
                data["legs"] = {k: f"{a.order_id} at {plain(a.trigger_price)}" for k, a in legs.items()}
                missing = [k for k in ("tp", "sl") if k not in legs]
                if missing:
                    problems.append(
                        f"attached {' and '.join(missing)} leg(s) not found on any listing (the engine would "
                        f"not see them either): check {symbol}'s TP/SL orders in the WEEX app"
                    )
        finally:
            data["close"] = await self._close_and_clean(symbol, close_cid, tp, sl)
        if "still open" in data["close"] or "COULD NOT" in data["close"]:
            problems.append(data["close"])
        if problems:
            raise CheckFailed("; ".join(problems), **data)
        return (
            f"market long {plain(size)} {symbol} filled at {data['entry']}, TP leg {data['legs']['tp']}, "
            f"SL leg {data['legs']['sl']}; {data['close']}",
            data,
        )

    async def _wait_position(self, symbol: str, *, present: bool) -> Any:
        deadline = time.monotonic() + self.options.settle
        while True:
            held = next((p for p in await self.client.positions() if p.symbol == symbol), None)
            if (held is not None) == present or time.monotonic() >= deadline:
                return held
            await asyncio.sleep(0.5)

    async def _close_and_clean(self, symbol: str, cid: str, tp: Decimal, sl: Decimal) -> str:
        """Close the probe's position and cancel the legs it left (WEEX leaves them, reference §3.4.3);
        only its own legs (long, at its own triggers): any other order on the pair is not the probe's."""
        said = []
        try:
            if await self._wait_position(symbol, present=True) is not None:
                await self.client.close_position(symbol, Side.LONG, cid)
            if await self._wait_position(symbol, present=False) is not None:
                return f"position on {symbol} still open after the close: CLOSE IT in the WEEX app"
            said.append("closed at market")
            left = _ours(await self.client.open_algo_orders(symbol), tp, sl)
            for leg in left:
                await self.client.cancel_algo_order(symbol, leg.order_id)
            remaining = _ours(await self.client.open_algo_orders(symbol), tp, sl)
            if remaining:
                ids = ", ".join(a.order_id for a in remaining)
                return f"closed, but legs {ids} are still listed: COULD NOT cancel them (use the WEEX app)"
            said.append(f"{len(left)} leg(s) left behind cancelled, none listed after")
        except ExchangeError as exc:
            said.append(f"COULD NOT finish the clean-up ({exc}): check {symbol} in the WEEX app")
        return ", ".join(said)


def _ours(legs: list[AlgoOrder], tp: Decimal, sl: Decimal) -> list[AlgoOrder]:
    """The probe's own legs: on its long, at the triggers it attached."""
    return [
        a for a in legs if a.position_side is Side.LONG and a.trigger_price == (tp if a.kind == "tp" else sl)
    ]


def _readback_problem(
    seen: ExchangeOrder | None, order_id: str | None, size: Decimal, price: Decimal
) -> str | None:
    if seen is None:
        return "WEEX does not return it by its client id (open orders, order history)"
    if order_id is not None and seen.order_id != order_id:
        return f"the order read back by client id has id {seen.order_id}"
    if not seen.status.is_open:
        return f"it reads back as {seen.status.value}, not open"
    if seen.size != size or seen.price != price:
        return f"it reads back as {plain(seen.size)} at {plain(seen.price or Decimal(0))}"
    return None
