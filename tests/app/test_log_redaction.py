"""Redaction is a property of our logging setup: at DEBUG, no library that logs (urllib3 under apprise, httpx,
httpcore, our own loggers, a traceback) writes a secret of the config, wherever in a URL it sits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.app.logs import setup_logging
from monitor.clock import FixedClock
from monitor.ingest.fetch import Fetcher, FetchRequest
from monitor.notify.apprise import send
from monitor.notify.render import Message
from tests.feedserver import FeedServer, Route
from tests.pipeline import at, rss, settings_for, write_config
from tests.receivers import HttpReceiver

PATH_SECRET = "pathsecret7f3a9"
QUERY_SECRET = "querysecret51bd0"
USER_SECRET = "usersecret8c2e4"
FEED_KEY = "feedkey93ad17"
FEED_PASSWORD = "feedpass0b6e2"
SECRETS = (PATH_SECRET, QUERY_SECRET, USER_SECRET, FEED_KEY, FEED_PASSWORD)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Leave the process's logging as it was (pytest's own handlers included)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("apprise", "httpx", "httpcore", "urllib3")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def test_no_secret_of_a_channel_or_feed_url_reaches_a_debug_log_line_from_any_library(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging: None) -> None:
    with FeedServer() as server, HttpReceiver() as receiver:
        server.handler("/a.xml", lambda _path: Route(body=rss("City News", [])))  # whatever the query
        host = server.url("/").split("//", 1)[1].rstrip("/")
        feed_url = f"http://reader:{FEED_PASSWORD}@{host}/a.xml?api_key={FEED_KEY}"
        hook = f"json://user:{USER_SECRET}@127.0.0.1:{receiver.port}/hook/{PATH_SECRET}?token={QUERY_SECRET}"
        channels = f'[[channels]]\nid = "chat"\nurls = ["{hook}"]\n'
        settings = settings_for(write_config(tmp_path, feeds=[("city", feed_url, "ordinary")], channels=channels))
        setup_logging("text", "DEBUG", settings)

        results = send([hook], Message("t", "b", "text", "b"))
        fetched = Fetcher(user_agent="t/1", clock=FixedClock(at("2030-05-30T12:00"))).fetch_all(
            [FetchRequest("city", feed_url)])[0]
        try:
            raise RuntimeError(f"could not reach {hook}")
        except RuntimeError:
            logging.getLogger("monitor.test").exception("delivery failed for %s", feed_url)

    written = capsys.readouterr().err
    assert results[0].ok and fetched.body is not None and receiver.requests, fetched.error  # secrets in use
    assert "urllib3" in written and "HTTP Request: GET" in written  # the libraries and the fetcher did log
    assert "Traceback" in written and "***" in written
    leaked = [secret for secret in SECRETS if secret in written]
    assert leaked == []
