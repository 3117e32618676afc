"""Masking secrets for display: notification URLs carry tokens, database URLs carry passwords. Pure."""

from __future__ import annotations

import re


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
