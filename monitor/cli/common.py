"""What every command shares: the lazily loaded config (:class:`Context`), the error boundary
(:func:`handle_errors`), the command's log on stderr, and JSON output.

Light on purpose: ``monitor --help`` imports it. The store, the app layer and every heavy library are imported
inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from monitor.config.schema import Settings
    from monitor.store.db import Store
    from monitor.store.status import StatusReader

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command needs: the config path, loaded lazily."""

    def __init__(self, config_path: str, log_level: str | None = None) -> None:
        self.config_path = config_path
        self.log_level = log_level  # from --log-level, -v, -q or $MONITOR_LOG_LEVEL; None: the command's default
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.app.logs import use_settings
            from monitor.config.load import load_settings

            self._settings = load_settings(self.config_path)
            use_settings(self._settings)  # its secrets are redacted from every log line from now on
        return self._settings

    def open_store(self, url: str | None = None, *, create: bool = False) -> Store:
        """The configured (or given) database. Only commands that do the monitor's work (``create``) may create
        it: a read-only command on a database that is not there says so instead of reading a new empty one."""
        from monitor.store.db import Store
        from monitor.store.locking import sqlite_file

        url = url or self.settings.monitor.database_url
        path = sqlite_file(url)
        if not create and path is not None and not Path(path).exists():
            self._no_database(path)
        return Store.open(url)

    def open_status_reader(self) -> StatusReader | None:
        """The light reader of ``monitor status`` and ``monitor feeds`` (:mod:`monitor.store.status`) on the
        configured database, or None when that database needs the full store (a migration first, a URL the reader
        does not take): then :meth:`open_store`. A missing SQLite file is the same error as in ``open_store``."""
        from monitor.store.status import StatusReader, plain_sqlite_file

        url = self.settings.monitor.database_url
        path = plain_sqlite_file(url)
        if path is None and url.startswith("sqlite"):  # a URI filename, query parameters: as the store reads it
            from monitor.store.locking import sqlite_file

            path = sqlite_file(url)
        if path is not None and not Path(path).exists():
            self._no_database(path)
        return StatusReader.open(url)

    def _no_database(self, path: str) -> NoReturn:
        from monitor.errors import MonitorError

        raise MonitorError(f"no database at {path} yet; `monitor poll` or `monitor run` with this config "
                           f"({self.config_path}) creates it, or point $MONITOR_DATABASE_URL at yours")

    def database_exists(self) -> bool:
        """Whether the configured database is there to read (a SQLite file is never created just to read it)."""
        from monitor.store.locking import sqlite_file

        path = sqlite_file(self.settings.monitor.database_url)
        return path is None or Path(path).exists()


INTERNAL_ERROR = "internal error (a bug: please report it with the output of -vv)"


def handle_errors(func: F) -> F:
    """The CLI's error boundary: no traceback reaches a user. Our own errors print their message and exit with
    their code (2 for configuration); a database that cannot be read (corrupt, not a database, gone) and an
    operating-system failure (a path that cannot be written, a port in use) are one line and exit 1; anything
    else is an internal error, one line and exit 1, with its trace logged at DEBUG (``-vv``)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from monitor.errors import MonitorError

        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            logging.getLogger("monitor.cli").debug("trace of the error above", exc_info=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _one_line(exc: Exception) -> str:
    """What went wrong, in one line, for the three kinds of unexpected failure."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    # stored JSON (story, deadline and outbox state) is the only JSON the CLI reads: unreadable, it is damage
    stored_json = isinstance(exc, json.JSONDecodeError)
    # the drivers' own errors come from the light read path of status and feeds (monitor.store.status)
    driver = type(exc).__module__.partition(".")[0] in ("sqlalchemy", "sqlite3", "psycopg")
    if driver or stored_json:
        detail = str(getattr(exc, "orig", None) or detail).strip().splitlines()[0][:300]
        return (f"the database cannot be read or written ({detail}); if the file is damaged, restore a backup "
                "or move it aside to start afresh")
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or detail}{where}"
    return f"{INTERNAL_ERROR}: {type(exc).__name__}: {detail}"


@contextlib.contextmanager
def command_logging(level: str) -> Iterator[None]:
    """While a command runs: log records at ``level`` and worse as one line each on stderr, redacted, without
    stack traces (a feed's contained failure is named in its line of the output already; its trace is for the
    daemon's log). The logging set up before (an embedding program's, a test runner's) is restored after."""
    from monitor.app.logs import NOISY_LOGGERS, setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    setup_logging("plain", level)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, value in saved[2].items():
            logging.getLogger(name).setLevel(value)


def resolve_log_level(log_level: str | None, verbose: int, quiet: bool) -> str | None:
    """--log-level, else -q (ERROR), else -v (INFO) / -vv (DEBUG), else $MONITOR_LOG_LEVEL, else None."""
    from monitor.app.logs import LEVELS

    if log_level:
        return log_level.upper()
    if quiet:
        return "ERROR"
    if verbose:
        return "DEBUG" if verbose > 1 else "INFO"
    env = os.environ.get("MONITOR_LOG_LEVEL", "").strip().upper()
    if env and env not in LEVELS:
        raise click.BadParameter(f"MONITOR_LOG_LEVEL={env!r}: use one of {', '.join(LEVELS)}")
    return env or None


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=False))

