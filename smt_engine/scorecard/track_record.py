"""The analyst's own scored record on a pair, as a prompt section (``analyst.track_record_in_prompt``).

Off by default: showing a model its past hit rate may help it temper its confidence, or may anchor
it; the scorecard is what tells whether it helped. Only scores already made (horizons passed) are
used, so the prompt never carries a later price.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smt_engine.scorecard.stats import figures
from smt_engine.store import Store

HORIZON = "4h"
WINDOW = timedelta(days=30)


def track_record_section(store: Store, pair: str, analyst: str, now: datetime) -> str | None:
    """``=== YOUR TRACK RECORD ===`` for ``pair``, or None when nothing has been scored yet."""
    scores = store.scores.for_pair("analysis", pair, HORIZON, analyst, now - WINDOW)
    if not scores:
        return None
    f = figures(scores)
    lines = [
        "=== YOUR TRACK RECORD ===",
        f"Your calls on {pair} in the last {WINDOW.days} days, each scored {HORIZON} later against the "
        f"market: {f['n']} calls, {f['directional']} LONG/SHORT, {f['waits']} WAIT.",
    ]
    if f["directional"]:
        lo, hi = f["directional_hit_rate_ci"]
        lines.append(
            f"LONG/SHORT right after fees: {f['directional_hit_rate'] * 100:.0f}% "
            f"(95% interval {lo * 100:.0f}-{hi * 100:.0f}%); average return after fees "
            f"{f['avg_return_pct']:+.2f}%."
        )
        for c in f["calibration"]:
            lines.append(
                f"When you said {c['bin']}: on average you stated {c['stated'] * 100:.0f}% and were right "
                f"{c['realised'] * 100:.0f}% of the time (n={c['n']})."
            )
    lines.append("Let this record temper your confidence; it does not change the required format.")
    return "\n".join(lines)
