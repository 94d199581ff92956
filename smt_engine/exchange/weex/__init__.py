"""WEEX v3 contract venue: REST client, signing, rate limiting, envelopes, parsing and websocket streams.

One file per job; this package re-exports the public names so ``smt_engine.exchange.weex.WeexClient``
and friends keep their import path.
"""

from smt_engine.exchange.precision import PrecisionError
from smt_engine.exchange.weex.client import WeexClient
from smt_engine.exchange.weex.errors import check_envelope, error_for
from smt_engine.exchange.weex.limiter import WEIGHTS, WeightLimiter
from smt_engine.exchange.weex.signing import compact_json, encode_query, sign

__all__ = [
    "WEIGHTS",
    "PrecisionError",
    "WeexClient",
    "WeightLimiter",
    "check_envelope",
    "compact_json",
    "encode_query",
    "error_for",
    "sign",
]
