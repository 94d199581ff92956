"""Whale classification latency: features + predict for a 1000-transfer wallet (target < 5 ms)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs
from stats import nearest_rank

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import WhaleClassifier
from smt_engine.whales.features import compute_features
from smt_engine.whales.synth import BASE_TS, WalletSimulator, synthetic_address

TARGET_MS = 5.0
RUNS = 300


def main() -> None:
    book = AddressBook.shipped()
    sim = WalletSimulator(AddressBook.curated(), seed=1)
    address = synthetic_address("bench")
    history = sim.history(address, "dex_defi_trader", BASE_TS + timedelta(days=200), 200)
    while len(history) < 1000:
        history += history
    history = history[:1000]
    balance = sim.balance(address, "dex_defi_trader", 0)
    classifier = WhaleClassifier.load()
    assert classifier.bundle is not None, classifier.load_error

    vector = compute_features(address, history, balance, book)
    rows = []
    for name, fn in (
        ("features", lambda: compute_features(address, history, balance, book)),
        ("predict", lambda: classifier.classify(vector)),
        ("features+predict", lambda: classifier.classify(compute_features(address, history, balance, book))),
    ):
        for _ in range(20):
            fn()
        samples = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        rows.append(
            {
                "step": name,
                "median_ms": round(statistics.median(samples), 3),
                "p95_ms": round(nearest_rank(samples, 0.95), 3),
            }
        )
    total = rows[-1]
    result = {
        "name": "classifier",
        "transfers": len(history),
        "runs": RUNS,
        "model_version": classifier.version,
        "target_ms": TARGET_MS,
        "rows": rows,
        "pass": total["p95_ms"] < TARGET_MS,
    }
    print(
        f"whale classification of a {len(history)}-transfer wallet ({RUNS} runs, model {classifier.version})"
    )
    print(f"{'step':<20}{'median ms':>12}{'p95 ms':>10}")
    for r in rows:
        print(f"{r['step']:<20}{r['median_ms']:>12.3f}{r['p95_ms']:>10.3f}")
    print(f"target p95 < {TARGET_MS} ms: {'PASS' if result['pass'] else 'FAIL'}")
    out = Path(__file__).parent / "results" / "classifier.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(stamped(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
