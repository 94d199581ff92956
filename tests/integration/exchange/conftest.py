from __future__ import annotations

import decimal
from collections.abc import AsyncIterator, Iterator

import pytest

from smt_engine.exchange.weex import WeexClient, WeightLimiter
from tests.fakes.weex_server import FakeWeex


@pytest.fixture(autouse=True)
def own_decimal_context() -> Iterator[None]:
    """ccxt (the signing oracle) sets the process-wide decimal rounding to HALF_UP; keep that here, so the
    rest of the suite runs under the default context the engine runs under."""
    with decimal.localcontext():
        yield


@pytest.fixture
def fake() -> Iterator[FakeWeex]:
    with FakeWeex() as server:
        yield server


def client_for(fake: FakeWeex, **kw: object) -> WeexClient:
    args: dict[str, object] = {
        "api_key": fake.api_key,
        "api_secret": fake.secret,
        "passphrase": fake.passphrase,
        "base_url": fake.base_url,
        "backoff": 0.01,
        "rate_limit_wait": 0.05,
        "timeout": 2.0,
        "limiter": WeightLimiter(),
    }
    args.update(kw)
    return WeexClient(**args)  # type: ignore[arg-type]


@pytest.fixture
async def client(fake: FakeWeex) -> AsyncIterator[WeexClient]:
    c = client_for(fake)
    yield c
    await c.aclose()
