"""Configuration loading: a TOML file plus the environment -> :class:`~monitor.config.schema.Settings`.

The single owner of reading the config file and the environment for settings. Every problem is reported with
the field path, what is wrong and how to fix it, as a :class:`~monitor.errors.ConfigError` (exit code 2 in the
CLI); values substituted from the environment never appear in a message. All problems are reported at once:
those of the ``${NAME}`` references, of validation, of ``$MONITOR_DATABASE_URL`` and of the optional
:class:`ChannelChecks`; a problem inside a field already reported (a knock-on) is left out. Nothing in a file,
however malformed (nested thousands deep, numbers too large, unreadable bytes), raises anything but ConfigError.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from monitor.config.problems import (
    describe_all,
    key_path,
    problem_path,
    related,
    relevant,
    scrub,
    substitute_env,
)
from monitor.config.schema import Settings
from monitor.config.values import DEFAULT_CONFIG_PATH, database_url_problem
from monitor.errors import ConfigError

MAX_DEPTH = 32
"""Lists and tables nested deeper than this are refused (the schema nests 7 deep; Python would overflow its stack)."""
_TOO_DEEP = (
    f"config nesting too deep (lists or tables nested more than {MAX_DEPTH} levels); no setting nests like this: "
    "check the brackets"
)
Format = Literal["text", "markdown", "html"]
_FORMATS: dict[str, Format] = {"text": "text", "markdown": "markdown", "html": "html"}


@dataclass(frozen=True)
class ChannelChecks:
    """Checks of each channel that need libraries the config layer does not load; ``monitor config check`` passes
    them (:func:`monitor.notify.apprise.target_problem`, :func:`monitor.notify.render.check_templates`). They see
    the document after ``${NAME}`` substitution, so their messages are scrubbed of secrets like the others."""

    url: Callable[[str], str | None] | None = None
    """One notification URL -> ``what is wrong; how to fix it``, or None when it is usable."""
    templates: Callable[[Mapping[str, str], Format], list[str]] | None = None
    """A channel's ``templates`` and ``format`` -> problems ``templates.<name>: ...``."""


# ---------------------------------------------------------------------------------------------- loading
def parse_settings(
    data: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    source: str = "",
    *,
    checks: ChannelChecks | None = None,
) -> Settings:
    """Validate an already-parsed TOML document. Raises ConfigError listing every problem.

    ``${NAME}`` in any string value is replaced from ``env`` (default ``os.environ``) before validation;
    messages never show a substituted value.
    """
    return _validate(data, os.environ if env is None else env, source, checks, override=None)


def load_settings(
    path: str | Path, env: Mapping[str, str] | None = None, *, checks: ChannelChecks | None = None
) -> Settings:
    """Read and validate a TOML config file; ``$MONITOR_DATABASE_URL`` overrides the database URL."""
    env = os.environ if env is None else env
    file = Path(path)
    raw = _read(file)
    settings = _validate(raw, env, str(file), checks, override=env.get("MONITOR_DATABASE_URL") or None)
    # a relative SQLite path means the same file wherever the command runs: relative to the config file's
    # folder when it comes from the file (or the default), to the current folder when from the environment
    base = Path.cwd() if env.get("MONITOR_DATABASE_URL") else file.resolve().parent
    anchored = anchor_sqlite_url(settings.monitor.database_url, base)
    if anchored != settings.monitor.database_url:
        settings = settings.model_copy(update={"monitor": settings.monitor.model_copy(
            update={"database_url": anchored})})
    return settings


def anchor_sqlite_url(url: str, base: Path) -> str:
    """``url`` with a relative SQLite file path made absolute against ``base`` (other URLs unchanged)."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return url
    path, query_sep, query = rest.partition("?")
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    return f"{scheme}:///{os.path.normpath(base / path)}{query_sep}{query}"


def _read(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found; create it or pass --config (default {DEFAULT_CONFIG_PATH})"], str(file))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"], str(file)) from None
    except OSError as exc:  # a folder, no permission
        raise ConfigError([f"cannot read the file ({exc.strerror or exc}); pass --config FILE"], str(file)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(file)) from None
    except RecursionError:
        raise ConfigError([_deep_text_problem(text)], str(file)) from None
    except ValueError:  # an integer of more than 4300 digits
        raise ConfigError([_number_problem(text)], str(file)) from None


def _validate(
    data: Mapping[str, Any],
    env: Mapping[str, str],
    source: str,
    checks: ChannelChecks | None,
    override: str | None,
) -> Settings:
    deep = _too_deep(data)
    if deep:
        raise ConfigError([f"{deep}: {_TOO_DEEP}"], source)
    found: list[tuple[str, str]] = []  # (field path, problem), in the order they are reported

    def report(problems: list[tuple[str, str]]) -> None:
        """Add a stage's problems, leaving out knock-ons of an earlier stage's (the same field, or inside it)."""
        earlier = [path for path, _ in found]
        found.extend((path, text) for path, text in problems if not any(related(path, e) for e in earlier))

    env_problems: list[str] = []
    used: list[str] = []
    resolved = substitute_env(dict(data), env, "", env_problems, used)
    report([(problem_path(p), p) for p in env_problems])
    settings: Settings | None = None
    try:
        try:
            settings = Settings.model_validate(resolved)
        except ValidationError as exc:
            report([(problem_path(p), p) for e in relevant(list(exc.errors())) for p in describe_all(e)])
    except RecursionError:
        report([("(top level)", f"(top level): {_TOO_DEEP}")])
    except Exception as exc:  # a bug of ours: still no traceback for the user (and the fuzz test looks for this)
        report([("(top level)", f"(top level): internal error while validating ({type(exc).__name__}); "
                                "please report it with the configuration file")])
    if override is not None:
        problem = database_url_problem(override)
        if problem:
            report([("MONITOR_DATABASE_URL", f"MONITOR_DATABASE_URL (overrides monitor.database_url): {problem}")])
    if checks is not None:
        report(_channel_problems(resolved, checks))
    if found or settings is None:
        secrets = [*used, override] if override else used
        raise ConfigError([scrub(text, secrets) for _, text in found], source)
    if override:
        monitor = settings.monitor.model_copy(update={"database_url": override})
        settings = settings.model_copy(update={"monitor": monitor})
    return settings


def _channel_problems(document: Mapping[str, Any], checks: ChannelChecks) -> list[tuple[str, str]]:
    """The ``checks`` of every channel table of the (substituted) document, however malformed it is."""
    channels = document.get("channels")
    problems: list[tuple[str, str]] = []
    for index, channel in enumerate(channels if isinstance(channels, list) else []):
        if not isinstance(channel, dict):
            continue
        urls = channel.get("urls")
        if checks.url is not None and isinstance(urls, list):
            for position, url in enumerate(urls):
                if isinstance(url, str) and url:
                    problem = checks.url(url)
                    if problem:
                        path = f"channels[{index}].urls[{position}]"
                        problems.append((path, f"{path}: {problem}"))
        templates = channel.get("templates")
        written = channel.get("format", "markdown")
        fmt = _FORMATS.get(written) if isinstance(written, str) else None  # else validation reports the format
        if checks.templates is not None and isinstance(templates, dict) and fmt is not None:
            texts = {name: text for name, text in templates.items() if isinstance(text, str)}
            channel_id = channel.get("id")
            # named like the channel's other template problems: "channel 'desk' (channels[0]): templates.body: ..."
            where = f"channels[{index}]"
            if isinstance(channel_id, str):
                where = f"channel {channel_id!r} ({where})"
            for problem in checks.templates(texts, fmt):
                problems.append((f"channels[{index}].{problem_path(problem)}", f"{where}: {problem}"))
    return problems


# ---------------------------------------------------------------------------------------------- nesting
def _too_deep(data: Mapping[str, Any]) -> str | None:
    """The field path of the first list or table nested deeper than MAX_DEPTH, or None (iterative: no recursion)."""
    # each entry: (value, depth, trail); a trail is (parent trail, key or position), unrolled only for the answer
    stack: list[tuple[Any, int, Any]] = [(data, 0, None)]
    while stack:
        value, depth, trail = stack.pop()
        if depth > MAX_DEPTH:
            parts: list[str | int] = []
            while trail is not None:
                trail, part = trail
                parts.append(part)
            return _path_of(tuple(reversed(parts)))
        if isinstance(value, dict):
            stack.extend((v, depth + 1, (trail, str(k))) for k, v in value.items() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, (trail, i)) for i, v in enumerate(value) if isinstance(v, dict | list))
    return None


def _path_of(parts: tuple[str | int, ...]) -> str:
    """``("stories", 0, "zone", 0, 0, ...)`` -> ``stories[0].zone``: up to the last key (the run of list positions
    after it would only repeat ``[0]``)."""
    last_key = max((i for i, p in enumerate(parts) if isinstance(p, str)), default=0)
    path = ""
    for part in parts[: last_key + 1]:
        path = f"{path}[{part}]" if isinstance(part, int) else key_path(path, part)
    return path or "(top level)"


_KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")
_LONG_NUMBER = re.compile(r"[0-9A-Fa-f_]{4000,}")


def _dotted_key(line: str, start: int = 0) -> tuple[tuple[str, ...], int] | None:
    """The dotted key at ``line[start:]`` (``a."b c".d``) as its parts, and where it ends; None if there is none."""
    parts: list[str] = []
    position = start
    while True:
        match = _KEY_PART.match(line, position)
        if not match:
            return None
        parts.append(match.group(3) or match.group(2) or match.group(1) or "")
        position = match.end()
        if not line.startswith(".", position):
            return tuple(parts), position
        position += 1


def _deep_text_problem(text: str) -> str:
    """For a file nested too deeply for the TOML parser itself: where the nesting passes MAX_DEPTH."""
    line = next((number for number, _path, depth in _scan(text) if depth > MAX_DEPTH), None)
    return _text_problem(text, line, _TOO_DEEP)


def _number_problem(text: str) -> str:
    """For an integer too long for Python to read (more than 4300 digits): where it is."""
    match = _LONG_NUMBER.search(text)
    line = text.count("\n", 0, match.start()) + 1 if match else None
    return _text_problem(text, line, "a number of thousands of digits; write a number of sensible size")


def _text_problem(text: str, line: int | None, what: str) -> str:
    where = next((path for number, path, _depth in _scan(text) if number == line), "") if line else ""
    return f"{where or '(top level)'}: {what}" + (f" (line {line})" if line else "")


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """Each line of a TOML text that the parser could not finish: its number, the field path of the value it is
    part of (``monitor.user_agent``, ``stories[0].threads.dpa.states[2].cues``) and the deepest nesting of lists and
    tables reached on it. A rough scan for messages: strings and comments are skipped, the path is the table header
    above plus the key the value started at."""
    depth = 0
    table: tuple[str, ...] = ()
    where = ""
    arrays: dict[tuple[str, ...], int] = {}  # array-of-tables header -> position of its current table
    for number, line in enumerate(text.splitlines(), start=1):
        if depth == 0:
            opening = re.match(r"\s*(\[\[?)", line)
            header = _dotted_key(line, opening.end()) if opening else None
            if opening and header and line.startswith("]", header[1]):
                table = header[0]
                if opening.group(1) == "[[":
                    arrays[table] = arrays.get(table, -1) + 1
                    for deeper in [a for a in arrays if a[: len(table)] == table and len(a) > len(table)]:
                        del arrays[deeper]
                yield number, _table_path(table, arrays), 0
                continue
            where = _table_path(table, arrays)
            key = _dotted_key(line)
            if key and line.startswith("=", key[1]):
                for part in key[0]:
                    where = key_path(where, part)
        deepest = depth
        quote = ""
        escaped = False
        for char in line:
            if quote:
                if escaped:
                    escaped = False
                elif char == "\\" and quote == '"':
                    escaped = True
                elif char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]}":
                depth = max(0, depth - 1)
        yield number, where, deepest


def _table_path(table: tuple[str, ...], arrays: Mapping[tuple[str, ...], int]) -> str:
    """``stories.threads.dpa.states`` -> ``stories[0].threads.dpa.states[2]`` for the array tables seen so far."""
    path = ""
    for length, part in enumerate(table, start=1):
        path = key_path(path, part)
        if table[:length] in arrays:
            path += f"[{arrays[table[:length]]}]"
    return path
