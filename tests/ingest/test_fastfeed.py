"""fast_parse reads a small document in one piece and a large one as a stream: the two give one answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.ingest import fastfeed
from monitor.ingest.fastfeed import _STREAM, _fast_stream, _fast_whole, fast_parse
from monitor.ingest.prolog import strip_doctype, to_ascii_compatible
from tests.ingest.test_corpus import corpus_dir

BASE = "http://127.0.0.1:8080/feeds/1.xml"


def rss(channels: str) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channels}</rss>'.encode()


def item(n: int, extra: str = "") -> str:
    return (f"<item><title>T{n}</title><link>/a/{n}?utm_source=x</link><guid>g{n}</guid>"
            f"<pubDate>Tue, 0{n % 9 + 1} Dec 2026 11:23:00 GMT</pubDate>{extra}</item>")


DOCUMENTS = {
    "flat": rss("<channel><title>C</title>" + "".join(item(n) for n in range(7)) + "</channel>"),
    "two channels": rss(f"<channel><title>A</title>{item(1)}</channel><channel><title>B</title>{item(2)}</channel>"),
    "item before the channel": rss(f"{item(0)}<channel><title>C</title>{item(1)}</channel>"),
    "nested item": rss(f"<channel><title>C</title>{item(1, item(2))}{item(3)}</channel>"),
    "item deeper in the channel": rss(f"<channel><title>C</title><x>{item(1)}</x>{item(2)}</channel>"),
    "no channel": rss(item(1)),
    "not rss": b"<html><body>hi</body></html>",
    "broken after the items": rss(f"<channel><title>C</title>{item(1)}</channel>")[:-3],
    "atom": (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>E</title>'
             b'<link href="/e"/><id>urn:1</id><updated>2026-12-01T10:00:00Z</updated>'
             b"<entry><title>inner</title></entry></entry></feed>"),
    "atom with markup title": (b'<feed xmlns="http://www.w3.org/2005/Atom"><title type="xhtml"><div>x</div>'
                               b"</title></feed>"),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
@pytest.mark.parametrize("max_items", [None, 3])
def test_the_whole_document_path_answers_as_the_stream_does(name: str, max_items: int | None) -> None:
    body = DOCUMENTS[name]
    whole = _fast_whole(body, BASE, max_items)
    stream = _fast_stream(body, BASE, max_items)
    if whole is _STREAM:
        assert name == "nested item" or name == "item deeper in the channel"
    else:
        assert whole == stream


def test_the_cases_the_whole_path_leaves_to_the_stream_are_still_read() -> None:
    nested = fast_parse(DOCUMENTS["nested item"], {}, BASE, None)
    assert nested is not None and [e["title"] for e in nested[1]] == ["T2", "T1", "T3"]  # where each closes


def test_a_document_over_the_size_for_one_piece_is_read_as_a_stream() -> None:
    body = rss("<channel><title>C</title>" + "".join(item(n) for n in range(7)) + "</channel>")
    padded = body.replace(b"<channel>", b"<channel><!--" + b"x" * fastfeed.WHOLE_BYTES + b"-->")
    assert len(padded) > fastfeed.WHOLE_BYTES
    assert fast_parse(padded, {}, BASE, 3) == fast_parse(body, {}, BASE, 3) == _fast_stream(body, BASE, 3)


@pytest.mark.corpus
def test_the_whole_document_path_answers_as_the_stream_does_on_every_corpus_file() -> None:
    root = corpus_dir()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    if not files:
        pytest.skip(f"feedparser corpus not found at {root}")
    compared = accepted = 0
    for path in files:
        safe = strip_doctype(to_ascii_compatible(Path(path).read_bytes()))
        whole = _fast_whole(safe, BASE, 200)
        if whole is _STREAM:
            continue
        assert whole == _fast_stream(safe, BASE, 200), path
        compared += 1
        accepted += whole is not None
    assert compared > len(files) * 0.9 and accepted > 300
