"""Whale classes from features: a CatBoost bundle when it matches the feature schema, else the seed's rules.

A bundle is ``<name>.cbm`` + ``<name>.json``. The JSON names the feature schema (name, version and the
ordered feature list), the classes, the model version, where the training data came from and the
holdout metrics. Loading refuses any bundle whose features differ from ``FEATURE_SCHEMA`` (the seed
system fed a model trained on another feature list and got meaningless classes); the refusal is
logged and the exact rules of seed section 3.3 classify instead.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from smt_engine.whales.features import FEATURE_SCHEMA, N_FEATURES, FloatArray

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = ("CEX_Wallet", "Large_Holder", "DeFi_Trader", "Staker", "Miner")
BUNDLE_FORMAT = "smt-whale-bundle/1"
BUNDLE_NAME = "whale_classifier"
RULES_VERSION = "rules-v3.3"


class BundleError(Exception):
    """A model bundle cannot be used; the message says why."""


class BundleSchemaMismatch(BundleError):
    """The bundle was trained on a different feature schema than the one served."""


@dataclass(frozen=True, slots=True)
class Classification:
    whale_class: str
    confidence: float
    classified_by: str  # "model" or "rules"
    model_version: str


def rules_classify(vector: FloatArray) -> Classification:
    """Seed section 3.3, exactly: first match wins."""
    idx = FEATURE_SCHEMA.index
    if vector[idx("cex_interactions")] > 10:
        return Classification("CEX_Wallet", 0.70, "rules", RULES_VERSION)
    if vector[idx("defi_interactions")] > 20:
        return Classification("DeFi_Trader", 0.65, "rules", RULES_VERSION)
    if vector[idx("large_tx_ratio")] > 0.5:
        return Classification("Large_Holder", 0.60, "rules", RULES_VERSION)
    return Classification("Large_Holder", 0.50, "rules", RULES_VERSION)


@dataclass
class ModelBundle:
    model: Any
    meta: dict[str, Any]
    classes: tuple[str, ...]

    @property
    def version(self) -> str:
        return str(self.meta["model_version"])

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        """``path`` is the ``.json`` or ``.cbm`` file, or a directory holding ``whale_classifier.*``."""
        from catboost import CatBoostClassifier

        meta_path = _meta_path(Path(path))
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"{meta_path}: cannot read bundle metadata: {exc}") from None
        if meta.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{meta_path}: format {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}")
        check_schema(meta.get("feature_schema"), str(meta_path))
        classes = tuple(str(c) for c in meta.get("classes", ()))
        if not classes or len(set(classes)) != len(classes):
            raise BundleError(f"{meta_path}: missing or duplicate classes {list(classes)}")
        model_path = meta_path.parent / str(meta.get("model_file", ""))
        try:
            blob = model_path.read_bytes()
        except OSError as exc:
            raise BundleError(f"{model_path}: cannot read model: {exc}") from None
        digest = hashlib.sha256(blob).hexdigest()
        if meta.get("model_sha256") != digest:
            raise BundleError(f"{model_path}: checksum differs from the metadata (file replaced or damaged)")
        model = CatBoostClassifier()
        model.load_model(blob=blob)
        names = list(model.feature_names_ or [])
        if names != list(FEATURE_SCHEMA.names):
            raise BundleSchemaMismatch(f"{model_path}: the model's own feature names differ from the schema")
        model_classes = [str(c) for c in model.classes_]
        if model_classes != list(classes):
            raise BundleError(
                f"{model_path}: model classes {model_classes} differ from metadata {list(classes)}"
            )
        return cls(model=model, meta=meta, classes=classes)

    def predict(self, vector: FloatArray) -> Classification:
        proba = self.model.predict_proba(vector.reshape(1, -1))[0]
        best = int(np.argmax(proba))
        return Classification(self.classes[best], float(proba[best]), "model", self.version)


def check_schema(schema: Any, origin: str) -> None:
    if not isinstance(schema, dict):
        raise BundleSchemaMismatch(f"{origin}: no feature schema in the metadata")
    theirs = list(schema.get("features") or [])
    ours = list(FEATURE_SCHEMA.names)
    if schema.get("name") != FEATURE_SCHEMA.name or schema.get("version") != FEATURE_SCHEMA.version:
        raise BundleSchemaMismatch(
            f"{origin}: trained on feature schema {schema.get('name')!r} v{schema.get('version')}, "
            f"this engine serves {FEATURE_SCHEMA.name!r} v{FEATURE_SCHEMA.version}"
        )
    if theirs != ours:
        missing = [f for f in ours if f not in theirs]
        extra = [f for f in theirs if f not in ours]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same names, other order"
        raise BundleSchemaMismatch(f"{origin}: feature list differs from the served schema ({detail})")


def _meta_path(path: Path) -> Path:
    if path.is_dir():
        return path / f"{BUNDLE_NAME}.json"
    return path.with_suffix(".json")


def shipped_bundle_path() -> Path:
    return Path(str(resources.files("smt_engine.whales.data").joinpath(f"{BUNDLE_NAME}.json")))


class WhaleClassifier:
    """The model when a valid bundle loaded, otherwise the rules; says which in every result."""

    def __init__(self, bundle: ModelBundle | None, load_error: str | None = None) -> None:
        self.bundle = bundle
        self.load_error = load_error

    @classmethod
    def load(cls, path: Path | None = None) -> WhaleClassifier:
        target = Path(path) if path is not None else shipped_bundle_path()
        try:
            return cls(ModelBundle.load(target))
        except BundleError as exc:
            log.error(
                "whale model refused, classifying with the rules instead: %s",
                exc,
                extra={"event": "whale_model_refused"},
            )
            return cls(None, str(exc))

    @property
    def version(self) -> str:
        return self.bundle.version if self.bundle else RULES_VERSION

    def classify(self, vector: FloatArray) -> Classification:
        if vector.shape != (N_FEATURES,):
            raise ValueError(f"feature vector has shape {vector.shape}, expected ({N_FEATURES},)")
        if self.bundle is None:
            return rules_classify(vector)
        return self.bundle.predict(vector)


# --------------------------------------------------------------------------- datasets and training


@dataclass
class Dataset:
    """Labelled feature vectors in ``FEATURE_SCHEMA`` order."""

    X: FloatArray
    y: list[str]
    addresses: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.X.shape[1] != N_FEATURES or self.X.shape[0] != len(self.y):
            raise ValueError(
                f"dataset shape {self.X.shape} does not match {len(self.y)} labels x {N_FEATURES}"
            )

    def write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["address", "label", *FEATURE_SCHEMA.names])
            for addr, label, row in zip(self.addresses, self.y, self.X, strict=True):
                w.writerow([addr, label, *(repr(float(v)) for v in row)])

    @classmethod
    def read_csv(cls, path: Path) -> Dataset:
        """Read a dataset; the header must carry exactly the served feature names, in order."""
        try:
            with Path(path).open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
        except OSError as exc:
            raise BundleError(f"{path}: cannot read dataset: {exc}") from None
        if not rows:
            raise BundleError(f"{path}: empty dataset")
        header = rows[0]
        if header[:2] != ["address", "label"]:
            raise BundleError(f"{path}: first columns must be 'address,label'")
        check_schema(
            {"name": FEATURE_SCHEMA.name, "version": FEATURE_SCHEMA.version, "features": header[2:]},
            str(path),
        )
        X = np.array([[float(v) for v in r[2:]] for r in rows[1:]], dtype=np.float64).reshape(-1, N_FEATURES)
        return cls(X, [r[1] for r in rows[1:]], [r[0] for r in rows[1:]], {"source": str(path)})


def stratified_split(y: Sequence[str], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Per-class shuffled split so every class appears in the holdout in its own proportion."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    labels = np.asarray(y)
    for cls_name in sorted(set(y)):
        idx = np.flatnonzero(labels == cls_name)
        rng.shuffle(idx)
        n_test = max(1, round(len(idx) * holdout)) if len(idx) > 1 else 0
        test.extend(int(i) for i in idx[:n_test])
        train.extend(int(i) for i in idx[n_test:])
    return sorted(train), sorted(test)


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    """Macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows = truth)."""
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for c, i in index.items():
        tp = float(cm[i, i])
        precision = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        recall = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(cm[i, :].sum()),
        }
        f1s.append(f1)
    accuracy = float(np.trace(cm)) / cm.sum() if cm.sum() else 0.0
    return {
        "macro_f1": round(float(np.mean(f1s)), 4),
        "accuracy": round(accuracy, 4),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(classes), "rows_truth_cols_predicted": cm.tolist()},
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [f"holdout macro-F1 {report['macro_f1']:.3f}   accuracy {report['accuracy']:.3f}", ""]
    lines.append(f"{'class':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for c, m in report["per_class"].items():
        lines.append(f"{c:<14}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9d}")
    labels = report["confusion_matrix"]["labels"]
    lines += ["", "confusion matrix (rows = truth, columns = predicted)"]
    lines.append(" " * 14 + "".join(f"{c[:10]:>12}" for c in labels))
    for c, row in zip(labels, report["confusion_matrix"]["rows_truth_cols_predicted"], strict=True):
        lines.append(f"{c:<14}" + "".join(f"{v:>12d}" for v in row))
    return "\n".join(lines)


@dataclass
class TrainResult:
    bundle_path: Path
    model_path: Path
    report: dict[str, Any]
    meta: dict[str, Any]


def train_bundle(
    dataset: Dataset,
    out_dir: Path,
    *,
    iterations: int = 300,
    depth: int = 5,
    learning_rate: float = 0.03,
    l2_leaf_reg: float = 3.0,
    holdout: float = 0.2,
    seed: int = 0,
    thread_count: int = 2,
    provenance: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on a stratified split, score the holdout, write ``whale_classifier.{cbm,json}`` and a report."""
    from catboost import CatBoostClassifier, Pool

    unknown = sorted(set(dataset.y) - set(CLASSES))
    if unknown:
        raise BundleError(f"dataset has labels outside {list(CLASSES)}: {unknown}")
    classes = [c for c in CLASSES if c in set(dataset.y)]
    if len(classes) < 2:
        raise BundleError("a classifier needs at least two classes in the dataset")
    train_idx, test_idx = stratified_split(dataset.y, holdout, seed)
    names = list(FEATURE_SCHEMA.names)
    y = np.asarray(dataset.y)
    params = {
        "loss_function": "MultiClass",
        "iterations": iterations,
        "depth": depth,
        "learning_rate": learning_rate,
        "l2_leaf_reg": l2_leaf_reg,
        "auto_class_weights": "Balanced",
        "random_seed": seed,
        "thread_count": thread_count,
        "class_names": classes,
    }
    model = CatBoostClassifier(**params, verbose=False, allow_writing_files=False)
    model.fit(Pool(dataset.X[train_idx], y[train_idx], feature_names=names))
    predicted = [str(p) for p in model.predict(dataset.X[test_idx]).reshape(-1)] if test_idx else []
    report = classification_report(list(y[test_idx]), predicted, classes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{BUNDLE_NAME}.cbm"
    model.save_model(str(model_path))
    blob = model_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    trained_at = datetime.now(UTC)
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "model_version": f"catboost-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}",
        "model_file": model_path.name,
        "model_sha256": digest,
        "feature_schema": FEATURE_SCHEMA.as_dict(),
        "classes": classes,
        "trained_at": trained_at.isoformat(),
        "training": {
            "provenance": {**dataset.provenance, **(provenance or {})},
            "rows": len(dataset.y),
            "train_rows": len(train_idx),
            "holdout_rows": len(test_idx),
            "holdout_fraction": holdout,
            "split": "stratified per class",
            "class_counts": {c: int((y == c).sum()) for c in classes},
            "params": {k: v for k, v in params.items() if k != "class_names"},
        },
        "holdout_metrics": report,
    }
    meta_path = out_dir / f"{BUNDLE_NAME}.json"
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (out_dir / "metrics_report.txt").write_text(format_report(report) + "\n", encoding="utf-8")
    return TrainResult(meta_path, model_path, report, meta)
