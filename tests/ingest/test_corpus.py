"""Every file of feedparser's own test corpus through parse_feed: no exception, well-formed items, bounded time.

The corpus lives outside the repository (``../shared/corpus/feedparser``, or ``$MONITOR_CORPUS_DIR``); the test
skips when it is absent (CI sets MONITOR_REQUIRE_CORPUS=1 so that a skip there is a failure).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain import SourceKind
from monitor.ingest.parse import parse_feed

NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def corpus_dir() -> Path:
    env = os.environ.get("MONITOR_CORPUS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "feedparser"


@pytest.mark.corpus
def test_every_corpus_file_parses_into_well_formed_items_in_bounded_time() -> None:
    root = corpus_dir()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    if not files:
        pytest.skip(f"feedparser corpus not found at {root}")
    started = time.perf_counter()
    feeds = items = 0
    for path in files:
        parsed = parse_feed(
            path.read_bytes(), {}, feed_id="corpus", source_kind=SourceKind.ORDINARY, fetched_at=NOW,
            feed_title="Corpus",
        )  # fmt: skip
        assert parsed.is_feed == (parsed.error is None), path
        feeds += parsed.is_feed
        ids = [i.item_id for i in parsed.items]
        assert len(ids) == len(set(ids)), f"duplicate item ids in {path}"
        for item in parsed.items:
            where = f"{path}: {item!r}"
            assert item.item_id and isinstance(item.item_id, str), where
            assert isinstance(item.title, str) and isinstance(item.summary, str) and isinstance(item.outlet, str)
            assert item.link is None or isinstance(item.link, str), where
            for text in (item.title, item.summary, item.outlet, item.item_id):
                assert not CONTROL.search(text), where
            assert item.published.tzinfo is not None and item.published.utcoffset() == timedelta(0), where
            assert item.published <= NOW, where
        items += len(parsed.items)
    elapsed = time.perf_counter() - started
    assert feeds > len(files) // 2 and items > 100  # the corpus really went through the parser
    assert elapsed < 60, f"{len(files)} files took {elapsed:.1f} s"


@pytest.mark.corpus
def test_fast_path_agrees_with_feedparser_on_nearly_every_corpus_file_it_accepts() -> None:
    root = corpus_dir()
    files = sorted(p for p in root.rglob("*.xml") if p.is_file()) if root.is_dir() else []
    if not files:
        pytest.skip(f"feedparser corpus not found at {root}")
    compared, differing = 0, []
    for path in files:
        body = path.read_bytes()
        runs = [
            parse_feed(body, {}, feed_id="c", source_kind=SourceKind.ORDINARY, fetched_at=NOW, fast=fast)
            for fast in (True, False)
        ]
        keys = [[(i.item_id, i.title, i.summary, i.link, i.published) for i in r.items] for r in runs]
        if runs[0].warning is None and runs[0].items:  # the fast path never reports bozo: it accepted the file
            compared += 1
            if keys[0] != keys[1]:
                differing.append(path.name)
    # The few differences are feedparser corpus oddities (XHTML <body> in RSS, ids with odd whitespace).
    assert compared > 300 and len(differing) <= compared * 0.07, differing
