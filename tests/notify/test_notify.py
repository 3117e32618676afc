"""The apprise edge against real local peers: aiosmtpd for email, an HTTP receiver for json:// webhooks."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from monitor.domain import Confidence, Development, DevelopmentKind, Severity, Source
from monitor.notify.apprise import TargetResult, notify_type_for, redact, send, url_secrets
from monitor.notify.render import Message, render
from tests.receivers import CLOSE, HANG, HttpReceiver, SmtpReceiver, parts

AT = datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
EVIL = '<script>alert("x")</script> <img src=x onerror=alert(1)> @everyone'
SECRET = "s3cr3tTOKENvalue"


def development(title: str = "Pentagon designates Anthropic a supply chain risk", **kw: Any) -> Development:
    sources = kw.pop(
        "sources",
        (
            Source(
                outlet="Reuters", title="Pentagon designates Anthropic", link="https://www.reuters.com/a", published=AT
            ),
        ),
    )
    return Development(
        key="k",
        kind=DevelopmentKind.THREAD_CHANGE,
        story_id="anthropic-pentagon",
        at=AT,
        title=title,
        severity=Severity.CRITICAL,
        confidence=Confidence.CONFIRMED,
        thread_id="designation",
        from_state="threatened",
        to_state="designated",
        sources=sources,
        **kw,
    )


def message(fmt: Any = "html", dev: Development | None = None) -> Message:
    return render(
        dev or development(),
        fmt=fmt,
        story_title="Pentagon ultimatum",
        thread_line="designation: designated",
        countdown="passed 1 h ago",
        display_zone="UTC",
        story_zone="America/New_York",
        now=AT + timedelta(minutes=5),
    )


class Markup(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []
        self.attrs: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs |= {name for name, _ in attrs}
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


# ------------------------------------------------------------------------------------------------ email
def test_html_email_arrives_with_subject_html_and_plain_parts_and_links() -> None:
    msg = message("html")
    with SmtpReceiver() as smtp:
        results = send([smtp.mailto_url()], msg, timeout=10)
        assert results == [TargetResult(0, "mailto://***@127.0.0.1/***", True, None)]
        [mail] = smtp.messages
    assert mail["Subject"] == msg.title
    assert mail["To"] == "desk@example.org"
    assert mail.get_content_type() == "multipart/alternative"
    body = parts(mail)
    assert set(body) == {"plain", "html"}
    assert Markup(body["html"]).hrefs == ["https://www.reuters.com/a"]
    # the plain alternative is readable text that still carries the link
    assert "https://www.reuters.com/a" in body["plain"]
    assert "Pentagon designates Anthropic" in body["plain"] and "<" not in body["plain"]


@pytest.mark.parametrize("fmt", ["html", "markdown"])  # apprise turns Markdown into HTML for email
def test_hostile_headline_arrives_inert_in_a_real_email(fmt: Any) -> None:
    dev = development(
        title=f"Pentagon {EVIL}",
        sources=(
            Source(outlet="Evil", title=EVIL, link="javascript:alert(document.cookie)", published=AT),
            Source(outlet="Good", title="Good one", link="https://apnews.com/b", published=AT),
        ),
    )
    with SmtpReceiver() as smtp:
        assert send([smtp.mailto_url()], message(fmt, dev), timeout=10)[0].ok
        [mail] = smtp.messages
    html = parts(mail)["html"]
    markup = Markup(html)
    assert markup.tags <= {"div", "h2", "p", "strong", "br", "ul", "li", "a"}
    assert markup.attrs <= {"href", "style"}  # no onerror, no src
    assert markup.hrefs == ["https://apnews.com/b"]
    assert "javascript:" not in html.lower()
    assert "&lt;script&gt;" in html and "@\u200beveryone" in html and "@everyone" not in html


def test_text_email_is_a_single_plain_part() -> None:
    with SmtpReceiver() as smtp:
        assert send([smtp.mailto_url()], message("text"), timeout=10)[0].ok
        [mail] = smtp.messages
    assert mail.get_content_type() == "text/plain"
    assert "https://www.reuters.com/a" in mail.get_content()  # type: ignore[attr-defined]


def test_unreachable_smtp_server_is_a_failed_target_not_an_exception() -> None:
    with SmtpReceiver() as smtp:
        url = smtp.mailto_url()
    [result] = send([url], message("html"), timeout=5)
    assert not result.ok and result.error


# ---------------------------------------------------------------------------------------------- webhook
@pytest.mark.parametrize(
    ("answer", "ok", "error_part"),
    [
        (200, True, None),
        (204, True, None),
        (500, False, "500"),
        (CLOSE, False, "connection error"),
    ],
)
def test_json_target_result_follows_the_receivers_answer(answer: Any, ok: bool, error_part: str | None) -> None:
    with HttpReceiver() as hooks:
        hooks.script("/hook", answer)
        [result] = send([hooks.json_url("/hook")], message("markdown"), timeout=5)
        [request] = hooks.requests
    assert result.index == 0 and result.ok is ok
    if error_part is None:
        assert result.error is None
    else:
        assert result.error is not None and error_part in result.error.lower()
    payload = request.json()
    assert payload["title"] == message("markdown").title
    assert "Pentagon designates Anthropic" in payload["message"]


def test_a_target_that_never_answers_fails_within_the_timeout() -> None:
    with HttpReceiver() as hooks:
        hooks.script("/slow", HANG)
        started = time.monotonic()
        [result] = send([hooks.json_url("/slow")], message("text"), timeout=1)
        elapsed = time.monotonic() - started
    assert not result.ok and result.error
    assert elapsed < 5


def test_two_targets_fail_independently_and_only_resends_the_failed_one() -> None:
    with HttpReceiver() as hooks:
        hooks.script("/bad", 500)
        urls = [hooks.json_url("/good"), hooks.json_url("/bad")]
        first = send(urls, message("markdown"), timeout=5)
        assert [(r.index, r.ok) for r in first] == [(0, True), (1, False)]
        failed = {r.index for r in first if not r.ok}
        second = send(urls, message("markdown"), only=failed, timeout=5)
        assert [(r.index, r.ok) for r in second] == [(1, True)]
        assert len(hooks.delivered("/good")) == 1  # the good target was not sent twice
        assert len(hooks.delivered("/bad")) == 1
        assert len(hooks.requests) == 3


def test_an_unknown_service_url_is_a_failed_target() -> None:
    [result] = send([f"nosuchservice://{SECRET}@host/{SECRET}"], message("text"))
    assert not result.ok and result.error is not None and "cannot use this URL" in result.error
    assert SECRET not in result.target


# ---------------------------------------------------------------------------------------------- secrets
def test_secrets_never_appear_in_results_or_apprise_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="apprise")
    with HttpReceiver() as hooks:
        hooks.script(f"/hook/{SECRET}", 500, CLOSE)
        url = hooks.json_url(f"/hook/{SECRET}", secret=SECRET + "pw")
        results = send([url, url], message("text"), timeout=5)
    assert [r.ok for r in results] == [False, False]
    for result in results:
        assert SECRET not in result.target and SECRET not in (result.error or "")
        assert result.target == "json://***@127.0.0.1/***"
    assert caplog.records, "apprise should have logged the failures"
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_apprise_logger_is_kept_at_info_or_above() -> None:
    logger = logging.getLogger("apprise")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with HttpReceiver() as hooks:
            send([hooks.json_url()], message("text"), timeout=5)
        assert logger.getEffectiveLevel() >= logging.INFO
    finally:
        logger.setLevel(previous)


@pytest.mark.parametrize(
    ("url", "secret_parts"),
    [
        ("tgram://123456:AAH-token/98765", ["123456", "AAH-token", "98765"]),
        ("slack://TokenA/TokenB/TokenC/#news", ["TokenA", "TokenB", "TokenC"]),
        ("mailtos://user:pa%24%24word@smtp.example.org?to=a@b.org", ["pa$$word", "pa%24%24word", "user"]),
        ("json://u:pw123@127.0.0.1:8080/hook/abcdef", ["pw123", "abcdef"]),
    ],
)
def test_redact_removes_every_credential_piece(url: str, secret_parts: list[str]) -> None:
    text = redact(f"failed to send to {url}: token {' '.join(secret_parts)} rejected", url_secrets(url))
    for part in secret_parts:
        assert part not in text
    assert "failed to send to" in text and "rejected" in text


# ---------------------------------------------------------------------------------------------- console
def test_console_target_prints_plain_text_without_escape_sequences(capsys: pytest.CaptureFixture[str]) -> None:
    dev = development(title="Red\x1b[31m alert\x1b]0;title\x07 now")
    [result] = send(["console://"], message("markdown", dev))
    out = capsys.readouterr().out
    assert result == TargetResult(0, "console://", True, None)
    assert "Red alert now" in out and "\x1b" not in out and "\x07" not in out
    assert "**" not in out  # the plain alternative, not Markdown


def test_console_and_webhook_on_one_channel_report_per_index() -> None:
    with HttpReceiver() as hooks:
        hooks.script("/x", 500)
        results = send(["console://", hooks.json_url("/x")], message("text"), timeout=5)
    assert [(r.index, r.ok) for r in results] == [(0, True), (1, False)]


@pytest.mark.parametrize(
    ("label", "expected"), [("critical", "failure"), ("warning", "warning"), ("notice", "info"), ("info", "info")]
)
def test_notify_type_follows_severity(label: str, expected: str) -> None:
    assert notify_type_for(label) == expected
