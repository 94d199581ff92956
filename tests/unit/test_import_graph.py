"""The import graph keeps the package direction written in docs/design.md, and has no circles.

The layer table and the console's allowed imports are read from docs/design.md itself, so the document
and this check cannot drift. Every import counts: at module level, inside functions (lazy imports) and
under ``TYPE_CHECKING``, because each is a dependency someone has to reason about.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("smt_engine", "smt_tui")
DESIGN_DOC = ROOT / "docs" / "design.md"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    where: str  # path:line, for the failure message

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where})"


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Every module of the two packages: dotted name -> (file, is a package's __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _owner(name: str, known: dict[str, tuple[Path, bool]]) -> str | None:
    """The module of ours that importing ``name`` reaches (a name inside a module reaches the module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(root: Path = ROOT) -> list[Edge]:
    """Every import of one of our modules by another, wherever in the file it stands."""
    known = modules(root)
    edges: list[Edge] = []
    for name, (path, is_package) in known.items():
        package = name if is_package else name.rpartition(".")[0]
        where = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    full = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    full = node.module or ""
                # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
                targets = [f"{full}.{a.name}" if f"{full}.{a.name}" in known else full for a in node.names]
            for target in targets:
                owner = _owner(target, known)
                if owner is not None and owner != name:
                    edges.append(Edge(name, owner, f"{where}:{node.lineno}"))
    return edges


def _cycles(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan), each sorted."""
    out_edges: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        out_edges[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in out_edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return found


def package_of(module: str) -> str:
    """The package a module is part of for the package-level check: the package (or module) directly under
    ``smt_engine`` or ``smt_tui``, so ``exchange.weex`` counts as ``exchange``, ``engine.py`` as itself."""
    return ".".join(module.split(".")[:2])


def package_cycles(known: set[str], found: list[Edge]) -> list[list[str]]:
    """Packages that import each other, directly or through other packages."""
    arrows = {(package_of(e.source), package_of(e.target)) for e in found}
    return _cycles({package_of(m) for m in known}, {(a, b) for a, b in arrows if a != b})


def _block(text: str, name: str) -> list[str]:
    match = re.search(rf"<!-- {name}:begin -->(.*?)<!-- {name}:end -->", text, re.S)
    assert match is not None, f"docs/design.md has no {name} block"
    return [line.strip() for line in match.group(1).splitlines() if line.strip() and "```" not in line]


def layers(text: str) -> dict[str, int]:
    """docs/design.md's layer table: each unit (a module or package prefix) -> its layer number."""
    table: dict[str, int] = {}
    for line in _block(text, "layers"):
        number, _, units = line.partition(" ")
        for unit in units.split():
            assert unit not in table, f"{unit} is in two layers"
            table[unit] = int(number)
    return table


def console_imports(text: str) -> set[str]:
    """The parts of the engine the console may import, from docs/design.md."""
    return {unit for line in _block(text, "console-imports") for unit in line.split()}


def unit_of(module: str, table: dict[str, int] | set[str]) -> str | None:
    """The longest table entry that is ``module`` or a package above it; ``=name`` is that module only
    (the root package's ``__init__``, which must not swallow every module under it)."""
    if f"={module}" in table:
        return f"={module}"
    best: str | None = None
    for unit in table:
        if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best)):
            best = unit
    return best


@pytest.fixture(scope="module")
def design() -> str:
    return DESIGN_DOC.read_text("utf-8")


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return imports()


def test_no_module_imports_another_that_imports_it_back(edges: list[Edge]) -> None:
    cycles = _cycles(set(modules()), {(e.source, e.target) for e in edges})
    assert cycles == [], "import circles between modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_two_packages_import_each_other(edges: list[Edge]) -> None:
    cycles = package_cycles(set(modules()), edges)
    assert cycles == [], "import circles between packages: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_every_module_has_a_place_in_the_layer_table(design: str) -> None:
    table = layers(design)
    unplaced = [m for m in modules() if unit_of(m, table) is None]
    assert unplaced == [], f"modules with no layer in docs/design.md: {unplaced}"
    unused = [u for u in table if not any(unit_of(m, table) == u for m in modules())]
    assert unused == [], f"docs/design.md names units that hold no module: {unused}"


def test_no_arrow_runs_from_a_lower_layer_to_a_higher_one(design: str, edges: list[Edge]) -> None:
    table = layers(design)
    upward = []
    for edge in edges:
        source, target = unit_of(edge.source, table), unit_of(edge.target, table)
        assert source is not None
        assert target is not None
        if table[target] > table[source]:
            upward.append(f"{edge} [layer {table[source]} -> {table[target]}]")
    assert upward == [], "imports against the package direction:\n" + "\n".join(upward)


def test_no_circle_between_units_of_one_layer(design: str, edges: list[Edge]) -> None:
    table = layers(design)
    arrows = {(unit_of(e.source, table) or "", unit_of(e.target, table) or "") for e in edges}
    arrows = {(a, b) for a, b in arrows if a != b}
    cycles = _cycles(set(table), arrows)
    assert cycles == [], "import circles between packages: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_console_imports_only_the_store_the_domain_and_the_command_contract(
    design: str, edges: list[Edge]
) -> None:
    allowed = console_imports(design)
    table = layers(design)
    outside = [
        str(e)
        for e in edges
        if e.source.startswith("smt_tui")
        and e.target.startswith("smt_engine")
        and (unit_of(e.target, table | dict.fromkeys(allowed, 0)) not in allowed)
    ]
    assert outside == [], "the console reaches into the engine:\n" + "\n".join(outside)


# The checks themselves must be able to fail: each is run on a small package tree with the fault.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_a_lazy_import_back_is_a_circle(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "smt_engine/a.py": "from smt_engine.b import B\n",
            "smt_engine/b.py": "B = 1\ndef f() -> None:\n    from smt_engine import a\n",
        },
    )
    found = imports(root)
    assert {(e.source, e.target) for e in found} == {
        ("smt_engine.a", "smt_engine.b"),
        ("smt_engine.b", "smt_engine.a"),
    }
    assert _cycles(set(modules(root)), {(e.source, e.target) for e in found}) == [
        ["smt_engine.a", "smt_engine.b"]
    ]


def test_a_type_checking_import_and_a_relative_import_count(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "smt_engine/store/__init__.py": "",
            "smt_engine/store/db.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from smt_engine.trading import x\n"
            ),
            "smt_engine/trading/__init__.py": "",
            "smt_engine/trading/x.py": "from ..store import db\nfrom . import y\n",
            "smt_engine/trading/y.py": "",
        },
    )
    found = {(e.source, e.target) for e in imports(root)}
    assert ("smt_engine.store.db", "smt_engine.trading.x") in found
    assert ("smt_engine.trading.x", "smt_engine.store.db") in found
    assert ("smt_engine.trading.x", "smt_engine.trading.y") in found


def test_a_back_arrow_is_found_by_the_layer_table() -> None:
    table = layers("<!-- layers:begin -->\n2 smt_engine.trading\n1 smt_engine.store\n<!-- layers:end -->")
    source, target = unit_of("smt_engine.store.db", table), unit_of("smt_engine.trading.x", table)
    assert (source, target) == ("smt_engine.store", "smt_engine.trading")
    assert table[target] > table[source]
    assert unit_of("smt_engine.storeroom", table) is None
    assert unit_of("smt_engine.anything", {"=smt_engine"}) is None
    assert unit_of("smt_engine", {"=smt_engine", "smt_engine.store"}) == "=smt_engine"


def test_packages_in_a_circle_through_a_third_are_found_though_no_module_is(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "smt_engine/trading/__init__.py": "",
            "smt_engine/trading/entry.py": "from smt_engine.commands.args import A\n",
            "smt_engine/trading/risk.py": "",
            "smt_engine/commands/__init__.py": "",
            "smt_engine/commands/args.py": "A = 1\n",
            "smt_engine/commands/service.py": "from smt_engine import pipeline\n",
            "smt_engine/pipeline.py": "from smt_engine.trading import risk\n",
            "smt_engine/exchange/__init__.py": "",
            "smt_engine/exchange/factory.py": "from smt_engine.exchange.weex import client\n",
            "smt_engine/exchange/weex/__init__.py": "",
            "smt_engine/exchange/weex/client.py": "from smt_engine.exchange import factory\n",
        },
    )
    found = imports(root)
    known = set(modules(root))
    assert _cycles(known, {(e.source, e.target) for e in found}) == [
        ["smt_engine.exchange.factory", "smt_engine.exchange.weex.client"]
    ]
    assert package_cycles(known, found) == [
        ["smt_engine.commands", "smt_engine.pipeline", "smt_engine.trading"]
    ]
