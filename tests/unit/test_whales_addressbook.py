"""The labelled address book: public label set, curated book, operator file; `smt whales labels`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.whales.addressbook import AddressBook, AddressBookError
from smt_engine.whales.addresses import Category
from smt_engine.whales.labels import category_for, role_for

DATA = Path(__file__).resolve().parents[2] / "smt_engine" / "whales" / "data"
CEX = json.loads((DATA / "eth-cex-labels.json").read_text())["accounts"]
BINANCE14 = "0x28c6c06298d514db089934071355e5743bf21d60"


def test_every_exchange_account_of_the_label_set_is_an_exchange() -> None:
    book = AddressBook.shipped()
    assert len(CEX) == 579
    assert all(book.is_exchange(a) for a in CEX)
    assert len(book) >= 23_288
    entry = book.get(BINANCE14)
    assert entry is not None
    assert entry.watch
    assert entry.source == "curated"
    assert "binance" in entry.tags


@pytest.mark.parametrize(
    ("tags", "exchange", "category"),
    [
        (["ofac-sanctions-lists", "tornado-cash"], False, Category.SANCTIONED),
        (["mev-bot"], False, Category.MEV_BOT),
        (["lido"], False, Category.STAKING),
        (["bridge", "layer-2"], False, Category.BRIDGE),
        (["alameda-research"], False, Category.FUND),
        (["sushiswap"], False, Category.DEX),
        (["aave"], False, Category.DEFI),
        (["take-action"], False, Category.OTHER),
        (["binance", "hot-wallet"], True, Category.EXCHANGE),
    ],
)
def test_tags_map_to_one_category(tags: list[str], exchange: bool, category: Category) -> None:
    assert category_for(tags, exchange) is category


def test_exchange_roles_from_tags_or_name() -> None:
    assert role_for("Binance 14", ["binance", "binance-deposit"]) == "deposit"
    assert role_for("Coinbase 10", ["coinbase", "hot-wallet"]) == "hot"
    assert role_for("Kraken Cold 2", ["kraken"]) == "cold"
    assert role_for("Kraken 4", ["kraken"]) == ""


def _config(tmp_path: Path, labels: Path | None) -> Path:
    cfg = tmp_path / "config.toml"
    text = f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n'
    if labels is not None:
        text += f'[whales]\naddress_book = "{labels}"\n'
    cfg.write_text(text)
    return cfg


def test_labels_json_lists_every_exchange_account_with_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, None)
    assert main(["whales", "labels", "--category", "exchange", "--json", "--config", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    exchanges = {e["address"]: e for e in out["entries"]}
    assert set(CEX) <= set(exchanges)
    assert all(e["category"] == "exchange" and e["source"] for e in exchanges.values())
    sources = {s["source"]: s for s in out["sources"]}
    assert sources["etherscan-labels"]["as_of"] == "2023-06-18"
    assert sources["etherscan-labels"]["age_days"] > 365


def test_labels_add_writes_the_operator_file_which_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.json"
    cfg = _config(tmp_path, labels)
    new = "0x" + "ab" * 20
    args = ["whales", "labels", "--config", str(cfg), "--add"]
    assert main([*args, new, "--category", "fund", "--name", "Some Fund", "--label", "Some Fund 3"]) == 0
    # Relabel a shipped exchange wallet: the operator's file wins per address.
    assert main([*args, BINANCE14, "--category", "exchange", "--name", "Binance", "--role", "hot"]) == 0
    book = AddressBook.load(labels)
    fund, binance = book.get(new), book.get(BINANCE14)
    assert fund is not None
    assert (fund.category, fund.label, fund.source) == (
        Category.FUND,
        "Some Fund 3",
        "operator",
    )
    assert binance is not None
    assert (binance.role, binance.source) == ("hot", "operator")
    assert [s.key for s in book.sources] == ["etherscan-labels", "curated", "operator"]
    capsys.readouterr()
    assert main(["whales", "labels", "--search", "some fund", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert new in out
    assert "operator" in out
    assert "1 of " in out


def test_labels_add_needs_a_configured_file_and_a_known_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, None)
    new = "0x" + "ab" * 20
    assert (
        main(["whales", "labels", "--add", new, "--category", "fund", "--name", "X", "--config", str(cfg)])
        != 0
    )
    assert "whales.address_book" in capsys.readouterr().err
    cfg = _config(tmp_path, tmp_path / "labels.json")
    assert (
        main(["whales", "labels", "--add", new, "--category", "whale", "--name", "X", "--config", str(cfg)])
        != 0
    )
    assert "unknown category 'whale'" in capsys.readouterr().err


def test_a_broken_operator_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "labels.json"
    bad.write_text('{"addresses": [{"address": "0x12", "category": "exchange"}]}')
    with pytest.raises(AddressBookError, match="entry 0: not an Ethereum address"):
        AddressBook.load(bad)
