"""Masking secrets for display: notification URLs carry tokens, database URLs carry passwords. Pure."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit


def mask_secret_url(url: str) -> str:
    """``tgram://123:abc/456`` -> ``tgram://***``: keep the scheme (and for mail the host), hide the rest."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    # the authority ends at the first '/', '?' or '#': an '@' in the query (``?to=a@b``) is not the host
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1].split(":", 1)[0]
    if scheme.lower() in {"mailto", "mailtos", "json", "jsons", "form", "forms", "xml", "xmls"} and host:
        return f"{scheme}://***@{host}/***"
    return f"{scheme}://***"


def mask_database_url(url: str) -> str:
    """Hide a password in a SQLAlchemy URL."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def url_secrets(url: str) -> set[str]:
    """Every piece of ``url`` that may be a credential: user, password, host-like tokens, path segments and
    query values (raw and percent-decoded), except what ``mask_secret_url`` shows anyway (scheme, mail host)."""
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return {url} if url else set()
    shown = set(re.split(r"[/:@*]+", mask_secret_url(url)))
    pieces: set[str] = {rest}
    try:
        parts = urlsplit(url)
        for value in (parts.username, parts.password):
            if value:
                pieces.add(value)
    except ValueError:
        pass
    query_keys = {pair.split("=", 1)[0] for pair in rest.partition("?")[2].split("&")}
    for token in re.split(r"[/:@?&=#,;+]+", rest):
        if token and token not in query_keys:
            pieces.add(token)
    found = {p for p in pieces | {unquote(p) for p in pieces} if len(p) >= 3 and p not in shown}
    return found
