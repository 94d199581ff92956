"""Walk-forward backtests of the deterministic decision sources over stored market history.

See ``docs/evidence.md``: what can and cannot be backtested, and how a record is read.
"""

from smt_engine.backtest.run import BacktestRequest, NoData, run_backtest

__all__ = ["BacktestRequest", "NoData", "run_backtest"]
