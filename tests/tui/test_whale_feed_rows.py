"""The whale table's class cell says when a class came from the bootstrap model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from smt_engine.store.records import Whale
from smt_tui.widgets.whale_feed import whale_row

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def whale(classified_by: str) -> Whale:
    return Whale(
        address="0x" + "1" * 40,
        whale_class="large_holder",
        class_confidence=0.8,
        classified_by=classified_by,
        model_version="m1",
        label="",
        features={},
        volume_eth=Decimal(500),
        first_seen_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("classified_by", "cell"),
    [("bootstrap", "large_holder (bootstrap)"), ("model", "large_holder"), ("label", "large_holder")],
)
def test_the_class_cell_marks_a_bootstrap_class(classified_by: str, cell: str) -> None:
    key, cells = whale_row(whale(classified_by), {})
    assert key == "whale:" + "0x" + "1" * 40
    assert cells[1] == cell
