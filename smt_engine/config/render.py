"""TOML and Markdown generated from the settings model, so the template and the docs cannot drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from smt_engine.config.fields import Section, format_duration
from smt_engine.config.settings import Settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):  # an inline table; unset (None) entries are left out
        items = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(str(value))


def _sections(settings: Settings) -> Iterator[tuple[str, Section, type[Section]]]:
    for name, info in Settings.model_fields.items():
        cls = info.annotation
        assert isinstance(cls, type)
        assert issubclass(cls, Section)
        yield name, getattr(settings, name), cls


def render_template() -> str:
    """A commented TOML file holding every setting at its default."""
    defaults = Settings()
    lines = [
        "# SMT configuration. Every key is shown at its default; delete what you do not change.",
        "# Environment overrides: SMT_<SECTION>__<KEY>, e.g. SMT_RISK__MAX_LEVERAGE=10.",
        "# Secrets (API keys) never go here: see `smt keys --help`.",
    ]
    for name, section, cls in _sections(defaults):
        lines += ["", f"[{name}]", f"# {(cls.__doc__ or '').strip()}"]
        for key, info in cls.model_fields.items():
            value = getattr(section, key)
            lines.append(f"# {info.description}")
            if value is None:
                lines.append(f"# {key} =")
            elif key == "database":
                lines.append(f"# {key} = {_toml_value(value)}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def render_effective(settings: Settings) -> str:
    """The settings in force, as TOML, for `smt config check`."""
    lines: list[str] = []
    for name, section, cls in _sections(settings):
        lines += [f"[{name}]"]
        for key in cls.model_fields:
            value = getattr(section, key)
            lines.append(f"{key} = {'(unset)' if value is None else _toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def render_reference() -> str:
    """Markdown reference of every setting, for docs/configuration.md."""
    defaults = Settings()
    out = [
        "# Configuration reference",
        "",
        "Generated from `smt_engine/config/` by `smt config reference`; do not edit by hand.",
        "",
        "Settings are read from TOML (`--config FILE`, else `$SMT_CONFIG`, else "
        "`$XDG_CONFIG_HOME/smt/config.toml`). Any key can be overridden from the environment as "
        "`SMT_<SECTION>__<KEY>` (for example `SMT_RISK__MAX_LEVERAGE=10`). Durations are written "
        "`15s`, `30m`, `4h`, `2d` or `1h30m`.",
    ]
    for name, section, cls in _sections(defaults):
        out += [
            "",
            f"## [{name}]",
            "",
            (cls.__doc__ or "").strip(),
            "",
            "| key | default | meaning |",
            "|---|---|---|",
        ]
        for key, info in cls.model_fields.items():
            value = getattr(section, key)
            shown = "(unset)" if value is None else _toml_value(value)
            shown = "`$XDG_DATA_HOME/smt/smt.db`" if key == "database" else f"`{shown}`"
            out.append(f"| `{key}` | {shown} | {info.description} |")
    return "\n".join(out) + "\n"
