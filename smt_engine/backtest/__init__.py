"""Walk-forward backtests of the deterministic decision sources over stored market history, and the
what-if replay of a recorded cycle under other settings (``replay``).

See ``docs/evidence.md``: what can and cannot be backtested, and how a record is read.
"""

from smt_engine.backtest.run import BacktestRequest, NoData, run_backtest

__all__ = ["BacktestRequest", "NoData", "run_backtest"]
