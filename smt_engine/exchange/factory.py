"""Build the venue and the market data source for a run mode (docs/design.md, principle 7).

live  -> ``WeexClient`` with keys from the ``SecretStore`` (refuses clearly when any is missing)
paper -> ``PaperExchange`` over ``LiveMarket`` (WEEX public prices, simulated account), its tickers
         from the public websocket when ``exchange.streams`` (``StreamedMarket``; live reads the same
         ``StreamPrices`` through ``WeexClient.use_stream_prices``)
demo  -> ``PaperExchange`` over ``SyntheticMarket`` (seeded prices driven by the clock)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, HealthStatus, Mode
from smt_engine.exchange.base import AuthError, Exchange
from smt_engine.exchange.market import LiveMarket, PriceSource, SyntheticMarket
from smt_engine.exchange.market.plausibility import PriceRule
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.supervisor import InboxT, StreamReports, StreamSupervisor
from smt_engine.health import report_health
from smt_engine.secrets import SecretName, SecretStore
from smt_engine.store import Store


def make_market(settings: Settings, clock: Clock, *, seed: int = 0) -> PriceSource:
    """Synthetic prices in the demo, WEEX public data otherwise."""
    if settings.engine.mode is Mode.DEMO:
        return SyntheticMarket(clock, seed=seed)
    rest = LiveMarket(settings.exchange.base_url, clock, timeout=settings.exchange.timeout.total_seconds())
    if not settings.exchange.streams:
        return rest
    return StreamedMarket(rest, StreamPrices(), clock)


def paper_state_path(store: Store) -> Path:
    """The paper account lives next to the database, so a copy of one carries the other."""
    return store.path.with_name(store.path.stem + ".paper-account.json")


def make_exchange(
    settings: Settings,
    store: Store,
    clock: Clock,
    secrets: SecretStore,
) -> Exchange:
    ex = settings.exchange
    if settings.engine.mode is Mode.LIVE:
        names = (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE)
        values = {name: secrets.get(name) for name in names}
        missing = [name.value for name, value in values.items() if not value]
        if missing:
            raise AuthError(
                f"live mode needs WEEX credentials; missing: {', '.join(missing)} "
                "(set them with `smt keys set <name>`, systemd credentials or the environment variables "
                f"{', '.join(SecretName(m).env_var for m in missing)})"
            )
        return WeexClient(
            api_key=values[SecretName.WEEX_API_KEY] or "",
            api_secret=values[SecretName.WEEX_API_SECRET] or "",
            passphrase=values[SecretName.WEEX_API_PASSPHRASE] or "",
            base_url=ex.base_url,
            store=store,
            clock=clock,
            timeout=ex.timeout.total_seconds(),
            limiter=WeightLimiter.on_clock(clock, ex.rate_limit_weight),
            ai_log_path=ex.ai_log_path,
            price_rule=PriceRule.of(settings),
        )
    return PaperExchange(
        make_market(settings, clock),
        clock,
        state_path=paper_state_path(store),
        balance=ex.paper_balance,
        taker_fee_pct=ex.taker_fee_pct,
        maker_fee_pct=ex.maker_fee_pct,
        slippage_pct=ex.paper_slippage_pct,
        price_rule=PriceRule.of(settings),
    )


def stream_reports(store: Store, clock: Clock) -> StreamReports:
    """The streams' health as the store's health rows, their news as events."""

    def health(component: str, status: HealthStatus, detail: str, data: dict[str, Any]) -> None:
        report_health(store, clock, component, status, detail, data)

    def event(level: EventLevel, kind: str, message: str, data: dict[str, Any]) -> None:
        store.events.append(clock.now(), level, kind, message, data=data)

    return StreamReports(health=health, event=event)


def make_streams(
    settings: Settings, store: Store, clock: Clock, exchange: Exchange, pushed: InboxT
) -> StreamSupervisor[InboxT] | None:
    """WEEX's private websocket for a ``WeexClient`` (pushes wake the monitor) and the public one for the
    traded pairs (live tickers), in live mode as in paper; none in the demo."""
    ex = settings.exchange
    if not ex.streams:
        return None
    heartbeat, backoff_max = ex.stream_heartbeat.total_seconds(), ex.stream_backoff_max.total_seconds()
    if isinstance(exchange, WeexClient):
        prices = StreamPrices()
        exchange.use_stream_prices(prices)
        return StreamSupervisor(
            clock,
            reports=stream_reports(store, clock),
            pushed=pushed,
            ws_url=ex.ws_url,
            credentials=exchange.stream_credentials(),
            symbols=[pair.symbol for pair in settings.pairs.all()],
            prices=prices,
            note_leg=exchange.note_leg,
            server_offset=exchange.server_offset,
            heartbeat=heartbeat,
            backoff_max=backoff_max,
            handshakes_per_window=ex.stream_handshakes_per_5min,
        )
    market = exchange.market if isinstance(exchange, PaperExchange) else None
    if isinstance(market, StreamedMarket) and isinstance(market.prices, StreamPrices):
        return StreamSupervisor(
            clock,
            reports=stream_reports(store, clock),
            pushed=pushed,
            ws_url=ex.ws_url,
            credentials=None,
            symbols=[pair.symbol for pair in settings.pairs.all()],
            prices=market.prices,
            heartbeat=heartbeat,
            backoff_max=backoff_max,
            handshakes_per_window=ex.stream_handshakes_per_5min,
        )
    return None
