"""The WEEX contract corpus (``rest.json``, ``ws.json``): examples from WEEX's documentation, WEEX's own
AI-Wars material, ccxt's recordings and JKorf's Weex.Net, each naming its source and the date it was read.
The client's parsers and the fake WEEX are both tested against it, so neither can agree with the other
against the documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def cases(name: str) -> dict[str, dict[str, Any]]:
    """The cases of ``rest`` or ``ws`` by id."""
    data = json.loads((HERE / f"{name}.json").read_text())
    return {case["id"]: case for case in data["cases"]}


def example(name: str, case_id: str) -> Any:
    return cases(name)[case_id]["example"]


def row(value: Any) -> dict[str, Any]:
    """The first row of an array answer (or the object itself)."""
    first = value[0] if isinstance(value, list) else value
    assert isinstance(first, dict)
    return first


def missing_keys(documented: dict[str, Any], served: dict[str, Any]) -> list[str]:
    """Documented fields the served object lacks."""
    return sorted(set(documented) - set(served))
