"""`make mutate` runs every test that backs a README safety claim (docs/safety-claims.md).

A mutant of a claim's code can only be killed by a test mutmut runs; a claim's test left out of
``[tool.mutmut] pytest_add_cli_args_test_selection`` would let its mutants survive unseen.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def covered(path: str, selection: list[str]) -> bool:
    included = [s.rstrip("/") for s in selection if not s.startswith("-")]
    ignored = [s.split("=", 1)[1] for s in selection if s.startswith("--ignore=")]
    return path not in ignored and any(path == i or path.startswith(i + "/") for i in included)


def cited_tests(claims: str) -> set[str]:
    return {f for f in re.findall(r"(tests/[\w/]+\.py)", claims) if Path(f).name.startswith("test_")}


def test_every_test_a_safety_claim_cites_is_in_the_mutation_selection() -> None:
    mutmut = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    selection = mutmut["pytest_add_cli_args_test_selection"]
    cited = cited_tests((ROOT / "docs" / "safety-claims.md").read_text())
    assert len(cited) > 20, "docs/safety-claims.md cites its tests by path"
    missing = sorted(f for f in cited if not covered(f, selection))
    assert missing == [], f"add to [tool.mutmut] pytest_add_cli_args_test_selection: {missing}"


def test_a_cited_test_left_out_or_ignored_is_found() -> None:
    ignored = "--ignore=tests/integration/exchange/x.py"
    selection = ["tests/unit/trading", "tests/integration/exchange", ignored]
    assert covered("tests/unit/trading/test_a.py", selection)
    assert not covered("tests/unit/test_b.py", selection)
    assert not covered("tests/integration/exchange/x.py", selection)
    assert not covered("tests/unit/trading_extra/test_c.py", selection)
    assert cited_tests("`tests/unit/test_b.py::t`, tests/integration/rig.py") == {"tests/unit/test_b.py"}
