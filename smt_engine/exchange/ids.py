"""Deterministic client order ids: the same intended order always carries the same id.

Written to the database before the request goes out, so a lost response can be resolved by looking
the id up instead of sending a second order. WEEX accepts at most 40 characters of ``[.A-Za-z:/0-9_-]``;
we stay within 36 so the id also fits venues with a tighter limit.
"""

from __future__ import annotations

import re

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9]")


def make_client_id(instance: str, proposal_id: int, leg: str) -> str:
    """``smt-<instance>-<proposal>-<leg>``; raises ``ValueError`` if it cannot be made valid."""
    inst = _UNSAFE.sub("", instance)[:8]
    leg_part = _UNSAFE.sub("", leg)[:8]
    if proposal_id < 0 or not leg_part:
        raise ValueError(f"cannot make a client id from proposal {proposal_id} and leg {leg!r}")
    cid = f"smt-{inst}-{proposal_id}-{leg_part}" if inst else f"smt-{proposal_id}-{leg_part}"
    if not CLIENT_ID_RE.match(cid):
        raise ValueError(f"client id {cid!r} does not fit the venue's format")
    return cid
