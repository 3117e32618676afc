"""``monitor config check`` renders every channel's template overrides against a sample development: a broken one
fails the check with exit code 2 and a message naming the channel and the template (delivery would silently fall
back to the shipped template). Run in-process with Click's CliRunner on ``monitor.cli.main:main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli.main import main
from tests.pipeline import write_config


def config_check(tmp_path: Path, templates: str, *options: str) -> Result:
    channels = (
        '[[channels]]\nid = "desk"\nurls = ["json://127.0.0.1:9/desk"]\nformat = "html"\n'
        f'[[channels]]\nid = "pager"\nurls = ["json://127.0.0.1:9/pager"]\nformat = "markdown"\n{templates}\n'
    )
    path = write_config(tmp_path, feeds=[], channels=channels)
    return CliRunner().invoke(main, ["--config", str(path), "config", "check", *options])


@pytest.mark.parametrize(
    ("templates", "named"),
    [
        ('templates = { body = "{{ no_such_variable }}" }', "templates.body: 'no_such_variable' is undefined"),
        ('templates = { title = "{% if %}" }', "templates.title: "),
        ('templates = { subject = "{{ headline }}" }', "templates.subject: unknown template; use 'title' or 'body'"),
    ],
    ids=["unknown variable in body", "syntax error in title", "unknown template name"],
)
@pytest.mark.parametrize("options", [(), ("--json",)], ids=["text", "json"])
def test_a_bad_channel_template_fails_config_check_with_exit_2_naming_the_channel_and_template(
    tmp_path: Path, templates: str, named: str, options: tuple[str, ...]
) -> None:
    done = config_check(tmp_path, templates, *options)
    assert done.exit_code == 2
    assert done.stdout == ""
    assert "invalid configuration" in done.stderr
    assert f"channel 'pager' (channels[1]): {named}" in done.stderr
    assert "desk" not in done.stderr  # the channel without overrides is not blamed
    assert "Traceback" not in done.stderr


def test_good_channel_templates_pass_config_check(tmp_path: Path) -> None:
    templates = 'templates = { title = "{{ story_title }}: {{ headline }}", body = "{{ headline }} {{ moved.new }}" }'
    done = config_check(tmp_path, templates, "--json")
    assert done.exit_code == 0, done.stderr
    assert [c["id"] for c in json.loads(done.stdout)["channels"]] == ["desk", "pager"]
