"""Deterministic client order ids: the same intended order always carries the same id.

A retry after an ambiguous outcome, a restart or a reconciliation can then find the order on the
exchange by its client id instead of sending a duplicate (the seed system used ``smt_<epoch-ms>``).
"""

from __future__ import annotations

import hashlib
import re

CLIENT_ID_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
"""WEEX v3 ``newClientOrderId`` / ``clientAlgoId`` rule."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def make_client_id(instance: str, proposal_id: int, leg: str) -> str:
    """``smt-<instance8>-<proposal>-<leg>``, e.g. ``smt-1a2b3c4d-42-entry``.

    ``instance`` is ``store.instance_id()`` (only its first 8 safe characters are used) so two
    databases trading one account never collide; ``leg`` names the order within the proposal
    (``entry``, ``close``, ``sl2``...). Anything that would not fit 36 characters is shortened with a
    stable hash, so the id stays deterministic and valid.
    """
    if proposal_id < 0:
        raise ValueError(f"proposal_id must be >= 0, got {proposal_id}")
    inst = _UNSAFE.sub("", instance)[:8] or "0"
    leg_clean = _UNSAFE.sub("-", leg) or "x"
    cid = f"smt-{inst}-{proposal_id}-{leg_clean}"
    if len(cid) > 36:
        digest = hashlib.sha256(cid.encode()).hexdigest()
        cid = f"smt-{inst}-{digest[: 36 - len(inst) - 5]}"
    assert CLIENT_ID_PATTERN.match(cid), cid
    return cid


def valid_client_id(value: str) -> bool:
    return bool(CLIENT_ID_PATTERN.match(value))
