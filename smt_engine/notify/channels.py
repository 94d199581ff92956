"""Notification channels: apprise URLs read from the secret store, named by a label that is safe to store.

An apprise URL carries its credentials (a bot token, a webhook key) in the URL itself, so the whole list
is the ``notify_urls`` secret and every token-like part of each URL is registered with the redactor:
an error message from a library that echoes only the token is masked too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from smt_engine.secrets import SecretName, SecretStore, register_secret

# Parts of a URL that look like credentials are registered as secrets on their own; short or plain-word
# parts ("hook", "v1", "notifications") are not, or they would mask ordinary words in every message.
_TOKEN_MIN_LEN = 10
_LONG_TOKEN_LEN = 24
_SPLIT = re.compile(r"[\s,]+")
_HOST = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])(:\d+)?$")


class ChannelError(Exception):
    """A notification URL that apprise cannot use (the message names its position, never its text)."""


@dataclass(frozen=True)
class Channel:
    """One apprise target. ``label`` (scheme + short hash) is what the outbox stores."""

    label: str
    url: str = field(repr=False)


def channel_label(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else "url"
    return f"{scheme}:{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _looks_like_token(part: str) -> bool:
    """Long and random-looking (digits, or mixed case, or very long); "notifications" is not a token."""
    if len(part) < _TOKEN_MIN_LEN:
        return False
    mixed = any(c.isupper() for c in part) and any(c.islower() for c in part)
    return mixed or any(c.isdigit() for c in part) or len(part) >= _LONG_TOKEN_LEN


def _register_parts(url: str) -> None:
    register_secret(url)
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    candidates = [userinfo, *userinfo.split(":")]
    if not _HOST.match(host):
        # tgram://<bot token>/..., discord://<webhook id>/...: the "host" is a credential.
        candidates += [host, *host.split(":")]
    candidates += parts.path.split("/")
    candidates += [value for _, value in parse_qsl(parts.query)]
    for part in candidates:
        if _looks_like_token(part):
            register_secret(part)


def parse_urls(raw: str) -> list[Channel]:
    """Split the secret into channels (whitespace or commas between URLs); invalid ones raise."""
    import apprise

    channels: list[Channel] = []
    urls = [u for u in _SPLIT.split(raw.strip()) if u]
    for url in urls:
        _register_parts(url)
    for position, url in enumerate(urls, start=1):
        if apprise.Apprise.instantiate(url) is None:
            if "://" in url:
                scheme = url.split("://", 1)[0] + "://..."
            elif url.lower().startswith("mailto:"):
                scheme = "mailto:..."
            else:
                scheme = "no scheme"
            raise ChannelError(
                f"notification URL #{position} of {len(urls)} ({scheme}) is not a URL apprise "
                "supports; see https://github.com/caronc/apprise/wiki"
            )
        label = channel_label(url)
        if all(c.label != label for c in channels):
            channels.append(Channel(label, url))
    return channels


def load_channels(secrets: SecretStore) -> list[Channel]:
    """The configured channels, [] when the ``notify_urls`` secret is not set."""
    raw = secrets.get(SecretName.NOTIFY_URLS)
    return parse_urls(raw) if raw else []
