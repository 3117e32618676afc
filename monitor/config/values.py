"""Configuration values: the checks of single fields (durations, zones, URLs, ids, severities, cron lines) and
the annotated types the settings models use (pure: no file, no environment). Each check raises ``ValueError``
with what is wrong and how to fix it; :mod:`monitor.config.problems` adds the field path."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field

from monitor.domain import Severity
from monitor.durations import parse_duration

DEFAULT_CONFIG_PATH = "config/monitor.toml"
# Relative SQLite paths in a config file are relative to the file's folder: the default puts the database in
# the `state` folder beside the config folder (config/monitor.toml -> state/monitor.db), wherever you stand.
DEFAULT_DATABASE_URL = "sqlite:///../state/monitor.db"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d"
QUIET_HOURS = re.compile(rf"{_CLOCK}-{_CLOCK}")
EARLIEST_DUE_YEAR = 2000
LATEST_DUE_YEAR = 2200
# database URL schemes the store can open (SQLAlchemy driver names whose driver is installed)
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
_DATABASE_HINT = "use SQLite (sqlite:///state/monitor.db) or PostgreSQL (postgresql+psycopg://user:password@host/monitor)"
_ZONE_HINT = "use an IANA name such as 'America/New_York' or 'Europe/Berlin', or 'UTC'"
_ABBREVIATION = re.compile(r"[A-Z]{1,6}(?:[+-]?\d{1,2}(?::?\d\d)?(?:[A-Za-z]{3,5})?)?")  # EST, EST5EDT, GMT0


# ----------------------------------------------------------------------------------------- field types
def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("write a duration as a string like '10m', '2h' or '1d'")
    return parse_duration(value)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a zero duration does not work here; write a positive duration such as '30s', '10m' or '1h'")
    return value


def _zone(value: Any) -> str:
    """An IANA zone of a place (``Area/Location``) or ``UTC``; abbreviations, POSIX rules and offsets are refused."""
    if not isinstance(value, str):
        raise ValueError(f"write the time zone as a quoted string; {_ZONE_HINT}")
    shown = value if len(value) <= 60 else value[:57] + "..."
    if value in {"UTC", "Etc/UTC"}:
        return value
    # "EST", "MST", "HST", "CET", "EST5EDT", "GMT+3", "UTC+3", "Etc/GMT-5": abbreviations, POSIX rules and fixed
    # offsets, which do not follow a place's daylight-saving rules (and "Etc/GMT+3" is three hours *behind* UTC)
    if value.startswith("Etc/") or _ABBREVIATION.fullmatch(value) or re.search(r"[+-]\d", value):
        raise ValueError(
            f"{shown!r} is an abbreviation or an offset rule, not a place's time zone (its clock can differ from "
            f"the place's: 'EST' ignores daylight saving time); {_ZONE_HINT}"
        )
    if "/" not in value:  # "Japan", "America": an old alias or a region, not Area/Location
        raise ValueError(f"{shown!r} is not a time zone of the form Area/Location; {_ZONE_HINT}")
    try:
        ZoneInfo(value)
    except Exception:  # not found, a folder ("America"), not a normalized key, a name too long for the file system
        raise ValueError(f"unknown time zone {shown!r}; {_ZONE_HINT}") from None
    return value


def _character(char: str) -> str:
    """``a line break (U+000A)``: a character named for a message (it may be invisible)."""
    name = {"\r": "a carriage return", "\n": "a line break", "\t": "a tab", " ": "a space"}.get(char)
    if name is None:
        odd = unicodedata.category(char)[0] in "CZ"
        name = "a control or invisible character" if odd else f"the non-ASCII character {char!r}"
    return f"{name} (U+{ord(char):04X})"


def _odd_character(text: str, *, spaces: bool = True) -> str | None:
    """The first control, format, line-break or (with ``spaces``) whitespace character of ``text``, described."""
    if text.isascii() and text.isprintable() and not (spaces and " " in text):
        return None  # the usual case, checked at C speed: printable ASCII holds none of them but the space
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if category in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} or (spaces and char.isspace()):
            return f"{_character(char)} at character {position}"
    return None


def _port_problem(url: str) -> str | None:
    """What is wrong with the host or port of a ``scheme://`` URL, or None."""
    return _split(url)[1]


def _split(url: str) -> tuple[SplitResult | None, str | None]:
    """``url`` split (for its host), and what is wrong with its host or port (None when nothing is)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1/feed"
        return None, "the host cannot be read; write an IPv6 address in brackets, e.g. https://[2001:db8::1]/feed.xml"
    try:
        port = parts.port
    except ValueError:  # "https://example.org:99999/", "https://example.org:http/"
        port = 0
    if port == 0:
        return parts, "the port is not a number from 1 to 65535; fix it, or leave it out for the scheme's own"
    return parts, None


def _http_url(value: str) -> str:
    """An http(s) URL that an HTTP client can fetch: readable, a host, a port in range, no spaces or controls."""
    if value and not re.match(r"(?i)https?://", value):
        raise ValueError("not an http(s) URL; write it like https://example.org/feed.xml")
    odd = _odd_character(value)
    if odd:
        raise ValueError(
            f"the URL contains {odd}; remove it (a URL holds no spaces, tabs or line breaks: write a space as %20)"
        )
    parts, problem = _split(value)  # split once: a config may list thousands of feeds
    if problem or parts is None:
        raise ValueError(problem)
    if not parts.hostname:
        raise ValueError("the URL has no host; write it like https://example.org/feed.xml")
    return value


def optional_http_url(value: str) -> str:
    return _http_url(value) if value else value


def _header_text(value: str) -> str:
    """Text sent in an HTTP header (the User-Agent): printable ASCII only."""
    for position, char in enumerate(value, start=1):
        if not " " <= char <= "~":
            raise ValueError(
                f"contains {_character(char)} at character {position}; it is sent in the User-Agent header, "
                "which holds printable ASCII only: remove line breaks, tabs and non-ASCII letters"
            )
    return value


def _target_url(value: str) -> str:
    """A notification URL: no control or invisible characters (apprise itself checks the rest at config check)."""
    odd = _odd_character(value, spaces=False)
    if odd:
        raise ValueError(f"the URL contains {odd}; remove it")
    return value


def database_url_problem(value: str) -> str | None:
    """What is wrong with a database URL (``what; how to fix``), or None. Also used for $MONITOR_DATABASE_URL."""
    scheme, sep, _rest = value.partition("://")
    if not sep or scheme not in DATABASE_SCHEMES:
        named = f"{scheme!r} is not a supported database" if sep and len(scheme) <= 40 else "not a database URL"
        return f"{named}; {_DATABASE_HINT}"
    odd = _odd_character(value, spaces=False)  # a space is fine in a SQLite file name
    if odd:
        return f"the URL contains {odd}; remove it"
    if scheme.startswith("postgresql"):
        problem = _port_problem(value)
        if problem:
            return problem
    return None


def check_database_url(value: str) -> str:
    problem = database_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _identifier(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a valid id; use lower-case letters, digits, '-' and '_'")
    return value


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        raise ValueError("write the severity as a quoted string; use one of info, notice, warning, critical")
    try:
        return Severity.parse(value)
    except KeyError:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"unknown severity {shown!r}; use one of info, notice, warning, critical") from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
Zone = Annotated[str, BeforeValidator(_zone)]
Identifier = Annotated[str, AfterValidator(_identifier)]
SeverityField = Annotated[Severity, BeforeValidator(_severity)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
HttpUrl = Annotated[str, Field(pattern=r"^https?://", description="http or https URL"), AfterValidator(_http_url)]
HeaderText = Annotated[str, AfterValidator(_header_text)]
TargetUrl = Annotated[str, Field(min_length=1), AfterValidator(_target_url)]


def check_cron(expression: str) -> None:
    """A standard 5-field crontab line whose every field is in range (APScheduler parses it later)."""
    hint = "write a 5-field cron expression like '0 8 * * *' (minute hour day month weekday)"
    shown = expression if len(expression) <= 60 else expression[:57] + "..."
    if len(expression.split()) != 5:
        raise ValueError(f"{shown!r} does not have 5 fields; {hint}")
    from apscheduler.triggers.cron import CronTrigger  # lazy: only digest channels pay for the import

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except Exception as exc:  # ValueError mostly; whatever else APScheduler raises for odd input is a problem too
        reason = " ".join(str(exc).split())[:120]
        raise ValueError(f"{shown!r} is not valid ({reason}); {hint}") from None


def duplicates(ids: list[str], what: str) -> list[str]:
    """``[index].id: duplicate ...`` for every id seen before it (relative to the list's field path)."""
    seen: set[str] = set()
    problems: list[str] = []
    for index, item in enumerate(ids):
        if item in seen:
            problems.append(f"[{index}].id: duplicate {what} {item!r}; each must be unique")
        seen.add(item)
    return problems
