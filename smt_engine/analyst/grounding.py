"""Grounding as shown to people: numbered sources with title and domain, and Google's Search suggestions.

Google's terms for Grounding with Google Search ask that the Search suggestions (the
``searchEntryPoint`` it returns) be shown with a grounded answer. The rendered HTML is stored as
given; a terminal cannot render it, so ``search_suggestions`` reads its chips (text and link) to
print them instead. Sources are numbered in the order Google lists its grounding chunks; the ``[n]``
markers in the stored reasoning use the same numbers (``citations``).
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit


class _Chips(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chips: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            text = " ".join("".join(self._text).split())
            if text:
                self.chips.append((text, self._href))
            self._href = None


def search_suggestions(rendered: str | None) -> list[tuple[str, str]]:
    """The (text, link) chips of a stored Search entry point; empty when there is none."""
    if not rendered:
        return []
    parser = _Chips()
    parser.feed(rendered)
    parser.close()
    return parser.chips


def source_lines(sources: list[dict[str, str]]) -> list[str]:
    """``[n] title (domain) — link``, numbered in the order of Google's grounding chunks."""
    lines = []
    for i, s in enumerate(sources, 1):
        title = s.get("title") or "(untitled)"
        domain = s.get("domain") or ""
        shown = f"{title} ({domain})" if domain and domain != title.lower() else title
        lines.append(f"[{i}] {shown} — {s.get('uri', '')}")
    return lines


def source_entry(title: str | None, uri: str | None, domain: str | None) -> dict[str, str]:
    """One numbered grounding source as stored: title, domain and the (redirect) link.

    Google's grounding links are redirects through vertexaisearch.cloud.google.com, so the domain is
    taken from the chunk's own ``domain`` field, else from a title that is a bare host name (Google
    titles web chunks with the site's domain), else from the link itself.
    """
    title = (title or "").strip()
    uri = (uri or "").strip()
    host = (domain or "").strip()
    if not host and title and " " not in title and "." in title:
        host = title
    if not host and uri:
        host = urlsplit(uri).hostname or ""
    return {"title": title, "domain": host.lower().removeprefix("www."), "uri": uri}
