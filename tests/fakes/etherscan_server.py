"""A fake Etherscan V2 API over a real socket on 127.0.0.1 (random port).

It speaks the real envelope (``status``/``message``/``result``, HTTP 200 even for errors), the real
error texts, the JSON-RPC envelope of the proxy module, the per-request record cap and the
``page x offset <= 10000`` window, and it rate-limits per key like the free tier: more than
``calls_per_second`` calls in any 1-second window get the service's per-second reply, calls past
``daily_limit`` its daily reply. It serves ERC-20 transfers (``tokentx`` by address and/or
``contractaddress``). Fault knobs inject any of the three rate-limit replies, HTTP 500s, garbage bodies
or any NOTOK text.
Every call is counted per action and logged with its parameters so tests can assert what was asked.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.nodelay import NoDelayHTTPServer

# The service's three rate-limit replies (docs.etherscan.io common error messages; rotki/rotki#8626).
RATE_LIMIT_TEXT = "Max rate limit reached, please use API Key for higher rate limit"


def per_second_text(calls_per_second: int) -> str:
    return f"Max calls per sec rate limit reached ({calls_per_second}/sec)"


def daily_text(used: int, limit: int) -> str:
    return f"Max daily rate limit reached. {used} (100%) of {limit} day/limit"


INVALID_KEY_TEXT = "Invalid API Key"
BAD_CHAIN_TEXT = (
    "Missing or unsupported chainid parameter (required for v2 api), "
    "please see https://api.etherscan.io/v2/chainlist for the list of supported chainids"
)
BAD_ACTION_TEXT = "Error! Missing Or invalid Action name"
WINDOW_TEXT = "Result window is too large, PageNo x Offset size must be less than or equal to 10000"
NO_CLOSEST_TEXT = "Error! No closest block found"

ACCOUNT_LISTS = {
    "txlist": "normal",
    "txlistinternal": "internal",
    "tokentx": "erc20",
    "tokennfttx": "erc721",
    "token1155tx": "erc1155",
}


@dataclass
class FakeChain:
    """Blocks are 12 s apart from ``genesis_ts``; ``head`` is the newest mined block."""

    genesis_ts: int = 1_700_000_000
    head: int = 1_000_000
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    balances: dict[str, int] = field(default_factory=dict)

    def ts_of(self, block: int) -> int:
        return self.genesis_ts + 12 * block

    def block_of(self, ts: int) -> int:
        return (ts - self.genesis_ts) // 12

    def add(self, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        block = int(row["blockNumber"])
        row.setdefault("timeStamp", str(self.ts_of(block)))
        row["blockNumber"] = str(block)
        self.rows[kind].append(row)
        return row


class FakeEtherscan:
    def __init__(
        self,
        api_keys: tuple[str, ...] = ("TESTKEY-123456",),
        *,
        calls_per_second: int = 3,
        daily_limit: int = 100_000,
        max_records: int = 1000,
        chain_ids: tuple[int, ...] = (1,),
    ) -> None:
        self.chain = FakeChain()
        self.api_keys = set(api_keys)
        self.calls_per_second = calls_per_second
        self.daily_limit = daily_limit
        self._used: Counter[str] = Counter()
        self.call_times: list[float] = []
        self.max_records = max_records
        self.chain_ids = chain_ids
        self.calls: Counter[str] = Counter()
        self.log: list[dict[str, str]] = []
        self.rate_limited = 0
        self.empty_message = "No transactions found"
        self._faults: deque[str] = deque()
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ knobs

    def fail_next(self, n: int, fault: str) -> None:
        """Queue ``n`` faults: rate_limit (per second), rate_limit_generic, rate_limit_daily,
        http_500, garbage, or notok:<text>."""
        with self._lock:
            self._faults.extend([fault] * n)

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.log.clear()

    def calls_for(self, action: str) -> list[dict[str, str]]:
        return [c for c in self.log if c.get("action") == action]

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v2/api"

    def start(self) -> FakeEtherscan:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                status, body = fake.handle(parsed.path, params)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = NoDelayHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeEtherscan:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ API

    @staticmethod
    def _notok(text: str) -> dict[str, Any]:
        return {"status": "0", "message": "NOTOK", "result": text}

    def _ok(self, result: Any) -> dict[str, Any]:
        if isinstance(result, list) and not result:
            return {"status": "0", "message": self.empty_message, "result": []}
        return {"status": "1", "message": "OK", "result": result}

    def handle(self, path: str, p: dict[str, str]) -> tuple[int, Any]:
        action = p.get("action", "")
        with self._lock:
            self.calls[action] += 1
            self.log.append({k: v for k, v in p.items() if k != "apikey"})
            fault = self._faults.popleft() if self._faults else None
        if fault == "http_500":
            return 500, b"<html>Internal Server Error</html>"
        if fault == "garbage":
            return 200, b"<html>cloudflare says hello</html>"
        if fault == "rate_limit":
            self.rate_limited += 1
            return 200, self._notok(per_second_text(self.calls_per_second))
        if fault == "rate_limit_generic":
            self.rate_limited += 1
            return 200, self._notok(RATE_LIMIT_TEXT)
        if fault == "rate_limit_daily":
            self.rate_limited += 1
            return 200, self._notok(daily_text(self.daily_limit, self.daily_limit))
        if fault and fault.startswith("notok:"):
            return 200, self._notok(fault[len("notok:") :])
        if not path.startswith("/v2/api"):
            return 200, self._notok("You are using a deprecated V1 endpoint, switch to Etherscan API V2.")
        try:
            chain_id = int(p.get("chainid", ""))
        except ValueError:
            chain_id = -1
        if chain_id not in self.chain_ids:
            return 200, self._notok(BAD_CHAIN_TEXT)
        key = p.get("apikey", "")
        if key not in self.api_keys:
            return 200, self._notok(INVALID_KEY_TEXT)
        if self._used[key] >= self.daily_limit:
            self.rate_limited += 1
            return 200, self._notok(daily_text(self._used[key], self.daily_limit))
        if self._over_rate(key):
            self.rate_limited += 1
            return 200, self._notok(per_second_text(self.calls_per_second))
        module = p.get("module", "")
        if module == "proxy" and action == "eth_blockNumber":
            return 200, {"jsonrpc": "2.0", "id": 83, "result": hex(self.chain.head)}
        if module == "block" and action == "getblocknobytime":
            block = self.chain.block_of(int(p["timestamp"]))
            if block > self.chain.head:
                if p.get("closest") == "after":
                    return 200, self._notok(NO_CLOSEST_TEXT)
                block = self.chain.head
            return 200, {"status": "1", "message": "OK", "result": str(max(0, block))}
        if module == "account" and action == "balancemulti":
            addresses = p.get("address", "").split(",")
            return 200, self._ok(
                [{"account": a, "balance": str(self.chain.balances.get(a.lower(), 0))} for a in addresses]
            )
        if module == "account" and action == "balance":
            return 200, self._ok(str(self.chain.balances.get(p.get("address", "").lower(), 0)))
        if module == "account" and action in ACCOUNT_LISTS:
            return 200, self._account_list(ACCOUNT_LISTS[action], p)
        return 200, self._notok(BAD_ACTION_TEXT)

    def _over_rate(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            window = self._windows[key]
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.calls_per_second:
                return True
            window.append(now)
            self._used[key] += 1
            self.call_times.append(now)
            return False

    def _account_list(self, kind: str, p: dict[str, str]) -> dict[str, Any]:
        address = p.get("address", "").lower()
        contract = p.get("contractaddress", "").lower()
        start = int(p.get("startblock", 0))
        end_raw = p.get("endblock", "latest")
        end = self.chain.head if end_raw == "latest" else min(int(end_raw), self.chain.head)
        page = int(p.get("page", 1))
        offset = int(p.get("offset", 10_000))
        if page * offset > 10_000:
            return self._notok(WINDOW_TEXT)
        offset = min(offset, self.max_records)
        rows = [
            r
            for r in self.chain.rows[kind]
            if start <= int(r["blockNumber"]) <= end
            and (not address or address in (str(r.get("from", "")).lower(), str(r.get("to", "")).lower()))
            and (not contract or str(r.get("contractAddress", "")).lower() == contract)
        ]
        rows.sort(
            key=lambda r: (int(r["blockNumber"]), r.get("transactionIndex", "0"), r.get("logIndex", ""))
        )
        if p.get("sort") == "desc":
            rows.reverse()
        return self._ok(rows[(page - 1) * offset : page * offset])


_counter = 0


def tx(
    block: int,
    frm: str,
    to: str,
    wei: int,
    *,
    gas_used: int = 21_000,
    is_error: str = "0",
    tx_hash: str | None = None,
) -> dict[str, Any]:
    """A txlist record with the real field set."""
    global _counter
    _counter += 1
    return {
        "blockNumber": str(block),
        "hash": tx_hash or f"0x{_counter:064x}",
        "nonce": "1",
        "blockHash": f"0x{block:064x}",
        "transactionIndex": str(_counter % 200),
        "from": frm,
        "to": to,
        "value": str(wei),
        "gas": "21000",
        "gasPrice": "20000000000",
        "isError": is_error,
        "txreceipt_status": "1",
        "input": "0x",
        "contractAddress": "",
        "cumulativeGasUsed": "100000",
        "gasUsed": str(gas_used),
        "confirmations": "10",
        "methodId": "0x",
        "functionName": "",
    }


def token_tx(
    block: int, frm: str, to: str, raw: int, *, symbol: str, decimals: int, contract: str, log_index: int = 0
) -> dict[str, Any]:
    """A tokentx record: ``value`` in the token's base units, ``tokenDecimal`` says how many."""
    row = tx(block, frm, to, raw, gas_used=65_000)
    row.update(
        tokenName=symbol,
        tokenSymbol=symbol,
        tokenDecimal=str(decimals),
        contractAddress=contract,
        logIndex=str(log_index),
    )
    return row


def internal_tx(block: int, frm: str, to: str, wei: int, *, trace_id: str = "0") -> dict[str, Any]:
    row = tx(block, frm, to, wei, gas_used=0)
    for k in (
        "nonce",
        "blockHash",
        "transactionIndex",
        "gasPrice",
        "txreceipt_status",
        "cumulativeGasUsed",
        "confirmations",
        "methodId",
        "functionName",
    ):
        row.pop(k, None)
    row.update(type="call", traceId=trace_id, errCode="")
    return row


# ---------------------------------------------------------------------- one realistic whale-and-flow cycle

WATCHED = (
    "0x28c6c06298d514db089934071355e5743bf21d60",  # Binance 14
    "0x21a31ee1afc51d94c2efccaa2092ad1028285549",  # Binance 15
    "0x71660c4005ba85c37ccec55d0c4493e66fe775d3",  # Coinbase 10
    "0x2910543af39aba0cd09dbb2d50200b3e800a63d2",  # Kraken 13
    "0x6cc5f688a315f3dc28a7781717a9a798a59fda7b",  # OKX
)
A16Z = "0x05e793ce0c6027323ac150f6d45c2344d28b6019"  # labelled fund
BEAVERBUILD = "0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5"  # labelled MEV builder
UNISWAP_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
TOKENS = {
    "USDT": ("0xdac17f958d2ee523a2206206994597c13d831ec7", 6),
    "USDC": ("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),
    "WETH": ("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", 18),
    "stETH": ("0xae7ab96520de3a18e5e111b5eaab095312d7fe84", 18),
}


@dataclass
class CycleScenario:
    """What the fake holds for one cycle, so a test can check the engine found all of it."""

    large_hashes: set[str]
    whales: set[str]
    labelled: dict[str, str]  # whale -> expected class from its label
    usdt_net_6h: int  # whole dollars into the watched wallets over 6 h
    eth_like_net_6h: int  # whole ETH (ETH + WETH + stETH) into the watched wallets over 6 h


def whale_cycle_scenario(fake: FakeEtherscan) -> CycleScenario:
    """14 large transfers across 5 exchange wallets (12 in ETH, one in WETH, one in stETH): 5 unlabelled
    whales, a labelled fund and MEV builder, an exchange-to-exchange shuffle and a router transfer (never
    whales), plus stablecoin flows, small noise, a counterfeit USDT and each whale's older history. Blocks
    are 12 s apart; 6 h = 1800 blocks."""
    head = fake.chain.head
    add = fake.chain.add
    whales = [f"0x{'%040x' % (0xABC000 + i)}" for i in range(4)]
    large: list[dict[str, Any]] = []

    def big(block_ago: int, frm: str, to: str, eth: int) -> None:
        large.append(add("normal", tx(head - block_ago, frm, to, eth * 10**18)))

    big(100, whales[0], WATCHED[0], 500)
    big(150, WATCHED[1], whales[0], 120)
    big(300, WATCHED[2], whales[1], 300)
    big(450, whales[1], WATCHED[3], 250)
    big(600, whales[2], WATCHED[4], 1_000)
    big(700, WATCHED[0], whales[3], 180)
    big(800, whales[3], WATCHED[1], 400)
    big(900, A16Z, WATCHED[2], 2_000)
    big(1000, WATCHED[3], BEAVERBUILD, 150)
    big(1100, BEAVERBUILD, WATCHED[4], 160)
    big(1200, WATCHED[0], WATCHED[1], 9_000)  # exchange shuffle: recorded, no whale
    big(1300, WATCHED[2], UNISWAP_ROUTER, 700)  # a router is not a whale
    add("normal", tx(head - 200, "0x" + "9" * 40, WATCHED[0], 5 * 10**18))  # small
    add("normal", tx(head - 2500, whales[2], WATCHED[0], 800 * 10**18))  # large but 8 h old
    for i, w in enumerate([*whales, A16Z, BEAVERBUILD]):  # older history of every whale
        add("normal", tx(head - 50_000 - i, "0x" + "8" * 40, w, (10 + i) * 10**18))
        fake.chain.balances[w] = (1000 + i) * 10**18

    def token(
        block_ago: int, frm: str, to: str, symbol: str, amount: int, contract: str | None = None
    ) -> dict[str, Any]:
        real, decimals = TOKENS[symbol]
        return add(
            "erc20",
            token_tx(
                head - block_ago,
                frm,
                to,
                amount * 10**decimals,
                symbol=symbol,
                decimals=decimals,
                contract=contract or real,
                log_index=block_ago % 50,
            ),
        )

    user = "0x" + "7" * 40
    token(120, user, WATCHED[0], "USDT", 3_000_000)
    token(400, WATCHED[2], user, "USDT", 500_000)
    token(500, user, WATCHED[1], "USDC", 1_200_000)
    large.append(token(650, user, WATCHED[3], "WETH", 400))  # WETH and stETH count as ETH
    large.append(token(750, WATCHED[4], user, "stETH", 100))
    token(850, WATCHED[0], WATCHED[2], "USDT", 50_000_000)  # exchange-internal: not a flow
    token(950, user, WATCHED[0], "USDT", 90_000_000, contract="0x" + "e" * 40)  # counterfeit USDT
    eth_moves = 500 - 120 - 300 + 250 + 1_000 - 180 + 400 + 2_000 - 150 + 160 + 5  # + small deposit
    return CycleScenario(
        large_hashes={str(r["hash"]) for r in large},
        whales={*whales, A16Z, BEAVERBUILD, user},
        labelled={A16Z: "fund_market_maker", BEAVERBUILD: "mev_bot"},
        usdt_net_6h=3_000_000 - 500_000,
        eth_like_net_6h=eth_moves - 700 + 400 - 100,  # the router withdrawal counts as an outflow
    )
