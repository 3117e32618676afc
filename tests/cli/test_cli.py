"""The ``monitor`` command as a user runs it: exit codes, text and JSON outputs. In-process through Click's
CliRunner (tests/clirunner.py); only the import-cost probe needs a fresh interpreter."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from monitor.store.db import Store
from tests.clirunner import DATA, ROOT, Replayed, copy_database, json_lines, monitor
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, write_config
from tests.receivers import HttpReceiver


def test_version_and_help_work_without_a_config(tmp_path: Path) -> None:
    version = monitor("--config", str(tmp_path / "missing.toml"), "--version")
    assert version.exit_code == 0 and "monitor" in version.stdout
    helped = monitor("--help")
    assert helped.exit_code == 0
    for command in ("run", "status", "poll", "feeds", "replay", "history", "calendar", "outbox", "ack"):
        assert command in helped.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    """A fresh interpreter: in this one the other tests have imported everything already."""
    probe = (
        "import sys, click\n"
        "from monitor.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlmodel', 'apprise', 'feedparser', 'httpx', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


@pytest.mark.parametrize("config", ["config/monitor.toml", *sorted(str(p.relative_to(ROOT)) for p in
                                                              (ROOT / "config" / "examples").glob("*.toml"))])
def test_config_check_passes_on_every_shipped_config(config: str) -> None:
    secrets = {"MONITOR_EMAIL_URL": "mailto://u:p@mail.example.org", "MONITOR_NTFY_URL": "ntfy://127.0.0.1/topic"}
    done = monitor("--config", config, "config", "check", env=secrets)
    assert done.exit_code == 0, done.stderr
    assert "is valid" in done.stdout


def test_config_check_json_shows_the_deadline_in_utc_and_masks_secrets(tmp_path: Path) -> None:
    path = write_config(tmp_path, feeds=[], channels='[[channels]]\nid = "chat"\nurls = ["${HOOK}"]\n')
    done = monitor("--config", str(path), "config", "check", "--json", env={"HOOK": "json://u:topsecret@127.0.0.1/x"})
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["stories"][0]["deadlines"][0]["due_utc"] == "2030-06-01T22:00:00Z"
    assert "topsecret" not in done.stdout
    february = json.loads(monitor("--config", "tests/data/anthropic-feb2026.toml", "config", "check", "--json").stdout)
    assert february["stories"][0]["deadlines"][0]["due_utc"] == "2026-02-27T22:01:00Z"


def test_invalid_config_exits_2_naming_the_field_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "config" / "monitor.toml").read_text().replace('poll_interval = "15m"',
                                                                         'poll_interval = "soon"', 1))
    done = monitor("--config", str(bad), "status")  # an exception other than SystemExit would be raised here
    assert done.exit_code == 2
    assert "monitor.poll_interval" in done.stderr and "Traceback" not in done.stderr
    missing_env = write_config(tmp_path, feeds=[], channels='[[channels]]\nid = "c"\nurls = ["${NOT_SET_X}"]\n')
    done = monitor("--config", str(missing_env), "config", "check")
    assert done.exit_code == 2 and "NOT_SET_X" in done.stderr and "channels[0].urls[0]" in done.stderr


def test_read_only_commands_never_create_a_database_and_say_where_they_looked(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    for command in (["status"], ["status", "--check"], ["feeds"], ["history"], ["outbox"], ["ack", "1"]):
        done = monitor(*command, db=missing)
        assert done.exit_code == 1 and f"no database at {missing} yet" in done.stderr, (command, done.stderr)
    assert not missing.exists()
    assert monitor("calendar", db=missing).exit_code == 0 and not missing.exists()  # the configured deadlines


def test_status_on_a_fresh_database_shows_the_shipped_story_as_it_stands_today(tmp_path: Path) -> None:
    Store.open(f"sqlite:///{tmp_path / 'fresh.db'}").close()  # created and migrated, never run
    done = monitor("status", "--json", db=tmp_path / "fresh.db")
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    [story] = report["stories"]
    assert {t["id"]: t["state"] for t in story["threads"]} == {  # where the story stands (config/README.md)
        "ultimatum": "rejected", "designation": "split", "dpa": "threatened", "negotiations": "collapsed",
        "federal-ban": "enjoined", "litigation": "split-rulings",
    }
    assert story["deadlines"] == []  # the ultimatum passed in February; no date lies ahead on the record
    assert report["health"]["running"] is False
    text = monitor("status", db=tmp_path / "fresh.db").stdout
    assert "Pentagon ultimatum to Anthropic" in text and "next: a Supreme Court petition" in text
    assert f"database: sqlite:///{tmp_path / 'fresh.db'}" in text


def test_status_check_fails_when_the_daemon_never_ran(tmp_path: Path) -> None:
    Store.open(f"sqlite:///{tmp_path / 'fresh.db'}").close()
    done = monitor("status", "--check", db=tmp_path / "fresh.db")
    assert done.exit_code == 1 and "never run" in done.stderr


def test_calendar_has_the_shipped_deadline_at_2201z(tmp_path: Path) -> None:
    out = tmp_path / "deadlines.ics"
    done = monitor("--config", "tests/data/anthropic-feb2026.toml", "calendar", "--output", str(out),
                   db=tmp_path / "fresh.db")
    assert done.exit_code == 0, done.stderr
    calendar = Calendar.from_ical(out.read_bytes())
    [event] = [c for c in calendar.walk("VEVENT")]
    assert event.decoded("DTSTART").isoformat() == "2026-02-27T22:01:00+00:00"


def test_replay_into_a_database_then_history_lists_it_as_json_and_atom(fixture_replay: Replayed) -> None:
    db = fixture_replay.db  # `replay tests/data/archive --db sqlite:///<db> --json`, exit code 0
    config = str(DATA / "fictional.toml")
    history = monitor("--config", config, "history", "--json", db=db)
    assert history.exit_code == 0, history.stderr
    assert history.stdout == fixture_replay.stdout
    recent = monitor("--config", config, "history", "--json", "--since", "2026-03-09T00:00", db=db)
    assert [x["to"] for x in json_lines(recent.stdout)] == ["designated"]
    atom = monitor("--config", config, "history", "--atom", db=db)
    assert atom.exit_code == 0 and atom.stdout.startswith("<?xml") and "<entry>" in atom.stdout
    table = monitor("--config", config, "history", db=db)
    assert "deadline.passed" in table.stdout


def test_outbox_and_ack_on_a_replayed_database(tmp_path: Path, fixture_replay: Replayed) -> None:
    db = copy_database(fixture_replay.db, tmp_path / "replayed.db")  # ack writes
    config = str(DATA / "fictional.toml")
    outbox = monitor("--config", config, "outbox", "--json", "--all", db=db)
    assert outbox.exit_code == 0, outbox.stderr
    rows = json_lines(outbox.stdout)
    assert rows and {r["channel"] for r in rows} == {"console"}
    acked = monitor("--config", config, "ack", "1", db=db)
    assert acked.exit_code == 0, acked.stderr
    unknown = monitor("--config", config, "ack", "no-such-development", db=db)
    assert unknown.exit_code == 2


def test_poll_with_an_unknown_feed_id_exits_2_naming_the_configured_ones(tmp_path: Path) -> None:
    done = monitor("poll", "--feed", "nope", db=tmp_path / "x.db")
    assert done.exit_code == 2 and "nope" in done.stderr
    assert "gnews-anthropic-supply-chain-risk" in done.stderr and "courtlistener-docket-cadc" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_long_list_of_known_ids_shows_the_first_20_and_how_many_more(tmp_path: Path) -> None:
    path = write_config(tmp_path, feeds=[(f"feed-{n:02}", f"http://127.0.0.1:9/{n}", "ordinary") for n in range(25)])
    done = monitor("--config", str(path), "poll", "--feed", "nosuch")
    assert done.exit_code == 2
    assert "feed-00, feed-01" in done.stderr and "feed-19 and 5 more" in done.stderr and "feed-20" not in done.stderr


def test_notify_test_with_an_unknown_channel_exits_2_naming_the_configured_ones(tmp_path: Path) -> None:
    path = write_config(tmp_path, feeds=[], channels='[[channels]]\nid = "desk"\nurls = ["json://127.0.0.1:9/x"]\n')
    done = monitor("--config", str(path), "notify", "test", "--channel", "nosuch")
    assert done.exit_code == 2, done.output
    assert "unknown channel id 'nosuch'" in done.stderr and "desk" in done.stderr
    assert done.stdout == ""  # nothing was sent


def test_history_of_an_unknown_story_exits_2_naming_the_configured_ones(fixture_replay: Replayed) -> None:
    config = str(DATA / "fictional.toml")
    done = monitor("--config", config, "history", "--story", "nosuch", db=fixture_replay.db)
    assert done.exit_code == 2 and "unknown story id 'nosuch'" in done.stderr
    assert "northwind-terminal-data" in done.stderr
    known = monitor("--config", config, "history", "--story", "northwind-terminal-data", "--json", db=fixture_replay.db)
    assert known.exit_code == 0 and known.stdout == fixture_replay.stdout


def test_history_and_status_show_the_short_id_that_ack_takes(tmp_path: Path, fixture_replay: Replayed) -> None:
    db = copy_database(fixture_replay.db, tmp_path / "replayed.db")  # ack writes
    config = str(DATA / "fictional.toml")
    developments = json_lines(monitor("--config", config, "history", "--json", db=db).stdout)
    ids = [d["id"] for d in developments]
    assert all(len(i) == 8 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == len(ids)
    assert ids == [d["id"] for d in fixture_replay.developments]  # the same development has the same id anywhere
    table = monitor("--config", config, "history", db=db).stdout
    assert all(i in table for i in ids)
    status = json.loads(monitor("--config", config, "status", "--json", db=db).stdout)
    [story] = status["stories"]
    designation = next(t for t in story["threads"] if t["id"] == "designation")
    [designated] = [d for d in developments if d["to"] == "designated"]
    assert designation["development"] == designated["key"] and designation["development_id"] == designated["id"]
    assert f"(id {designated['id']})" in monitor("--config", config, "status", db=db).stdout
    acked = monitor("--config", config, "ack", designated["id"], db=db)
    assert acked.exit_code == 0, acked.stderr
    assert designated["id"] in acked.stdout and designated["key"] in acked.stdout
    with Store.open(f"sqlite:///{db}").read() as tx:
        assert tx.is_acknowledged(designated["key"])
    assert monitor("--config", config, "ack", designated["id"][:4], db=db).exit_code == 0  # a prefix will do


def test_ack_of_an_unknown_id_exits_2_listing_the_known_ones(fixture_replay: Replayed) -> None:
    config = str(DATA / "fictional.toml")
    done = monitor("--config", config, "ack", "ffffffff", db=fixture_replay.db)
    assert done.exit_code == 2 and "no development 'ffffffff'" in done.stderr
    assert all(d["id"] in done.stderr for d in fixture_replay.developments)


def test_ack_of_an_ambiguous_id_exits_2_saying_so(tmp_path: Path) -> None:
    from monitor.cli.reports import short_id
    from monitor.domain import Development, DevelopmentKind, Severity

    seen: dict[str, str] = {}
    n = 0
    while True:  # two keys whose ids share their first 4 characters (a few hundred tries, the same every run)
        key = f"ops:test:{n}"
        clash = seen.setdefault(short_id(key)[:4], key)
        if clash != key:
            break
        n += 1
    db = tmp_path / "ambiguous.db"
    store = Store.open(f"sqlite:///{db}")
    with store.write() as tx:
        for k in (clash, key):
            tx.upsert_development(Development(key=k, kind=DevelopmentKind.TEST, story_id="", at=at("2030-01-01T00:00"),
                                              title="test", severity=Severity.INFO), at("2030-01-01T00:00"))
    store.close()
    prefix = short_id(key)[:4]
    done = monitor("ack", prefix, db=db)
    assert done.exit_code == 2 and "ambiguous" in done.stderr
    assert short_id(key) in done.stderr and short_id(clash) in done.stderr
    assert monitor("ack", short_id(key), db=db).exit_code == 0


def test_outbox_shows_targets_never_tried_as_not_tried(fixture_replay: Replayed) -> None:
    done = monitor("--config", str(DATA / "fictional.toml"), "outbox", db=fixture_replay.db)
    assert done.exit_code == 0, done.stderr
    rows = done.stdout.splitlines()[2:]  # replay sends nothing: every target is still to be tried
    assert rows and all("=not tried" in row and "failed" not in row for row in rows)


def test_status_shows_when_each_feed_is_polled_next(fixture_replay: Replayed) -> None:
    done = monitor("--config", str(DATA / "fictional.toml"), "status", db=fixture_replay.db)
    assert done.exit_code == 0, done.stderr
    feed_lines = [line for line in done.stdout.splitlines() if line.startswith("  ") and "last ok" in line]
    assert len(feed_lines) == 7 and all("next poll due now" in line for line in feed_lines)  # the replay ended


def test_poll_summary_counts_every_development_the_tick_created(tmp_path: Path) -> None:
    """A thread move from a feed's item and a failing feed's alert are created during the poll of the feeds:
    the summary counts them with the rest, as many as `history` then lists."""
    recent = datetime.now(UTC) - timedelta(hours=1)
    with FeedServer() as server:
        server.route("/ok.xml", body=rss("City News", [
            ("Riverton city council threatens to ban Acme Robotics delivery drones", "https://c.example.test/1",
             recent)]))
        server.route("/down.xml", status=500)
        path = write_config(tmp_path, feeds=[("city", server.url("/ok.xml"), "ordinary"),
                                             ("down", server.url("/down.xml"), "ordinary")],
                            monitor="failure_alert_after = 1", feed_extra='backfill = "1d"')
        polled = monitor("--config", str(path), "poll")
    assert polled.exit_code == 0, polled.stderr
    created = json_lines(monitor("--config", str(path), "history", "--json").stdout)
    assert {d["kind"] for d in created} == {"thread.changed", "ops.feed_failing"}
    assert f"{len(created)} development(s) (1 thread move, 1 ops alert)" in polled.stdout


def test_poll_shows_a_progress_bar_of_feeds_done_when_stderr_is_a_terminal(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from io import StringIO

    from rich.console import Console

    import monitor.cli.work_commands as cli

    shown = StringIO()
    monkeypatch.setattr(cli, "_progress_console", lambda: Console(file=shown, force_terminal=True, width=80))
    with FeedServer() as server:
        server.route("/ok.xml", body=rss("City News", []))
        server.route("/down.xml", status=500)
        path = write_config(tmp_path, feeds=[("city", server.url("/ok.xml"), "ordinary"),
                                             ("down", server.url("/down.xml"), "ordinary")])
        polled = monitor("--config", str(path), "poll")
    assert polled.exit_code == 0, polled.stderr
    assert "polling feeds" in shown.getvalue() and "2/2" in shown.getvalue()
    assert "polling feeds" not in polled.stdout  # the bar is on stderr, the report on stdout


def test_poll_prints_a_line_per_feed_and_feeds_shows_health(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/ok.xml", body=rss("City News", [("Acme opens office", "https://c.example.test/1",
                                                          at("2030-05-01T10:00"))]))
        server.route("/down.xml", status=500)
        path = write_config(tmp_path, feeds=[("city", server.url("/ok.xml"), "ordinary"),
                                             ("down", server.url("/down.xml"), "ordinary")])
        polled = monitor("--config", str(path), "poll", "--json")
        assert polled.exit_code == 0, polled.stderr
        lines = {row["feed"]: row for row in json_lines(polled.stdout)}
        assert lines["city"]["outcome"] == "seeded" and lines["down"]["outcome"] == "failed"
        assert lines["down"]["http_status"] == 500
        text = monitor("--config", str(path), "poll", "--feed", "city")
        assert text.exit_code == 0 and "city" in text.stdout and "down" not in text.stdout
        feeds = json_lines(monitor("--config", str(path), "feeds", "--json").stdout)
    by_id = {f["id"]: f for f in feeds}
    assert by_id["city"]["state"] == "ok" and by_id["city"]["items_seen"] == 1
    assert by_id["down"]["state"] == "failing" and "500" in by_id["down"]["last_error"]


def test_verbose_quiet_and_log_level_set_what_a_command_logs_on_stderr(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/ok.xml", body=rss("City News", []))
        server.route("/down.xml", status=500)
        path = str(write_config(tmp_path, feeds=[("city", server.url("/ok.xml"), "ordinary"),
                                                 ("down", server.url("/down.xml"), "ordinary")]))
        quiet = monitor("-q", "--config", path, "poll")
        default = monitor("--config", path, "poll")
        debug = monitor("-vv", "--config", path, "poll")
        by_option = monitor("--log-level", "debug", "--config", path, "poll")
        by_env = monitor("--config", path, "poll", env={"MONITOR_LOG_LEVEL": "debug"})
        bad_env = monitor("--config", path, "poll", env={"MONITOR_LOG_LEVEL": "loud"})
    assert all(r.exit_code == 0 for r in (quiet, default, debug, by_option, by_env)), debug.stderr
    assert quiet.stderr == "" and "down" in quiet.stdout  # the failure is still in the output
    assert "HTTP Request: GET" not in default.stderr
    for done in (debug, by_option, by_env):  # the libraries' request lines, one line each, no trace
        assert "HTTP Request: GET" in done.stderr and "Traceback" not in done.stderr
    assert bad_env.exit_code == 2 and "MONITOR_LOG_LEVEL" in bad_env.stderr


def test_notify_test_sends_to_each_target_and_reports_the_result(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with HttpReceiver() as receiver, HttpReceiver(default=500) as failing:
        channels = (
            '[[channels]]\nid = "chat"\nurls = ["' + receiver.json_url("/chat") + '", "'
            + failing.json_url("/x", secret="hunter2") + '"]\n'
        )
        path = write_config(tmp_path, feeds=[], channels=channels)
        with caplog.at_level(logging.WARNING):  # what Python prints to stderr when logging is not set up
            done = monitor("--config", str(path), "notify", "test")
        assert len(receiver.delivered("/chat")) == 1
    assert done.exit_code == 1  # one target failed
    assert "chat\tjson://" in done.stdout and "ok" in done.stdout and "FAILED" in done.stdout
    # in a subprocess the command's warnings went to its stderr; in-process they go to the log capture
    assert "hunter2" not in done.stdout + done.stderr + caplog.text


def test_a_table_shows_feed_text_with_rich_markup_as_written() -> None:
    from io import StringIO

    from rich.console import Console

    from monitor.cli.main import rich_table

    out = StringIO()
    table = rich_table("feeds [/x]", ["id", "error"], [["gnews[/x]", "redirect to http://h/[/x] [bold]"]])
    Console(file=out, width=200, color_system=None).print(table)
    text = out.getvalue()
    assert "gnews[/x]" in text and "http://h/[/x] [bold]" in text and "feeds [/x]" in text
