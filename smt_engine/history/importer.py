"""Reading candle files: Binance public-data kline CSVs and plain OHLCV CSVs.

Binance public data (data.binance.vision, ``<SYMBOL>-<interval>-<YYYY-MM>.csv``) has twelve columns:
open time, open, high, low, close, volume, close time, quote volume, trade count, taker buy base
volume, taker buy quote volume, ignore; newer files start with a header row and spot files from 2025
on count microseconds instead of milliseconds. A plain OHLCV CSV has ``time, open, high, low, close``
and optionally ``volume``, time as ISO 8601 (UTC unless it says otherwise) or epoch seconds / ms / us,
with or without a header. Either way the whole file is read and checked before anything is stored.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from smt_engine.domain import Candle
from smt_engine.exchange.market import EPOCH, interval_seconds

BINANCE_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[mhdw])-\d{4}-\d{2}(-\d{2})?\.csv$")
BINANCE_COLUMNS = 12


class ImportError_(ValueError):
    """The file cannot be read as candles; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class ReadFile:
    """What a file holds: its bars in file order and what it was recognised as."""

    path: Path
    kind: str  # "binance" or "ohlcv"
    bars: list[Candle]
    header: bool
    symbol: str | None
    interval: str | None


def guess_from_name(path: Path) -> tuple[str | None, str | None]:
    """Symbol and interval from a Binance public-data file name, if it is one."""
    m = BINANCE_NAME.match(path.name)
    return (m["symbol"], m["interval"]) if m else (None, None)


def epoch_time(value: str) -> datetime:
    """Epoch seconds, milliseconds or microseconds, told apart by magnitude."""
    n = int(Decimal(value))
    if n > 10**14:
        return EPOCH + timedelta(microseconds=n)
    if n > 10**11:
        return EPOCH + timedelta(milliseconds=n)
    return EPOCH + timedelta(seconds=n)


def _time(value: str) -> datetime:
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return epoch_time(text)
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def _is_header(row: list[str]) -> bool:
    try:
        _time(row[0])
        Decimal(row[1])
    except (ValueError, InvalidOperation, IndexError):
        return True
    return False


def read_file(path: Path) -> ReadFile:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ImportError_(f"{path}: not a text CSV file (is it still zipped? unzip it first)") from None
    if not rows:
        raise ImportError_(f"{path}: empty file")
    header = _is_header(rows[0])
    body = rows[1:] if header else rows
    width = len(body[0]) if body else 0
    if width == BINANCE_COLUMNS:
        kind = "binance"
    elif width in (5, 6):
        kind = "ohlcv"
    else:
        raise ImportError_(
            f"{path}: {width} column(s) per row: expected Binance's 12 kline columns or "
            "time, open, high, low, close[, volume]"
        )
    bars = []
    first_line = 2 if header else 1
    for n, row in enumerate(body, start=first_line):
        if len(row) != width:
            raise ImportError_(f"{path}, line {n}: {len(row)} column(s), the file's rows have {width}")
        try:
            at = epoch_time(row[0]) if kind == "binance" else _time(row[0])
            o, h, lo, c = (Decimal(x.strip()) for x in row[1:5])
            volume = Decimal(row[5].strip()) if width > 5 else Decimal(0)
        except (ValueError, InvalidOperation) as exc:
            raise ImportError_(f"{path}, line {n}: unreadable row {row[:6]} ({exc})") from None
        bars.append(Candle(open_time=at, open=o, high=h, low=lo, close=c, volume=volume))
    symbol, interval = guess_from_name(path)
    if interval is not None:
        interval_seconds(interval)
    return ReadFile(path, kind, bars, header, symbol, interval)
