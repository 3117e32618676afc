"""Logging for every command: one stderr handler whose formatter redacts secrets from every record.

Redaction is a property of the handler, not of one logger: whatever library writes the record (apprise,
urllib3 under apprise's requests, httpx, httpcore, SQLAlchemy, APScheduler) and whatever it puts in it (a
message, its arguments, a traceback), the text is redacted after formatting and before it is written. What
counts as a secret comes from the settings (:func:`config_secrets`): every piece of a channel URL that may be a
credential (path segments, query values, user and password), the heartbeat URL's likewise, the database
password, and the password and token-like query values of feed URLs. Besides those, any ``user:password@`` in
any URL is masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from monitor.config.masking import url_secrets

if TYPE_CHECKING:  # kept light: the CLI sets logging up before it knows whether it will load a config
    from monitor.config.schema import Settings

# quiet by default: these log every request at INFO/DEBUG; the redaction below still covers them at DEBUG
NOISY_LOGGERS = ("apprise", "httpx", "httpcore", "urllib3", "apscheduler", "alembic")
_USERINFO = re.compile(r"(?<=://)[^/\s@'\"<>]+@")
_TOKEN_KEYS = re.compile(r"token|key|secret|pass|auth|sig|session|code|cred", re.IGNORECASE)
MIN_SECRET = 3  # shorter pieces ("v2", "a") would mangle ordinary text


def config_secrets(settings: Settings) -> set[str]:
    """Every string of ``settings`` that must never reach a log line."""
    secrets: set[str] = set()
    for channel in settings.channels:
        for url in channel.urls:
            secrets |= url_secrets(url)
    if settings.monitor.heartbeat_url:
        secrets |= url_secrets(settings.monitor.heartbeat_url)
    for url in [settings.monitor.database_url, *(f.url for f in settings.feeds)]:
        secrets |= _credentials(url)
    return {s for s in secrets if len(s) >= MIN_SECRET}


def _credentials(url: str) -> set[str]:
    """The password and the token-like query values of an ordinary URL (its host and path stay readable)."""
    if "@" not in url and "?" not in url:
        return set()  # neither a password nor a query: most feed URLs, and a config may list thousands
    try:
        parts = urlsplit(url)
        found = {parts.password} if parts.password else set()
        found |= {value for key, value in parse_qsl(parts.query) if value and _TOKEN_KEYS.search(key)}
    except ValueError:
        return set()
    return found


class Redactor:
    """Replaces known secrets (longest first) and URL userinfo with ``***``. Thread-safe; secrets replaceable."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        ordered = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
        with self._lock:
            self._pattern = pattern

    def __call__(self, text: str) -> str:
        with self._lock:
            pattern = self._pattern
        text = _USERINFO.sub("***@", text)
        return pattern.sub("***", text) if pattern is not None else text


LOG_FORMATS = ("text", "json", "plain")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class RedactingFormatter(logging.Formatter):
    """Formats a record, then redacts the whole of it (message and traceback). ``text``: time, level, logger,
    message and traceback (the daemon's log); ``json``: one JSON object a line; ``plain``: the message alone,
    no traceback (a short command's stderr, where a contained failure is already named in its output)."""

    def __init__(self, redactor: Redactor, log_format: str = "text") -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.redactor = redactor
        self.log_format = log_format

    def format(self, record: logging.LogRecord) -> str:
        if self.log_format == "plain":
            return self.redactor(record.getMessage())
        if self.log_format == "text":
            return self.redactor(super().format(record))
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = self.redactor(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (a test runner swaps it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_REDACTOR = Redactor()


def setup_logging(log_format: str = "text", level: str = "INFO", settings: Settings | None = None) -> Redactor:
    """Send every logger's records to stderr through one redacting handler at ``level`` (a name of
    :data:`LEVELS`, any case); returns the redactor (call :func:`use_settings` again when the settings are
    reloaded). Libraries that log every request stay at WARNING unless ``level`` is DEBUG."""
    if level.upper() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    handler = StderrHandler()
    handler.setFormatter(RedactingFormatter(_REDACTOR, log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    if settings is not None:
        use_settings(settings)
    return _REDACTOR


def use_settings(settings: Settings) -> None:
    """Redact the secrets of ``settings`` from now on (at start and after a reload)."""
    _REDACTOR.set_secrets(config_secrets(settings))
