"""Calibration maps: shrunk to 50 % where data are few, monotone, fitted only on what was scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smt_engine.cli import main as cli
from smt_engine.scorecard.calibration import UNKNOWN, CalibrationMap, fit_map, fit_maps, render_maps
from smt_engine.store import Store
from tests.evidence_support import record_scores


def test_a_bin_is_shrunk_to_half_by_the_prior(store: Store) -> None:
    # 10 calls stated at 0.8, 3 right: realised 30 %; with 20 pseudo-decisions at 50 %: (3 + 10) / 30.
    record_scores(store, "heuristic", "ETH", [0.5] * 3 + [-0.5] * 7, confidence=0.8)
    m = fit_map("heuristic", "4h", 20, store.scores.lines_since(None))
    assert [(b.label, b.n, b.hits) for b in m.bins] == [("0.8-0.9", 10, 3)]
    assert m.apply(0.82) == pytest.approx(13 / 30)
    assert m.bins[0].realised == pytest.approx(0.3)
    assert m.bins[0].stated == pytest.approx(0.8)
    # Without a prior the realised rate stands; with a huge one the map says 50 %.
    assert fit_map("heuristic", "4h", 0, store.scores.lines_since(None)).apply(0.8) == pytest.approx(0.3)
    assert fit_map("heuristic", "4h", 100_000, store.scores.lines_since(None)).apply(0.8) == pytest.approx(
        0.5, abs=1e-3
    )


def test_no_record_in_a_bin_maps_to_a_coin(store: Store) -> None:
    record_scores(store, "heuristic", "ETH", [0.5] * 40, confidence=0.7)
    m = fit_map("heuristic", "4h", 20, store.scores.lines_since(None))
    assert m.apply(0.75) == pytest.approx(50 / 60)
    assert m.apply(0.95) == UNKNOWN
    assert m.apply(0.1) == UNKNOWN


def test_the_map_never_maps_a_higher_stated_confidence_lower(store: Store) -> None:
    # 0.6 bin right 80 % of 50, 0.8 bin right 40 % of 50: pooled into one weighted rate.
    record_scores(store, "gemini", "BTC", [0.5] * 40 + [-0.5] * 10, confidence=0.65)
    record_scores(store, "gemini", "BTC", [0.5] * 20 + [-0.5] * 30, confidence=0.85, first_id=100)
    m = fit_map("gemini", "4h", 20, store.scores.lines_since(None))
    low, high = (b.calibrated for b in m.bins)
    pooled = ((40 + 10) + (20 + 10)) / (70 + 70)
    assert low == pytest.approx(pooled)
    assert high == pytest.approx(pooled)


def test_only_the_source_and_horizon_asked_for_count(store: Store) -> None:
    record_scores(store, "heuristic", "ETH", [0.5] * 10, confidence=0.8)
    record_scores(store, "gemini", "ETH", [-0.5] * 10, confidence=0.8, first_id=50)
    record_scores(store, "heuristic", "ETH", [-0.5] * 10, confidence=0.8, horizon="1h", first_id=100)
    maps = fit_maps(store.scores.lines_since(None), "4h", 0)
    assert set(maps) == {"gemini", "heuristic"}
    assert maps["heuristic"].apply(0.8) == 1.0
    assert maps["gemini"].apply(0.8) == 0.0


def test_a_map_reads_back_as_it_was_recorded(store: Store) -> None:
    record_scores(store, "heuristic", "ETH", [0.5, -0.5, 0.5], confidence=0.66)
    m = fit_map("heuristic", "4h", 20, store.scores.lines_since(None))
    again = CalibrationMap.from_record(m.as_record())
    assert again.apply(0.66) == pytest.approx(m.apply(0.66), abs=1e-4)
    assert again.n == 3
    text = "\n".join(render_maps({"heuristic": m.as_record()}))
    assert "heuristic at 4h" in text
    assert "stated 66% -> 52% (n=3)" in text


def test_smt_scorecard_shows_stated_against_calibrated(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_scores(store, "heuristic", "ETH", [0.5] * 3 + [-0.5] * 7, confidence=0.8)
    db = str(store.path)
    assert cli.main(["scorecard", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Calibrated confidence" in out
    assert "heuristic at 4h (prior 20): 0.8-0.9: stated 80% -> 43% (n=10)" in out
    assert cli.main(["scorecard", "--db", db, "--json"]) == 0
    bins = json.loads(capsys.readouterr().out)["calibrated"]["heuristic"]["bins"]
    assert bins == [
        {
            "bin": "0.8-0.9",
            "index": 8,
            "n": 10,
            "hits": 3,
            "stated": 0.8,
            "realised": 0.3,
            "calibrated": 0.4333,
        }
    ]
