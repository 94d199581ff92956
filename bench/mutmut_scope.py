"""How many mutants `make mutate` takes: mutmut's own generator over `[tool.mutmut] only_mutate`, each
mutant name matched against the Makefile's default `MUTANTS` as `mutmut run` matches it.

mutmut itself only counts mutants by running the tests (its stats step takes tens of minutes here); this
counts them without running anything, so the figures in docs/benchmarks.md can be checked in seconds.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import tomllib
from pathlib import Path

from mutmut.mutation.file_mutation import mutate_file_contents
from provenance import ROOT, stamped  # bench/ is on the path when a bench runs


def module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def default_patterns(makefile: str) -> list[str]:
    """The names `make mutate` passes when `MUTANTS` is not given."""
    found = re.search(r"^MUTANTS \?=(.*?)^\S", makefile, re.S | re.M)
    if found is None:
        raise SystemExit("Makefile: no `MUTANTS ?=` default found")
    return found.group(1).replace("\\\n", " ").split()


def count(root: Path) -> dict[str, dict[str, int]]:
    mutmut = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]
    patterns = default_patterns((root / "Makefile").read_text())
    files = sorted({p for glob in mutmut["only_mutate"] for p in root.glob(glob) if p.suffix == ".py"})
    per_file: dict[str, dict[str, int]] = {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        module = module_of(relative)
        names = [f"{module}.{n}" for n in mutate_file_contents(relative, path.read_text()).mutant_names]
        default = sum(1 for n in names if any(fnmatch.fnmatch(n, p) for p in patterns))
        per_file[relative] = {"all": len(names), "default": default}
    return per_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mutmut_scope.json")
    out = parser.parse_args().out.resolve()
    os.chdir(ROOT)  # mutmut reads its configuration from the working directory's pyproject.toml
    per_file = count(ROOT)
    total = {key: sum(row[key] for row in per_file.values()) for key in ("all", "default")}
    print(f"{'file':<48} {'all':>6} {'default':>8}")
    for name, row in per_file.items():
        print(f"{name:<48} {row['all']:>6} {row['default']:>8}")
    print(f"{'total (' + str(len(per_file)) + ' files)':<48} {total['all']:>6} {total['default']:>8}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamped({"total": total, "per_file": per_file}), indent=2) + "\n")


if __name__ == "__main__":
    main()
