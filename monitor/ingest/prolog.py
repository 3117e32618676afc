"""A feed body's prolog made safe before any XML parser sees it. Pure: bytes in, bytes out.

The DOCTYPE's internal subset is removed (keeping a handful of one-character entities), so entity expansion
(billion laughs, quadratic blowup) and external entities cannot happen (DESIGN.md, library traps); UTF-16/32
bodies are transcoded to UTF-8 first so that the byte-level scan sees them. Linear in the body.
"""

from __future__ import annotations

import re

# One token of a DOCTYPE: quoted literal, comment, the end of the internal subset, or anything else.
_DTD_TOKEN = re.compile(rb'"[^"]*"|\'[^\']*\'|<!--.*?-->|\]\s*>|[^"\'<\]]+|.', re.S)
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE_HEAD = re.compile(rb"<!DOCTYPE\s+([\w:.-]+)([^\[>]*)", re.I)
# An entity is kept only if its value is one character reference or a few literal characters: expansion is
# then at most a few bytes per reference, so no blowup is possible (feedparser itself would keep any
# ampersand-free value, which is exactly the quadratic-blowup attack).
_ENTITY_NAME = re.compile(rb"<!ENTITY\s+(?:%\s+)?(\w+)")
_SAFE_ENTITY = re.compile(rb'<!ENTITY\s+(\w+)\s+"(&#x?[0-9a-fA-F]+;|[^&"%<]{0,8})"\s*>')


def strip_doctype(body: bytes) -> bytes:
    """Remove the DOCTYPE's internal subset (keeping a handful of harmless one-character entities)."""
    pos = 0
    while True:
        skipped = _PROLOG_SKIP.match(body, pos)
        if not skipped or skipped.end() == pos:
            break
        pos = skipped.end()
    head = _DOCTYPE_HEAD.match(body, pos)
    if not head:
        return body
    end = head.end()
    subset = b""
    if body[end : end + 1] == b"[":
        start = end + 1
        for token in _DTD_TOKEN.finditer(body, start):
            if token.group().startswith(b"]"):
                subset, end = body[start : token.start()], token.end()
                break
        else:  # unterminated internal subset: drop everything up to the first element
            match = re.compile(rb"<[A-Za-z_]").search(body, end)
            end = match.start() if match else len(body)
    elif body[end : end + 1] == b">":
        end += 1
    external = head.group(2).strip()
    safe = [b'<!ENTITY %s "%s">' % m.groups() for m in _SAFE_ENTITY.finditer(subset)]
    dropped = set(_ENTITY_NAME.findall(subset)) - {m.group(1) for m in _SAFE_ENTITY.finditer(subset)}
    rest = body[end:]
    if dropped:  # references to dropped entities vanish, so the strict (fast) parser still accepts the document
        names = b"|".join(re.escape(n) for n in sorted(dropped))
        rest = re.sub(rb"&(?:" + names + rb");", b"", rest)
    doctype = b"<!DOCTYPE " + head.group(1) + (b" " + external if external else b"")
    # One entity per line: feedparser's own DOCTYPE handling only recognises them that way.
    doctype += b" [\n" + b"\n".join(safe) + b"\n]>" if safe else b">"
    return body[:pos] + doctype + rest


_UNICODE_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"<\x00?\x00", "utf-16-le", 0),  # no BOM, but the XML declaration itself is UTF-16
    (b"\x00<\x00?", "utf-16-be", 0),
)


def to_ascii_compatible(body: bytes) -> bytes:
    """UTF-16/32 bodies are transcoded to UTF-8 so the byte-level DOCTYPE scan sees them."""
    for signature, codec, skip in _UNICODE_SIGNATURES:
        if body.startswith(signature):
            text = body[skip:].decode(codec, "replace")
            text = re.sub(r"""^(<\?xml[^>]*encoding=["'])[^"']*""", r"\1utf-8", text)
            return text.encode("utf-8", "replace")
    return body
