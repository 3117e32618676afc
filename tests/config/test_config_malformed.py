"""Malformed configurations found by fuzzing, one case each: ``monitor config check`` exits 2 with a line naming
the field path, what is wrong and how to fix it, and never a traceback (in-process, tests/clirunner.py; an
exception other than SystemExit would be raised by the runner and fail the test).

Also: every problem of a file is listed at once, every command that loads the file rejects it the same way, and
a file without feeds is valid but warned about.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.load import ChannelChecks, load_settings, parse_settings
from monitor.durations import MAX_DURATION, parse_duration
from monitor.errors import ConfigError
from monitor.notify.apprise import target_problem
from monitor.notify.render import check_templates
from tests.clirunner import monitor
from tests.config.test_config import BASE_ENV, BASE_TOML, base


def edit(old: str, new: str, text: str = BASE_TOML) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def monitor_key(line: str) -> str:
    return edit('display_zone = "UTC"', f'display_zone = "UTC"\n{line}')


def story_zone(zone: str) -> str:
    return edit('zone = "America/New_York"\n\n[stories.relevance]', f'zone = "{zone}"\n\n[stories.relevance]')


FEED_URL = "https://news.example.org/rss"
DUE = "due = 2026-02-27T17:01:00"
ZONE_HINT = "is an abbreviation or an offset rule, not a place's time zone"

# (case, file text, environment, field path the line starts with, what the line must say)
CASES: list[tuple[str, str, dict[str, str], str, str]] = [
    ("duration that overflows", edit('poll_interval = "30m"', 'poll_interval = "99999999999w"'), BASE_ENV,
     "feeds[1].poll_interval", "the longest duration is '36500d'"),
    ("due in the year 9999", edit(DUE, "due = 9999-12-31T23:59:00"), BASE_ENV,
     "stories[0].deadlines[0].due", "the year 9999 is outside 2000-2200"),
    ("due in the year 1", edit(DUE, "due = 0001-01-01T00:00:00"), BASE_ENV,
     "stories[0].deadlines[0].due", "the year 1 is outside 2000-2200"),
    ("array nested 2000 deep", edit('display_zone = "UTC"', "display_zone = " + "[" * 2000 + "]" * 2000), BASE_ENV,
     "monitor.display_zone", "config nesting too deep"),
    ("array nested 100 deep", edit('display_zone = "UTC"', "display_zone = " + "[" * 100 + "]" * 100), BASE_ENV,
     "monitor.display_zone", "config nesting too deep"),
    ("tables nested 3000 deep in a state", edit('cues = ["drops the act"]', "cues = " + "{a = " * 3000 + "1"
                                                + "}" * 3000), BASE_ENV,
     "stories[0].threads.dpa.states[3].cues", "config nesting too deep"),
    ("a 5000-digit number", edit('display_zone = "UTC"', 'display_zone = "UTC"\nconcurrency = 1' + "0" * 5000),
     BASE_ENV, "monitor.concurrency", "thousands of digits"),
    ("a 5000-digit hex number", monitor_key("concurrency = 0x" + "f" * 5000), BASE_ENV,
     "monitor.concurrency", "(got a number of about 6021 digits)"),
    ("a huge number where a table belongs",
     edit('[monitor]\ndisplay_zone = "UTC"\n', "monitor = 0x" + "f" * 5000 + "\n"),
     BASE_ENV, "monitor", "(got a number of about 6021 digits)"),
    ("feed URL with port 99999", edit(FEED_URL, "https://news.example.org:99999/rss"), BASE_ENV,
     "feeds[0].url", "the port is not a number from 1 to 65535"),
    ("feed URL with CRLF", edit(FEED_URL, "https://news.example.org/rss\\r\\nX-Injected: 1"), BASE_ENV,
     "feeds[0].url", "a carriage return (U+000D)"),
    ("feed URL with a tab", edit(FEED_URL, "https://news.example.org/\\trss"), BASE_ENV,
     "feeds[0].url", "a tab (U+0009)"),
    ("feed URL with a space", edit(FEED_URL, "https://news.example.org/my rss"), BASE_ENV,
     "feeds[0].url", "write a space as %20"),
    ("feed URL with a NUL", edit(FEED_URL, "https://news.example.org/\\u0000"), BASE_ENV,
     "feeds[0].url", "a control or invisible character (U+0000)"),
    ("feed URL with a broken IPv6 host", edit(FEED_URL, "https://[::1/rss"), BASE_ENV,
     "feeds[0].url", "the host cannot be read"),
    ("heartbeat URL with port 0", monitor_key('heartbeat_url = "https://hc.example.org:0/ping"'), BASE_ENV,
     "monitor.heartbeat_url", "the port is not a number from 1 to 65535"),
    ("fetch_timeout 0s", monitor_key('fetch_timeout = "0s"'), BASE_ENV,
     "monitor.fetch_timeout", "write a positive duration"),
    ("tick_interval 0m", monitor_key('tick_interval = "0m"'), BASE_ENV,
     "monitor.tick_interval", "write a positive duration"),
    ("a reminder of 0s", edit(DUE, f'{DUE}\nreminders = ["1h", "0s"]'), BASE_ENV,
     "stories[0].deadlines[0].reminders[1]", "write a positive duration"),
    ("newline in user_agent", monitor_key('user_agent = "bot\\r\\nX-Evil: 1"'), BASE_ENV,
     "monitor.user_agent", "printable ASCII only"),
    ("non-ASCII contact", monitor_key('contact = "mailto:café@example.org"'), BASE_ENV,
     "monitor.contact", "the non-ASCII character 'é'"),
    ("mysql database", monitor_key('database_url = "mysql://monitor:pw@db/monitor"'), BASE_ENV,
     "monitor.database_url", "'mysql' is not a supported database; use SQLite (sqlite:///"),
    ("postgres:// alias", monitor_key('database_url = "postgres://monitor@db/monitor"'), BASE_ENV,
     "monitor.database_url", "PostgreSQL (postgresql+psycopg://"),
    ("mysql in MONITOR_DATABASE_URL", BASE_TOML, {**BASE_ENV, "MONITOR_DATABASE_URL": "mysql://u:pw@db/m"},
     "MONITOR_DATABASE_URL (overrides monitor.database_url)", "'mysql' is not a supported database"),
    *[(f"zone {zone}", story_zone(zone), BASE_ENV, "stories[0].zone", ZONE_HINT)
      for zone in ["EST", "MST", "HST", "EST5EDT", "PST8PDT", "UTC+3", "GMT-5", "Etc/GMT+3"]],
    ("zone that names a region", story_zone("America"), BASE_ENV, "stories[0].zone", "the form Area/Location"),
    ("zone too long for a file name", story_zone("Europe/" + "a" * 300), BASE_ENV, "stories[0].zone",
     "unknown time zone"),
    ("template with a syntax error", BASE_TOML + 'templates = { body = "{% if %}" }\n', BASE_ENV,
     "channel 'desk' (channels[0]): templates.body", "fix the Jinja syntax"),
    ("template reaching out of the sandbox", BASE_TOML + 'templates = { title = "{{ headline.__class__.__mro__ }}" }\n',
     BASE_ENV, "channel 'desk' (channels[0]): templates.title", "templates are sandboxed"),
    ("template building a huge string", BASE_TOML + "templates = { body = \"{{ 'x' * 10**9 }}\" }\n", BASE_ENV,
     "channel 'desk' (channels[0]): templates.body", "too large"),
    ("template dividing by zero", BASE_TOML + 'templates = { body = "{{ 1/0 }}" }\n', BASE_ENV,
     "channel 'desk' (channels[0]): templates.body", "ZeroDivisionError"),
    ("apprise URL of an unknown service", BASE_TOML, {"DESK_URL": "notascheme://foo"},
     "channels[0].urls[0]", "unknown notification service 'notascheme'"),
    ("apprise URL apprise cannot use", BASE_TOML, {"DESK_URL": "mailto://desk:pw@127.0.0.1"},
     "channels[0].urls[0]", "apprise cannot use this mailto:// URL"),
    ("apprise URL that is no URL", BASE_TOML, {"DESK_URL": "desk@example.org"},
     "channels[0].urls[0]", "not an apprise URL"),
]


def check(tmp_path: Path, text: str, env: dict[str, str], *command: str) -> tuple[int, str]:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    done = monitor("--config", str(path), *(command or ("config", "check")), env=env)
    assert "Traceback" not in done.stdout + done.stderr
    return done.exit_code, done.stderr


@pytest.mark.parametrize(("text", "env", "path", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_check_rejects_each_fuzzed_case_with_its_field_path(tmp_path: Path, text: str, env: dict[str, str],
                                                                   path: str, says: str) -> None:
    code, stderr = check(tmp_path, text, env)
    assert code == 2, stderr
    lines = [line.removeprefix("  - ") for line in stderr.splitlines()[1:]]
    assert len(lines) == 1, stderr  # one mistake, one line
    assert lines[0].startswith(f"{path}: "), lines[0]
    assert says in lines[0], lines[0]
    assert "; " in lines[0]  # what is wrong; how to fix it


def test_utc_and_place_zones_are_accepted(tmp_path: Path) -> None:
    for zone in ["UTC", "Etc/UTC", "Europe/Berlin", "US/Eastern", "America/Argentina/Buenos_Aires"]:
        code, stderr = check(tmp_path, story_zone(zone), BASE_ENV)
        assert code == 0, (zone, stderr)


def test_the_edges_of_the_accepted_ranges_are_valid() -> None:
    data = base()
    data["stories"][0]["deadlines"][0]["due"] = data["stories"][0]["deadlines"][0]["due"].replace(year=2200)
    data["feeds"][0]["poll_interval"] = "36500d"
    data["feeds"][0]["backfill"] = "0s"  # not every duration must be positive: 0s backfill is the default
    data["channels"][0]["max_age"] = "0s"  # give up after the first failed attempt
    data["monitor"].update(database_url="postgresql+psycopg://u:p@db.example.org:5432/monitor",
                           contact="mailto:desk@example.org", user_agent="desk-bot/1.0 (+https://example.org)")
    settings = parse_settings(data, BASE_ENV)
    assert settings.stories[0].deadlines[0].due.year == 2200
    assert settings.feeds[0].poll_interval == MAX_DURATION
    data["monitor"]["database_url"] = "sqlite:////srv/My Monitor/state.db"  # a space in a file name is fine
    assert parse_settings(data, BASE_ENV).monitor.database_url.endswith("My Monitor/state.db")


def test_every_problem_is_listed_at_once_across_validation_and_the_channel_checks(tmp_path: Path) -> None:
    text = edit('poll_interval = "30m"', 'poll_interval = "0s"', monitor_key('fetch_timeout = "99999999999w"'))
    text = edit('zone = "America/New_York"\n\n[stories.relevance]', 'zone = "EST"\n\n[stories.relevance]', text)
    text += 'templates = { body = "{% if %}" }\n'
    code, stderr = check(tmp_path, text, {"DESK_URL": "notascheme://hunter2-token"})
    assert code == 2
    paths = [line.removeprefix("  - ").split(": ")[0] for line in stderr.splitlines()[1:]]
    assert paths == ["monitor.fetch_timeout", "feeds[1].poll_interval", "stories[0].zone", "channels[0].urls[0]",
                     "channel 'desk' (channels[0])"]
    assert "hunter2-token" not in stderr  # the URL came from the environment


def test_cross_checks_still_run_when_another_part_of_the_file_is_wrong() -> None:
    data = base()
    data["monitor"]["fetch_timeout"] = "0s"
    data["feeds"].append(dict(data["feeds"][0]))  # a feed id twice
    data["channels"][0]["stories"] = ["nope"]
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, BASE_ENV)
    assert [p.split(": ")[0] for p in caught.value.problems] == [
        "monitor.fetch_timeout", "feeds[2].id", "channels[0].stories"
    ]
    data = base()
    data["stories"][0]["threads"]["dpa"]["transitions"]["none"] = ["nuked", "gone"]
    data["stories"][0]["deadlines"][0]["zone"] = "EST"
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, BASE_ENV)
    assert [p.split(": ")[0] for p in caught.value.problems] == [
        "stories[0].threads.dpa.transitions.none",  # both unknown targets: a validator reports all it finds
        "stories[0].threads.dpa.transitions.none",
        "stories[0].deadlines[0].zone",
    ]
    # a check across parts runs once the parts it compares are valid: a channel's stories once every story is


def test_a_knock_on_of_a_missing_variable_is_not_reported_twice() -> None:
    data = base()
    data["feeds"][0]["url"] = "${FEED_URL}"
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, BASE_ENV, checks=ChannelChecks(url=target_problem, templates=check_templates))
    assert caught.value.problems == [
        "feeds[0].url: environment variable FEED_URL is not set; set it in the environment (compose reads .env)"
    ]


@pytest.mark.parametrize("command", [("status",), ("feeds",), ("explain", "Acme ministry"), ("config", "check")])
def test_every_command_that_loads_the_file_rejects_it_with_exit_2(tmp_path: Path, command: tuple[str, ...]) -> None:
    text = edit(FEED_URL, "https://news.example.org:99999/rss", story_zone("EST"))
    code, stderr = check(tmp_path, text, {**BASE_ENV, "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/m.db"}, *command)
    assert code == 2, stderr
    assert "feeds[0].url: the port" in stderr and "stories[0].zone: 'EST'" in stderr


def test_a_file_without_feeds_is_valid_but_config_check_warns(tmp_path: Path) -> None:
    text = "feeds = []\n" + BASE_TOML[BASE_TOML.index("[[stories]]"):]
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    done = monitor("--config", str(path), "config", "check", env=BASE_ENV)
    assert done.exit_code == 0, done.stderr
    assert "  - feeds: no feed is configured, so nothing is polled" in done.stdout
    assert "add a [[feeds]] table" in done.stdout
    disabled = BASE_TOML.replace('url = "https://news.example.org/rss"',
                                 'url = "https://news.example.org/rss"\nenabled = false')
    disabled = disabled.replace('source = "primary"', 'source = "primary"\nenabled = false')
    path.write_text(disabled, encoding="utf-8")
    done = monitor("--config", str(path), "config", "check", "--json", env=BASE_ENV)
    assert done.exit_code == 0, done.stderr
    assert '"feeds: every feed has enabled = false' in done.stdout


def test_a_file_with_an_enabled_feed_gets_no_feed_warning() -> None:
    from monitor.config.lint import feed_warnings

    assert feed_warnings(parse_settings(base(), BASE_ENV)) == []


# ------------------------------------------------------------------------------------------ the parts
@pytest.mark.parametrize("text", ["99999999999w", "9" * 400 + "s", "36501d", "1" + "0" * 1000 + "h"])
def test_a_duration_too_long_is_a_value_error_never_an_overflow(text: str) -> None:
    with pytest.raises(ValueError, match="the longest duration is '36500d'"):
        parse_duration(text)


def test_a_template_check_never_raises_and_delivery_falls_back_on_any_failure() -> None:
    from datetime import UTC, datetime

    from monitor.domain import Development, DevelopmentKind, Severity
    from monitor.notify.render import render

    broken = ["{{ 1/0 }}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ 9**999999 }}",
              "{{ range(10**9)|list }}", "{{ lipsum.__globals__ }}", "{% include 'body.text.j2' %}{{ x }}"]
    for template in broken:
        assert check_templates({"body": template}, "text"), template
    at = datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
    dev = Development(key="k", kind=DevelopmentKind.THREAD_CHANGE, story_id="s", at=at, title="Acme invokes the act",
                      severity=Severity.WARNING, thread_id="dpa", from_state="none", to_state="invoked")
    message = render(dev, fmt="text", story_title="Standoff", thread_line="dpa: invoked", countdown=None,
                     display_zone="UTC", story_zone="UTC", now=at, templates={"body": "{{ 1/0 }}"})
    assert "Acme invokes the act" in message.body  # the shipped template, not a crash


def test_the_base_document_loads_with_the_channel_checks(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(BASE_TOML, encoding="utf-8")
    settings = load_settings(path, BASE_ENV, checks=ChannelChecks(url=target_problem, templates=check_templates))
    assert settings.channels[0].urls == (BASE_ENV["DESK_URL"],)
