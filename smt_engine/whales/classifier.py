"""Whale classes from features: a CatBoost bundle when it matches the feature schema, else "unknown".

Classes are behaviours that exist on Ethereum today (no miners since the Merge). A bundle is
``<name>.cbm`` + ``<name>.json``; the JSON names the feature schema (name, version and the ordered
feature list), the classes, the model version, where the training data came from, whether it is the
bootstrap, and the holdout metrics. Loading refuses any bundle whose features differ from
``FEATURE_SCHEMA``; the refusal is logged and every whale is "unknown" until a usable bundle exists
(the seed's hand rules scored at chance on real addresses).

The shipped bundle is a *bootstrap*: trained on simulated wallets, not real labels. Its answers say
``classified_by="bootstrap"`` everywhere they are shown, and ``whales.signals`` gives a bootstrap class
no weight, so it never changes a signal, a size or a tier. A model trained on real labels
(``smt whales train --labels``) is ``classified_by="model"``. Every model is trained to ignore
``balance_eth_log``: in the simulator the balance was drawn per class and became the top feature, so
changing only the balance flipped the class.
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

from smt_engine.whales.addresses import Category, LabelledAddress
from smt_engine.whales.features import FEATURE_SCHEMA, N_FEATURES, FloatArray
from smt_engine.whales.holdout import dormant_rows, grouped_split, served_labels

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = (
    "exchange",
    "large_holder",
    "dex_defi_trader",
    "staking",
    "fund_market_maker",
    "mev_bot",
    "bridge",
)
UNKNOWN = "unknown"
BUNDLE_FORMAT = "smt-whale-bundle/1"
BUNDLE_NAME = "whale_classifier"
NO_MODEL_VERSION = "no-model"
IGNORED_FEATURES: tuple[str, ...] = ("balance_eth_log",)
MIN_MODEL_CONFIDENCE = 0.5  # below this the model's best guess is reported as "unknown"


class BundleError(Exception):
    """A model bundle cannot be used; the message says why."""


class BundleSchemaMismatch(BundleError):
    """The bundle was trained on a different feature schema than the one served."""


@dataclass(frozen=True, slots=True)
class Classification:
    whale_class: str
    confidence: float
    classified_by: str  # "label", "model" (real labels), "bootstrap" (simulated), "none"
    model_version: str

    @property
    def trusted(self) -> bool:
        """Only a label or a model trained on real labels may give a class weight in a signal."""
        return self.classified_by in ("label", "model") and self.whale_class != UNKNOWN


# A labelled address takes its label's class; mining (gone since the Merge) and "other" labels do not
# name a behaviour, so those addresses go to the classifier.
LABEL_CLASSES: dict[Category, str] = {
    Category.EXCHANGE: "exchange",
    Category.DEX: "dex_defi_trader",
    Category.DEFI: "dex_defi_trader",
    Category.STAKING: "staking",
    Category.FUND: "fund_market_maker",
    Category.MEV_BOT: "mev_bot",
    Category.BRIDGE: "bridge",
    Category.SANCTIONED: "sanctioned",
}
LABEL_CONFIDENCE = 0.9  # labels are 2023 data: strong, not certain


def label_classification(entry: LabelledAddress | None) -> Classification | None:
    """The class a label names, or None when the address is unlabelled or its label names no behaviour."""
    if entry is None or entry.category not in LABEL_CLASSES:
        return None
    return Classification(LABEL_CLASSES[entry.category], LABEL_CONFIDENCE, "label", f"label:{entry.source}")


@dataclass
class ModelBundle:
    model: Any
    meta: dict[str, Any]
    classes: tuple[str, ...]

    @property
    def version(self) -> str:
        return str(self.meta["model_version"])

    @property
    def bootstrap(self) -> bool:
        return bool(self.meta.get("bootstrap", False))

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
        confidence = float(proba[best])
        whale_class = self.classes[best] if confidence >= MIN_MODEL_CONFIDENCE else UNKNOWN
        by = "bootstrap" if self.bootstrap else "model"
        return Classification(whale_class, confidence, by, self.version)


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
    """The model when a valid bundle loaded, otherwise "unknown"; says which in every result."""

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
                "whale model refused, every unlabelled whale is 'unknown': %s",
                exc,
                extra={"event": "whale_model_refused"},
            )
            return cls(None, str(exc))

    @property
    def version(self) -> str:
        return self.bundle.version if self.bundle else NO_MODEL_VERSION

    @property
    def description(self) -> str:
        """How the CLI, the console data and the AI log name the classifier."""
        if self.bundle is None:
            return f"no model ({self.load_error or 'not loaded'})"
        kind = "bootstrap model trained on simulated wallets" if self.bundle.bootstrap else "model"
        return f"{kind} {self.version}"

    def classify(self, vector: FloatArray) -> Classification:
        if vector.shape != (N_FEATURES,):
            raise ValueError(f"feature vector has shape {vector.shape}, expected ({N_FEATURES},)")
        if self.bundle is None:
            return Classification(UNKNOWN, 0.0, "none", NO_MODEL_VERSION)
        return self.bundle.predict(vector)


# --------------------------------------------------------------------------- datasets and training


@dataclass
class Dataset:
    """Labelled feature vectors in ``FEATURE_SCHEMA`` order."""

    X: FloatArray
    y: list[str]
    addresses: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)
    groups: list[str] | None = None
    """The entity of each row (``holdout.entity_of``); None: each address is its own entity."""

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


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    """Macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows = truth).

    A prediction of ``unknown`` (the served label below ``MIN_MODEL_CONFIDENCE``) is its own column: it
    counts against recall and is never a hit.
    """
    index = {c: i for i, c in enumerate(classes)}
    columns = [*classes, UNKNOWN]
    col = {c: i for i, c in enumerate(columns)}
    cm = np.zeros((len(classes), len(columns)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], col[p]] += 1
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
    accuracy = float(np.trace(cm[:, : len(classes)])) / cm.sum() if cm.sum() else 0.0
    abstained = float(cm[:, -1].sum()) / cm.sum() if cm.sum() else 0.0
    return {
        "macro_f1": round(float(np.mean(f1s)), 4),
        "accuracy": round(accuracy, 4),
        "unknown_share": round(abstained, 4),
        "per_class": per_class,
        "confusion_matrix": {
            "labels": list(classes),
            "columns": columns,
            "rows_truth_cols_predicted": cm.tolist(),
        },
    }


def format_report(report: dict[str, Any]) -> str:
    width = max([14, *(len(c) + 2 for c in report["per_class"])])
    head = f"holdout macro-F1 {report['macro_f1']:.3f}   accuracy {report['accuracy']:.3f}"
    if "unknown_share" in report:
        head += f"   served as unknown {report['unknown_share']:.3f} (confidence < {MIN_MODEL_CONFIDENCE})"
    lines = [head, ""]
    lines.append(f"{'class':<{width}}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for c, m in report["per_class"].items():
        lines.append(
            f"{c:<{width}}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9d}"
        )
    labels = report["confusion_matrix"]["labels"]
    columns = report["confusion_matrix"].get("columns", labels)
    lines += ["", "confusion matrix (rows = truth, columns = served)"]
    lines.append(" " * width + "".join(f"{c[:10]:>12}" for c in columns))
    for c, row in zip(labels, report["confusion_matrix"]["rows_truth_cols_predicted"], strict=True):
        lines.append(f"{c:<{width}}" + "".join(f"{v:>12d}" for v in row))
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
    bootstrap: bool = False,
) -> TrainResult:
    """Train on a stratified split held out by address, score the holdout, write the bundle and a report.

    ``bootstrap`` marks a bundle trained on simulated wallets (it then never weighs in a signal).
    """
    from catboost import CatBoostClassifier, Pool

    unknown = sorted(set(dataset.y) - set(CLASSES))
    if unknown:
        raise BundleError(f"dataset has labels outside {list(CLASSES)}: {unknown}")
    classes = [c for c in CLASSES if c in set(dataset.y)]
    if len(classes) < 2:
        raise BundleError("a classifier needs at least two classes in the dataset")
    if len(set(dataset.addresses)) != len(dataset.addresses):
        raise BundleError("dataset lists an address twice: the holdout must be by address")
    dormant = set(dormant_rows(dataset.X))
    keep = [i for i in range(len(dataset.y)) if i not in dormant]
    if not keep:
        raise BundleError("every row of the dataset is dormant (all features zero): nothing to learn from")
    X = dataset.X[keep]
    y = np.asarray(dataset.y)[keep]
    groups = [(dataset.groups or dataset.addresses)[i] for i in keep]
    train_idx, test_idx = grouped_split(list(y), groups, holdout, seed)
    names = list(FEATURE_SCHEMA.names)
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
        "ignored_features": list(IGNORED_FEATURES),
    }
    model = CatBoostClassifier(**params, verbose=False, allow_writing_files=False)
    model.fit(Pool(X[train_idx], y[train_idx], feature_names=names))
    # Scored as served: a best guess below MIN_MODEL_CONFIDENCE is "unknown" (``ModelBundle.predict``).
    model_classes = [str(c) for c in model.classes_]
    predicted = (
        served_labels(model.predict_proba(X[test_idx]), model_classes, MIN_MODEL_CONFIDENCE, UNKNOWN)
        if test_idx
        else []
    )
    report = classification_report(list(y[test_idx]), predicted, classes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{BUNDLE_NAME}.cbm"
    model.save_model(str(model_path))
    blob = model_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    trained_at = datetime.now(UTC)
    prefix = "bootstrap-" if bootstrap else ""
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "model_version": f"{prefix}catboost-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}",
        "model_file": model_path.name,
        "model_sha256": digest,
        "feature_schema": FEATURE_SCHEMA.as_dict(),
        "classes": classes,
        "bootstrap": bootstrap,
        "trained_at": trained_at.isoformat(),
        "training": {
            "provenance": {**dataset.provenance, **(provenance or {})},
            "rows": len(y),
            "dormant_rows_dropped": len(dormant),
            "train_rows": len(train_idx),
            "holdout_rows": len(test_idx),
            "holdout_fraction": holdout,
            "split": (
                "stratified per class, held out by entity (every address of one labelled entity on one side)"
                if dataset.groups is not None
                else "stratified per class, one row per address (held out by address)"
            ),
            "holdout_scored_as": f"served labels: confidence < {MIN_MODEL_CONFIDENCE} is unknown",
            "class_counts": {c: int((y == c).sum()) for c in classes},
            "params": {k: v for k, v in params.items() if k != "class_names"},
        },
        "holdout_metrics": report,
    }
    meta_path = out_dir / f"{BUNDLE_NAME}.json"
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (out_dir / "metrics_report.txt").write_text(format_report(report) + "\n", encoding="utf-8")
    return TrainResult(meta_path, model_path, report, meta)
