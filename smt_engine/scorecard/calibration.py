"""Calibration: a map from the confidence a source states to the hit rate it has realised.

Fitted walk-forward on the scorecard's own scores: a score exists only once its horizon has passed,
so a map fitted at ``now`` uses no decision whose outcome was unknown at ``now`` (docs/scorecard.md).
Per source (``heuristic``, ``gemini``), directional analyses at one horizon are binned by stated
confidence (0.1 wide); each bin's hit rate is shrunk towards 50 % by ``prior`` pseudo-decisions,
``(hits + prior / 2) / (n + prior)``, so a bin with few decisions says little more than a coin; then
the bins are made non-decreasing (pool-adjacent-violators, weighted by ``n + prior``), because a
higher stated confidence must never map to a lower calibrated one. A confidence whose bin has no
decisions maps to 50 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from smt_engine.scorecard.stats import BIN_WIDTH

UNKNOWN = 0.5
"""What a confidence with no record behind it is worth: a coin."""
_BINS = round(1 / BIN_WIDTH)


class CalibrationLine(Protocol):
    """What fitting reads of a score (``ScoreLine`` has it)."""

    @property
    def subject(self) -> str: ...
    @property
    def horizon(self) -> str: ...
    @property
    def analyst(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def hit(self) -> bool: ...


def bin_of(confidence: float) -> int:
    return max(0, min(int(confidence / BIN_WIDTH + 1e-9), _BINS - 1))


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    index: int
    n: int
    hits: int
    stated: float
    """Mean stated confidence of the bin's decisions."""
    calibrated: float
    """Shrunk towards 50 % and made monotone: what the bin's confidence is worth."""

    @property
    def label(self) -> str:
        return f"{self.index * BIN_WIDTH:.1f}-{(self.index + 1) * BIN_WIDTH:.1f}"

    @property
    def realised(self) -> float:
        return self.hits / self.n if self.n else UNKNOWN


@dataclass(frozen=True, slots=True)
class CalibrationMap:
    source: str
    horizon: str
    prior: int
    bins: tuple[CalibrationBin, ...]

    @property
    def n(self) -> int:
        return sum(b.n for b in self.bins)

    def apply(self, confidence: float) -> float:
        """The calibrated confidence of a stated one (50 % where the source has no record)."""
        index = bin_of(confidence)
        return next((b.calibrated for b in self.bins if b.index == index), UNKNOWN)

    def as_record(self) -> dict[str, Any]:
        """JSON-ready; read back with ``from_record`` (kept with a cycle's risk inputs for replay)."""
        return {
            "source": self.source,
            "horizon": self.horizon,
            "prior": self.prior,
            "bins": [
                {
                    "bin": b.label,
                    "index": b.index,
                    "n": b.n,
                    "hits": b.hits,
                    "stated": round(b.stated, 4),
                    "realised": round(b.realised, 4),
                    "calibrated": round(b.calibrated, 4),
                }
                for b in self.bins
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CalibrationMap:
        return cls(
            source=str(record["source"]),
            horizon=str(record["horizon"]),
            prior=int(record["prior"]),
            bins=tuple(
                CalibrationBin(
                    index=int(b["index"]),
                    n=int(b["n"]),
                    hits=int(b["hits"]),
                    stated=float(b["stated"]),
                    calibrated=float(b["calibrated"]),
                )
                for b in record["bins"]
            ),
        )


def _monotone(values: list[float], weights: list[float]) -> list[float]:
    """Pool adjacent violators: the closest non-decreasing sequence in the weighted least-squares sense."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out: list[float] = []
    for value, _, count in blocks:
        out += [value] * int(count)
    return out


def fit_map(source: str, horizon: str, prior: int, lines: Iterable[CalibrationLine]) -> CalibrationMap:
    """One source's map from its directional analyses scored at ``horizon``."""
    groups: dict[int, list[CalibrationLine]] = {}
    for line in lines:
        if (
            line.subject == "analysis"
            and line.horizon == horizon
            and line.analyst == source
            and line.direction != "WAIT"
        ):
            groups.setdefault(bin_of(line.confidence), []).append(line)
    indexes = sorted(groups)
    counts = [len(groups[i]) for i in indexes]
    hits = [sum(1 for s in groups[i] if s.hit) for i in indexes]
    shrunk = [(h + prior * UNKNOWN) / (n + prior) for h, n in zip(hits, counts, strict=True)]
    calibrated = _monotone(shrunk, [float(n + prior) for n in counts])
    bins = tuple(
        CalibrationBin(
            index=i,
            n=n,
            hits=h,
            stated=sum(s.confidence for s in groups[i]) / n,
            calibrated=c,
        )
        for i, n, h, c in zip(indexes, counts, hits, calibrated, strict=True)
    )
    return CalibrationMap(source=source, horizon=horizon, prior=prior, bins=bins)


def fit_maps(lines: Iterable[CalibrationLine], horizon: str, prior: int) -> dict[str, CalibrationMap]:
    """A map per source that has directional analyses scored at ``horizon``."""
    kept = [line for line in lines if line.subject == "analysis" and line.horizon == horizon]
    sources = sorted({line.analyst for line in kept if line.direction != "WAIT"})
    return {source: fit_map(source, horizon, prior, kept) for source in sources}


def calibration_section(lines: Iterable[CalibrationLine], horizon: str, prior: int) -> dict[str, Any]:
    """The maps the risk engine sizes with, for the scorecard report (``report["calibrated"]``).

    Fitted on every score, as ``trading.evidence`` fits them, not only on a report's window.
    """
    return {source: m.as_record() for source, m in fit_maps(lines, horizon, prior).items()}


def render_maps(maps: Mapping[str, Any]) -> list[str]:
    """Text lines of stated vs calibrated per source (``maps`` as ``as_record`` wrote them)."""
    if not maps:
        return []
    lines = ["", "Calibrated confidence (what sizing uses; every score, shrunk to 50% where data are few):"]
    for source, record in sorted(maps.items()):
        cells = ", ".join(
            f"{b['bin']}: stated {b['stated'] * 100:.0f}% -> {b['calibrated'] * 100:.0f}% (n={b['n']})"
            for b in record["bins"]
        )
        lines.append(f"  {source} at {record['horizon']} (prior {record['prior']}): {cells or 'no record'}")
    return lines
