"""The README's safety model links each bullet to docs/safety-claims.md, whose section for it cites tests
that exist: a claim cannot lose its tests, nor a test its name, without this failing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = "docs/safety-claims.md"
LINK = re.compile(r"\]\(docs/safety-claims\.md#([a-z0-9_-]+)\)")
CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+(?:::\w+)?)`")


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", title.strip().lower()).replace(" ", "-")


def safety_bullets(readme: str) -> list[str]:
    """The top-level bullets of the README's "## Safety model" section, each as one string."""
    section = readme.split("\n## Safety model\n", 1)[1].split("\n## ", 1)[0]
    bullets: list[str] = []
    for line in section.splitlines():
        if line.startswith("- "):
            bullets.append(line)
        elif bullets and line.startswith("  "):
            bullets[-1] += " " + line.strip()
    return bullets


def doc_sections(doc: str) -> dict[str, str]:
    """The document's "## " sections by anchor."""
    sections: dict[str, str] = {}
    for part in doc.split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        sections[slug(heading)] = body
    return sections


def defines_test(root: Path, path: str, name: str) -> bool:
    """Whether ``path`` defines the test ``name`` (a function, or ``Class::method``)."""
    file = root / path
    if not file.is_file():
        return False
    source = file.read_text(encoding="utf-8")
    *owner, func = name.split("::")
    defined = re.search(rf"^\s*(async\s+)?def {func}\(", source, re.MULTILINE) is not None
    return defined and all(re.search(rf"^class {c}\b", source, re.MULTILINE) for c in owner)


def problems(readme: str, doc: str, root: Path) -> list[str]:
    """Every way the README's safety bullets and their claims document fail to hold each other up."""
    found: list[str] = []
    sections = doc_sections(doc)
    linked: set[str] = set()
    for bullet in safety_bullets(readme):
        title = re.search(r"\*\*(.+?)\*\*", bullet)
        name = title.group(1) if title else bullet[:40]
        anchors = LINK.findall(bullet)
        if not anchors:
            found.append(f"bullet {name!r} has no link to {DOC}")
        for anchor in anchors:
            linked.add(anchor)
            if anchor not in sections:
                found.append(f"bullet {name!r} links to #{anchor}, a section {DOC} does not have")
            elif slug(name) != anchor:
                found.append(f"bullet {name!r} links to #{anchor}, not to its own title's section")
    for anchor, body in sections.items():
        cited = CITED.findall(body)
        if anchor in linked and not cited:
            found.append(f"section #{anchor} cites no test")
        missing = [f"{p}::{n}" for p, n in cited if not defines_test(root, p, n)]
        found += [f"#{anchor} cites {test}, which does not exist" for test in missing]
    found += [f"section #{a} is linked from no README safety bullet" for a in sections if a not in linked]
    return found


def test_every_safety_bullet_links_to_a_section_citing_tests_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    doc = (ROOT / DOC).read_text(encoding="utf-8")
    assert len(safety_bullets(readme)) >= 12
    assert problems(readme, doc, ROOT) == []


def _without_citations(doc: str, anchor: str) -> str:
    body = doc_sections(doc)[anchor]
    return doc.replace(body, "\n".join(line for line in body.splitlines() if not CITED.search(line)))


BREAKS: dict[str, tuple[str, Callable[[str], str], str]] = {
    "a bullet without its link": (
        "README.md",
        lambda t: t.replace(" ([tests](docs/safety-claims.md#never-an-order-twice))", ""),
        "bullet 'Never an order twice.' has no link to docs/safety-claims.md",
    ),
    "a link to a section that is not there": (
        "README.md",
        lambda t: t.replace("md#never-an-order-twice)", "md#never-an-order-thrice)"),
        "bullet 'Never an order twice.' links to #never-an-order-thrice, a section",
    ),
    "a section citing no test": (
        DOC,
        lambda t: _without_citations(t, "money-is-decimal"),
        "section #money-is-decimal cites no test",
    ),
    "a cited test that does not exist": (
        DOC,
        lambda t: t.replace("::test_rejected_entry_is_not_retried`", "::test_rejected_entry_is_resent`"),
        "#never-an-order-twice cites tests/unit/trading/test_execution.py::test_rejected_entry_is_resent, "
        "which does not exist",
    ),
}


@pytest.mark.parametrize("case", list(BREAKS), ids=list(BREAKS))
def test_a_broken_copy_is_caught(tmp_path: Path, case: str) -> None:
    file, breaking, expected = BREAKS[case]
    for name in ("README.md", DOC):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (tmp_path / file).read_text(encoding="utf-8")
    assert breaking(text) != text, "the break must change the copy"
    (tmp_path / file).write_text(breaking(text), encoding="utf-8")
    readme, doc = ((tmp_path / name).read_text(encoding="utf-8") for name in ("README.md", DOC))
    found = problems(readme, doc, ROOT)
    assert [p for p in found if p.startswith(expected)], found


def test_a_class_method_is_found_by_class_and_name(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "class TestLock:\n    async def test_held(self) -> None: ...\n", encoding="utf-8"
    )
    assert defines_test(tmp_path, "tests/test_x.py", "TestLock::test_held")
    assert not defines_test(tmp_path, "tests/test_x.py", "TestOther::test_held")
    assert not defines_test(tmp_path, "tests/test_x.py", "test_missing")
    assert not defines_test(tmp_path, "tests/test_y.py", "test_held")
