"""Settings: one pydantic model, loaded from TOML with ``SMT_SECTION__KEY`` environment overrides.

A bad file or value fails with one line per problem that names the key, the value and what is
allowed, so an operator can fix it without reading code. The template and the reference are
generated from the model itself, so they cannot drift.

One job per module: ``fields`` (durations, percentages, the section base), ``paths`` (default
locations), ``analyst`` (analyst settings, model defaults and prices), ``settings`` (every other
section and ``Settings``), ``load`` (file and environment), ``problems`` (one line per error), ``render``
(template, effective settings, reference). The names nearly every module needs are re-exported here.
"""

from smt_engine.config.load import ConfigError, load_settings
from smt_engine.config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
