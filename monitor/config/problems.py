"""Turning raw TOML and pydantic errors into messages a person can act on. Pure.

Each message names the field path (``stories[0].threads.dpa.states[2].cues``), says what is wrong and how
to fix it, and never shows a value that came from the environment (secrets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute_env(
    value: Any, env: Mapping[str, str], path: str, problems: list[str], used: list[str] | None = None
) -> Any:
    """Replace ``${NAME}`` in every string; a missing variable is a problem naming it and the field.

    The substituted values are appended to ``used`` so error messages can be scrubbed of them (secrets).
    """

    def where(trail: Any) -> str:
        """The field path of a trail ``(parent trail, key or list position)``, written only for a problem: a
        config may hold thousands of fields and no reference at all."""
        parts: list[str | int] = []
        while trail is not None:
            trail, part = trail
            parts.append(part)
        text = path
        for part in reversed(parts):
            text = f"{text}[{part}]" if isinstance(part, int) else key_path(text, part)
        return text

    def walk(value: Any, trail: Any) -> Any:
        if isinstance(value, str):
            if "${" not in value:
                return value

            def replace(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in env:
                    problems.append(f"{where(trail)}: environment variable {name} is not set; set it in the "
                                    "environment (compose reads .env)")
                    return ""
                if used is not None:
                    used.append(env[name])
                return env[name]

            return _ENV_REF.sub(replace, value)
        if isinstance(value, dict):
            return {k: walk(v, (trail, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (trail, i)) for i, v in enumerate(value)]
        return value

    return walk(value, None)


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``("stories", 0, "threads", "dpa", "states", 2, "cues")`` -> ``stories[0].threads.dpa.states[2].cues``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "constrained-")) or part in {"timedelta", "str", "datetime", "int"}:
            continue  # pydantic's internal validator names, not fields
        else:
            path = key_path(path, part)  # a key with spaces, dots or quotes is quoted as TOML would
    return path or "(top level)"


_LIST_HINT = 'write a list, e.g. ["a", "b"]'
_TABLE_HINT = "write a table: [name] on its own line, or { key = value }"
_DATETIME_HINT = "write a TOML local date-time without quotes or offset, e.g. 2026-02-27T17:01:00"
# What to do about each pydantic error type; the pydantic message says what is wrong, this says how to fix it.
_HINTS: dict[str, str] = {
    "bool_parsing": "write true or false, without quotes",
    "bool_type": "write true or false, without quotes",
    "int_parsing": "write a whole number without quotes",
    "int_type": "write a whole number without quotes",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number without quotes, e.g. 0.6",
    "float_type": "write a number without quotes, e.g. 0.6",
    "string_type": 'write it as a quoted string, e.g. "text"',
    "tuple_type": _LIST_HINT,
    "list_type": _LIST_HINT,
    "dict_type": _TABLE_HINT,
    "model_type": _TABLE_HINT,
    "model_attributes_type": _TABLE_HINT,
    "datetime_type": _DATETIME_HINT,
    "datetime_parsing": _DATETIME_HINT,
    "datetime_from_date_parsing": _DATETIME_HINT,
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "string_too_short": "empty text matches nothing; write the text or remove the entry",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
}


def _shown(value: Any) -> str:
    """A short rendering of a scalar input for a message ('' for tables and lists: they are not helpful inline)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f" (got a number of about {int(value.bit_length() * 0.30103) + 1} digits)"  # repr may refuse it
    if isinstance(value, bool | int | float):
        return f" (got {value!r})"
    if isinstance(value, str):
        return f" (got {value[:60] + '...' if len(value) > 60 else value!r})"
    return ""


_QUOTED = r'"(?:[^"\\]|\\.)*"'
# a field path at the start of a message: states[2].id, [1].id, transitions."a: b" (a key quoted when not a word)
_HEAD = re.compile(rf"(?:[\w\[]|{_QUOTED})(?:[\w.\[\]-]|{_QUOTED})*(?=: )")


def key_path(path: str, key: str) -> str:
    """``path`` + ``.key``, the key quoted as TOML would when it is not a plain word (``"poll interval"``)."""
    part = key if re.fullmatch(r"[\w-]+", key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{part}" if path else part


def describe_all(error: Mapping[str, Any]) -> list[str]:
    """One pydantic error -> its problems, each ``field.path: what is wrong; how to fix it``.

    A validator of ours may report several problems at once, one per line of its message (each line a problem,
    its path relative to the field that raised it).
    """
    message = str(error["msg"]).removeprefix("Value error, ")
    if "\n" not in message:
        return [describe(error)]
    return [describe({**error, "msg": line}) for line in message.split("\n") if line]


def problem_path(problem: str) -> str:
    """The field path a problem line starts with (``feeds[0].url``), or the whole line when it names none."""
    head = _HEAD.match(problem)
    if head:
        return head.group(0)
    before, sep, _rest = problem.partition(": ")
    return before if sep else problem


def related(path: str, other: str) -> bool:
    """The two field paths are the same field, or one lies inside the other (``channels[0]``, ``channels[0].urls``)."""
    if path == other:
        return True
    shorter, longer = sorted((path, other), key=len)
    return longer.startswith(shorter) and longer[len(shorter)] in ".["


def describe(error: Mapping[str, Any]) -> str:
    """One pydantic error -> ``field.path: what is wrong; how to fix it``."""
    path = _field_path(tuple(error["loc"]))
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"{path}: unknown key; remove it or check its spelling against docs/configuration.md"
    if kind == "missing":
        return f"{path}: required key is missing; add it (see docs/configuration.md)"
    if kind == "too_short":
        if path == "stories":
            return "stories: no story is configured; add at least one [[stories]] table (see docs/configuration.md)"
        wanted = context.get("min_length", 1)
        found = context.get("actual_length", 0)
        return f"{path}: needs at least {wanted} {'entry' if wanted == 1 else 'entries'}, found {found}; add more"
    if kind == "string_pattern_mismatch" and path.endswith("url"):
        return f"{path}: not an http(s) URL{_shown(error.get('input'))}; feeds are fetched over HTTP, so write https://..."
    if kind in _HINTS:
        return f"{path}: {message}{_shown(error.get('input'))}; {_HINTS[kind]}"
    # model-level validators report a relative path in their message ("transitions.x: ..."); join it on
    match = _HEAD.match(message)
    head, rest = (match.group(0), message[match.end() + 2 :]) if match else ("", "")
    if match:
        if head.startswith(("feeds[", "stories[", "channels[")):
            return message
        if path == "(top level)":
            return message
        return f"{path}{head}: {rest}" if head.startswith("[") else f"{path}.{head}: {rest}"
    return f"{path}: {message}"


def relevant(errors: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drop knock-on errors: a list whose items failed is also reported as "too short" (0 valid items)."""
    locs = [tuple(e["loc"]) for e in errors]
    return [
        e
        for e in errors
        if not (
            e["type"] == "too_short"
            and any(len(other) > len(e["loc"]) and other[: len(e["loc"])] == tuple(e["loc"]) for other in locs)
        )
    ]


def scrub(problem: str, secrets: list[str]) -> str:
    """Hide every value that came from the environment (invariant 7: secrets never reach output)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            problem = problem.replace(secret, "***")
    return problem
