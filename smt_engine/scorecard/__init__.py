"""The scorecard: every analysis, whale signal and proposal measured against what the market did.

``recording`` keeps the prices the engine saw (closed candles and last prices); ``scoring`` scores
each decision once a horizon has passed, from those stored prices only (no look-ahead); ``stats``
and ``report`` turn scores into hit rates, returns after fees, calibration and Brier scores with
sample sizes and confidence intervals. The what-if replay of a recorded cycle runs the trading code
again, so it sits above it with the backtests (``backtest.replay``); the scorecard stays below trading,
whose gates read its statistics.
"""

from smt_engine.scorecard.recording import SCORE_INTERVAL, record_market
from smt_engine.scorecard.report import build_report, render_report
from smt_engine.scorecard.scoring import HORIZONS, score_due

__all__ = ["HORIZONS", "SCORE_INTERVAL", "build_report", "record_market", "render_report", "score_due"]
