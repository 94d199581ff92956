"""The classifier's holdout describes what is served: split by entity, dormant rows out, "unknown" scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import (
    CLASSES,
    UNKNOWN,
    Dataset,
    WhaleClassifier,
    classification_report,
    train_bundle,
)
from smt_engine.whales.holdout import dormant_rows, entity_of, grouped_split, served_labels
from smt_engine.whales.synth import synthetic_dataset


def test_numbered_wallets_of_one_operator_are_one_entity() -> None:
    assert entity_of("Binance 14", "0xa") == entity_of("Binance 15", "0xb") == "binance"
    assert entity_of("Coinbase: Hot Wallet 3", "0xc") == "coinbase: hot wallet"
    assert entity_of(None, "0xABC") == entity_of("  ", "0xabc") == "0xabc"
    assert entity_of("Kraken", "0xd") != entity_of("Binance 1", "0xe")


def test_an_entity_never_straddles_the_split() -> None:
    y = ["exchange"] * 12 + ["fund_market_maker"] * 6
    groups = [f"Binance {i}" if i < 8 else f"solo {'abcd'[i - 8]}" for i in range(12)]
    groups += [f"fund {'xyz'[i // 2]}" for i in range(6)]
    groups = [entity_of(g, f"0x{i}") for i, g in enumerate(groups)]
    train, test = grouped_split(y, groups, 0.34, seed=4)
    assert sorted(train + test) == list(range(18))
    assert not {groups[i] for i in train} & {groups[i] for i in test}
    # The eight Binance wallets are one entity: all on one side.
    sides = {("train" if i in train else "test") for i in range(8)}
    assert len(sides) == 1
    assert {y[i] for i in test} == {"exchange", "fund_market_maker"}


def test_dormant_rows_and_served_labels() -> None:
    X = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert dormant_rows(X) == [0, 2]
    proba = np.array([[0.7, 0.3], [0.45, 0.4]])
    assert served_labels(proba, ["a", "b"], 0.5, "unknown") == ["a", "unknown"]


def test_unknown_is_a_column_and_never_a_hit() -> None:
    report = classification_report(["a", "a", "b"], ["a", UNKNOWN, "b"], ["a", "b"])
    assert report["confusion_matrix"]["columns"] == ["a", "b", UNKNOWN]
    assert report["confusion_matrix"]["rows_truth_cols_predicted"] == [[1, 0, 1], [0, 1, 0]]
    assert report["per_class"]["a"]["recall"] == 0.5
    assert report["per_class"]["a"]["precision"] == 1.0
    assert report["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["unknown_share"] == pytest.approx(1 / 3, abs=1e-4)


def test_the_holdout_report_is_what_the_bundle_serves(tmp_path: Path) -> None:
    data = synthetic_dataset(AddressBook.curated(), per_class=8, seed=3)
    # Pairs of wallets per operator, and two dormant rows that must not be trained or scored on.
    data.groups = [f"op{i // 2}" for i in range(len(data.y))]
    X = np.vstack([data.X, np.zeros((2, data.X.shape[1]))])
    dataset = Dataset(
        X, [*data.y, "exchange", "staking"], [*data.addresses, "0xd1", "0xd2"], {}, [*data.groups, "d1", "d2"]
    )
    result = train_bundle(dataset, tmp_path, iterations=30, depth=3, holdout=0.25, seed=3)
    training = result.meta["training"]
    assert training["dormant_rows_dropped"] == 2
    assert training["rows"] == len(data.y)
    assert "held out by entity" in training["split"]
    train, test = grouped_split(data.y, data.groups, 0.25, 3)
    assert not {data.groups[i] for i in train} & {data.groups[i] for i in test}
    bundle = WhaleClassifier.load(tmp_path).bundle
    assert bundle is not None
    served = [bundle.predict(data.X[i]).whale_class for i in test]
    expected = classification_report([data.y[i] for i in test], served, [c for c in CLASSES if c in data.y])
    assert result.report["confusion_matrix"] == expected["confusion_matrix"]
    assert result.report["macro_f1"] == expected["macro_f1"]
