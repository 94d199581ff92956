"""Display formatting shared by widgets: amounts, prices, durations, signs, and the name/value blocks and
headings the row descriptions are made of. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text


def money(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{places}f}"


def signed(value: Decimal | None, places: int = 2, suffix: str = "") -> Text:
    """Green for gains, red for losses."""
    if value is None:
        return Text("-")
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+,.{places}f}{suffix}", style=style)


def price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    return text


def pct_of(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return part / whole * 100


def move(target: Decimal | None, reference: Decimal | None) -> str:
    """The one sign convention for TP/SL distances everywhere: the signed price move from ``reference``
    to ``target`` (a long's TP is +, its SL -; a short's the other way round)."""
    if target is None or not reference:
        return "-"
    return f"{(target - reference) / reference * 100:+.1f}%"


def target(value: Decimal | None, reference: Decimal | None) -> str:
    """A TP or SL price and its signed move from ``reference``: ``102900 +4.2%``."""
    if value is None:
        return "-"
    distance = move(value, reference)
    return price(value) if distance == "-" else f"{price(value)} {distance}"


def exchange_direction(direction: str | None) -> str:
    """A transfer's direction relative to the exchange it touched, spelled out."""
    if direction in ("inflow", "to_exchange"):
        return "into exchange"
    if direction in ("outflow", "from_exchange"):
        return "out of exchange"
    return direction or "-"


def wallet_direction(net: Decimal, aggregate: bool = False) -> str:
    """A whale signal's net flow is measured at the whale's own wallet (positive: ETH arrived there)."""
    where = "the whales' wallets" if aggregate else "its wallet"
    if net > 0:
        return f"into {where}"
    if net < 0:
        return f"out of {where}"
    return f"in and out of {where}"


def duration(value: timedelta | None) -> str:
    """Compact: 42s, 5m07s, 3h05m, 2d04h."""
    if value is None:
        return "-"
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{seconds:02d}s"
    return f"{sign}{seconds}s"


def countdown(value: timedelta) -> str:
    """Time left, in seconds only in the last two minutes: a countdown that repaints once a minute, not
    once a second, until it matters (42s, 1m05s, 14m, 2h10m, 1d20h)."""
    total = int(value.total_seconds())
    if total < 120:
        return duration(value)
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    return duration(timedelta(minutes=minutes))


def clock(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%H:%M:%S")


def stamp(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def short_addr(address: str | None) -> str:
    if not address:
        return "-"
    return address if len(address) <= 12 else f"{address[:6]}…{address[-4:]}"


def confidence(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}"


def heading(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def kv(rows: Iterable[tuple[str, Any]]) -> Table:
    """Names in a column, values beside them (folded, never cut)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else Text(str(value)))
    return table
