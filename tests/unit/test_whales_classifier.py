"""Bundles: trained, loaded, refused when the feature schema differs (then every whale is unknown)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import (
    CLASSES,
    BundleSchemaMismatch,
    Dataset,
    ModelBundle,
    WhaleClassifier,
    train_bundle,
)
from smt_engine.whales.features import FEATURE_SCHEMA, N_FEATURES
from smt_engine.whales.holdout import grouped_split
from smt_engine.whales.synth import synthetic_dataset


def vec(**values: float) -> np.ndarray:
    v = np.zeros(N_FEATURES)
    for k, x in values.items():
        v[FEATURE_SCHEMA.index(k)] = x
    return v


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = synthetic_dataset(AddressBook.curated(), per_class=8, seed=3)
    out = tmp_path_factory.mktemp("bundle")
    result = train_bundle(data, out, iterations=30, depth=3, holdout=0.25, seed=3)
    report = result.report
    assert set(report["per_class"]) == set(CLASSES)
    assert sum(sum(r) for r in report["confusion_matrix"]["rows_truth_cols_predicted"]) == 2 * len(CLASSES)
    assert 0 <= report["macro_f1"] <= 1
    meta = json.loads((out / "whale_classifier.json").read_text())
    assert meta["holdout_metrics"]["macro_f1"] == report["macro_f1"]
    assert meta["feature_schema"]["features"] == list(FEATURE_SCHEMA.names)
    assert meta["training"]["provenance"]["source"] == "synthetic"
    return out


def test_trained_bundle_loads_and_predicts(tiny_bundle: Path) -> None:
    clf = WhaleClassifier.load(tiny_bundle)
    assert clf.bundle is not None
    assert clf.load_error is None
    out = clf.classify(vec(total_txs=50, cex_interactions=3))
    assert out.classified_by == "model"
    assert out.whale_class in (*clf.bundle.classes, "unknown")
    assert 0 < out.confidence <= 1
    assert out.model_version == clf.version


def test_bundle_listing_other_features_is_refused_and_whales_are_unknown(
    tiny_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("whale_classifier.cbm", "whale_classifier.json"):
        (tmp_path / name).write_bytes((tiny_bundle / name).read_bytes())
    meta = json.loads((tmp_path / "whale_classifier.json").read_text())
    meta["feature_schema"]["features"][0] = "stablecoin_ratio"  # the seed notebook's list, not ours
    (tmp_path / "whale_classifier.json").write_text(json.dumps(meta))
    with pytest.raises(BundleSchemaMismatch, match="stablecoin_ratio"):
        ModelBundle.load(tmp_path)
    with caplog.at_level(logging.ERROR):
        clf = WhaleClassifier.load(tmp_path)
    assert clf.bundle is None
    assert "feature list differs" in (clf.load_error or "")
    assert any("refused" in r.getMessage() for r in caplog.records)
    out = clf.classify(vec(cex_interactions=12))
    assert (out.whale_class, out.confidence, out.classified_by) == ("unknown", 0.0, "none")
    assert clf.description.startswith("no model (")


def test_other_schema_version_and_tampered_model_are_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    for name in ("whale_classifier.cbm", "whale_classifier.json"):
        (tmp_path / name).write_bytes((tiny_bundle / name).read_bytes())
    meta = json.loads((tmp_path / "whale_classifier.json").read_text())
    meta["feature_schema"]["version"] = 99
    (tmp_path / "whale_classifier.json").write_text(json.dumps(meta))
    assert "v99" in (WhaleClassifier.load(tmp_path).load_error or "")
    meta["feature_schema"]["version"] = FEATURE_SCHEMA.version
    (tmp_path / "whale_classifier.json").write_text(json.dumps(meta))
    (tmp_path / "whale_classifier.cbm").write_bytes(
        b"x" + (tiny_bundle / "whale_classifier.cbm").read_bytes()
    )
    assert "checksum" in (WhaleClassifier.load(tmp_path).load_error or "")


def test_shipped_bootstrap_bundle_loads_with_its_holdout_score() -> None:
    clf = WhaleClassifier.load()
    assert clf.bundle is not None, clf.load_error
    metrics = clf.bundle.meta["holdout_metrics"]
    assert metrics["macro_f1"] > 0.8
    assert clf.bundle.meta["training"]["provenance"]["source"] == "synthetic"
    assert clf.bundle.bootstrap
    assert clf.version.startswith("bootstrap-")
    assert clf.description.startswith("bootstrap model trained on simulated wallets")
    assert list(clf.bundle.classes) == list(CLASSES)
    assert "Miner" not in clf.bundle.classes
    assert clf.classify(vec(total_txs=40, cex_interactions=30)).classified_by == "bootstrap"


def test_dataset_csv_round_trip_and_header_check(tmp_path: Path) -> None:
    data = Dataset(np.arange(64, dtype=float).reshape(2, 32) / 3, ["bridge", "staking"], ["0x1", "0x2"])
    path = tmp_path / "d.csv"
    data.write_csv(path)
    back = Dataset.read_csv(path)
    assert np.array_equal(back.X, data.X)
    assert back.y == data.y
    path.write_text(path.read_text().replace("gas_total", "gas_sum"))
    with pytest.raises(BundleSchemaMismatch):
        Dataset.read_csv(path)


def test_stratified_split_keeps_every_class() -> None:
    y = ["a"] * 10 + ["b"] * 5
    train, test = grouped_split(y, [f"0x{i}" for i in range(15)], 0.2, seed=1)
    assert sorted(train + test) == list(range(15))
    assert [y[i] for i in test].count("a") == 2
    assert [y[i] for i in test].count("b") == 1
