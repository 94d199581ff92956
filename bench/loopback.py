"""No benchmark reaches a real host: every endpoint a benchmark's engine could dial must be on loopback.

The configuration is read the way the engine reads it (the file plus its environment overrides), so a
default left in place (``exchange.ws_url`` names the real WEEX websocket host) counts as a real host.
Notifications go only to URLs from the ``notify_urls`` secret, so a benchmark's engine environment
carries none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from smt_engine.config import Settings
from smt_engine.config.load import load_settings

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SECRET_ENDPOINTS = ("NOTIFY_URLS",)


def remote_endpoints(settings: Settings) -> list[str]:
    """``key = url`` for every endpoint these settings would dial off loopback (empty: safe)."""
    endpoints = {
        "exchange.base_url": settings.exchange.base_url,
        "exchange.ws_url": settings.exchange.ws_url,
        "analyst.base_url": settings.analyst.base_url or "(the Gemini API's own host)",
    }
    if settings.whales.enabled:
        endpoints["whales.etherscan_base_url"] = settings.whales.etherscan_base_url
    return [f"{key} = {url}" for key, url in endpoints.items() if urlsplit(url).hostname not in LOOPBACK]


def require_loopback(config: Path, env: Mapping[str, str]) -> None:
    """Refuse to start a benchmark whose engine could reach a real host; the message names the keys."""
    remote = remote_endpoints(load_settings(config, env))
    remote += [f"environment {name}" for name in SECRET_ENDPOINTS if env.get(name)]
    if remote:
        raise SystemExit(f"{config}: a benchmark may reach only 127.0.0.1, not: {'; '.join(remote)}")
