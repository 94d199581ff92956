"""Async Etherscan V2 client.

Why it looks like this: Etherscan answers HTTP 200 for everything and signals problems inside the
envelope. ``status "0"`` means *either* "nothing found" (an empty result, not an error) *or* an
error whose text is in ``result``; the seed system treated both as "no data" and so silently lost
whole cycles to rate limiting. Here: empty is empty; the per-second reply ("Max calls per sec rate
limit reached (3/sec)") and the generic one ("Max rate limit reached, please use API Key...") back off
and retry; the daily one ("Max daily rate limit reached. 100000 (100%) of 100000 day/limit") stops
calls until the UTC day changes; anything else is a typed ``EtherscanError`` carrying Etherscan's
message (with the key masked).

Pagination never asks beyond the per-request record cap: every request is ``page=1`` with
``offset = max_records``, and a full page moves ``startblock`` to the last block seen (overlap
de-duplicated by transfer identity), as Etherscan's "full transaction history" guide advises. A fetch
cut short by ``max_pages`` says how far it got (``TransferBatch.through_block``), so the cache marks
only that range as fetched and the next call resumes after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from smt_engine.secrets import redact, register_secret
from smt_engine.whales.transfers import (
    Transfer,
    TransferBatch,
    TransferKind,
    utc_from_unix,
    wei_to_units,
)

if TYPE_CHECKING:
    from smt_engine.config.settings import WhalesSettings

log = logging.getLogger(__name__)

EMPTY_MESSAGES = ("no transactions found", "no records found")
# Every rate-limit reply contains this; the daily one also contains DAILY_LIMIT_MARKER.
RATE_LIMIT_MARKER = "rate limit reached"
DAILY_LIMIT_MARKER = "max daily rate limit"
KEY_ERROR_MARKERS = ("invalid api key", "too many invalid api key attempts", "missing/invalid api key")

ACTIONS: dict[TransferKind, str] = {
    TransferKind.NORMAL: "txlist",
    TransferKind.INTERNAL: "txlistinternal",
    TransferKind.ERC20: "tokentx",
    TransferKind.ERC721: "tokennfttx",
    TransferKind.ERC1155: "token1155tx",
}


class EtherscanError(Exception):
    """Etherscan refused a request; ``message`` is its own text (secrets masked)."""

    def __init__(self, action: str, message: str) -> None:
        self.action = action
        self.message = redact(message)
        super().__init__(f"etherscan {action}: {self.message}")


class EtherscanKeyError(EtherscanError):
    """The API key is wrong, not yet active, or throttled for repeated bad keys."""


class EtherscanRateLimited(EtherscanError):
    """Still rate limited after every retry."""


class EtherscanQuotaExhausted(EtherscanError):
    """The day's call allowance is used (counted here, or the service said so)."""


class EtherscanUnavailable(EtherscanError):
    """Transport failure, HTTP error or an unreadable body after retries."""


class EtherscanRateLimiter:
    """Even spacing of calls plus a per-UTC-day allowance.

    Calls are spaced ``1/rate + margin`` apart and never bunched: a bucket that refills while idle
    lets a burst through after a pause, and Etherscan's 1-second window counts that burst (the seed
    client sent 5 calls in 0.67 s after idling). ``monotonic``/``sleep`` are injectable so tests can
    drive it without waiting; the day follows ``today`` (UTC date). ``used_today`` can be seeded so a
    restart keeps counting the same day.
    """

    def __init__(
        self,
        rate: float,
        daily_limit: int,
        *,
        margin: float = 0.01,
        used_today: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        today: Callable[[], str] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate + max(0.0, margin)
        self.daily_limit = daily_limit
        self._monotonic = monotonic
        self._sleep = sleep
        self._today = today or (lambda: datetime.now(UTC).date().isoformat())
        self._next_at = monotonic()
        self.day = self._today()
        self.used_today = used_today
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            self._roll_day()
            if self.used_today >= self.daily_limit:
                raise EtherscanQuotaExhausted("*", f"daily call limit of {self.daily_limit} reached")
            wait = self._next_at - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            now = self._monotonic()
            self._next_at = max(now, self._next_at) + self.interval
            self.used_today += 1

    def penalize(self, seconds: float = 1.0) -> None:
        """After a server-side rate-limit answer: no call for a full window."""
        self._next_at = max(self._next_at, self._monotonic() + seconds)

    def exhaust(self) -> None:
        """The service said the day's allowance is used: refuse calls until the UTC day changes."""
        self._roll_day()
        self.used_today = max(self.used_today, self.daily_limit)

    def _roll_day(self) -> None:
        day = self._today()
        if day != self.day:
            self.day, self.used_today = day, 0


class EtherscanClient:
    """One API key, one chain. Use as an async context manager or call ``aclose``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.etherscan.io/v2/api",
        chain_id: int = 1,
        calls_per_second: float = 3.0,
        daily_call_limit: int = 100_000,
        max_records: int = 1000,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        timeout: float = 30.0,
        max_pages: int = 50,
        http_client: httpx.AsyncClient | None = None,
        limiter: EtherscanRateLimiter | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an Etherscan API key is required")
        register_secret(api_key)
        self._key = api_key
        self.base_url = base_url
        self.chain_id = chain_id
        self.max_records = max_records
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_pages = max_pages
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self.limiter = limiter or EtherscanRateLimiter(calls_per_second, daily_call_limit)
        self.calls: Counter[str] = Counter()
        self.rate_limited = 0
        self.last_rate_limit = ""

    @classmethod
    def from_settings(
        cls, settings: WhalesSettings, api_key: str, http_client: httpx.AsyncClient | None = None, **kw: Any
    ) -> EtherscanClient:
        return cls(
            api_key,
            base_url=settings.etherscan_base_url,
            chain_id=settings.chain_id,
            calls_per_second=settings.calls_per_second,
            daily_call_limit=settings.daily_call_limit,
            max_records=settings.max_records_per_request,
            http_client=http_client,
            **kw,
        )

    async def __aenter__(self) -> EtherscanClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def call(self, module: str, action: str, **params: str | int) -> Any:
        """One API call; returns ``result`` (``[]`` for "nothing found")."""
        query: dict[str, str | int] = {"chainid": self.chain_id, "module": module, "action": action, **params}
        query["apikey"] = self._key
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire()
            self.calls[action] += 1
            try:
                response = await self._http.get(self.base_url, params=query)
            except httpx.HTTPError as exc:
                last_problem = f"transport error: {type(exc).__name__}"
                await self._backoff(attempt)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last_problem = f"HTTP {response.status_code}"
                self.limiter.penalize()
                await self._backoff(attempt)
                continue
            if response.status_code != 200:
                raise EtherscanUnavailable(action, f"HTTP {response.status_code}")
            try:
                body = response.json()
            except ValueError:
                last_problem = "response is not JSON"
                await self._backoff(attempt)
                continue
            outcome = self._interpret(action, body)
            if isinstance(outcome, _RateLimited):
                self.rate_limited += 1
                self.last_rate_limit = outcome.text
                if outcome.daily:
                    self.limiter.exhaust()
                    raise EtherscanQuotaExhausted(action, outcome.text)
                last_problem = outcome.text
                self.limiter.penalize()
                log.info("etherscan %s: %s; backing off (attempt %d)", action, outcome.text, attempt)
                await self._backoff(attempt)
                continue
            return outcome
        if RATE_LIMIT_MARKER in last_problem.lower():
            raise EtherscanRateLimited(
                action, f"still rate limited after {self.max_attempts} attempts: {last_problem}"
            )
        raise EtherscanUnavailable(action, f"{last_problem} after {self.max_attempts} attempts")

    async def _backoff(self, attempt: int) -> None:
        if attempt < self.max_attempts:
            await asyncio.sleep(self.backoff_base * (2 ** (attempt - 1)))

    @staticmethod
    def _interpret(action: str, body: Any) -> Any:
        if not isinstance(body, dict):
            raise EtherscanUnavailable(action, "unexpected response shape")
        if "jsonrpc" in body:  # proxy module: JSON-RPC envelope
            if "error" in body:
                err = body["error"]
                text = str(err.get("message") if isinstance(err, dict) else err)
                raise EtherscanError(action, text)
            result = body.get("result")
            if isinstance(result, str) and RATE_LIMIT_MARKER in result.lower():
                return _RateLimited(result)
            return result
        status = str(body.get("status", ""))
        message = str(body.get("message", ""))
        result = body.get("result")
        if status == "1":
            return result
        text = result if isinstance(result, str) else message
        lowered = f"{message} {text}".lower()
        if any(m in message.lower() for m in EMPTY_MESSAGES) and not (isinstance(result, str) and result):
            return []
        if RATE_LIMIT_MARKER in lowered:
            return _RateLimited(text or message)
        if any(m in lowered for m in KEY_ERROR_MARKERS):
            raise EtherscanKeyError(action, text or message)
        raise EtherscanError(action, text or message or "status 0 without a message")

    # ------------------------------------------------------------------ blocks and balances

    async def latest_block(self) -> int:
        result = await self.call("proxy", "eth_blockNumber")
        try:
            return int(str(result), 16)
        except ValueError:
            raise EtherscanError("eth_blockNumber", f"unreadable block number {result!r}") from None

    async def block_at(self, when: datetime, closest: str = "before") -> int:
        result = await self.call(
            "block", "getblocknobytime", timestamp=int(when.timestamp()), closest=closest
        )
        try:
            return int(str(result))
        except ValueError:
            raise EtherscanError("getblocknobytime", f"unreadable block number {result!r}") from None

    async def balances(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        """ETH balances (``balancemulti``, at most 20 addresses per call)."""
        wanted = list(dict.fromkeys(addresses))
        out: dict[str, Decimal] = {}
        for i in range(0, len(wanted), 20):
            chunk = wanted[i : i + 20]
            result = await self.call("account", "balancemulti", address=",".join(chunk), tag="latest")
            for row in result if isinstance(result, list) else []:
                try:
                    out[str(row["account"]).lower()] = wei_to_units(row["balance"], 18)
                except (KeyError, TypeError, ValueError):
                    log.warning("etherscan balancemulti: skipped unreadable row")
        return out

    # ------------------------------------------------------------------ transfers

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch:
        """Transfers of ``kind`` touching ``address`` from ``startblock``, oldest first.

        Complete up to ``endblock`` unless ``max_pages`` ran out; then ``through_block`` is the last
        block whose rows were all read, and the caller resumes after it.
        """
        action = ACTIONS[kind]
        seen: dict[str, Transfer] = {}
        start = startblock
        for _ in range(self.max_pages):
            rows = await self.call(
                "account",
                action,
                address=address,
                startblock=start,
                endblock=endblock,
                page=1,
                offset=self.max_records,
                sort="asc",
            )
            if not isinstance(rows, list):
                raise EtherscanError(action, "result is not a list")
            last_block = start
            for row in rows:
                transfer = parse_row(kind, row)
                if transfer is None:
                    continue
                seen.setdefault(transfer.uid, transfer)
                last_block = max(last_block, transfer.block)
            if len(rows) < self.max_records:
                start = endblock + 1
                break
            if last_block <= start:
                # More than a page of rows inside one block: the cap cannot be paged past with block
                # windows. Keep what we have and move on rather than loop forever.
                log.warning(
                    "etherscan %s %s: block %d holds more than %d rows", action, address, start, len(rows)
                )
                start += 1
            else:
                start = last_block  # re-read the last block: rows of it may be cut off by the cap
            if start > endblock:
                break
        else:
            log.info(
                "etherscan %s %s: %d pages read, through block %d; the rest next time",
                action,
                address,
                self.max_pages,
                start - 1,
            )
        # Rows past through_block are kept: the next fetch re-reads them and de-duplicates.
        rows_out = sorted(seen.values(), key=lambda t: (t.block, t.tx_hash, t.seq))
        return TransferBatch(rows_out, through_block=min(endblock, start - 1))


class _RateLimited:
    """A rate-limit reply: retried after a back-off, except the daily one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.daily = DAILY_LIMIT_MARKER in text.lower()


def parse_row(kind: TransferKind, row: Any) -> Transfer | None:
    """One Etherscan record as a ``Transfer`` in real units; None (logged) when unreadable."""
    try:
        if kind is TransferKind.ERC20:
            decimals = int(row.get("tokenDecimal") or 0)
            value = wei_to_units(row["value"], decimals)
        elif kind.nft:
            value = Decimal(int(row.get("tokenValue") or 1))
        else:
            value = wei_to_units(row["value"], 18)
        seq = str(row.get("logIndex") or row.get("traceId") or "")
        if kind.nft:
            seq = f"{seq}:{row.get('tokenID', '')}"
        return Transfer(
            kind=kind,
            tx_hash=str(row["hash"]).lower(),
            block=int(row["blockNumber"]),
            at=utc_from_unix(row["timeStamp"]),
            from_address=str(row.get("from") or "").lower(),
            to_address=str(row.get("to") or row.get("contractAddress") or "").lower(),
            value=value,
            token_symbol="ETH" if kind.native else str(row.get("tokenSymbol") or ""),
            token_contract="" if kind.native else str(row.get("contractAddress") or "").lower(),
            gas_used=int(row.get("gasUsed") or 0),
            is_error=str(row.get("isError") or "0") == "1",
            seq=seq,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        log.warning("etherscan %s: skipped unreadable record (%s)", kind.value, type(exc).__name__)
        return None
