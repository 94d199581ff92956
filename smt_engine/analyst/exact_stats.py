"""The population standard deviation of floats, exact and correctly rounded, without ``Fraction``.

``statistics.pstdev`` sums exact fractions (one ``Fraction`` per distinct denominator) and is the
heuristic's costliest step when a backtest decides tens of thousands of times. A float is an integer
over a power of two, so every value is put over the largest such power and the sums are plain
integers; the square root is then rounded once, as ``statistics`` does (round-to-odd integer square
root with spare bits, then one correctly rounded division). The result equals ``statistics.pstdev``
bit for bit (``tests/unit/test_exact_stats.py``).
"""

from __future__ import annotations

import math
import statistics
import sys

_SQRT_BITS = 2 * sys.float_info.mant_dig + 3


def _isqrt_frac_rto(n: int, m: int) -> int:
    """Square root of n/m rounded down to an integer, with the last bit set when inexact (round to odd)."""
    a = math.isqrt(n // m)
    return a | (a * a * m != n)


def _sqrt_of_frac(n: int, m: int) -> float:
    """Square root of n/m as a float, correctly rounded."""
    q = (n.bit_length() - m.bit_length() - _SQRT_BITS) // 2
    if q >= 0:
        return (_isqrt_frac_rto(n, m << 2 * q) << q) / 1
    return _isqrt_frac_rto(n << -2 * q, m) / (1 << -q)


def pstdev(values: list[float]) -> float:
    """``statistics.pstdev(values)`` for finite floats (anything else is passed to it unchanged)."""
    if not values or not all(math.isfinite(v) for v in values):
        return statistics.pstdev(values)
    ratios = [v.as_integer_ratio() for v in values]
    scale = max(d for _, d in ratios)
    ints = [n * (scale // d) for n, d in ratios]
    count = len(ints)
    sx = sum(ints)
    sxx = sum(x * x for x in ints)
    # mean square deviation = (count*sxx - sx^2) / (count^2 * scale^2), exactly
    return _sqrt_of_frac(count * sxx - sx * sx, count * count * scale * scale)
