"""The risk inputs a cycle's gates used, as a JSON record, and back (docs/design.md, principle 5).

The proposal step records exactly what its gates saw (account, open exposures, opening and peak
equity, stop-loss times, engine state, the balance the competition status came from, contracts,
prices and the instant the gates ran) so ``smt replay`` re-runs them on those inputs instead of
rebuilding them from the database afterwards, which races with everything that happened while the
cycle ran. Amounts are Decimal text, so they read back exactly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import Contract, EngineState, Side
from smt_engine.store.codec import parse_ts, ts
from smt_engine.trading.account import AccountState, OpenExposure

RISK_INPUTS_VERSION = 2
"""2: the opening equity the daily-loss figure measures from. 1 held today's realised PnL instead."""


class RiskInputsError(ValueError):
    """A recorded risk-inputs document that cannot be read back."""


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def risk_inputs_record(account: AccountState, at: datetime, settings: Settings) -> dict[str, Any]:
    """``account`` as JSON-safe data; ``at`` is the instant the gates ran.

    The competition status is stored as the balance it was computed from (starting balance plus its
    PnL, exact), so a replay under other settings recomputes phase, hold and defaults from them.
    """
    return {
        "version": RISK_INPUTS_VERSION,
        "at": ts(at),
        "available": _amount(account.available),
        "equity": _amount(account.equity),
        "peak_equity": _amount(account.peak_equity),
        "opening_equity": _amount(account.opening_equity),
        "open_positions": [
            {"symbol": e.symbol, "side": e.side.value, "margin": str(e.margin)}
            for e in account.open_positions
        ],
        "last_stop_loss": {symbol: ts(when) for symbol, when in sorted(account.last_stop_loss.items())},
        "engine_state": account.engine_state.value,
        "competition_balance": str(settings.competition.starting_balance + account.competition.pnl),
        "contracts": {
            symbol: {
                "step_size": str(c.step_size),
                "tick_size": str(c.tick_size),
                "min_size": str(c.min_size),
                "max_size": _amount(c.max_size),
                "min_notional": str(c.min_notional),
                "max_leverage": c.max_leverage,
            }
            for symbol, c in sorted(account.contracts.items())
        },
        "prices": {symbol: str(price) for symbol, price in sorted(account.prices.items())},
    }


def account_from_record(record: dict[str, Any], settings: Settings) -> tuple[AccountState, datetime]:
    """The recorded account (competition status recomputed under ``settings``) and the gates' instant."""
    try:
        if record.get("version") not in (1, RISK_INPUTS_VERSION):
            raise RiskInputsError(f"unknown risk-inputs version {record.get('version')!r}")
        at = parse_ts(record["at"])
        contracts = {
            symbol: Contract(
                symbol=symbol,
                step_size=Decimal(c["step_size"]),
                tick_size=Decimal(c["tick_size"]),
                min_size=Decimal(c["min_size"]),
                max_size=_decimal(c["max_size"]),
                min_notional=Decimal(c["min_notional"]),
                max_leverage=int(c["max_leverage"]),
            )
            for symbol, c in record["contracts"].items()
        }
        account = AccountState(
            available=_decimal(record["available"]),
            equity=_decimal(record["equity"]),
            peak_equity=_decimal(record["peak_equity"]),
            opening_equity=_opening_equity(record),
            open_positions=tuple(
                OpenExposure(e["symbol"], Side(e["side"]), Decimal(e["margin"]))
                for e in record["open_positions"]
            ),
            last_stop_loss={symbol: parse_ts(when) for symbol, when in record["last_stop_loss"].items()},
            engine_state=EngineState(record["engine_state"]),
            competition=competition_status(settings, at, Decimal(record["competition_balance"])),
            contracts=contracts,
            prices={symbol: Decimal(price) for symbol, price in record["prices"].items()},
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, RiskInputsError):
            raise
        raise RiskInputsError(f"recorded risk inputs are unreadable: {type(exc).__name__}: {exc}") from exc
    return account, at


def _opening_equity(record: dict[str, Any]) -> Decimal | None:
    """Version 1 recorded today's realised PnL; the gates then measured its loss against equity plus
    that loss, which is the opening equity that gives a version-2 replay the same figure."""
    if record["version"] == 1:
        equity = _decimal(record["equity"])
        return None if equity is None else equity - Decimal(record["realized_pnl_today"])
    return _decimal(record["opening_equity"])
