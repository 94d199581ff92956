"""The paper venue: a simulated WEEX perpetual account behind the ``Exchange`` protocol (see ``venue``).

Split by job: ``contracts`` (WEEX's table), ``state`` (account and persistence), ``matching`` (fills,
legs, the trigger walk), ``venue`` (the protocol methods).
"""

from smt_engine.exchange.paper.contracts import MAINTENANCE_MARGIN_RATE, WEEX_CONTRACTS_2026_01
from smt_engine.exchange.paper.venue import PaperExchange

__all__ = ["MAINTENANCE_MARGIN_RATE", "WEEX_CONTRACTS_2026_01", "PaperExchange"]
