"""Live mode starts only after `smt venue probe` passed for this API key, this WEEX host and this SMT
version (docs/operator-guide.md, "Before the first live trade").

The pass is a ``venue_facts`` row holding a fingerprint of the key (a salted SHA-256 prefix: it tells
keys apart and cannot give one back), the host and the version. ``--skip-probe`` starts anyway, loudly:
a WARNING event and the health row ``exchange.probe`` (`smt status`, the console's header) say so for
as long as that run lasts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

import smt_engine
from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.health import report_health
from smt_engine.secrets import SecretName, SecretStore
from smt_engine.store import Store

log = logging.getLogger(__name__)

PROBE_FACT = "weex.probe_passed"
PROBE_COMPONENT = "exchange.probe"


def smt_version() -> str:
    """The installed SMT's version: a new version must be probed again (its assumptions may differ)."""
    return smt_engine.__version__  # read at call time: the one version `smt --version` prints


def key_fingerprint(api_key: str) -> str:
    """Enough of a salted hash to tell two keys apart; never enough to recover one."""
    return hashlib.sha256(b"smt-venue-probe\x00" + api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ProbePass:
    fingerprint: str
    base_url: str
    version: str
    at: str

    def matches(self, fingerprint: str, base_url: str, smt: str) -> bool:
        return (self.fingerprint, self.base_url.rstrip("/"), self.version) == (
            fingerprint,
            base_url.rstrip("/"),
            smt,
        )


class ProbeRequired(Exception):
    """Live mode without a passing probe for this key, host and version (a restart cannot fix it)."""


def remember_pass(store: Store, api_key: str, base_url: str, at: datetime) -> ProbePass:
    record = ProbePass(key_fingerprint(api_key), base_url.rstrip("/"), smt_version(), at.isoformat())
    store.venue_facts.remember(PROBE_FACT, json.dumps(asdict(record)), at)
    return record


def last_pass(store: Store) -> ProbePass | None:
    raw = store.venue_facts.value(PROBE_FACT)
    if not raw:
        return None
    try:
        return ProbePass(**json.loads(raw))
    except (TypeError, ValueError):
        return None


def require_probe(
    store: Store, clock: Clock, api_key: str, base_url: str, *, skip: bool = False
) -> ProbePass | None:
    """Refuse live mode without a matching pass; with ``skip`` start anyway and say so loudly."""
    smt = smt_version()
    fingerprint = key_fingerprint(api_key)
    found = last_pass(store)
    if found is not None and found.matches(fingerprint, base_url, smt):
        report_health(
            store,
            clock,
            PROBE_COMPONENT,
            HealthStatus.OK,
            f"venue probe passed {found.at[:19]} for this key and SMT {smt}",
        )
        return found
    why = _why_not(found, fingerprint, base_url, smt)
    if not skip:
        raise ProbeRequired(
            f"live mode needs a passing `smt venue probe` for this WEEX key and SMT {smt}: {why}. "
            "Run `smt venue probe` with the engine's keys and configuration (or start with --skip-probe, "
            "at your own risk)"
        )
    detail = f"live without a passing venue probe (--skip-probe): {why}"
    log.warning(detail, extra={"event": "exchange.probe_skipped"})
    store.events.append(
        clock.now(), EventLevel.WARNING, "exchange.probe_skipped", detail, data={"reason": why}
    )
    report_health(store, clock, PROBE_COMPONENT, HealthStatus.WARN, detail, {"skipped": True})
    return None


def require_live_probe(
    settings: Settings, store: Store, clock: Clock, secrets: SecretStore, *, skip: bool = False
) -> ProbePass | None:
    """The gate ``build_runtime`` applies before it builds a live WEEX client.

    Without a key there is nothing to check: the client's own refusal names the missing keys.
    """
    api_key = secrets.get(SecretName.WEEX_API_KEY)
    if not api_key:
        return None
    return require_probe(store, clock, api_key, settings.exchange.base_url, skip=skip)


def _why_not(found: ProbePass | None, fingerprint: str, base_url: str, smt: str) -> str:
    if found is None:
        return "no probe has passed on this database"
    if found.fingerprint != fingerprint:
        return "the last passing probe was for another API key"
    if found.base_url.rstrip("/") != base_url.rstrip("/"):
        return f"the last passing probe was against {found.base_url}, not {base_url.rstrip('/')}"
    return f"the last passing probe was for SMT {found.version}"
