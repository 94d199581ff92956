"""Whale feed: the cycle's aggregate signal, recent large transfers and classified whales.

Every flow says where it went: a transfer into or out of an exchange; a whale's net flow into or out of its
own wallet (opposite meanings for the market, so never a bare "inflow")."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Static

from smt_engine.domain import Bias
from smt_engine.store.records import Whale, WhaleSignal, WhaleTransfer
from smt_tui import fmt
from smt_tui.state import WhaleFeedView
from smt_tui.widgets.keyed_table import KeyedTable, Row

_BIAS_STYLE = {Bias.BULLISH: "bold green", Bias.BEARISH: "bold red", Bias.AVOID: "bold yellow"}


def signal_line(signal: WhaleSignal | None) -> Text:
    if signal is None:
        return Text("whale signal: none yet", style="dim")
    text = Text.assemble(
        "whale signal ",
        (signal.bias.value, _BIAS_STYLE.get(signal.bias, "")),
        f" {fmt.confidence(signal.confidence)}  net {signal.net_eth:+,.0f} ETH "
        f"{fmt.wallet_direction(signal.net_eth, aggregate=True)}",
        f"  ({signal.inflow_eth:,.0f} in, {signal.outflow_eth:,.0f} out)  cycle {signal.cycle_id}",
        ("  " + signal.reasoning, "dim"),
        overflow="ellipsis",
        no_wrap=True,
    )
    return text


def transfer_row(t: WhaleTransfer) -> Row:
    direction = fmt.exchange_direction(t.direction)
    style = "red" if direction == "into exchange" else "green" if direction == "out of exchange" else ""
    return (
        f"transfer:{t.id}",
        (
            fmt.clock(t.at),
            f"{t.value_eth:,.0f}",
            fmt.short_addr(t.from_address),
            fmt.short_addr(t.to_address),
            Text(direction, style=style),
            t.exchange_label or "",
        ),
    )


def class_cell(w: Whale) -> str:
    """A bootstrap class comes from the simulator-trained model and never weighs in a signal: say so."""
    return f"{w.whale_class} (bootstrap)" if w.classified_by == "bootstrap" else w.whale_class


def whale_row(w: Whale, signals: dict[str, WhaleSignal]) -> Row:
    signal = signals.get(w.address)
    flow = fmt.wallet_direction(signal.net_eth) if signal else "-"
    bias = Text(signal.bias.value, style=_BIAS_STYLE.get(signal.bias, "")) if signal else Text("-")
    return (
        f"whale:{w.address}",
        (
            w.label or fmt.short_addr(w.address),
            class_cell(w),
            fmt.confidence(w.class_confidence),
            flow,
            f"{signal.net_eth:+,.0f}" if signal else "-",
            bias,
        ),
    )


class TransfersTable(KeyedTable):
    COLUMNS = (
        ("at", "Time"),
        ("eth", "ETH"),
        ("from", "From"),
        ("to", "To"),
        ("dir", "Direction"),
        ("label", "Exchange"),
    )


class WhalesTable(KeyedTable):
    COLUMNS = (
        ("whale", "Whale"),
        ("class", "Class"),
        ("conf", "Conf"),
        ("flow", "Flow"),
        ("net", "Net ETH"),
        ("bias", "Signal"),
    )


class WhaleFeed(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(signal_line(None), id="whale-signal")
        yield WhalesTable(id="whales-table")
        yield TransfersTable(id="transfers-table")

    _feed: WhaleFeedView | None = None

    def on_mount(self) -> None:
        if self._feed is not None:
            self.call_after_refresh(self.show, self._feed)

    def show(self, feed: WhaleFeedView) -> None:
        self._feed = feed
        try:
            self.query_one("#whale-signal", Static).update(signal_line(feed.aggregate))
        except NoMatches:
            return  # not composed yet: on_mount shows it

        per_address = {s.address: s for s in reversed(feed.signals) if s.address and not s.is_aggregate}
        self.query_one(WhalesTable).sync([whale_row(w, per_address) for w in feed.whales])
        self.query_one(TransfersTable).sync([transfer_row(t) for t in feed.transfers])
