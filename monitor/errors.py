"""Exceptions that cross module boundaries. The CLI maps them to exit codes."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose. Exit code 1 unless a subclass says otherwise."""

    exit_code = 1


class ConfigError(MonitorError):
    """The configuration is invalid. Each problem names the field path, what is wrong and how to fix it."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        head = f"invalid configuration {source}".strip()
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in problems))


class UsageError(MonitorError):
    """A command-line value that cannot be used (an option's text, an unknown id). Exit code 2."""

    exit_code = 2


class StoreError(MonitorError):
    """The database could not be opened, migrated or written."""
