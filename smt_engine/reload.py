"""Reloading the configuration file into a running engine, honestly.

Only sections that components read at each use (or that can be rebuilt) change in place; everything
else is listed as needing a restart, so the operator is never told a setting is in effect when it is
not. A file that does not validate changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from smt_engine.config import ConfigError, Settings, load_settings
from smt_engine.logsetup import retune_logging
from smt_engine.store import Store

# Settings sections that can change without a restart. Components read risk, trading, ailog,
# competition and notify at each use; analyst and whales are rebuilt; logging retunes the stderr handler.
HOT_SECTIONS = ("risk", "trading", "analyst", "whales", "ailog", "competition", "logging", "notify")
REBUILT_SECTIONS = ("analyst", "whales")


class Rebuilder(Protocol):
    async def __call__(self, sections: list[str]) -> dict[str, str]:
        """Rebuild the components of ``sections`` from the (already updated) settings; what was done."""
        ...


class ReloadRefused(Exception):
    """The file does not validate, or a changed section cannot be rebuilt here: nothing was applied."""


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload did: the sections changed, how each was applied, and what waits for a restart."""

    changed: list[str]
    applied: dict[str, str]
    needs_restart: list[str]


async def reload_settings(
    settings: Settings, path: Path, store: Store, rebuild: Rebuilder | None
) -> Reloaded:
    """Apply the file at ``path`` to ``settings`` in place; what changed, how, and what needs a restart."""
    try:
        fresh = load_settings(path)
    except ConfigError as exc:
        raise ReloadRefused("configuration not reloaded: " + "; ".join(exc.problems)) from None
    changed = [name for name in HOT_SECTIONS if getattr(fresh, name) != getattr(settings, name)]
    rebuilt = [name for name in changed if name in REBUILT_SECTIONS]
    if rebuilt and rebuild is None:
        raise ReloadRefused(f"{', '.join(rebuilt)} cannot be rebuilt in this engine: restart it")
    cold = [
        name
        for name in type(settings).model_fields
        if name not in (*HOT_SECTIONS, "engine") and getattr(fresh, name) != getattr(settings, name)
    ]
    needs_restart = [
        f"engine.{key}"
        for key, value in fresh.engine
        if key != "approval" and value != getattr(settings.engine, key)
    ] + cold
    applied: dict[str, str] = {}
    for name in changed:
        setattr(settings, name, getattr(fresh, name))
        applied[name] = "in effect (read at each use)"
    if "logging" in changed:
        retune_logging(fresh.logging.level, fresh.logging.format)
        applied["logging"] = f"stderr at {fresh.logging.level}, {fresh.logging.format}"
    if rebuilt:
        assert rebuild is not None
        applied.update(await rebuild(rebuilt))
    if fresh.engine.approval != settings.engine.approval:
        settings.engine.approval = fresh.engine.approval
        store.engine.set(approval=fresh.engine.approval.value)
        changed.append("engine.approval")
        applied["engine.approval"] = f"now {fresh.engine.approval.value}"
    return Reloaded(changed=changed, applied=applied, needs_restart=needs_restart)
