"""Configuration loading: a TOML file plus the environment -> :class:`~monitor.config.schema.Settings`.

The single owner of reading the config file and the environment for settings. Every problem is reported with
the field path, what is wrong and how to fix it, as a :class:`~monitor.errors.ConfigError` (exit code 2 in the
CLI); values substituted from the environment never appear in a message.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.config.problems import describe, relevant, scrub, substitute_env
from monitor.config.schema import DEFAULT_CONFIG_PATH, Settings
from monitor.errors import ConfigError


# ---------------------------------------------------------------------------------------------- loading
def parse_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None, source: str = "") -> Settings:
    """Validate an already-parsed TOML document. Raises ConfigError listing every problem.

    ``${NAME}`` in any string value is replaced from ``env`` (default ``os.environ``) before validation;
    messages never show a substituted value.
    """
    problems: list[str] = []
    used: list[str] = []
    resolved = substitute_env(dict(data), os.environ if env is None else env, "", problems, used)
    if problems:
        raise ConfigError(problems, source)
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        errors = relevant(list(exc.errors()))
        raise ConfigError([scrub(describe(e), used) for e in errors], source) from None
    return settings


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a TOML config file; ``$MONITOR_DATABASE_URL`` overrides the database URL."""
    env = os.environ if env is None else env
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"file not found; create it or pass --config (default {DEFAULT_CONFIG_PATH})"], str(file))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(file)) from None
    settings = parse_settings(raw, env, str(file))
    override = env.get("MONITOR_DATABASE_URL")
    if override:
        monitor = settings.monitor.model_copy(update={"database_url": override})
        settings = settings.model_copy(update={"monitor": monitor})
    return settings
