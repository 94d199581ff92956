"""Client ids and the mode factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Mode
from smt_engine.exchange.base import AuthError
from smt_engine.exchange.factory import make_exchange, make_market, make_streams
from smt_engine.exchange.ids import CLIENT_ID_PATTERN, make_client_id
from smt_engine.exchange.market import LiveMarket, SyntheticMarket
from smt_engine.exchange.market.streamed import StreamedMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.weex import WeexClient
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills


def test_client_ids_are_deterministic_and_valid() -> None:
    assert make_client_id("1a2b3c4d-ffff", 42, "entry") == "smt-1a2b3c4d-42-entry"
    assert make_client_id("1a2b3c4d", 42, "entry") == make_client_id("1a2b3c4d", 42, "entry")
    assert make_client_id("1a2b3c4d", 42, "sl") != make_client_id("1a2b3c4d", 42, "sl2")


@given(instance=st.text(max_size=40), proposal=st.integers(0, 10**30), leg=st.text(max_size=40))
def test_client_ids_always_fit_weex_rule(instance: str, proposal: int, leg: str) -> None:
    cid = make_client_id(instance, proposal, leg)
    assert CLIENT_ID_PATTERN.match(cid)
    assert cid == make_client_id(instance, proposal, leg)


def settings_for(mode: Mode) -> Settings:
    return Settings.model_validate({"engine": {"mode": mode.value}})


def test_factory_builds_each_mode(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock()
    empty = SecretStore(env={}, use_keyring=False)
    demo = make_exchange(settings_for(Mode.DEMO), store, clock, empty)
    assert isinstance(demo, PaperExchange)
    assert isinstance(demo.market, SyntheticMarket)
    assert demo.state_path == tmp_path / "smt.paper-account.json"
    streamed = make_market(settings_for(Mode.PAPER), clock)
    assert isinstance(streamed, StreamedMarket)
    assert isinstance(streamed.rest, LiveMarket)
    rest_only = Settings.model_validate({"engine": {"mode": "paper"}, "exchange": {"streams": False}})
    assert isinstance(make_market(rest_only, clock), LiveMarket)
    paper = make_exchange(settings_for(Mode.PAPER), store, clock, empty)
    assert isinstance(paper, PaperExchange)
    assert isinstance(paper.market, StreamedMarket)
    # Paper mode subscribes to the public tickers of the configured pairs; demo has no stream.
    paper_streams = make_streams(settings_for(Mode.PAPER), store, clock, paper, PushedFills())
    assert paper_streams is not None
    assert [s.channels for s in paper_streams.streams] == [
        [f"{p.symbol}@ticker" for p in settings_for(Mode.PAPER).pairs.all()]
    ]
    assert make_streams(settings_for(Mode.DEMO), store, clock, demo, PushedFills()) is None
    with pytest.raises(AuthError, match="weex_api_secret") as err:
        make_exchange(
            settings_for(Mode.LIVE), store, clock, SecretStore(env={"WEEX_API_KEY": "k1"}, use_keyring=False)
        )
    assert "k1" not in str(err.value)
    env = {"WEEX_API_KEY": "k", "WEEX_API_SECRET": "s", "WEEX_API_PASSPHRASE": "p"}
    live = make_exchange(settings_for(Mode.LIVE), store, clock, SecretStore(env=env, use_keyring=False))
    assert isinstance(live, WeexClient)
    assert live.store is store
    live_streams = make_streams(settings_for(Mode.LIVE), store, clock, live, PushedFills())
    assert live_streams is not None
    # Live mode subscribes the traded pairs' public tickers too, feeding the client's tickers.
    assert [(s.private, s.url) for s in live_streams.streams] == [
        (True, "wss://ws-contract.weex.com/v3/ws/private"),
        (False, "wss://ws-contract.weex.com/v3/ws/public"),
    ]
    assert live_streams.streams[1].channels == [
        f"{p.symbol}@ticker" for p in settings_for(Mode.LIVE).pairs.all()
    ]
