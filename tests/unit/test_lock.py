"""requirements.lock stays the single source of installed versions: in step with pyproject.toml, hashed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[A-Za-z0-9_,.\-]+\])?==([^\s\\]+)")


def pins() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for every pin in the lock."""
    found: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            found[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    build = project["build-system"]["requires"]
    runtime = project["project"]["dependencies"]
    dev = project["project"]["optional-dependencies"]["dev"]
    return [Requirement(text) for text in [*runtime, *dev, *build]]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement}: run `make lock`"
        )


def test_every_pin_carries_hashes_and_the_lock_names_no_local_index() -> None:
    locked = pins()
    assert {"websockets", "apprise", "textual-plotext", "pip-tools", "setuptools"} <= set(locked)
    assert all(hashes > 0 for _, hashes in locked.values()), [n for n, (_, h) in locked.items() if not h]
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert "--index-url" not in text
    assert "--find-links" not in text
    assert "file://" not in text


def test_make_and_ci_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "install -qq --require-hashes -r $(LOCK)" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert re.search(r"^\$\(STAMP\): pyproject.toml \$\(LOCK\)$", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_pins_keep_the_extras_a_dependency_asks_for() -> None:
    """A fresh venv's pip (23.2) refuses ``google-auth[requests]`` (asked by google-genai) in hash mode
    unless the pin names the extra: `make lock` must not strip extras."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--strip-extras" not in makefile
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^google-auth\[requests\]==", text, re.M)
