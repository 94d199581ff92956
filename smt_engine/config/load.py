"""Read the TOML file and ``SMT_SECTION__KEY`` environment overrides into validated ``Settings``."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smt_engine.config.paths import default_config_path
from smt_engine.config.problems import describe_problem, suggest
from smt_engine.config.settings import Settings

ENV_PREFIX = "SMT_"


class ConfigError(Exception):
    """Every problem found in a configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML value when it is one (numbers, booleans, lists)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    data: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        data.setdefault(section, {})[key] = _parse_env_value(raw)
        origin[(section, key)] = name
    return data, origin


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings; raise ``ConfigError`` listing every problem.

    ``path=None`` uses the default location and treats a missing file as "all defaults";
    an explicitly named file must exist.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("SMT_CONFIG"))
    path = (
        path
        if path is not None
        else (Path(env["SMT_CONFIG"]) if env.get("SMT_CONFIG") else default_config_path())
    )
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise ConfigError(
                [
                    f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line}): "
                    "save the file as UTF-8"
                ]
            ) from None
        except IsADirectoryError:
            raise ConfigError([f"{path}: is a directory, not a configuration file"]) from None
        except OSError as exc:
            raise ConfigError([f"{path}: cannot be read: {exc.strerror}"]) from None
    elif explicit:
        raise ConfigError(
            [f"{path}: no such configuration file (create one with `smt init --config {path}`)"]
        )
    overrides, origin = _env_overrides(env)
    problems: list[str] = []
    for section, values in overrides.items():
        if section not in Settings.model_fields:
            names = ", ".join(f"{origin[(section, k)]}" for k in values)
            problems.append(f"{names}: unknown section {section!r}{suggest(section, Settings.model_fields)}")
            continue
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            problems.append(f"{section}: must be a table ([{section}])")
            continue
        target.update(values)
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([describe_problem(err, origin) for err in exc.errors()]) from None
