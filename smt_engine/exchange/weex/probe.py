"""`smt venue probe`: every assumption the engine makes about WEEX, checked with the operator's own key
at the smallest risk that still proves it (docs/operator-guide.md, "Before the first live trade").

Steps, in order; each says pass/fail/skip and what it saw:

1. ``time``       server time and the host clock's offset (WEEX's timestamp window is 30 s, reference §1.2);
2. ``contracts``  exchangeInfo lists the eight pairs with readable steps, ticks, sizes and leverage;
                  ``contractVal`` agrees with ``quantityPrecision`` (reference §3.1.1); rateLimits shown;
3. ``account``    balance (a USDT row) and positions read and parsed;
4. ``stream.public`` / ``stream.private``  handshake, each channel subscribed on its own, pings answered
                  for ``listen`` seconds, a protocol ping answered (``probe_ws``);
5. ``order``      one LIMIT buy far below the market at the minimum size, read back by its client id,
                  cancelled, the cancellation read back;
6. ``position``   (opt-in) a market entry at the minimum size with attached TP and SL, both legs found,
                  closed at once, the legs left behind cancelled and confirmed gone;
7. ``ai_log``     (opt-in) one AI-log upload, accepted only when WEEX answers a documented success code.

Everything goes through ``WeexClient``'s public methods, the very code the engine runs; a write is made
only when every read before it passed, and whatever the probe placed is cleaned up even when a check
fails (what it could not clean up is named, to be done by hand in the WEEX app).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AmbiguousOutcome,
    ExchangeError,
    ExchangeOrder,
    OrderRequest,
    OrderStatus,
)
from smt_engine.exchange.precision import (
    PrecisionError,
    plain,
    quoted_increment,
    round_stop,
    round_to_tick,
    step_from_decimals,
)
from smt_engine.exchange.weex.client import WeexClient
from smt_engine.exchange.weex.probe_ws import StreamSession
from smt_engine.exchange.weex.streams import PRIVATE_CHANNELS, PRIVATE_PATH, PUBLIC_PATH, ws_sign
from smt_engine.exchange.weex.transcript import Transcript

Status = Literal["pass", "fail", "skip"]

AI_LOG_DOCUMENTED_SUCCESS = frozenset({"0", "00000"})
"""Success codes WEEX's sources give for uploadAiLog: ``0`` (v3 UploadAiLog page, Integer) and
``"00000"`` (v2 page; WEEX's own AI-Wars script accepts both, reference §3.5)."""


READBACK_WAIT = 3.0
"""Seconds an order is asked for again before its readback counts as failed."""


@dataclass
class StepResult:
    name: str
    status: Status
    saw: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        return {"step": self.name, "status": self.status, "saw": self.saw, "data": self.data}


@dataclass
class ProbeOptions:
    symbols: list[str]
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    listen: float = 40.0
    with_position: bool = False
    ai_log: bool = False
    ai_log_model: str = "smt-venue-probe"
    symbol: str | None = None
    distance_pct: Decimal = Decimal(5)
    max_offset_ms: int = 5000
    settle: float = 10.0


@dataclass
class ProbeReport:
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        return all(s.status != "fail" for s in self.steps) and any(s.status == "pass" for s in self.steps)

    def as_data(self) -> dict[str, Any]:
        return {"passed": self.passed, "steps": [s.as_data() for s in self.steps]}


class _Fail(Exception):
    """A check did not hold: the message is what the operator reads."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.data = data


class VenueProbe:
    def __init__(
        self, client: WeexClient, ws_url: str, transcript: Transcript, options: ProbeOptions
    ) -> None:
        self.client = client
        self.ws_url = ws_url.rstrip("/")
        self.transcript = transcript
        self.options = options
        self.contracts: dict[str, Contract] = {}
        self.steps: list[StepResult] = []
        self._tag = str(int(time.time() * 1000))

    async def run(self) -> ProbeReport:
        reads = [("time", self._time), ("contracts", self._contracts), ("account", self._account)]
        for name, check in reads:
            await self._step(name, check)
        public, private = await asyncio.gather(self._stream("public"), self._stream("private"))
        self.steps += [public, private]
        writes = [("order", self._order)]
        if self.options.with_position:
            writes.append(("position", self._position))
        if self.options.ai_log:
            writes.append(("ai_log", self._ai_log))
        for name, check in writes:
            failed = [s.name for s in self.steps if s.status == "fail"]
            if failed and name != "ai_log":
                self.steps.append(StepResult(name, "skip", f"not tried: {', '.join(failed)} failed first"))
                continue
            await self._step(name, check)
        return ProbeReport(self.steps)

    async def _step(self, name: str, check: Any) -> None:
        try:
            saw, data = await check()
            self.steps.append(StepResult(name, "pass", saw, data))
        except _Fail as exc:
            self.steps.append(StepResult(name, "fail", str(exc), exc.data))
        except (ExchangeError, PrecisionError, OSError, ValueError) as exc:
            self.steps.append(StepResult(name, "fail", f"{type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ reads

    async def _time(self) -> tuple[str, dict[str, Any]]:
        sent = time.monotonic()
        offset = await self.client.sync_time()
        rtt = (time.monotonic() - sent) * 1000
        data = {"offset_ms": offset, "round_trip_ms": round(rtt)}
        ahead = "ahead of" if offset < 0 else "behind"
        if abs(offset) > self.options.max_offset_ms:
            raise _Fail(
                f"this host's clock is {abs(offset) / 1000:.1f}s {ahead} WEEX's (limit "
                f"{self.options.max_offset_ms / 1000:g}s; WEEX refuses timestamps 30s off): "
                "synchronise it (chrony or systemd-timesyncd) and probe again",
                **data,
            )
        return f"server time read; host clock {abs(offset)} ms {ahead} WEEX, round trip {rtt:.0f} ms", data

    async def _contracts(self) -> tuple[str, dict[str, Any]]:
        wanted = self.options.symbols
        found = await self.client.contracts(wanted)
        body = self.transcript.last_answer.get("/capi/v3/market/exchangeInfo")
        rows = {r.get("symbol"): r for r in (body or {}).get("symbols", []) if isinstance(r, dict)}
        problems: list[str] = []
        seen: dict[str, Any] = {}
        for symbol in wanted:
            contract = found.get(symbol)
            if contract is None:
                problems.append(f"{symbol} is not listed (or its row is unreadable)")
                continue
            self.contracts[symbol] = contract
            row = rows.get(symbol, {})
            seen[symbol] = {
                "step": plain(contract.step_size),
                "tick": plain(contract.tick_size),
                "min": plain(contract.min_size),
                "max_leverage": contract.max_leverage,
            }
            try:
                by_precision = step_from_decimals(int(str(row["quantityPrecision"])))
            except (KeyError, ValueError):
                problems.append(f"{symbol} has no readable quantityPrecision")
                continue
            if contract.step_size != by_precision:
                problems.append(
                    f"{symbol}: contractVal {row.get('contractVal')} disagrees with quantityPrecision "
                    f"{row.get('quantityPrecision')} (step {plain(by_precision)}); the engine would size "
                    f"with step {plain(contract.step_size)}"
                )
            if contract.min_size % contract.step_size:
                problems.append(
                    f"{symbol}: minOrderSize {plain(contract.min_size)} is not a multiple of the step"
                )
            if contract.max_leverage < self.options.leverage:
                problems.append(
                    f"{symbol}: maxLeverage {contract.max_leverage} is below risk.leverage "
                    f"{self.options.leverage}"
                )
        limits = (body or {}).get("rateLimits") if isinstance(body, dict) else None
        data = {"contracts": seen, "rate_limits": limits}
        if problems:
            raise _Fail("exchangeInfo: " + "; ".join(problems), **data)
        shown = ", ".join(f"{s} step {v['step']} tick {v['tick']}" for s, v in seen.items())
        rl = f"; rateLimits {limits}" if limits else "; no rateLimits in the answer"
        return f"{len(seen)} pairs: {shown}{rl}", data

    async def _account(self) -> tuple[str, dict[str, Any]]:
        balance = await self.client.balance()
        positions = await self.client.positions()
        data = {
            "asset": balance.asset,
            "balance": plain(balance.balance),
            "available": plain(balance.available),
            "positions": [f"{p.symbol} {p.side.value} {plain(p.size)}" for p in positions],
        }
        held = ", ".join(data["positions"]) or "none"
        return (
            f"{balance.asset} balance {data['balance']}, available {data['available']}; "
            f"open positions: {held}",
            data,
        )

    async def _stream(self, which: Literal["public", "private"]) -> StepResult:
        name = f"stream.{which}"
        if which == "public":
            channels = [f"{s}@ticker" for s in self.options.symbols]
            session = StreamSession(
                self.ws_url + PUBLIC_PATH, which, channels, self.transcript, listen=self.options.listen
            )
        else:
            creds = self.client.stream_credentials()
            ts = self.client.timestamp()  # the REST clock, corrected by the server-time offset
            headers = {
                "ACCESS-KEY": creds.api_key,
                "ACCESS-PASSPHRASE": creds.passphrase,
                "ACCESS-TIMESTAMP": ts,
                "ACCESS-SIGN": ws_sign(creds.api_secret, ts),
            }
            session = StreamSession(
                self.ws_url + PRIVATE_PATH,
                which,
                list(PRIVATE_CHANNELS),
                self.transcript,
                headers=headers,
                listen=self.options.listen,
            )
        report = await session.run()
        if report.failure:
            return StepResult(name, "fail", f"{report.failure} (saw: {report.saw()})", report.data())
        return StepResult(name, "pass", report.saw(), report.data())

    # ------------------------------------------------------------------ writes

    async def _cheapest(self) -> tuple[str, Decimal]:
        """The traded pair whose minimum order costs least (or ``--symbol``), and its last price."""
        if self.options.symbol:
            if self.options.symbol not in self.contracts:
                raise _Fail(f"--symbol {self.options.symbol} is not one of the traded pairs")
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

    async def _order(self) -> tuple[str, dict[str, Any]]:
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
                raise _Fail(
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
            raise _Fail(
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
                raise _Fail(f"placed order {order_id} ({cid}) but {problem}", **data)
            await self.client.cancel_order(symbol, order_id=order_id)
            after = await self._find(
                symbol, cid, until=lambda o: o is not None and o.status is OrderStatus.CANCELLED
            )
            if after is None or after.status is not OrderStatus.CANCELLED:
                state = "not found" if after is None else after.status.value
                raise _Fail(f"cancelled order {order_id} but reading it back by {cid} says {state}", **data)
        except (_Fail, ExchangeError) as exc:
            data["cleanup"] = await self._cancel_quietly(symbol, order_id, cid)
            if isinstance(exc, _Fail):
                exc.data.update(data)
                raise
            raise _Fail(f"{type(exc).__name__}: {exc}; cleanup: {data['cleanup']}", **data) from exc
        return (
            f"LIMIT buy {plain(size)} {symbol} at {plain(price)} (last {plain(last)}) placed as {order_id}, "
            f"read back by {cid} (open, size and price as sent), cancelled, read back cancelled",
            data,
        )

    async def _cancel_quietly(self, symbol: str, order_id: str | None, cid: str) -> str:
        for how in ({"order_id": order_id}, {"client_order_id": cid}):
            if next(iter(how.values())) is None:
                continue
            try:
                await self.client.cancel_order(symbol, **how)
                return f"cancelled by {next(iter(how))}"
            except ExchangeError:
                continue
        found = await self._safe_find(symbol, cid)
        if found is not None and not found.status.is_open:
            return f"order is {found.status.value}"
        return f"COULD NOT CANCEL {order_id or cid}: cancel it in the WEEX app"

    async def _safe_find(self, symbol: str, cid: str) -> ExchangeOrder | None:
        try:
            return await self._find(symbol, cid)
        except ExchangeError:
            return None

    async def _position(self) -> tuple[str, dict[str, Any]]:
        symbol, last = await self._cheapest()
        contract = self.contracts[symbol]
        if any(p.symbol == symbol for p in await self.client.positions()):
            raise _Fail(
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
                raise _Fail(f"no answer to the entry and WEEX does not know {entry_cid}", **data) from None
        problems: list[str] = []
        legs = {}
        try:
            held = await self._wait_position(symbol, present=True)
            if held is None:
                problems.append(f"the market entry {entry_cid} did not show as a position")
            else:
                data["entry"] = plain(held.entry_price)
                listed = await self.client.open_algo_orders(symbol)
                legs = {a.kind: a for a in listed if a.position_side is Side.LONG}
                data["legs"] = {k: f"{a.order_id} at {plain(a.trigger_price)}" for k, a in legs.items()}
                missing = [k for k in ("tp", "sl") if k not in legs]
                if missing:
                    problems.append(
                        f"attached {' and '.join(missing)} leg(s) not found on any listing (the engine would "
                        f"not see them either): check {symbol}'s TP/SL orders in the WEEX app"
                    )
        finally:
            data["close"] = await self._close_and_clean(symbol, close_cid, data)
        if "still open" in data["close"] or "COULD NOT" in data["close"]:
            problems.append(data["close"])
        if problems:
            raise _Fail("; ".join(problems), **data)
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

    async def _close_and_clean(self, symbol: str, cid: str, data: dict[str, Any]) -> str:
        """Close the probe's position and cancel every leg it left (WEEX leaves them, reference §3.4.3)."""
        said = []
        try:
            if await self._wait_position(symbol, present=True) is not None:
                await self.client.close_position(symbol, Side.LONG, cid)
            if await self._wait_position(symbol, present=False) is not None:
                return f"position on {symbol} still open after the close: CLOSE IT in the WEEX app"
            said.append("closed at market")
            left = await self.client.open_algo_orders(symbol)
            for leg in left:
                await self.client.cancel_algo_order(symbol, leg.order_id)
            remaining = await self.client.open_algo_orders(symbol)
            if remaining:
                ids = ", ".join(a.order_id for a in remaining)
                return f"closed, but legs {ids} are still listed: COULD NOT cancel them (use the WEEX app)"
            said.append(f"{len(left)} leg(s) left behind cancelled, none listed after")
        except ExchangeError as exc:
            said.append(f"COULD NOT finish the clean-up ({exc}): check {symbol} in the WEEX app")
        return ", ".join(said)

    async def _ai_log(self) -> tuple[str, dict[str, Any]]:
        entry = AiLogUpload(
            stage="SMT venue probe",
            model=self.options.ai_log_model,
            input={"probe": "smt venue probe", "purpose": "check the AI-log upload before live trading"},
            output={"decision": "none", "note": "connectivity check, not a trading decision"},
            explanation="One test upload by `smt venue probe` to confirm WEEX accepts SMT's AI logs.",
        )
        try:
            await self.client.upload_ai_log(entry)
        except ExchangeError as exc:
            path = self.transcript.last_path  # the client may have tried the other path after a 404
            answer = self.transcript.last_answer.get(path)
            raw = answer.get("code") if isinstance(answer, dict) else None
            code = None if raw is None else str(raw)
            if code in AI_LOG_DOCUMENTED_SUCCESS:
                raise _Fail(
                    f"WEEX answered {path} with code {raw!r} (a documented success form) but this SMT's "
                    f"WEEX client did not count it as success ({exc}): every AI log would be retried and "
                    "marked failed; upgrade SMT",
                    code=raw,
                ) from exc
            raise _Fail(f"AI-log upload on {path} failed: {exc}", code=raw) from exc
        answer = self.transcript.last_answer.get(self.client.ai_log_path)
        raw = answer.get("code") if isinstance(answer, dict) else None
        return (
            f"uploaded on {self.client.ai_log_path}, WEEX answered code {raw!r}",
            {"path": self.client.ai_log_path, "code": raw},
        )


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
