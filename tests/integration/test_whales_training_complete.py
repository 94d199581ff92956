"""`smt whales train --labels` trains only on complete, active histories: a history cut by the page cap is
marked incomplete, left out and continued by the next run; a dormant address is left out; both are said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.etherscan_server import FakeEtherscan, tx
from tests.integration.test_whales_training import BINANCE14, setup, train

HEAVY = "0x" + "4e" * 20
DORMANT = "0x" + "d0" * 20


def test_a_history_cut_by_the_page_cap_is_left_out_and_continued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeEtherscan(calls_per_second=1000) as fake:
        labels, cfg, out = setup(fake, tmp_path, monkeypatch)
        # 10 records per request and 50 pages per fetch: at most ~500 rows of a list in one run.
        cfg.write_text(cfg.read_text() + "max_records_per_request = 10\n")
        head = fake.chain.head
        for k in range(700):
            row = tx(head - 5000 - 2 * k, HEAVY, BINANCE14, 10**17)
            row["timeStamp"] = str(fake.chain.ts_of(int(row["blockNumber"])))
            fake.chain.add("normal", row)
        labels.write_text(labels.read_text() + f"{HEAVY},exchange\n{DORMANT},staking\n")

        assert train(labels, cfg, out) == 0
        progress = json.loads((out / "fetch-progress.json").read_text())
        assert HEAVY in progress["incomplete"]
        assert HEAVY not in progress["done"]
        assert "page cap" in progress["incomplete"][HEAVY]
        assert DORMANT in progress["done"]  # read whole: it simply has no activity
        dataset = (out / "dataset.csv").read_text()
        assert HEAVY not in dataset
        assert DORMANT not in dataset
        meta = json.loads((out / "whale_classifier.json").read_text())
        provenance = meta["training"]["provenance"]
        assert provenance["incomplete"] == 1
        assert provenance["dormant"] == 1
        assert meta["training"]["rows"] == 12
        printed = capsys.readouterr().out
        assert "left out of training: 1 history(ies) cut by the page cap (run again to continue)" in printed
        assert "1 dormant address(es)" in printed
        assert "served as unknown" in printed

        # The next run continues the cut history from where it stopped; once whole, it is trained on.
        for _ in range(3):
            assert train(labels, cfg, out) == 0
            progress = json.loads((out / "fetch-progress.json").read_text())
            if HEAVY in progress["done"]:
                break
        assert HEAVY in progress["done"]
        assert HEAVY not in progress["incomplete"]
        assert HEAVY in (out / "dataset.csv").read_text()
