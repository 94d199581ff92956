"""Calibration maps: shrunk to 50 % where data are few, monotone, fitted only on what was scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smt_engine.cli import main as cli
from smt_engine.scorecard.calibration import (
    UNKNOWN,
    CalibrationMap,
    bin_of,
    fit_map,
    fit_maps,
    render_maps,
)
from smt_engine.store import Store
from tests.evidence_support import record_scores
from tests.evidence_support import score_line as line


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


def test_the_bins_are_tenths_from_0_to_1_and_their_edges_fall_inside() -> None:
    assert [bin_of(c) for c in (0.0, 0.05, 0.1, 0.7, 0.95, 1.0)] == [0, 0, 1, 7, 9, 9]
    m = fit_map("heuristic", "4h", 0, [line(1.0, True), line(0.05, False)])
    assert [(b.label, b.n, b.hits) for b in m.bins] == [("0.0-0.1", 1, 0), ("0.9-1.0", 1, 1)]
    assert (m.apply(0.99), m.apply(0.01)) == (1.0, 0.0)


THIRDS = [line(0.66666, True), line(0.66666, False), line(0.66666, False)]


def test_a_map_records_its_figures_to_four_places_and_reads_back_the_same() -> None:
    m = fit_map("heuristic", "4h", 20, THIRDS)
    record = m.as_record()
    assert record == {
        "source": "heuristic",
        "horizon": "4h",
        "prior": 20,
        "bins": [
            {
                "bin": "0.6-0.7",
                "index": 6,
                "n": 3,
                "hits": 1,
                "stated": 0.6667,
                "realised": 0.3333,
                "calibrated": 0.4783,
            }
        ],
    }
    again = CalibrationMap.from_record(record)
    assert (again.source, again.horizon, again.prior) == ("heuristic", "4h", 20)
    assert again.as_record() == record


def test_the_report_shows_every_sources_bins_stated_against_calibrated() -> None:
    lines = [*THIRDS, line(0.8, True), line(0.85, True)]
    maps = {source: fit_map(source, "4h", 20, lines).as_record() for source in ("heuristic", "gemini")}
    assert render_maps(maps) == [
        "",
        "Calibrated confidence (what sizing uses; every score, shrunk to 50% where data are few):",
        "  gemini at 4h (prior 20): no record",
        "  heuristic at 4h (prior 20): 0.6-0.7: stated 67% -> 48% (n=3), 0.8-0.9: stated 82% -> 55% (n=2)",
    ]
    assert render_maps({}) == []


def test_bins_out_of_order_are_pooled_by_their_weight_and_rising_bins_are_kept() -> None:
    # Shrunk by 20 at 50 %: bin 0.4 0/10 -> 1/3, 0.5 8/10 -> 0.6, 0.6 2/10 -> 0.4, 0.7 9/30 -> 0.38.
    # 0.6 and 0.4 pool to 0.5 (weight 60), which pools with 0.38 (weight 50): 49/110; 1/3 stays below.
    lines = [line(0.45, False) for _ in range(10)]
    lines += [line(0.55, i < 8) for i in range(10)]
    lines += [line(0.65, i < 2) for i in range(10)]
    lines += [line(0.75, i < 9) for i in range(30)]
    m = fit_map("heuristic", "4h", 20, lines)
    assert [b.n for b in m.bins] == [10, 10, 10, 30]
    assert [b.calibrated for b in m.bins] == pytest.approx([1 / 3, 49 / 110, 49 / 110, 49 / 110])


def test_only_directional_calls_of_the_source_count_in_its_map() -> None:
    lines = [
        line(0.8, False),
        line(0.8, True, direction="WAIT"),
        line(0.8, True, analyst="gemini"),
        line(0.8, True, subject="proposal"),
        line(0.8, True, horizon="1h"),
    ]
    m = fit_map("heuristic", "4h", 0, lines)
    assert [(b.n, b.hits) for b in m.bins] == [(1, 0)]
    others = [
        line(0.8, True, analyst="gpt", direction="WAIT"),
        line(0.8, True, analyst="hourly", horizon="1h"),
        line(0.8, True, analyst="proposer", subject="proposal"),
    ]
    assert set(fit_maps([*lines, *others], "4h", 0)) == {"gemini", "heuristic"}
