"""The ``monitor`` command line: the command group, its global options, and where each command lives.

Thin: options in, the service called, results printed. Each group of commands is a module of its own
(``config_commands``, ``state_commands``, ``work_commands``, ``story_commands``, ``delivery_commands``, ``trial``);
this module adds them to :func:`main`, the console script's entry point (``monitor.cli.main:main``).

Start-up cost is a feature here: the command modules import the store, the app layer and heavy libraries
(SQLAlchemy, httpx, apprise, feedparser, Jinja2) inside each command, never at module import, so
``monitor --help``, ``--version`` and a bad config error load none of them, and each command loads only what
it uses (``monitor status`` reads through ``monitor.store.status``, without the ORM); run as the program
(``main()`` with no arguments), the process then ends without the interpreter's teardown
(:mod:`monitor.cli.program`). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid configuration (the
message names the field and how to fix it; no traceback).
"""

from __future__ import annotations

import os

import click

from monitor import __version__
from monitor.cli import config_commands, delivery_commands, state_commands, story_commands, trial, work_commands
from monitor.cli.common import INTERNAL_ERROR, Context, command_logging, handle_errors, resolve_log_level
from monitor.cli.delivery_commands import OUTBOX_COLUMNS, outbox_rows, print_outbox
from monitor.cli.program import ProgramGroup
from monitor.cli.state_commands import FEED_COLUMNS, feed_rows, print_feeds
from monitor.cli.story_commands import DEVELOPMENT_COLUMNS, development_json, development_rows, development_tables
from monitor.cli.tables import Column, print_table, rich_table
from monitor.cli.work_commands import developments_summary, poll_progress

# importable from here as before the commands moved into modules of their own (tests, embedding code)
__all__ = [
    "DEVELOPMENT_COLUMNS", "FEED_COLUMNS", "INTERNAL_ERROR", "OUTBOX_COLUMNS", "Column", "Context",
    "development_json", "development_rows", "development_tables", "developments_summary", "feed_rows",
    "handle_errors", "main", "outbox_rows", "poll_progress", "print_feeds", "print_outbox", "print_table",
    "rich_table",
]




@click.group(cls=ProgramGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("MONITOR_CONFIG", "config/monitor.toml"),
    show_default="$MONITOR_CONFIG or config/monitor.toml",
    help="Configuration file.",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr: -v info, -vv debug.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
              default=None,
              help="Log level (overrides -v/-q). [default: $MONITOR_LOG_LEVEL, else WARNING; INFO for run]")
@click.pass_context
def main(ctx: click.Context, config_path: str, verbose: int, quiet: bool, log_level: str | None) -> None:
    """Watch feeds for the moves of a developing story and alert once per move."""
    level = resolve_log_level(log_level, verbose, quiet)
    ctx.obj = Context(config_path, level)
    if ctx.invoked_subcommand != "run":  # the daemon sets up its own log (format, timestamps, tracebacks)
        ctx.with_resource(command_logging(level or "WARNING"))


main.add_command(config_commands.config)
main.add_command(state_commands.status)
main.add_command(state_commands.feeds)
main.add_command(work_commands.poll)
main.add_command(work_commands.run)
main.add_command(work_commands.replay)
main.add_command(story_commands.history)
main.add_command(story_commands.explain)
main.add_command(story_commands.calendar)
main.add_command(story_commands.ack)
main.add_command(delivery_commands.notify)
main.add_command(delivery_commands.outbox)
trial.register(main, handle_errors, print_table)  # `monitor try`, `monitor items`
