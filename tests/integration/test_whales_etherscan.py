"""Etherscan V2 client against the fake server over a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from smt_engine.whales.etherscan import (
    EtherscanClient,
    EtherscanError,
    EtherscanKeyError,
    EtherscanQuotaExhausted,
    EtherscanRateLimited,
    EtherscanRateLimiter,
)
from smt_engine.whales.transfers import TransferKind
from tests.fakes.etherscan_server import FakeEtherscan, internal_tx, token_tx, tx

KEY = "TESTKEY-123456"
WHALE = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


@pytest.fixture
def fake() -> Iterator[FakeEtherscan]:
    with FakeEtherscan(calls_per_second=1000) as server:
        yield server


def client(fake: FakeEtherscan, **kw: object) -> EtherscanClient:
    opts: dict[str, object] = {"calls_per_second": 1000.0, "backoff_base": 0.01, "max_records": 1000}
    opts.update(kw)
    return EtherscanClient(KEY, base_url=fake.url, **opts)  # type: ignore[arg-type]


async def test_pagination_moves_startblock_and_never_exceeds_cap(fake: FakeEtherscan) -> None:
    # 2500 txs, five per block, so a page boundary falls inside a block and overlap must be de-duplicated.
    for i in range(2500):
        fake.chain.add("normal", tx(900_000 + i // 5, OTHER, WHALE, 10**18 + i))
    async with client(fake) as es:
        rows = (await es.transfers(WHALE, TransferKind.NORMAL, 900_000, 1_000_000)).rows
    assert len(rows) == 2500
    assert len({r.tx_hash for r in rows}) == 2500
    assert rows[0].value == Decimal("1")
    assert rows[-1].value == Decimal("1.000000000000002499")
    calls = fake.calls_for("txlist")
    # Each full page restarts at its last block (re-read, de-duplicated): 1000 + 1000 + 510 rows.
    assert [int(c["startblock"]) for c in calls] == [900_000, 900_199, 900_398]
    assert all(c["page"] == "1" and c["offset"] == "1000" for c in calls)
    assert all(c["chainid"] == "1" for c in fake.log)


async def test_empty_results_are_empty_not_errors(fake: FakeEtherscan) -> None:
    async with client(fake) as es:
        assert (await es.transfers(WHALE, TransferKind.INTERNAL, 0, 1_000_000)).rows == []
        fake.empty_message = "No records found"
        assert (await es.transfers(WHALE, TransferKind.ERC20, 0, 1_000_000)).rows == []
    assert fake.calls["txlistinternal"] == 1
    assert fake.calls["tokentx"] == 1


async def test_rate_limit_backs_off_and_retries(fake: FakeEtherscan) -> None:
    fake.chain.add("normal", tx(999_000, WHALE, OTHER, 5 * 10**18))
    fake.fail_next(2, "rate_limit")
    async with client(fake) as es:
        rows = (await es.transfers(WHALE, TransferKind.NORMAL, 0, 1_000_000)).rows
        assert es.rate_limited == 2
    assert [r.value for r in rows] == [Decimal(5)]
    assert fake.calls["txlist"] == 3


async def test_server_side_tier_limit_is_survived_by_backoff() -> None:
    with FakeEtherscan(calls_per_second=3) as fake:
        fake.chain.add("normal", tx(999_000, WHALE, OTHER, 10**18))
        # The client believes it may do 50/s; the server's 3/s window pushes back and the client must cope.
        async with client(fake, calls_per_second=50.0, backoff_base=0.05, max_attempts=8) as es:
            for _ in range(6):
                assert len((await es.transfers(WHALE, TransferKind.NORMAL, 0, 1_000_000)).rows) == 1
        assert fake.rate_limited > 0


async def test_rate_limit_exhausted_is_typed(fake: FakeEtherscan) -> None:
    fake.fail_next(3, "rate_limit")
    async with client(fake, max_attempts=3) as es:
        with pytest.raises(EtherscanRateLimited):
            await es.latest_block()


async def test_invalid_key_is_a_typed_error_without_the_key(fake: FakeEtherscan) -> None:
    bad = "BADKEY-ZZZ-987654"
    async with EtherscanClient(bad, base_url=fake.url, backoff_base=0.01) as es:
        with pytest.raises(EtherscanKeyError) as err:
            await es.transfers(WHALE, TransferKind.NORMAL, 0, 10)
    assert err.value.message == "Invalid API Key"
    assert bad not in str(err.value)
    assert fake.calls["txlist"] == 1  # a key error is not retried


async def test_other_notok_carries_message_and_redacts_key(fake: FakeEtherscan) -> None:
    fake.fail_next(1, f"notok:Error! echo apikey={KEY}")
    async with client(fake) as es:
        with pytest.raises(EtherscanError) as err:
            await es.latest_block()
    assert "Error! echo apikey=" in str(err.value)
    assert KEY not in str(err.value)


async def test_http_500_and_garbage_are_retried(fake: FakeEtherscan) -> None:
    fake.fail_next(1, "http_500")
    fake.fail_next(1, "garbage")
    async with client(fake) as es:
        assert await es.latest_block() == fake.chain.head


async def test_erc20_units_follow_token_decimals(fake: FakeEtherscan) -> None:
    fake.chain.add(
        "erc20", token_tx(999_100, OTHER, WHALE, 1_234_567_890, symbol="USDC", decimals=6, contract=USDC)
    )
    fake.chain.add(
        "erc20",
        token_tx(999_101, WHALE, OTHER, 25 * 10**17, symbol="LINK", decimals=18, contract="0x" + "11" * 20),
    )
    fake.chain.add("internal", internal_tx(999_102, OTHER, WHALE, 3 * 10**18, trace_id="0_1"))
    async with client(fake) as es:
        erc = (await es.transfers(WHALE, TransferKind.ERC20, 0, 1_000_000)).rows
        internal = (await es.transfers(WHALE, TransferKind.INTERNAL, 0, 1_000_000)).rows
    assert [(t.token_symbol, t.value) for t in erc] == [
        ("USDC", Decimal("1234.56789")),
        ("LINK", Decimal("2.5")),
    ]
    assert all(t.value_eth == 0 for t in erc)  # token amounts never count as ETH
    assert internal[0].value_eth == Decimal(3)
    assert internal[0].seq == "0_1"


async def test_block_by_time_and_balances(fake: FakeEtherscan) -> None:
    from datetime import UTC, datetime

    fake.chain.balances[WHALE] = 12_345 * 10**15
    when = datetime.fromtimestamp(fake.chain.ts_of(500_000) + 5, UTC)
    async with client(fake) as es:
        assert await es.block_at(when) == 500_000
        assert await es.balances([WHALE, OTHER]) == {WHALE: Decimal("12.345"), OTHER: Decimal(0)}
    assert fake.calls_for("getblocknobytime")[0]["closest"] == "before"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sent: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_limiter_never_bursts_after_idle_and_enforces_daily_limit() -> None:
    t = FakeTime()
    limiter = EtherscanRateLimiter(
        3.0, 12, margin=0.0, monotonic=lambda: t.now, sleep=t.sleep, today=lambda: "d1"
    )
    for _ in range(4):
        await limiter.acquire()
        t.sent.append(t.now)
    t.now += 60.0  # a long idle: the seed's bucket let 5 calls through in 0.67 s after this
    for _ in range(8):
        await limiter.acquire()
        t.sent.append(t.now)
    for i, start in enumerate(t.sent):
        in_window = [x for x in t.sent[i:] if x < start + 1.0]
        assert len(in_window) <= 3, t.sent
    assert limiter.used_today == 12
    with pytest.raises(EtherscanQuotaExhausted):
        await limiter.acquire()


async def test_limiter_daily_count_rolls_over_and_can_be_seeded() -> None:
    t = FakeTime()
    day = ["2026-01-12"]
    limiter = EtherscanRateLimiter(
        3.0, 5, used_today=4, monotonic=lambda: t.now, sleep=t.sleep, today=lambda: day[0]
    )
    await limiter.acquire()
    with pytest.raises(EtherscanQuotaExhausted):
        await limiter.acquire()
    day[0] = "2026-01-13"
    await limiter.acquire()
    assert (limiter.day, limiter.used_today) == ("2026-01-13", 1)


@pytest.mark.parametrize("fault", ["rate_limit", "rate_limit_generic"])
async def test_every_retryable_rate_limit_reply_is_retried(fake: FakeEtherscan, fault: str) -> None:
    fake.chain.add("normal", tx(999_000, WHALE, OTHER, 7 * 10**18))
    fake.fail_next(2, fault)
    async with client(fake) as es:
        rows = (await es.transfers(WHALE, TransferKind.NORMAL, 0, 1_000_000)).rows
        assert es.rate_limited == 2
        assert "rate limit reached" in es.last_rate_limit
    assert [r.value for r in rows] == [Decimal(7)]


async def test_daily_limit_reply_stops_calls_for_the_day(fake: FakeEtherscan) -> None:
    fake.fail_next(1, "rate_limit_daily")
    async with client(fake) as es:
        with pytest.raises(EtherscanQuotaExhausted) as err:
            await es.latest_block()
        assert "Max daily rate limit reached" in err.value.message
        with pytest.raises(EtherscanQuotaExhausted):
            await es.latest_block()  # refused here, not sent
    assert fake.calls["eth_blockNumber"] == 1


async def test_real_per_second_reply_at_three_calls_per_second_loses_nothing() -> None:
    with FakeEtherscan(calls_per_second=3) as fake:
        for i in range(12):
            fake.chain.add("normal", tx(990_000 + i, OTHER, WHALE, (100 + i) * 10**18))
        async with client(fake, calls_per_second=3.0, backoff_base=0.2, max_attempts=6) as es:
            found = []
            for i in range(12):
                batch = await es.transfers(WHALE, TransferKind.NORMAL, 990_000 + i, 990_000 + i)
                found.extend(batch.rows)
    assert sorted(t.value for t in found) == [Decimal(100 + i) for i in range(12)]


async def test_page_budget_marks_only_what_was_read(fake: FakeEtherscan) -> None:
    for i in range(2500):
        fake.chain.add("normal", tx(900_000 + i // 5, OTHER, WHALE, 10**18 + i))
    async with client(fake, max_pages=2) as es:
        first = await es.transfers(WHALE, TransferKind.NORMAL, 900_000, 1_000_000)
        assert first.through_block == 900_397  # block 900_398 was cut by the second page's cap
        rest = await es.transfers(WHALE, TransferKind.NORMAL, first.through_block + 1, 1_000_000)
        assert rest.through_block == 1_000_000
    uids = {t.uid for t in first.rows} | {t.uid for t in rest.rows}
    assert len(uids) == 2500
