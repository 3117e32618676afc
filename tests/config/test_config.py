"""Configuration: the shipped and example files validate; broken files fail with the field path and a hint.

Broken configurations are one table: each row changes one thing in a small valid document and names the
exact field path the message must start with and a fragment of the hint that says how to fix it.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.config.load import load_settings, parse_settings
from monitor.config.masking import mask_database_url, mask_secret_url
from monitor.durations import countdown, format_duration, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "monitor.toml"
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.toml"))

# A small valid document the broken cases start from (independent of the shipped file, which others edit).
BASE_TOML = """
[monitor]
display_zone = "UTC"

[[feeds]]
id = "news"
url = "https://news.example.org/rss"

[[feeds]]
id = "court"
url = "https://court.example.org/feed/search/?q=Acme"
source = "primary"
poll_interval = "30m"
stories = ["standoff"]

[[stories]]
id = "standoff"
title = "Ministry ultimatum to Acme"
zone = "America/New_York"

[stories.relevance]
require = [["Acme"], ["Ministry", "minister"]]

[stories.threads.dpa]
transitions = { none = ["threatened", "invoked"], threatened = ["invoked", "dropped"], invoked = ["dropped"] }

[[stories.threads.dpa.states]]
id = "none"
level = 0
kind = "initial"

[[stories.threads.dpa.states]]
id = "threatened"
level = 1
kind = "threat"
cues = ["threatens to invoke"]

[[stories.threads.dpa.states]]
id = "invoked"
level = 3
cues = ["invokes the act", "uses the act"]

[[stories.threads.dpa.states]]
id = "dropped"
level = 0
cues = ["drops the act"]

[[stories.deadlines]]
id = "friday"
title = "Friday deadline"
due = 2026-02-27T17:01:00
zone = "America/New_York"
resolved_by = ["dpa.invoked"]

[[channels]]
id = "desk"
urls = ["${DESK_URL}"]
"""
BASE_ENV = {"DESK_URL": "json://hooks.example.org/desk-token-1234"}

Mutation = Callable[[dict[str, Any]], None]


def base() -> dict[str, Any]:
    return tomllib.loads(BASE_TOML)


def problems_of(mutate: Mutation, env: dict[str, str] | None = None) -> list[str]:
    data = base()
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, BASE_ENV if env is None else env)
    assert caught.value.exit_code == 2
    return caught.value.problems


def put(path: str, value: Any) -> Mutation:
    """``put("stories.0.threads.dpa.initial", "x")``: set one value, creating nothing on the way."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def duplicate(path: str) -> Mutation:
    """Append a copy of the list's first element (same id)."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in [int(p) if p.isdigit() else p for p in path.split(".")]:
            node = node[part]
        node.append(copy.deepcopy(node[0]))

    return mutate


def rename_thread(data: dict[str, Any]) -> None:
    threads = data["stories"][0]["threads"]
    threads["Bad Thread"] = threads.pop("dpa")
    data["stories"][0]["deadlines"][0]["resolved_by"] = []


def digest(cron: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["channels"][0].update(mode="digest", digest_cron=cron)

    return mutate


def second_story(data: dict[str, Any]) -> None:
    data["stories"].append(copy.deepcopy(data["stories"][0]))


STATE = "stories[0].threads.dpa.states"
BROKEN: list[tuple[str, Mutation, str, str]] = [
    # (case, change, field path the message starts with, hint fragment)
    ("unknown key in a feed", put("feeds.1.pol_interval", "10m"), "feeds[1].pol_interval", "check its spelling"),
    ("unknown top-level table", put("monitr", {}), "monitr", "remove it"),
    ("unknown key in a state", put("stories.0.threads.dpa.states.1.cue", ["x"]), f"{STATE}[1].cue", "remove it"),
    ("duration in words", put("feeds.1.poll_interval", "10 minutes"), "feeds[1].poll_interval", "like '90s', '10m'"),
    ("duration as a bare number", put("feeds.1.poll_interval", 10), "feeds[1].poll_interval", "as a string"),
    ("negative reminder", put("stories.0.deadlines.0.reminders", ["1h", "-1h"]),
     "stories[0].deadlines[0].reminders[1]", "write it like"),
    ("misspelt story zone", put("stories.0.zone", "America/NewYork"), "stories[0].zone", "IANA name"),
    ("made-up display zone", put("monitor.display_zone", "CET+1"), "monitor.display_zone", "IANA name"),
    ("deadline zone unknown", put("stories.0.deadlines.0.zone", "Mars/Olympus"),
     "stories[0].deadlines[0].zone", "IANA name"),
    ("deadline in the spring-forward gap", put("stories.0.deadlines.0.due", datetime(2026, 3, 8, 2, 30)),
     "stories[0].deadlines[0].due", "move it outside the gap"),
    ("deadline in the repeated autumn hour", put("stories.0.deadlines.0.due", datetime(2026, 11, 1, 1, 30)),
     "stories[0].deadlines[0].due", "outside the repeated hour"),
    ("deadline with a UTC offset", put("stories.0.deadlines.0.due", datetime(2026, 2, 27, 22, 1, tzinfo=UTC)),
     "stories[0].deadlines[0].due", "zone in 'zone'"),
    ("due written as a string", put("stories.0.deadlines.0.due", "Friday 5pm"),
     "stories[0].deadlines[0].due", "TOML local date-time"),
    ("transition to an unknown state", put("stories.0.threads.dpa.transitions.threatened", ["invoked", "nuked"]),
     "stories[0].threads.dpa.transitions.threatened", "known states are"),
    ("transition from an unknown state", put("stories.0.threads.dpa.transitions.nowhere", ["invoked"]),
     "stories[0].threads.dpa.transitions.nowhere", "known states are"),
    ("initial state unknown", put("stories.0.threads.dpa.initial", "calm"),
     "stories[0].threads.dpa.initial", "use one of"),
    ("state id twice", duplicate("stories.0.threads.dpa.states"), f"{STATE}[4].id", "its own id"),
    ("missing environment variable", put("channels.0.urls", ["${NOT_SET_ANYWHERE}"]),
     "channels[0].urls[0]", "NOT_SET_ANYWHERE is not set; set it in the environment"),
    ("feed id twice", duplicate("feeds"), "feeds[2].id", "must be unique"),
    ("story id twice", second_story, "stories[1].id", "must be unique"),
    ("channel id twice", duplicate("channels"), "channels[1].id", "must be unique"),
    ("deadline id twice", duplicate("stories.0.deadlines"), "stories[0].deadlines[1].id", "must be unique"),
    ("unknown severity", put("channels.0.min_severity", "urgent"), "channels[0].min_severity", "use one of info"),
    ("unknown confidence", put("channels.0.min_confidence", "certain"),
     "channels[0].min_confidence", "one of the values"),
    ("feed URL not http", put("feeds.0.url", "ftp://news.example.org/rss"), "feeds[0].url", "write https://"),
    ("feed names an unknown story", put("feeds.1.stories", ["tiktok"]), "feeds[1].stories", "stories are"),
    ("channel names an unknown story", put("channels.0.stories", ["tiktok"]), "channels[0].stories", "stories are"),
    ("resolved_by an unknown state", put("stories.0.deadlines.0.resolved_by", ["dpa.nuked"]),
     "stories[0].deadlines[0].resolved_by", "'thread.state'"),
    ("resolved_by an unknown thread", put("stories.0.deadlines.0.resolved_by", ["ban.enforced"]),
     "stories[0].deadlines[0].resolved_by", "threads are ['dpa']"),
    ("no stories", put("stories", []), "stories", "add at least one [[stories]] table"),
    ("stories table missing", drop("stories"), "stories", "required key is missing"),
    ("quiet hours unreadable", put("channels.0.quiet_hours", "22-7"), "channels[0].quiet_hours", "'22:00-07:00'"),
    ("quiet hours out of range", put("channels.0.quiet_hours", "25:00-07:00"),
     "channels[0].quiet_hours", "24-hour clock"),
    ("digest cron with 4 fields", digest("0 8 * *"), "channels[0].digest_cron", "5-field cron expression"),
    ("digest cron hour 25", digest("0 25 * * *"), "channels[0].digest_cron", "5-field cron expression"),
    ("feed id with spaces and capitals", put("feeds.0.id", "Google News"), "feeds[0].id", "lower-case letters"),
    ("thread id with spaces", rename_thread, "stories[0].threads", "not a valid thread id"),
    ("state id with a space", put("stories.0.threads.dpa.states.2.id", "in voked"), f"{STATE}[2].id", "lower-case"),
    ("empty cue", put("stories.0.threads.dpa.states.2.cues", ["invokes the act", ""]),
     f"{STATE}[2].cues[1]", "remove the entry"),
    ("empty relevance term", put("stories.0.relevance.exclude", [""]),
     "stories[0].relevance.exclude[0]", "remove the entry"),
    ("state without a level", drop("stories.0.threads.dpa.states.1.level"), f"{STATE}[1].level", "add it"),
    ("level out of range", put("stories.0.threads.dpa.states.1.level", 500), f"{STATE}[1].level", "smaller value"),
    ("unknown state kind", put("stories.0.threads.dpa.states.1.kind", "rumour"), f"{STATE}[1].kind", "one of the"),
    ("unknown source kind", put("feeds.1.source", "official"), "feeds[1].source", "one of the values"),
    ("boolean in quotes", put("feeds.0.enabled", "sometimes"), "feeds[0].enabled", "true or false"),
    ("list written as a string", put("feeds.1.stories", "standoff"), "feeds[1].stories", "write a list"),
    ("unknown development kind", put("channels.0.kinds", ["thread.exploded"]), "channels[0].kinds", "known kinds"),
    ("no relevance groups", put("stories.0.relevance.require", []), "stories[0].relevance.require", "at least 1"),
    ("thread with one state", put("stories.0.threads.dpa.states", [{"id": "none", "level": 0}]),
     STATE, "at least 2 entries"),
    ("channel without urls", put("channels.0.urls", []), "channels[0].urls", "at least 1 entry"),
    ("unknown message format", put("channels.0.format", "pdf"), "channels[0].format", "one of the values"),
    ("story without relevance", drop("stories.0.relevance"), "stories[0].relevance", "required key is missing"),
]


def test_the_base_document_of_the_broken_cases_is_itself_valid() -> None:
    settings = parse_settings(base(), BASE_ENV)
    assert settings.channels[0].urls == (BASE_ENV["DESK_URL"],)


@pytest.mark.parametrize(("change", "path", "hint"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN])
def test_a_broken_configuration_is_rejected_with_its_field_path_and_a_hint(change: Mutation, path: str, hint: str):
    problems = problems_of(change)
    assert len(problems) == 1, problems  # one mistake, one message: no knock-on noise
    problem = problems[0]
    assert problem.startswith(f"{path}: "), problem
    assert hint in problem, problem
    assert "Traceback" not in problem and "pydantic" not in problem.lower()


def test_at_least_twenty_broken_configurations_are_covered() -> None:
    assert len(BROKEN) >= 20


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    def two_mistakes(data: dict[str, Any]) -> None:
        data["feeds"][0]["poll_interval"] = "soon"
        data["stories"][0]["zone"] = "Nowhere/Land"

    problems = problems_of(two_mistakes)
    assert [p.split(":")[0] for p in problems] == ["feeds[0].poll_interval", "stories[0].zone"]


def test_the_error_text_lists_the_source_file_and_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BASE_TOML.replace('poll_interval = "30m"', 'poll_interval = "30 mins"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, BASE_ENV)
    text = str(caught.value)
    assert text.startswith(f"invalid configuration {path}:")
    assert "  - feeds[1].poll_interval: cannot read '30 mins'" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[feeds]\nid = 'x'\n", r"not valid TOML: .*line 1"),
        ("[monitor]\ndisplay_zone = \n", r"not valid TOML: .*line 2"),
        ("[monitor]\ndisplay_zone = 'UTC'\ndisplay_zone = 'UTC'\n", r"not valid TOML: .*line 3"),
    ],
    ids=["unclosed table header", "missing value", "key written twice"],
)
def test_invalid_toml_is_a_config_error_with_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert caught.value.source == str(path)
    assert re.search(expected, caught.value.problems[0]), caught.value.problems


def test_a_missing_file_is_a_config_error_that_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml", {})
    assert "file not found" in caught.value.problems[0] and "--config" in caught.value.problems[0]


# ------------------------------------------------------------------------------------ shipped files
def test_the_shipped_configuration_validates_without_any_secret() -> None:
    settings = load_settings(SHIPPED, env={})
    assert settings.feeds and settings.stories


def test_the_february_deadline_is_friday_27_february_2026_at_2201_utc() -> None:
    settings = load_settings(ROOT / "tests" / "data" / "anthropic-feb2026.toml", env={})
    story = settings.story("anthropic-pentagon")
    due = {d.id: d.due_utc for d in story.deadlines}
    assert due["friday-ultimatum"] == datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
    assert story.deadlines[0].zone == "America/New_York"


def test_the_shipped_feeds_are_https_and_primary_sources_are_marked() -> None:
    settings = load_settings(SHIPPED, env={})
    assert all(f.url.startswith("https://") for f in settings.feeds)
    primary_hosts = {f.url.split("/")[2] for f in settings.feeds if f.source.value == "primary"}
    assert {"www.federalregister.gov", "www.courtlistener.com"} <= primary_hosts


def env_for(path: Path) -> dict[str, str]:
    """A value for every ${NAME} the file references, as a user's environment would provide."""
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text(encoding="utf-8")))
    return {name: f"json://hooks.example.org/{name.lower()}" for name in names}


def test_there_is_an_example_for_a_story_other_than_the_shipped_one() -> None:
    shipped = {s.id for s in load_settings(SHIPPED, env={}).stories}
    others = {s.id for path in EXAMPLES for s in load_settings(path, env_for(path)).stories}
    assert others - shipped


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_configuration_validates(path: Path) -> None:
    settings = load_settings(path, env_for(path))
    for story in settings.stories:
        for deadline in story.deadlines:
            assert deadline.due_utc.tzinfo is not None


def test_the_divestiture_example_converts_its_deadline_from_eastern_daylight_time() -> None:
    path = ROOT / "config" / "examples" / "tiktok-divestiture.toml"
    settings = load_settings(path, env_for(path))
    deadline = settings.story("tiktok-divestiture").deadlines[0]
    assert deadline.due_utc == datetime(2025, 9, 18, 3, 59, tzinfo=UTC)  # 23:59 EDT is UTC-4
    assert deadline.reminders == (timedelta(days=7), timedelta(days=1), timedelta(hours=3))


@pytest.mark.parametrize(
    ("local", "zone", "utc"),
    [
        (datetime(2026, 2, 27, 17, 1), "America/New_York", datetime(2026, 2, 27, 22, 1, tzinfo=UTC)),  # EST
        (datetime(2026, 3, 9, 17, 1), "America/New_York", datetime(2026, 3, 9, 21, 1, tzinfo=UTC)),  # EDT
        (datetime(2026, 3, 29, 12, 0), "Europe/Berlin", datetime(2026, 3, 29, 10, 0, tzinfo=UTC)),  # CEST
        (datetime(2026, 6, 30, 23, 59), "UTC", datetime(2026, 6, 30, 23, 59, tzinfo=UTC)),
    ],
)
def test_a_deadline_is_converted_to_utc_once_with_the_zone_rules_of_its_date(local, zone, utc) -> None:
    data = base()
    data["stories"][0]["deadlines"][0].update(due=local, zone=zone)
    assert parse_settings(data, BASE_ENV).stories[0].deadlines[0].due_utc == utc


def test_settings_are_frozen() -> None:
    settings = parse_settings(base(), BASE_ENV)
    with pytest.raises(ValidationError):
        settings.feeds[0].url = "https://elsewhere.example.org/"  # type: ignore[misc]


# ------------------------------------------------------------------------------- environment, secrets
def test_env_references_are_filled_from_the_given_mapping_anywhere_in_a_string() -> None:
    data = base()
    data["channels"][0]["urls"] = ["tgram://${BOT}/${CHAT}", "mailtos://${MAIL_USER}:${MAIL_PASS}@smtp.example.org"]
    data["feeds"][0]["url"] = "https://news.example.org/rss?key=${FEED_KEY}"
    env = {"BOT": "123:abc", "CHAT": "456", "MAIL_USER": "desk", "MAIL_PASS": "s3cret", "FEED_KEY": "k1"}
    settings = parse_settings(data, env)
    assert settings.channels[0].urls == ("tgram://123:abc/456", "mailtos://desk:s3cret@smtp.example.org")
    assert settings.feeds[0].url == "https://news.example.org/rss?key=k1"


def test_every_missing_variable_is_named_with_its_field() -> None:
    data = base()
    data["channels"][0]["urls"] = ["${FIRST}", "x://${SECOND}"]
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, {})
    assert caught.value.problems == [
        "channels[0].urls[0]: environment variable FIRST is not set; set it in the environment (compose reads .env)",
        "channels[0].urls[1]: environment variable SECOND is not set; set it in the environment (compose reads .env)",
    ]


def test_a_value_from_the_environment_never_appears_in_an_error_message() -> None:
    data = base()
    data["feeds"][0]["url"] = "${FEED_URL}"
    data["channels"][0]["min_severity"] = "${SEVERITY}"
    env = {**BASE_ENV, "FEED_URL": "ftp://user:hunter2-token@feeds.example.org/", "SEVERITY": "sev-secret-42"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env)
    text = str(caught.value)
    assert "feeds[0].url" in text and "channels[0].min_severity" in text
    assert "hunter2-token" not in text and "sev-secret-42" not in text


def test_the_default_environment_is_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_URL", "json://from-process-env.example.org/")
    assert parse_settings(base()).channels[0].urls == ("json://from-process-env.example.org/",)


def test_monitor_database_url_from_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BASE_TOML, encoding="utf-8")
    # the default: the state folder beside the config's folder, whatever the current folder
    assert load_settings(path, BASE_ENV).monitor.database_url == f"sqlite:///{tmp_path.parent / 'state/monitor.db'}"
    env = {**BASE_ENV, "MONITOR_DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1/monitor"}
    assert load_settings(path, env).monitor.database_url == "postgresql+psycopg://u:p@127.0.0.1/monitor"


def test_a_relative_sqlite_path_is_relative_to_the_config_file_not_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "conf" / "c.toml"
    path.parent.mkdir()
    path.write_text(BASE_TOML.replace("[monitor]", '[monitor]\ndatabase_url = "sqlite:///db/m.db?timeout=5"'),
                    encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(path, BASE_ENV).monitor.database_url == f"sqlite:///{tmp_path / 'conf/db/m.db'}?timeout=5"
    env = {**BASE_ENV, "MONITOR_DATABASE_URL": "sqlite:///here.db"}  # the shell's choice: the current folder
    assert load_settings(path, env).monitor.database_url == f"sqlite:///{elsewhere / 'here.db'}"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("tgram://123456:ABC-token/987654", "tgram://***"),
        ("slack://TokenA/TokenB/TokenC/#newsdesk", "slack://***"),
        ("ntfys://user:pass@ntfy.sh/topic", "ntfys://***"),
        ("mailtos://desk:s3cret@smtp.example.org?to=a@example.org", "mailtos://***@smtp.example.org/***"),
        ("json://hooks.example.org:8080/path?token=abc", "json://***@hooks.example.org/***"),
        ("not a url at all", "***"),
    ],
)
def test_notification_urls_are_masked_keeping_only_the_scheme_and_mail_host(url: str, masked: str) -> None:
    assert mask_secret_url(url) == masked


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://monitor:pa55word@db.example.org:5432/monitor",
         "postgresql+psycopg://monitor:***@db.example.org:5432/monitor"),
        ("sqlite:///state/monitor.db", "sqlite:///state/monitor.db"),
        ("postgresql://monitor@localhost/monitor", "postgresql://monitor@localhost/monitor"),
    ],
)
def test_a_database_password_is_masked(url: str, masked: str) -> None:
    assert mask_database_url(url) == masked


# ------------------------------------------------------------------------------------------ durations
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1d 6h", timedelta(hours=30)),
        ("1h30m", timedelta(minutes=90)),
        (" 1.5h ", timedelta(minutes=90)),
        ("2H", timedelta(hours=2)),
        ("0s", timedelta(0)),
    ],
)
def test_a_duration_reads_like_10m_2h_1d(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "10", "10 minutes", "-1h", "h", "1h30", "1y", "ten m", "1h, 2m"])
def test_an_unreadable_duration_is_a_value_error_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"'10m', '2h'") as caught:
        parse_duration(text)
    assert "duration" in str(caught.value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=45), "45 s"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(minutes=1), "1 min"),
        (timedelta(hours=2, minutes=13, seconds=59), "2 h 13 min"),
        (timedelta(days=2, hours=4, minutes=30), "2 d 4 h"),
        (timedelta(hours=3), "3 h"),
        (timedelta(days=-1, hours=-2), "1 d 2 h"),  # the sign is the caller's business
    ],
)
def test_a_duration_is_formatted_short_and_exact_enough(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_format_duration_shows_as_many_parts_as_asked() -> None:
    delta = timedelta(days=1, hours=2, minutes=3)
    assert (format_duration(delta, parts=1), format_duration(delta, parts=3)) == ("1 d", "1 d 2 h 3 min")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2, hours=4), "in 2 d 4 h"),
        (timedelta(hours=2, minutes=13), "in 2 h 13 min"),
        (timedelta(0), "in 0 s"),
        (timedelta(hours=-3), "passed 3 h ago"),
        (timedelta(seconds=-20), "passed 20 s ago"),
    ],
)
def test_a_countdown_says_in_or_passed_ago(delta: timedelta, text: str) -> None:
    assert countdown(delta) == text
