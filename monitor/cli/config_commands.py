"""``monitor config check``: validate the configuration and print a readable summary (secrets masked)."""

from __future__ import annotations

import click

from monitor.cli.common import Context, echo_json, handle_errors


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@handle_errors
def config_check(obj: Context, as_json: bool) -> None:
    """Validate the configuration and print a readable summary (secrets masked).

    Beyond what every command checks on loading it, each notification URL must be one apprise can use and each
    channel template must render (sandboxed); every problem is listed at once (exit code 2).
    """
    from monitor.cli.reports import config_summary
    from monitor.config.load import ChannelChecks, load_settings
    from monitor.notify.apprise import target_problem
    from monitor.notify.render import check_templates

    # every problem at once, apprise's and the templates' with the others; then loaded as every command does
    load_settings(obj.config_path, checks=ChannelChecks(url=target_problem, templates=check_templates))
    summary = config_summary(obj.settings, obj.config_path)
    if as_json:
        echo_json(summary)
        return
    from monitor.cli.reports import format_config_summary

    click.echo(format_config_summary(summary))
