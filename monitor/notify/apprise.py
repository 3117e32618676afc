"""The apprise edge: send one rendered message to a channel's URLs and report the result per target.

The only module that imports apprise, and only inside functions (the import costs about half a second). Each
target gets its own ``apprise.Apprise()`` so its outcome is known on its own: the caller records the result per
target and retries only the failed ones with ``send(..., only={failed indices})``.

Secrets: a target is reported as ``mask_secret_url(url)``; errors are apprise's own warning lines with every
piece of the URL that could be a credential replaced by ``***``. The apprise logger is kept at INFO or above
(at DEBUG it prints tokens) and a filter masks URLs and registered secrets in whatever it logs.

The sentinel target ``console://`` (the built-in console channel) prints the plain-text form of the message to
stdout, stripped of terminal escape sequences.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from monitor.config.masking import mask_secret_url, url_secrets
from monitor.notify.render import Message, cut, terminal_safe
from monitor.notify.routing import CONSOLE_URL

ERROR_MAX = 200
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_SEVERITY_TYPES = {"critical": "failure", "warning": "warning"}


@dataclass(frozen=True)
class TargetResult:
    """The outcome of one target of one send. ``target`` is masked; ``error`` is short and masked."""

    index: int
    target: str
    ok: bool
    error: str | None = None


# -------------------------------------------------------------------------------------------- secrets
def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URLs masked and every secret replaced by ``***`` (longest first, so parts of parts go too)."""
    text = _URL_IN_TEXT.sub(lambda m: mask_secret_url(m.group(0)), text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _RedactingFilter(logging.Filter):
    """Masks URLs and the secrets of targets being sent to in every apprise log record (all threads)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[int, set[str]] = {}

    def register(self, key: int, secrets: set[str]) -> None:
        with self._lock:
            self._secrets[key] = secrets

    def forget(self, key: int) -> None:
        with self._lock:
            self._secrets.pop(key, None)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = set().union(*self._secrets.values()) if self._secrets else set()
        record.msg = redact(record.getMessage(), secrets)
        record.args = ()
        return True


_FILTER = _RedactingFilter()
_SETUP = threading.Lock()
_configured = False


def _apprise_logger() -> logging.Logger:
    """The apprise logger at INFO or above with the redacting filter installed (once)."""
    global _configured
    logger = logging.getLogger("apprise")
    with _SETUP:
        if not _configured:
            logger.addFilter(_FILTER)
            _configured = True
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    return logger


# ----------------------------------------------------------------------------------------------- send
def send(
    urls: Sequence[str],
    message: Message,
    *,
    only: set[int] | None = None,
    timeout: float = 20,
    notify_type: str = "info",
    stdout: TextIO | None = None,
) -> list[TargetResult]:
    """Send ``message`` to each URL (or only the indices in ``only``); one result per target attempted.

    ``timeout`` bounds each target's whole attempt in seconds (apprise's call timeout; a target that does not
    answer in time is a failure). ``notify_type`` is apprise's info/success/warning/failure (colour and icon on
    chat services; see :func:`notify_type_for`). Never raises for a target's failure.
    """
    results: list[TargetResult] = []
    for index, url in enumerate(urls):
        if only is not None and index not in only:
            continue
        if url.strip().lower() == CONSOLE_URL:
            results.append(_print(index, message, stdout or sys.stdout))
        else:
            results.append(_send_one(index, url, message, timeout, notify_type))
    return results


class _Capture(logging.Filter):
    """Keeps this thread's apprise warnings out of the logs (they would print the URL) and collects them."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if threading.get_ident() != self.thread:
            return True
        if record.levelno >= logging.WARNING:
            self.lines.append(record.getMessage())
        return False


def target_problem(url: str) -> str | None:
    """Why apprise cannot use ``url`` as a notification target (``what; how to fix``, secrets masked), or None.

    For ``monitor config check``: the URL is only parsed, the way :func:`send` would, nothing is sent or connected
    to. ``console://`` (the built-in console channel) is always usable.
    """
    if url.strip().lower() == CONSOLE_URL:
        return None
    import apprise  # lazily: see the module docstring
    from apprise.manager_plugins import NotificationManager

    wiki = "https://github.com/caronc/apprise/wiki"
    scheme, sep, _rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return (
            "not an apprise URL; write it as service://..., e.g. mailtos://user:password@smtp.example.org "
            f"(every service's form: {wiki})"
        )
    if scheme.lower() not in NotificationManager():
        shown = scheme if len(scheme) <= 30 else scheme[:27] + "..."
        return (
            f"unknown notification service {shown!r}; use one apprise knows, such as mailtos, slack, tgram, ntfys "
            f"or json (every service's form: {wiki})"
        )
    secrets = url_secrets(url)
    capture = _Capture()
    logger = _apprise_logger()
    logger.addFilter(capture)
    try:
        usable = apprise.Apprise.instantiate(url, suppress_exceptions=False) is not None
    except Exception as exc:  # the plugin refused its parts (a missing token, an invalid address)
        usable = False
        capture.lines.append(str(exc) or type(exc).__name__)
    finally:
        logger.removeFilter(capture)
    if usable:
        return None
    reasons = "; ".join(dict.fromkeys(" ".join(line.split()) for line in capture.lines if line.strip()))
    reason = _short(reasons, secrets) if reasons else "its parts cannot be read"
    return (
        f"apprise cannot use this {scheme.lower()}:// URL ({reason}); "
        f"check its parts against apprise's page for {scheme.lower()}:// ({wiki})"
    )


def notify_type_for(severity_label: str) -> str:
    """apprise's notify type for a severity label: critical -> failure, warning -> warning, else info."""
    return _SEVERITY_TYPES.get(severity_label, "info")


def _print(index: int, message: Message, out: TextIO) -> TargetResult:
    title = " ".join(terminal_safe(message.title).split())
    out.write(f"== {title}\n{terminal_safe(message.text_body)}\n")
    out.flush()
    return TargetResult(index=index, target=CONSOLE_URL, ok=True)


def _send_one(index: int, url: str, message: Message, timeout: float, notify_type: str) -> TargetResult:
    import apprise  # lazily: see the module docstring

    target = mask_secret_url(url)
    secrets = url_secrets(url)
    _apprise_logger()
    key = id(secrets)
    _FILTER.register(key, secrets)
    try:
        app = apprise.Apprise()
        if not app.add(url):
            return TargetResult(index, target, False, "apprise cannot use this URL: unknown service or missing parts")
        result = app.notify(
            body=message.body,
            title=message.title,
            body_format=message.format,
            notify_type=notify_type,
            timeout=timeout,
            log_level=logging.WARNING,
        )
        if bool(result):
            return TargetResult(index, target, True)
        return TargetResult(index, target, False, _error_text(result, secrets))
    except Exception as exc:  # a plugin bug must not stop the other targets or lose the row
        return TargetResult(index, target, False, _short(f"{type(exc).__name__}: {exc}", secrets))
    finally:
        _FILTER.forget(key)


def _error_text(result: Any, secrets: set[str]) -> str:
    """apprise's warning and error lines for this call, deduplicated, masked and cut."""
    lines: list[str] = []
    try:
        for entry in result.logs():
            if entry.level in {"WARNING", "ERROR", "CRITICAL"} and entry.message not in lines:
                lines.append(entry.message)
    except (AttributeError, TypeError):  # an apprise without per-call logs: fall back to the status
        pass
    status = getattr(getattr(result, "status", None), "name", "FAILURE").lower()
    return _short("; ".join(lines) if lines else f"delivery failed ({status})", secrets)


def _short(text: str, secrets: set[str]) -> str:
    return cut(" ".join(redact(text, secrets).split()), ERROR_MAX)
