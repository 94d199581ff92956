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
from typing import Any, Literal

from smt_engine.domain import Contract
from smt_engine.exchange.base import AiLogUpload, ExchangeError
from smt_engine.exchange.precision import PrecisionError, plain, step_from_decimals
from smt_engine.exchange.weex.client import WeexClient
from smt_engine.exchange.weex.probe_orders import OrderChecks
from smt_engine.exchange.weex.probe_types import CheckFailed, ProbeOptions, ProbeReport, StepResult
from smt_engine.exchange.weex.probe_ws import StreamSession
from smt_engine.exchange.weex.streams import PRIVATE_CHANNELS, PRIVATE_PATH, PUBLIC_PATH, ws_sign
from smt_engine.exchange.weex.transcript import Transcript

AI_LOG_DOCUMENTED_SUCCESS = frozenset({"0", "00000"})
"""Success codes WEEX's sources give for uploadAiLog: ``0`` (v3 UploadAiLog page, Integer) and
``"00000"`` (v2 page; an AI-Wars upload script on record accepts both, reference §3.5)."""


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

    async def run(self) -> ProbeReport:
        reads = [("time", self._time), ("contracts", self._contracts), ("account", self._account)]
        for name, check in reads:
            await self._step(name, check)
        public, private = await asyncio.gather(self._stream("public"), self._stream("private"))
        self.steps += [public, private]
        trades = OrderChecks(self.client, self.contracts, self.options)
        writes: list[tuple[str, Any]] = [("order", trades.order)]
        if self.options.with_position:
            writes.append(("position", trades.position))
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
        except CheckFailed as exc:
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
            raise CheckFailed(
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
            raise CheckFailed("exchangeInfo: " + "; ".join(problems), **data)
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
                raise CheckFailed(
                    f"WEEX answered {path} with code {raw!r} (a documented success form) but this SMT's "
                    f"WEEX client did not count it as success ({exc}): every AI log would be retried and "
                    "marked failed; upgrade SMT",
                    code=raw,
                ) from exc
            raise CheckFailed(f"AI-log upload on {path} failed: {exc}", code=raw) from exc
        answer = self.transcript.last_answer.get(self.client.ai_log_path)
        raw = answer.get("code") if isinstance(answer, dict) else None
        return (
            f"uploaded on {self.client.ai_log_path}, WEEX answered code {raw!r}",
            {"path": self.client.ai_log_path, "code": raw},
        )
