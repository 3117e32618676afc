"""Fuzzing the configuration: a malformed file is rejected with a message per problem that names its field path,
and nothing else ever escapes (no traceback, no OverflowError, no RecursionError).

Each example starts from a valid file (the shipped config, the examples, the fictional replay config), mutates it
one to three times (wrong types, huge and negative numbers, bad durations, URLs with control characters or bad
ports, zone abbreviations, deep nesting, unknown keys, emptied lists, dates out of range, broken templates, apprise
URLs apprise cannot use), writes it back as TOML text and loads it the way ``monitor config check`` does:
``load_settings`` with the channel checks. Deterministic (``derandomize=True``), so a run is repeatable.
Some examples also go through the command itself, in-process (tests/clirunner.py): exit 2, no "Traceback".
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config.load import ChannelChecks, load_settings
from monitor.errors import ConfigError
from monitor.notify.apprise import target_problem
from monitor.notify.render import check_templates
from tests.clirunner import monitor
from tests.config.test_config import env_for

ROOT = Path(__file__).resolve().parents[2]
BASES = [ROOT / "tests" / "data" / "fictional.toml", ROOT / "config" / "monitor.toml",
         *sorted((ROOT / "config" / "examples").glob("*.toml"))]
CHECKS = ChannelChecks(url=target_problem, templates=check_templates)  # what `monitor config check` passes
EXAMPLES = 300
CLI_EVERY = 30  # every 30th example also runs `monitor config check` in-process

# A problem line starts with a field path ("stories[0].threads.dpa.states[2].cues", "monitor.fetch_timeout"),
# the overridden database URL, or a channel's template ("channel 'desk' (channels[0]): templates.body").
_KEY = r'(?:[\w-]+|"(?:[^"\\]|\\.)*")'  # a plain key, or a quoted one ("urls ")
_SEGMENT = rf"(?:\[\d+\]|\.{_KEY})"
PROBLEM = re.compile(
    rf"^(?:{_KEY}{_SEGMENT}*(?: \(line \d+\))?"
    r"|MONITOR_DATABASE_URL \(overrides monitor\.database_url\)"
    r"|channel .* \(channels\[\d+\]\): templates\.\S+): \S"
)


# ------------------------------------------------------------------------------------------ TOML writer
class Raw(str):
    """TOML text written as it is: what no Python value can be written as (nesting 3000 deep, 5000 digits)."""


def toml_value(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_string(text: str) -> str:
    escaped = "".join(
        '\\"' if c == '"' else "\\\\" if c == "\\" else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c
        for c in text
    )
    return f'"{escaped}"'


def toml_document(document: dict[str, Any]) -> str:
    """Every top-level key as ``key = value`` with inline tables: valid TOML for any document."""
    return "\n".join(f"{toml_string(key)} = {toml_value(value)}" for key, value in document.items()) + "\n"


def test_the_writer_round_trips_every_base_file() -> None:
    for path in BASES:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        assert tomllib.loads(toml_document(document)) == document


# ------------------------------------------------------------------------------------------ bad values
DURATIONS = ["99999999999w", "0s", "-1h", "1e5h", "9" * 400 + "s", "0.0000001s", "36501d", "", " ", "10",
             "1y", "1.5.5h", "10 minutes", "1h 1h", "P1D"]
URLS = ["https://news.example.org:99999/rss", "https://news.example.org:0/rss", "https://news.example.org/rss\r\nX: y",
        "https://news.example.org/\x00", "https://news.example.org/a b", "http://[::1/feed", "ftp://news.example.org/",
        "notascheme://foo", "https://", "https://\u200bexample.org/", "https://example.org:http/", "json://",
        "mailto://u:p@127.0.0.1", "console://", "tgram://", "javascript:alert(1)", "https://example.org/\u2028"]
ZONES = ["EST", "MST", "HST", "EST5EDT", "CST6CDT", "UTC+3", "GMT-5", "Etc/GMT+3", "America", "a" * 300,
         "../etc/passwd", "Japan", "US/Eastern", "UTC", "\x00", "America/New_York\n", "Mars/Olympus", "utc", ""]
DATES = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(1999, 12, 31, 23, 59),
         datetime(2201, 1, 1), datetime(2026, 3, 8, 2, 30), datetime(2026, 11, 1, 1, 30), date(2026, 1, 1),
         time(12, 0), datetime(2026, 2, 27, 17, 1, tzinfo=timezone(timedelta(hours=5))),
         datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))), "2026-02-27T17:01:00", "Friday 5pm"]
HEADERS = ["bot\r\nX-Evil: 1", "caf\u00e9 bot", "tab\there", "\x7f", "x" * 10_000, ""]
DATABASES = ["mysql://u:pw@db/monitor", "postgres://u@h/db", "postgresql+psycopg2://u@h/db", "sqlite:///x.db\n",
             "postgresql://u@h:99999/db", "oracle://h", "", "state/monitor.db", "sqlite://"]
TEMPLATES = ["{% if %}", "{{ headline.__class__.__mro__ }}", "{{ 1/0 }}", "{{ 'a' * 10**9 }}", "{{ 9**999999 }}",
             "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ no_such_variable }}", "{{ headline }}", "{{",
             "{% for %}", "{{ range(10**9)|list }}", "{{ cycler.__init__.__globals__ }}", "{% include 'x' %}",
             "{{ lipsum.__globals__['os'] }}", "{% extends 'body.text.j2' %}", "{{ headline|nosuchfilter }}"]
NUMBERS = [10**30, -(10**30), -1, 0, 2**63, 2**64, -(2**63) - 1, 0.5, -0.0, 1e308, math.inf, -math.inf, math.nan,
           Raw("1" + "0" * 5000), Raw("0x" + "f" * 5000)]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


def deep(levels: int, opener: str = "[", closer: str = "]") -> Raw:
    return Raw(opener * levels + closer * levels)


SCALARS = st.one_of(
    st.sampled_from(DURATIONS + URLS + ZONES + HEADERS + DATABASES + TEMPLATES),
    st.sampled_from(NUMBERS), st.sampled_from(DATES), TEXT, st.integers(), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
)
BAD_VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.sampled_from(["x", "id", "url", "unknown_key"]), SCALARS, max_size=2),
    st.sampled_from([deep(5), deep(40), deep(200), deep(3000), Raw("[" * 40 + '"x"' + "]" * 40),
                     Raw("{a = " * 50 + "1" + "}" * 50), [], {}]),
)

# (field names the mutation looks for, values for them): a value of the right kind but wrong
TARGETED = [
    ({"poll_interval", "fetch_timeout", "backoff_cap", "blind_after", "retention", "tick_interval", "backfill",
      "outlet_window", "cluster_window", "corroboration_window", "recent_window", "surge_before", "surge_after",
      "surge_interval", "recap_window", "repeat", "max_age"}, st.sampled_from(DURATIONS)),
    ({"reminders"}, st.lists(st.sampled_from(DURATIONS), min_size=1, max_size=3)),
    ({"url", "heartbeat_url"}, st.sampled_from(URLS)),
    ({"zone", "display_zone"}, st.sampled_from(ZONES)),
    ({"due"}, st.sampled_from(DATES)),
    ({"user_agent", "contact"}, st.sampled_from(HEADERS)),
    ({"database_url"}, st.sampled_from(DATABASES)),
    ({"level", "max_body_bytes", "max_redirects", "concurrency", "per_host_concurrency", "failure_alert_after",
      "min_outlets", "known_after", "label_words", "similarity"}, st.sampled_from(NUMBERS)),
    ({"feeds", "stories", "states", "require", "cues", "urls", "deadlines"}, st.just([])),
    ({"quiet_hours", "digest_cron", "mode", "format", "kinds", "min_severity", "source", "kind"},
     st.sampled_from(["", "25:00-07:00", "0 25 * * *", "digest", "pdf", "urgent", "official", ["thread.exploded"],
                      "* * * * * *", "0 8 * * 99999999999999999999"])),
]


# ------------------------------------------------------------------------------------------ mutations
def nodes(document: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) below the root, containers and leaves, in file order."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if path:
            yield path, value
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        stack.extend(((*path, key), child) for key, child in reversed(list(children)))


def parent_of(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, dict[str, Any], list[str]]:
    """A base file, mutated 1-3 times; returns (base, document, what was done)."""
    base = draw(st.sampled_from(BASES))
    document = tomllib.loads(base.read_text(encoding="utf-8"))
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path, _value in nodes(document)]
        kind = draw(st.sampled_from(["replace", "targeted", "targeted", "unknown key", "delete", "empty", "channel",
                                     "rename key"]))
        if not paths and kind in {"replace", "delete"}:  # everything deleted already
            continue
        if kind == "targeted":
            names, values = draw(st.sampled_from(TARGETED))
            wanted = [p for p in paths if p[-1] in names]
            if not wanted:
                continue
            path = draw(st.sampled_from(wanted))
            parent_of(document, path)[path[-1]] = draw(values)
        elif kind == "replace":
            path = draw(st.sampled_from(paths))
            parent_of(document, path)[path[-1]] = draw(BAD_VALUES)
        elif kind == "unknown key":
            tables = [()] + [p for p, v in nodes(document) if isinstance(v, dict)]
            path = draw(st.sampled_from(tables))
            table = parent_of(document, (*path, None)) if path else document
            table[draw(st.sampled_from(["unknown_key", "pol_interval", "urls ", "Id"]))] = draw(SCALARS)
        elif kind == "rename key":  # thread ids, transitions, parties, templates: keys that are data
            keyed = [p for p in paths if isinstance(p[-1], str)]
            if not keyed:
                continue
            path = draw(st.sampled_from(keyed))
            table = parent_of(document, path)
            name = draw(st.sampled_from(["a: b", "Bad Thread", "x.y", "", "é", '"q"', "[0]", "a\nb"]))
            table[name] = table.pop(path[-1])
        elif kind == "delete":
            path = draw(st.sampled_from(paths))
            del parent_of(document, path)[path[-1]]
        elif kind == "empty":
            lists = [p for p, v in nodes(document) if isinstance(v, list | dict) and v]
            if not lists:
                continue
            path = draw(st.sampled_from(lists))
            parent_of(document, path)[path[-1]] = type(parent_of(document, path)[path[-1]])()
        else:  # a channel with a bad target URL and/or a broken template
            channel: dict[str, Any] = {"id": draw(st.sampled_from(["fuzz", "desk", "Bad Id"])),
                                       "urls": [draw(st.sampled_from([*URLS, "json://hooks.example.org/ok"]))]}
            if draw(st.booleans()):
                channel["templates"] = {draw(st.sampled_from(["title", "body", "subject"])): draw(
                    st.sampled_from(TEMPLATES))}
                channel["format"] = draw(st.sampled_from(["text", "markdown", "html", "pdf"]))
            channels = document.get("channels")
            document["channels"] = [*channels, channel] if isinstance(channels, list) else [channel]
            path = ("channels",)
        done.append(f"{kind} {'.'.join(map(str, path))}")
    return base, document, done


# ------------------------------------------------------------------------------------------ the fuzz
def test_a_malformed_config_is_rejected_with_field_paths_and_nothing_else_escapes(tmp_path: Path) -> None:
    stats: Counter[str] = Counter()
    envs = {base: env_for(base) for base in BASES}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated())
    def check(case: tuple[Path, dict[str, Any], list[str]]) -> None:
        base, document, done = case
        path = tmp_path / f"fuzz-{stats['examples']}.toml"
        path.write_text(toml_document(document), encoding="utf-8")
        stats["examples"] += 1
        try:
            load_settings(path, envs[base], checks=CHECKS)
            stats["valid"] += 1
            valid = True
        except ConfigError as exc:
            stats["rejected"] += 1
            stats["problems"] += len(exc.problems)
            assert exc.exit_code == 2 and exc.problems, done
            for problem in exc.problems:
                assert PROBLEM.match(problem), (problem, done)
                assert "internal error" not in problem and "(top level)" not in problem, (problem, done)
                assert "Traceback" not in problem, (problem, done)
            valid = False
        if stats["examples"] % CLI_EVERY == 1:
            stats["cli"] += 1
            result = monitor("--config", str(path), "config", "check", env=envs[base])
            assert result.exit_code == (0 if valid else 2), (result.stderr, done)
            assert "Traceback" not in result.stdout + result.stderr
            if not valid:
                assert result.stderr.startswith(f"error: invalid configuration {path}:"), result.stderr

    check()
    print(f"\nconfig fuzz: {dict(stats)}")
    assert stats["examples"] >= 200
    assert stats["rejected"] >= stats["examples"] // 2  # the mutations do break files...
    assert stats["valid"] >= 5  # ...but not every one: some mutations leave a valid file
    assert stats["cli"] >= 5


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[Path, bytes]:
    """A base file's text broken as text: cut short, characters or bytes (not UTF-8) inserted, a line repeated."""
    base = draw(st.sampled_from(BASES))
    data = base.read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "bytes", "repeat line", "deep"]))
        if kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + draw(st.sampled_from(['"', "'", "[", "]", "{", "}", "=", "\n", "#", "\\", "\r\n",
                                                     "[[feeds]]\n", "x = 1\n", "\u2028"])).encode() + data[at:]
        elif kind == "bytes":
            data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"])) + data[at:]
        elif kind == "repeat line":
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            line = data[start:] if end < 0 else data[start:end + 1]
            data = data[:start] + line + data[start:]
        else:
            data = data[:at] + b"\nzz = " + b"[" * 3000 + b"]" * 3000 + b"\n" + data[at:]
    return base, data


def test_a_file_broken_as_text_is_a_config_error_naming_the_line_or_field(tmp_path: Path) -> None:
    stats: Counter[str] = Counter()
    envs = {base: env_for(base) for base in BASES}

    @settings(max_examples=150, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(corrupted())
    def check(case: tuple[Path, bytes]) -> None:
        base, data = case
        path = tmp_path / "broken.toml"
        path.write_bytes(data)
        stats["examples"] += 1
        try:
            load_settings(path, envs[base], checks=CHECKS)
            stats["valid"] += 1
        except ConfigError as exc:
            stats["rejected"] += 1
            for problem in exc.problems:
                located = PROBLEM.match(problem) or re.match(
                    r"not valid TOML: .*\(at (?:line \d+, column \d+|end of document)\)$", problem)
                assert located or problem.startswith("not UTF-8 text (byte "), problem
                assert "internal error" not in problem, problem

    check()
    print(f"\nconfig text fuzz: {dict(stats)}")
    assert stats["examples"] >= 100 and stats["rejected"] >= 50


def test_the_base_files_load_with_the_checks() -> None:
    for base in BASES:
        settings_ = load_settings(base, env_for(base), checks=CHECKS)
        assert settings_.stories
        copy.deepcopy(settings_)  # a plain value: nothing half-built
