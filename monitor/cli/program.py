"""The ``monitor`` program's way out: once a command has finished, end the process without the interpreter's
teardown.

Tearing down a process that has imported SQLAlchemy's ORM, SQLModel and pydantic (freeing every module, class and
cycle one by one) costs 0.1-0.3 s on this project's 2-core machine, a fifth of a warm ``monitor poll`` of 1,000
feeds. None of it is needed: the operating system frees the memory and closes the files and sockets anyway.

Only the program itself ends this way: :class:`ProgramGroup` is the command group's class, and calling the group
with no arguments (what the console script and ``python -m monitor`` do) runs it as the program. Calls with
arguments (``main(["status"])``, Click's test runner, embedding code) return or raise as Click always does.

Nothing a normal exit does is skipped but the teardown: the exit goes through ``SystemExit`` as usual (``finally``
blocks run, the interpreter waits for non-daemon threads), then, as the first exit handler, :func:`_skip_teardown`
flushes stdout and stderr, runs every other exit handler in the order the interpreter would (logging's flush,
``weakref.finalize`` clean-ups, handlers an embedding script registered) and ends the process with the exit code.
When stdout cannot be flushed (a closed pipe), it steps aside and the interpreter exits as it always does.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, NoReturn

import click


class ProgramGroup(click.Group):
    """A Click group that, called with no arguments, runs as the ``monitor`` program and ends the process."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        run_as_program(self)


def run_as_program(group: click.Group) -> NoReturn:
    """Run ``group`` on ``sys.argv`` (standalone: Click turns errors into messages and exit codes), then exit
    without the interpreter's teardown. An exception other than ``SystemExit`` propagates as it always would."""
    try:
        group.main()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            atexit.register(_skip_teardown, code or 0)
        raise
    raise SystemExit(0)  # not reached: a standalone Click command always ends in SystemExit


def _skip_teardown(code: int) -> None:
    """Registered last, so the interpreter calls it first among the exit handlers: run the others, then end."""
    atexit.unregister(_skip_teardown)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # a closed pipe or stream: the interpreter exits its usual way (and says so its usual way)
    atexit._run_exitfuncs()  # every other handler, last registered first, as the interpreter would
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
