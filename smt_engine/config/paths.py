"""Where configuration and data live by default (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_config_path() -> Path:
    """``$SMT_CONFIG``, else ``$XDG_CONFIG_HOME/smt/config.toml``."""
    explicit = os.environ.get("SMT_CONFIG")
    if explicit:
        return Path(explicit)
    return _xdg("XDG_CONFIG_HOME", ".config") / "smt" / "config.toml"


def default_database_path() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "smt" / "smt.db"
