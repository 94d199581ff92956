"""How a labelled dataset is held out and judged, so the holdout figures describe what the engine serves.

* By entity, not by address: public labels name many wallets of one operator ("Binance 14", "Binance 15");
  with one on each side of the split the holdout would score memorised operators, not behaviour.
* Dormant rows (every feature zero: nothing happened in the window) say nothing about a class and are
  dropped before training.
* Served labels: the engine reports a model's best guess below ``MIN_MODEL_CONFIDENCE`` as "unknown", so
  the holdout is scored on that, with "unknown" as its own column (an abstention is not a hit).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_TRAILING_NUMBER = re.compile(r"[\s_#:-]*\d+$")


def entity_of(label: str | None, address: str) -> str:
    """The operator a label names (``Binance 14``, ``Binance 15``: ``binance``); no label: the address."""
    if not label or not label.strip():
        return address.lower()
    name = _TRAILING_NUMBER.sub("", label.strip()) or label.strip()
    return name.lower()


def grouped_split(
    y: Sequence[str], groups: Sequence[str], holdout: float, seed: int
) -> tuple[list[int], list[int]]:
    """Stratified per class over groups: every row of a group lands on the same side.

    A group's class is its most common label. With one row per group this is the per-row stratified split.
    """
    rng = np.random.default_rng(seed)
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    group_class = {g: Counter(y[i] for i in rows).most_common(1)[0][0] for g, rows in members.items()}
    order = list(members)  # first appearance
    train: list[int] = []
    test: list[int] = []
    for cls_name in sorted(set(y)):
        mine = np.asarray([k for k, g in enumerate(order) if group_class[g] == cls_name])
        rng.shuffle(mine)
        n_test = max(1, round(len(mine) * holdout)) if len(mine) > 1 else 0
        for pos, k in enumerate(mine):
            (test if pos < n_test else train).extend(members[order[int(k)]])
    return sorted(train), sorted(test)


def dormant_rows(X: FloatArray) -> list[int]:
    """Rows whose every feature is zero."""
    return [int(i) for i in np.flatnonzero(~np.any(X != 0, axis=1))]


def served_labels(
    proba: FloatArray, classes: Sequence[str], min_confidence: float, unknown: str
) -> list[str]:
    """The label the engine would serve for each row of class probabilities."""
    out = []
    for row in proba:
        best = int(np.argmax(row))
        out.append(classes[best] if float(row[best]) >= min_confidence else unknown)
    return out
