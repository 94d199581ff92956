"""A reproducible wallet-behaviour simulator: labelled histories for training, and a live chain for the demo.

One behaviour per class of ``classifier.CLASSES`` (behaviours that exist on Ethereum today). The
parameters are plausible, not measured, which is why a model trained on this is only a *bootstrap*:
exchange-like wallets take many small deposits (ETH and stablecoins) and sweep to exchange hot wallets;
large holders move big amounts rarely between few counterparties; DEX/DeFi traders call routers with
token swaps and internal refunds; staking wallets deposit 32-ETH multiples and mint liquid-staking
tokens (beacon-chain withdrawals are not transactions, so they do not appear); funds and market makers
move size in both directions between several exchanges and OTC partners; MEV bots send many high-gas
router calls with ETH coming back in the same block; bridges take many user deposits and release them.
A share of wallets also shows a weaker second behaviour, so classes overlap as real ones do. Everything
is a pure function of (seed, address, day), so the same window always yields the same transfers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.addresses import Category
from smt_engine.whales.classifier import CLASSES, Dataset
from smt_engine.whales.features import compute_features
from smt_engine.whales.transfers import Transfer, TransferBatch, TransferKind

BASE_TS = datetime(2026, 1, 1, tzinfo=UTC)
BASE_BLOCK = 24_000_000
BLOCK_SECONDS = 12
DAY = timedelta(days=1)

STABLECOINS = (
    ("USDT", "0xdac17f958d2ee523a2206206994597c13d831ec7", 6),
    ("USDC", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),
    ("DAI", "0x6b175474e89094c44da98b954eedeac495271d0f", 18),
)
ALTS = tuple((f"TKN{i}", "0x" + hashlib.sha256(f"token{i}".encode()).hexdigest()[:40], 18) for i in range(40))
STETH = ("stETH", "0xae7ab96520de3a18e5e111b5eaab095312d7fe84", 18)


def block_of(at: datetime) -> int:
    return BASE_BLOCK + int((at - BASE_TS).total_seconds()) // BLOCK_SECONDS


def time_of(block: int) -> datetime:
    return BASE_TS + timedelta(seconds=(block - BASE_BLOCK) * BLOCK_SECONDS)


def synthetic_address(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:40]


def _day_index(at: datetime) -> int:
    return int((at - BASE_TS).total_seconds() // 86_400)


class _Ctx:
    """Builds the transfers of one wallet-day."""

    def __init__(self, address: str, day: int, rng: np.random.Generator, book: _Roles) -> None:
        self.address = address
        self.start = BASE_TS + day * DAY
        self.np_rng = rng
        # Python's generator for the many scalar draws: an order of magnitude cheaper than numpy's.
        self.rng = random.Random(int(rng.integers(0, 2**63)))
        self.roles = book
        self.out: list[Transfer] = []

    def _hash(self) -> str:
        return f"0x{self.rng.getrandbits(256):064x}"

    def _at(self) -> datetime:
        return self.start + timedelta(seconds=float(self.rng.uniform(0, 86_400)))

    def eth(
        self,
        other: str,
        amount: float,
        incoming: bool,
        *,
        kind: TransferKind = TransferKind.NORMAL,
        gas: int = 21_000,
    ) -> None:
        at = self._at()
        value = Decimal(int(max(amount, 0.0) * 1e6)).scaleb(-6)
        src, dst = (other, self.address) if incoming else (self.address, other)
        self.out.append(
            Transfer(
                kind=kind,
                tx_hash=self._hash(),
                block=block_of(at),
                at=at,
                from_address=src,
                to_address=dst,
                value=value,
                gas_used=gas if kind is TransferKind.NORMAL else 0,
                seq="0_1" if kind is TransferKind.INTERNAL else "",
            )
        )

    def token(
        self, other: str, token: tuple[str, str, int], amount: float, incoming: bool, gas: int = 65_000
    ) -> None:
        at = self._at()
        symbol, contract, _ = token
        src, dst = (other, self.address) if incoming else (self.address, other)
        self.out.append(
            Transfer(
                kind=TransferKind.ERC20,
                tx_hash=self._hash(),
                block=block_of(at),
                at=at,
                from_address=src,
                to_address=dst,
                value=Decimal(int(max(amount, 0.0) * 100)).scaleb(-2),
                token_symbol=symbol,
                token_contract=contract,
                gas_used=gas,
                seq=str(self.rng.randrange(0, 400)),
            )
        )

    def nft(self, other: str, incoming: bool) -> None:
        at = self._at()
        src, dst = (other, self.address) if incoming else (self.address, other)
        self.out.append(
            Transfer(
                kind=TransferKind.ERC721,
                tx_hash=self._hash(),
                block=block_of(at),
                at=at,
                from_address=src,
                to_address=dst,
                value=Decimal(1),
                token_symbol="NFT",  # noqa: S106 - a ticker
                token_contract=synthetic_address("nft", self.rng.randrange(0, 20)),
                gas_used=90_000,
                seq=f"0:{self.rng.randrange(0, 10_000)}",
            )
        )

    def poisson(self, lam: float) -> int:
        return int(self.np_rng.poisson(max(lam, 0.0)))

    def pick(self, items: tuple[str, ...]) -> str:
        return items[self.rng.randrange(0, len(items))]

    def user(self) -> str:
        return f"0x{self.rng.getrandbits(160):040x}"


class _Roles:
    def __init__(self, book: AddressBook) -> None:
        self.exchanges = tuple(sorted(book.addresses(Category.EXCHANGE)))
        self.watched = tuple(e.address for e in book.watched()) or self.exchanges
        self.defi = tuple(sorted(book.addresses(Category.DEX, Category.DEFI)))
        staking = sorted(book.addresses(Category.STAKING))
        self.deposit = next((a for a in staking if a.startswith("0x00000000219ab5")), staking[0])


def _cex(c: _Ctx, s: float) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 12)):
        c.eth(c.user(), r.lognormvariate(-1.0, 1.3), True)
    for _ in range(c.poisson(s * 15)):
        c.token(c.user(), STABLECOINS[r.randrange(0, 3)], r.lognormvariate(6, 1.5), True)
    for _ in range(c.poisson(s * 10)):
        c.token(c.user(), ALTS[r.randrange(0, len(ALTS))], r.lognormvariate(5, 2), True)
    for _ in range(c.poisson(s * 12)):
        c.eth(c.user(), r.lognormvariate(-0.5, 1.2), False)
    for _ in range(c.poisson(s * 6)):
        c.eth(c.pick(c.roles.exchanges), r.lognormvariate(2.5, 1.0), False)
    for _ in range(c.poisson(s * 4)):
        c.token(c.pick(c.roles.exchanges), STABLECOINS[r.randrange(0, 3)], r.lognormvariate(10, 1), False)


def _large_holder(c: _Ctx, s: float, partners: tuple[str, ...]) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 0.8)):
        c.eth(c.pick(partners), r.lognormvariate(4.0, 1.2), r.random() < 0.5)
    for _ in range(c.poisson(s * 0.25)):
        c.eth(c.pick(c.roles.exchanges), r.lognormvariate(4.5, 1.0), r.random() < 0.5)
    for _ in range(c.poisson(s * 0.3)):
        c.token(c.pick(partners), STABLECOINS[r.randrange(0, 3)], r.lognormvariate(12, 1), r.random() < 0.5)
    for _ in range(c.poisson(s * 0.2)):
        c.eth(c.user(), r.lognormvariate(0, 1), False)


def _defi(c: _Ctx, s: float) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 9)):
        router = c.pick(c.roles.defi)
        gas = r.randrange(110_000, 320_000)
        token = ALTS[r.randrange(0, len(ALTS))] if r.random() < 0.7 else STABLECOINS[r.randrange(0, 3)]
        if r.random() < 0.5:  # ETH -> token
            c.eth(router, r.lognormvariate(0.5, 1.3), False, gas=gas)
            c.token(router, token, r.lognormvariate(7, 2), True, gas=gas)
        else:  # token -> ETH, paid out by the router as an internal transfer
            c.token(router, token, r.lognormvariate(7, 2), False, gas=gas)
            c.eth(router, r.lognormvariate(0.5, 1.3), True, kind=TransferKind.INTERNAL)
    for _ in range(c.poisson(s * 0.6)):
        c.nft(c.user(), r.random() < 0.5)
    for _ in range(c.poisson(s * 0.4)):
        c.eth(c.pick(c.roles.exchanges), r.lognormvariate(1.5, 1), r.random() < 0.5)


def _staking(c: _Ctx, s: float) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 0.35)):
        c.eth(c.roles.deposit, 32.0 * r.randrange(1, 6), False, gas=r.randrange(50_000, 60_000))
    for _ in range(c.poisson(s * 0.4)):  # liquid staking: ETH in, stETH minted back
        amount = r.lognormvariate(3, 1)
        c.eth(STETH[1], amount, False, gas=80_000)
        c.token(STETH[1], STETH, amount, True, gas=80_000)
    for _ in range(c.poisson(s * 0.15)):
        c.eth(c.pick(c.roles.exchanges), r.lognormvariate(3.5, 0.8), True)


def _fund(c: _Ctx, s: float, partners: tuple[str, ...]) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 2.0)):
        c.eth(c.pick(c.roles.exchanges), r.lognormvariate(5.0, 1.0), r.random() < 0.5)
    for _ in range(c.poisson(s * 2.5)):
        c.token(
            c.pick(c.roles.exchanges),
            STABLECOINS[r.randrange(0, 2)],
            r.lognormvariate(13, 1),
            r.random() < 0.5,
        )
    for _ in range(c.poisson(s * 0.8)):
        c.eth(c.pick(partners), r.lognormvariate(4.5, 1.0), r.random() < 0.5)


def _mev_bot(c: _Ctx, s: float) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 8)):
        router = c.pick(c.roles.defi)
        amount = r.lognormvariate(1.0, 1.2)
        gas = r.randrange(150_000, 600_000)
        c.eth(router, amount, False, gas=gas)
        c.eth(router, amount * r.uniform(0.995, 1.01), True, kind=TransferKind.INTERNAL)
    for _ in range(c.poisson(s * 2)):
        c.eth(synthetic_address("builder", r.randrange(0, 4)), r.lognormvariate(-2, 1), False, gas=21_000)


def _bridge(c: _Ctx, s: float) -> None:
    r = c.rng
    for _ in range(c.poisson(s * 7)):
        c.eth(c.user(), r.lognormvariate(0.0, 1.5), True, gas=90_000)
    for _ in range(c.poisson(s * 5)):
        c.eth(c.user(), r.lognormvariate(0.0, 1.5), False, kind=TransferKind.INTERNAL)
    for _ in range(c.poisson(s * 3)):
        c.token(
            c.user(), STABLECOINS[r.randrange(0, 3)], r.lognormvariate(8, 1.5), r.random() < 0.5, gas=110_000
        )


class WalletSimulator:
    """Behaviour of labelled synthetic wallets; every output is a function of (seed, address, day)."""

    def __init__(self, book: AddressBook, seed: int = 0) -> None:
        self.seed = seed
        self.book = book
        self.roles = _Roles(book)

    def _rng(self, address: str, day: int, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(address[2:18], 16), day + 1_000_000, salt])

    def traits(self, address: str, label: str) -> tuple[float, str | None, float, tuple[str, ...]]:
        """(intensity, secondary behaviour, its weight, partners) fixed for a wallet's life."""
        r = random.Random(int(self._rng(address, -1).integers(0, 2**63)))
        intensity = float(r.lognormvariate(0, 0.8))
        others = [c for c in CLASSES if c != label]
        secondary = others[r.randrange(0, len(others))] if r.random() < 0.5 else None
        weight = float(r.uniform(0.2, 0.9))
        partners = tuple(synthetic_address("partner", address, i) for i in range(r.randrange(2, 6)))
        return intensity, secondary, weight, partners

    def day(self, address: str, label: str, day: int) -> list[Transfer]:
        return list(_cached_day(self, address, label, day))

    def _simulate_day(self, address: str, label: str, day: int) -> tuple[Transfer, ...]:
        intensity, secondary, weight, partners = self.traits(address, label)
        c = _Ctx(address, day, self._rng(address, day), self.roles)
        self._behave(c, label, intensity, partners)
        if secondary is not None:
            self._behave(c, secondary, intensity * weight, partners)
        for _ in range(c.poisson(0.3)):  # any whale sometimes moves size through an exchange
            c.eth(c.pick(self.roles.exchanges), 100 + c.rng.lognormvariate(4.5, 1.0), c.rng.random() < 0.5)
        c.out.sort(key=lambda t: (t.block, t.tx_hash))
        return tuple(c.out)

    def _behave(self, c: _Ctx, label: str, s: float, partners: tuple[str, ...]) -> None:
        if label == "exchange":
            _cex(c, s)
        elif label == "large_holder":
            _large_holder(c, s, partners)
        elif label == "dex_defi_trader":
            _defi(c, s)
        elif label == "staking":
            _staking(c, s)
        elif label == "fund_market_maker":
            _fund(c, s, partners)
        elif label == "mev_bot":
            _mev_bot(c, s)
        elif label == "bridge":
            _bridge(c, s)
        else:
            raise ValueError(f"unknown behaviour {label!r}")

    def history(self, address: str, label: str, end: datetime, days: int) -> list[Transfer]:
        first, last = _day_index(end - days * DAY), _day_index(end)
        out: list[Transfer] = []
        start = end - days * DAY
        for d in range(first, last + 1):
            out.extend(t for t in _cached_day(self, address, label, d) if start <= t.at <= end)
        return out

    def balance(self, address: str, label: str, day: int) -> Decimal:
        r = self._rng(address, day, salt=7)
        base = {
            "exchange": 6.0,
            "large_holder": 8.0,
            "dex_defi_trader": 2.5,
            "staking": 4.0,
            "fund_market_maker": 7.0,
            "mev_bot": 2.0,
            "bridge": 7.5,
        }[label]
        return Decimal(int(r.lognormal(base, 1.2) * 1e4)).scaleb(-4)


@lru_cache(maxsize=8192)
def _cached_day(sim: WalletSimulator, address: str, label: str, day: int) -> tuple[Transfer, ...]:
    return sim._simulate_day(address, label, day)


def synthetic_dataset(
    book: AddressBook, per_class: int = 150, seed: int = 0, end: datetime | None = None
) -> Dataset:
    """``per_class`` labelled wallets per class, each with a 7-45 day history, as a feature dataset."""
    sim = WalletSimulator(book, seed)
    end = end or BASE_TS + 120 * DAY
    rng = np.random.default_rng(seed)
    rows, labels, addresses = [], [], []
    for label in CLASSES:
        for i in range(per_class):
            address = synthetic_address("train", seed, label, i)
            days = int(rng.integers(7, 46))
            history = sim.history(address, label, end, days)
            balance = sim.balance(address, label, _day_index(end))
            rows.append(compute_features(address, history, balance, book))
            labels.append(label)
            addresses.append(address)
    provenance = {
        "source": "synthetic",
        "generator": "smt_engine.whales.synth.synthetic_dataset",
        "seed": seed,
        "per_class": per_class,
        "note": "simulated wallet behaviour, not real labelled addresses: a bootstrap",
    }
    return Dataset(np.vstack(rows), labels, addresses, provenance)


class SyntheticChain:
    """A ``ChainSource`` over a population of simulated whales trading with the watched exchange wallets.

    Besides each whale's own behaviour, every whale makes large (>= 100 ETH) deposits to or withdrawals
    from a watched exchange wallet on most days, and exchange wallets see small background traffic and
    the odd exchange-to-exchange shuffle, so discovery has real work to do (and must ignore the shuffles).
    """

    def __init__(
        self,
        book: AddressBook,
        seed: int = 0,
        whales: int = 30,
        labelled: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.book = book
        self.sim = WalletSimulator(book, seed)
        self.seed = seed
        # ``labelled``: real labelled addresses (address, class) that behave as their label says.
        self.population: dict[str, str] = dict(labelled[:whales])
        for i in range(whales - len(self.population)):
            self.population[synthetic_address("whale", seed, i)] = CLASSES[i % len(CLASSES)]
        self.calls = 0

    async def block_at(self, when: datetime, closest: str = "before") -> int:
        self.calls += 1
        return block_of(when)

    async def balances(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        self.calls += 1
        out: dict[str, Decimal] = {}
        for a in addresses:
            label = self.population.get(a)
            out[a] = self.sim.balance(a, label, 0) if label else Decimal(0)
        return out

    def _whale_day(self, address: str, day: int) -> tuple[Transfer, ...]:
        return _cached_world_day(self, address, day)

    def _world_day(self, address: str, day: int) -> tuple[Transfer, ...]:
        label = self.population[address]
        own = list(self.sim.day(address, label, day))
        c = _Ctx(address, day, self.sim._rng(address, day, salt=11), self.sim.roles)
        outflow_bias = {
            "exchange": 0.4,
            "large_holder": 0.5,
            "dex_defi_trader": 0.5,
            "staking": 0.6,
            "fund_market_maker": 0.5,
            "mev_bot": 0.5,
            "bridge": 0.5,
        }
        for _ in range(c.poisson(1.0)):
            to_exchange = c.rng.random() < outflow_bias[label]
            c.eth(
                c.pick(self.sim.roles.watched), 100 + float(c.rng.lognormvariate(5.0, 0.9)), not to_exchange
            )
        return tuple(sorted(own + c.out, key=lambda t: (t.block, t.tx_hash)))

    def _exchange_day(self, exchange: str, day: int) -> list[Transfer]:
        c = _Ctx(exchange, day, self.sim._rng(exchange, day, salt=13), self.sim.roles)
        for _ in range(c.poisson(40)):
            c.eth(c.user(), float(c.rng.lognormvariate(0, 1.5)), (c.rng.random() < 0.5))
        others = tuple(a for a in self.sim.roles.exchanges if a != exchange)
        for _ in range(c.poisson(0.5)):
            c.eth(c.pick(others), 150 + float(c.rng.lognormvariate(5, 1)), (c.rng.random() < 0.5))
        return c.out

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch:
        self.calls += 1
        first, last = _day_index(time_of(startblock)), _day_index(time_of(endblock))
        found: list[Transfer] = []
        for d in range(first, last + 1):
            if address in self.population:
                found.extend(self._whale_day(address, d))
            elif self.book.is_exchange(address):
                found.extend(self._exchange_day(address, d))
                for whale in self.population:
                    found.extend(t for t in self._whale_day(whale, d) if t.touches(address))
        rows = sorted(
            (t for t in found if t.kind is kind and startblock <= t.block <= endblock),
            key=lambda t: (t.block, t.tx_hash, t.seq),
        )
        return TransferBatch(rows, endblock)


@lru_cache(maxsize=8192)
def _cached_world_day(chain: SyntheticChain, address: str, day: int) -> tuple[Transfer, ...]:
    return chain._world_day(address, day)
