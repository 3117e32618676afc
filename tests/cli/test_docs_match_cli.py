"""The documentation tells the truth about the command line.

1. Every ``monitor ...`` command and every ``--flag`` that README.md and docs/*.md mention (in code spans,
   command tables and shell blocks) is listed by the real ``--help`` of that command. A flag in a code span of
   its own (``--once``) belongs to the last ``monitor`` command named before it in the same section, or is a
   global option (``--config``); with no command before it, some command must have it.
2. Every field docs/json.md lists for a command's ``--json`` output appears in that command's real output:
   ``history``/``replay`` (the development table), ``status`` (the JSON example), ``feeds``, ``poll``, ``outbox``,
   ``config check``, ``try`` and ``items`` (the field lists). A top-level field must be in every object the command
   prints; a field documented inside another (``sources`` -> ``outlet``, ``stories`` -> ``deadlines`` ->
   ``due_utc``) must be somewhere inside that field in at least one object. Names in parentheses after a field
   whose real value is plain text (``state`` (``new``, ``ok``, ...)) are its documented values, not fields.

Everything runs in-process through Click's CliRunner, on tests/data/fictional.toml with replayed databases
(the fixture archive, and a small archive with a deadline extension and a feed that stops being a feed), and,
for ``poll`` and a dead-lettered delivery, on a config whose feeds and channel are local test servers.

A documented command, flag or field that does not exist is a known mismatch for the maintainer: its case is
marked ``xfail(strict=True)`` in ``KNOWN_MISMATCHES`` below (and passes again, failing the strict xfail, once
the docs or the code are fixed).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

from monitor.cli.main import main
from monitor.ingest.archive import file_name
from tests.clirunner import FICTIONAL, ROOT, Replayed, json_lines, monitor
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, write_config
from tests.receivers import HttpReceiver

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
JSON_DOC = ROOT / "docs" / "json.md"

# (command words, flag or None) for a CLI mention, (command words, top-level field) for a JSON field: reason.
KNOWN_MISMATCHES: dict[tuple[tuple[str, ...], str | None], str] = {}


# ------------------------------------------------------------------------------------------ markdown
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`]+)`")
SHELL_BLOCKS = {"", "sh", "shell", "bash", "console"}
FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")
NAME = re.compile(r"[a-z_][a-z0-9_]*")


def sections(text: str) -> Iterator[list[tuple[str, str]]]:
    """Per section (split at headings), its code spans and shell-block lines in order: ("span" | "shell", text)."""
    pieces: list[tuple[int, str, str]] = []  # (offset, kind, text)
    prose = text
    for fence in FENCE.finditer(text):
        prose = prose[:fence.start()] + re.sub(r"[^\n]", " ", fence.group(0)) + prose[fence.end():]
        if fence.group(1).strip() in SHELL_BLOCKS:
            offset = fence.start(2)
            for line in fence.group(2).splitlines(keepends=True):
                pieces.append((offset, "shell", line.strip()))
                offset += len(line)
    pieces += [(h.start(), "heading", h.group(0)) for h in re.finditer(r"^#+ .*$", prose, re.MULTILINE)]
    pieces += [(s.start(), "span", " ".join(s.group(1).split())) for s in SPAN.finditer(prose)
               if "\n\n" not in s.group(1)]
    current: list[tuple[str, str]] = []
    for _, kind, piece in sorted(pieces):
        if kind == "heading":
            yield current
            current = []
        else:
            current.append((kind, piece))
    yield current


def words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def is_monitor(word: str) -> bool:
    return word == "monitor" or word.endswith("/monitor")


# ------------------------------------------------------------------------------------- CLI mentions
@dataclass(frozen=True)
class Mention:
    doc: str
    command: tuple[str, ...]  # words after `monitor`; the last one may be a command that does not exist
    flag: str | None  # None: the command itself
    standalone: bool = False  # a flag in a span of its own: of `command`, or a global option
    anywhere: bool = False  # a standalone flag with no command before it in its section

    @property
    def id(self) -> str:
        where = "some command" if self.anywhere else " ".join(("monitor", *self.command))
        return f"{self.doc}: {where}{' ' + self.flag if self.flag else ''}"


def parse_command(tokens: list[str]) -> tuple[tuple[str, ...], list[tuple[tuple[str, ...], str]]]:
    """Walk ``tokens`` (after `monitor`) down the real command tree: the command path, and each flag with the
    path of the command it was given to. A word that is no subcommand of a group ends the path there."""
    command: click.Command = main
    path: tuple[str, ...] = ()
    flags: list[tuple[tuple[str, ...], str]] = []
    skip_value = False
    for raw in tokens:
        word = raw.strip("[](),;.")
        if skip_value:
            skip_value = False
            continue
        found = FLAG.fullmatch(word.split("=", 1)[0])
        if found:
            flags.append((path, found.group(0)))
            option = next((p for p in command.params if found.group(0) in getattr(p, "opts", ())), None)
            skip_value = bool(option is not None and not getattr(option, "is_flag", False) and "=" not in word)
            continue
        if isinstance(command, click.Group) and word and not word.startswith("-"):
            path += (word,)
            sub = command.commands.get(word)
            if sub is None:
                break  # a command that does not exist: the check of the path reports it
            command = sub
    return path, flags


def cli_mentions() -> list[Mention]:
    found: dict[tuple[str, tuple[str, ...], str | None, bool, bool], None] = {}
    for doc in DOCS:
        name = str(doc.relative_to(ROOT))
        for pieces in sections(doc.read_text(encoding="utf-8")):
            context: tuple[str, ...] | None = None
            for kind, text in pieces:
                if kind == "span" and text.startswith("--"):
                    for flag in FLAG.findall(text.split()[0]):
                        found[(name, context or (), flag, True, context is None)] = None
                    continue
                for segment in re.split(r"&&|\|\||[|;]", text):
                    tokens = words(segment)
                    # the last `monitor` with words after it: `docker compose exec monitor monitor status`
                    starts = [i for i, word in enumerate(tokens) if is_monitor(word) and i + 1 < len(tokens)]
                    if not starts:
                        continue
                    path, flags = parse_command(tokens[starts[-1] + 1:])
                    if path:
                        found[(name, path, None, False, False)] = None
                    for flag_path, flag in flags:
                        found[(name, flag_path, flag, False, False)] = None
                    context = path or context  # `monitor --help` names no command
    return [Mention(doc, command, flag, standalone, anywhere) for doc, command, flag, standalone, anywhere in found]


@functools.cache
def help_of(command: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(subcommands, long options) listed by the real ``monitor COMMAND --help``."""
    done = monitor(*command, "--help")
    assert done.exit_code == 0, f"monitor {' '.join(command)} --help: {done.output}"
    commands: set[str] = set()
    options: set[str] = set()
    part = ""
    for line in done.stdout.splitlines():
        if re.match(r"^[A-Z][a-z]+:$", line):
            part = line
        elif part == "Commands:" and line.startswith("  ") and line.strip():
            commands.add(line.split()[0])
        elif part == "Options:" and re.match(r"^\s{2,}-", line):
            options.update(FLAG.findall(line.split("  ")[1] if line.startswith("  ") else line))
    return commands, options


def every_command(command: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield command
    for sub in sorted(help_of(command)[0]):
        yield from every_command((*command, sub))


def with_known_mismatch(key: tuple[tuple[str, ...], str | None], case: Any, case_id: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISMATCHES[key])] if key in KNOWN_MISMATCHES else []
    return pytest.param(case, id=case_id, marks=marks)


MENTIONS = cli_mentions()


def test_the_docs_mention_the_commands_this_test_is_about() -> None:
    """The parser finds the README's command table and the flags in prose (guards against parsing nothing)."""
    ids = {m.id for m in MENTIONS}
    assert {"README.md: monitor run --metrics-port", "README.md: monitor notify test --channel",
            "README.md: monitor config check --json", "docs/operations.md: monitor run --metrics-address",
            "docs/json.md: monitor outbox --all"} <= ids


@pytest.mark.parametrize(
    "mention", [with_known_mismatch((m.command, m.flag), m, m.id) for m in MENTIONS]
)
def test_documented_command_and_flag_exist_in_the_real_help(mention: Mention) -> None:
    if mention.command:
        *parents, last = mention.command
        assert last in help_of(tuple(parents))[0], f"`monitor {' '.join(mention.command)}` is no command"
    if mention.flag is None:
        return
    if mention.anywhere:
        having = [c for c in every_command() if mention.flag in help_of(c)[1]]
        assert having, f"no monitor command has {mention.flag}"
        return
    listed = help_of(mention.command)[1]
    if mention.standalone:
        listed = listed | help_of(())[1]  # a global option such as --config is given before the command
    assert mention.flag in listed, f"`monitor {' '.join(mention.command)} --help` does not list {mention.flag}"


# ------------------------------------------------------------------------------------ JSON fields
@dataclass
class Field:
    name: str
    children: list[Field] = field(default_factory=list)

    def all_names(self) -> str:
        inner = ", ".join(c.all_names() for c in self.children)
        return f"{self.name}({inner})" if inner else self.name


def names_in(span: str) -> list[str]:
    """`from`, `{"outlet", "title"}` -> the field names in one code span."""
    if span.startswith("{"):
        return re.findall(r'"([a-z_][a-z0-9_]*)"', span)
    return [span] if NAME.fullmatch(span) else []


def prose_fields(text: str) -> list[Field]:
    """`a`, `b` (`c`, `d` with `e` (`f`)) -> a, b(c, d(e(f))): a name's parenthesis holds its own fields (or
    values); "with" gives the next name to the one before it."""
    tokens = re.findall(r"`[^`]+`|\(|\)|\bwith\b", text)
    root = Field("")
    stack = [root]
    last: Field | None = None
    attach_to: Field | None = None
    for token in tokens:
        if token == "(":
            stack.append(last or stack[-1])
            last = None
        elif token == ")":
            if len(stack) > 1:
                stack.pop()
            last = None
        elif token == "with":
            attach_to = last
        else:
            for name in names_in(token[1:-1]):
                node = Field(name)
                (attach_to or stack[-1]).children.append(node)
                last = node
            attach_to = None
    return root.children


def example_fields(value: Any, documented: dict[tuple[str, ...], list[Field]], comment: dict[str, str]) -> list[Field]:
    if isinstance(value, list):
        value = value[0] if value else {}
    if not isinstance(value, dict):
        return []
    fields = []
    for key, sub in value.items():
        node = Field(key, example_fields(sub, documented, comment))
        reference = comment.get(key)  # "feeds": [ /* as in `monitor feeds --json` */ ]
        if not node.children and reference is not None:
            node.children = documented[reference_command(reference)]
        fields.append(node)
    return fields


def reference_command(text: str) -> tuple[str, ...]:
    path, _ = parse_command(words(text)[1:])
    return path


def json_doc() -> dict[tuple[str, ...], list[Field]]:
    """Command path -> documented top-level fields (with their documented fields inside), from docs/json.md."""
    text = JSON_DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## (.*)$", text, flags=re.MULTILINE)
    documented: dict[tuple[str, ...], list[Field]] = {}
    examples = []
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        commands = [reference_command(s) for s in SPAN.findall(heading) if s.startswith("monitor ")]
        example = re.search(r"```json\n(.*?)```", body, re.DOTALL)
        if example:
            examples.append((commands, example.group(1)))
            continue
        if "|---" in body:  # a table: `name` | type | meaning (fields of the name, or its values)
            fields = []
            for row in re.findall(r"^\|(.+)\|\s*$", body, re.MULTILINE)[2:]:
                cells = [c.strip() for c in row.split("|")]
                inner = [Field(n) for span in SPAN.findall(cells[-1]) for n in names_in(span)]
                fields += [Field(n, inner) for span in SPAN.findall(cells[0]) for n in names_in(span)]
        else:  # a list: "One object per feed: `id`, `url` (...), ..."
            fields = prose_fields(body.split(":", 1)[1] if ":" in body else body)
        for command in commands:
            documented[command] = fields
    for commands, example in examples:
        comment = {m.group(1): m.group(2) for m in re.finditer(r'"(\w+)":\s*\[\s*/\*.*?`([^`]+)`.*?\*/', example)}
        value = json.loads(re.sub(r"/\*.*?\*/", "", example, flags=re.DOTALL))
        for command in commands:
            documented[command] = example_fields(value, documented, comment)
    return documented


DOCUMENTED = json_doc()


def test_json_doc_documents_every_json_command_this_test_checks() -> None:
    assert set(DOCUMENTED) == {("history",), ("replay",), ("status",), ("feeds",), ("poll",), ("outbox",),
                               ("config", "check"), ("try",), ("items",)}
    [sources] = [f for f in DOCUMENTED[("history",)] if f.name == "sources"]
    assert {c.name for c in sources.children} == {"outlet", "title", "link", "published"}


def dicts_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for sub in value.values():
            yield from dicts_in(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from dicts_in(sub)


def missing(fields: list[Field], objects: list[dict[str, Any]], path: str, *, everywhere: bool) -> list[str]:
    """Documented fields absent from ``objects`` (from every one, or from all of them when nested)."""
    gaps = []
    for doc_field in fields:
        having = [o for o in objects if doc_field.name in o]
        if not having or (everywhere and len(having) < len(objects)):
            gaps.append(f"{path}{doc_field.name}")
            continue
        inside = [d for o in having for d in dicts_in(o[doc_field.name])]
        if inside:  # else the names in its parenthesis are its values
            gaps += missing(doc_field.children, inside, f"{path}{doc_field.name}.", everywhere=False)
    return gaps


# --------------------------------------------------------------------------------- the real outputs
def extension_archive(root: Path) -> Path:
    """A small archive for tests/data/fictional.toml: the wire reports that the deadline moves to Tuesday; the
    local paper's feed serves an HTML page six times (a failing feed), then its feed again (recovered)."""
    wire, ledger = root / "meridian-wire", root / "lakeport-ledger"
    wire.mkdir(parents=True)
    ledger.mkdir()
    empty = rss("Meridian Wire", [])
    extended = rss("Meridian Wire", [("Lakeport port authority extends the deadline for Northwind Freight to Tuesday",
                                      "https://www.meridianwire.example/business/extension", at("2026-03-06T12:30"))])
    (wire / file_name(at("2026-03-05T12:00"))).write_bytes(empty)
    (wire / file_name(at("2026-03-06T13:00"))).write_bytes(extended)
    for hour in range(10, 16):
        (ledger / file_name(at(f"2026-03-05T{hour}:00"))).write_bytes(b"<html><body>not a feed</body></html>")
    (ledger / file_name(at("2026-03-05T17:00"))).write_bytes(rss("Lakeport Ledger", []))
    return root


def run_json(*args: str, db: Path | None = None, one: bool = False) -> list[Any]:
    done = monitor(*args, db=db)
    assert done.exit_code == 0, f"monitor {' '.join(args)}: {done.stderr}"
    return [json.loads(done.stdout)] if one else json_lines(done.stdout)


@pytest.fixture(scope="module")
def outputs(fixture_replay: Replayed, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], list[Any]]:
    """Each documented command's real --json output, as a list of the objects it printed."""
    folder = tmp_path_factory.mktemp("docs-json")
    config = str(FICTIONAL)
    replayed, extended = fixture_replay.db, folder / "extended.db"
    real: dict[tuple[str, ...], list[Any]] = {("config", "check"): run_json("--config", config, "config", "check",
                                                                          "--json", one=True)}
    real[("replay",)] = fixture_replay.developments + run_json(
        "--config", config, "replay", str(extension_archive(folder / "archive")), "--db", f"sqlite:///{extended}",
        "--json")
    for command, args, one in [(("history",), ["history", "--json"], False), (("status",), ["status", "--json"], True),
                               (("feeds",), ["feeds", "--json"], False), (("outbox",), ["outbox", "--json", "--all"],
                                                                           False)]:
        real[command] = [o for db in (replayed, extended) for o in run_json("--config", config, *args, db=db, one=one)]

    # poll needs feeds to fetch, and a dead letter needs a channel that fails: local servers
    with FeedServer() as server, HttpReceiver(default=500) as failing:
        server.route("/ok.xml", body=rss("City News", [("Acme opens office", "https://c.example.test/1",
                                                          at("2030-05-01T10:00"))]))
        server.route("/gone.xml", status=410)
        pager = f'[[channels]]\nid = "pager"\nurls = ["{failing.json_url("/x")}"]\nmin_severity = "info"\n'
        live = write_config(folder, feeds=[("city", server.url("/ok.xml"), "ordinary"),
                                           ("gone", server.url("/gone.xml"), "ordinary")],
                            channels=pager + 'max_age = "0s"\n')  # the first failed attempt dead-letters it
        real[("poll",)] = run_json("--config", str(live), "poll", "--json")
        # try: a hedge and an act (signals, a development it would record) on a URL, and a configured feed
        server.route("/act.xml", body=rss("City News", [
            ("Riverton mayor could ban Acme drones", "https://c.example.test/2", at("2030-05-01T11:00")),
            ("Riverton city council bans Acme delivery drones", "https://c.example.test/3", at("2030-05-01T12:00"))]))
        real[("try",)] = (run_json("--config", str(live), "try", server.url("/act.xml"), "--json")
                          + run_json("--config", str(live), "try", "--feed", "city", "--json"))
    real[("status",)] += run_json("--config", str(live), "status", "--json", one=True)
    real[("outbox",)] += run_json("--config", str(live), "outbox", "--json", "--all")
    real[("feeds",)] += run_json("--config", str(live), "feeds", "--json")
    real[("history",)] += run_json("--config", str(live), "history", "--json")
    real[("items",)] = (run_json("--config", str(live), "items", "--json")
                        + run_json("--config", config, "items", "--json", db=replayed))
    return real


FIELD_CASES = [
    with_known_mismatch((command, f.name), (command, f), f"monitor {' '.join(command)} --json: {f.name}")
    for command, fields in DOCUMENTED.items() for f in fields
]


@pytest.mark.parametrize("case", FIELD_CASES)
def test_documented_json_field_appears_in_the_real_output(
        case: tuple[tuple[str, ...], Field], outputs: dict[tuple[str, ...], list[Any]]) -> None:
    command, doc_field = case
    objects = outputs[command]
    assert objects, f"monitor {' '.join(command)} --json printed nothing to check"
    assert missing([doc_field], objects, "", everywhere=True) == [], f"documented: {doc_field.all_names()}"


# ------------------------------------------------------------------------- every option documented
REFERENCE = ("README.md", "docs/operations.md")  # the command table, and running the monitor


def test_every_option_of_every_command_is_in_the_readme_table_or_operations() -> None:
    """The other direction: each long option the real --help lists is mentioned with its command in README.md
    (the command table) or docs/operations.md; a global option (``--config``, ``--log-level``) anywhere in them."""
    mentioned = [m for m in MENTIONS if m.doc in REFERENCE and m.flag]
    with_command = {(m.command, m.flag) for m in mentioned}
    anywhere = {m.flag for m in mentioned}
    gaps = [
        f"monitor {' '.join(command)} {flag}".replace("  ", " ")
        for command in every_command()
        for flag in sorted(help_of(command)[1] - {"--help", "--version"})
        if ((command, flag) not in with_command if command else flag not in anywhere)
    ]
    assert gaps == [], f"not in {' or '.join(REFERENCE)}: {', '.join(gaps)}"


def test_the_shell_completion_the_readme_documents_works() -> None:
    from click.testing import CliRunner

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'eval "$(_MONITOR_COMPLETE=bash_source monitor)"' in readme
    assert "_MONITOR_COMPLETE=zsh_source monitor" in readme and "_MONITOR_COMPLETE=fish_source monitor" in readme
    runner = CliRunner()
    script = runner.invoke(main, [], prog_name="monitor", env={"_MONITOR_COMPLETE": "bash_source"})
    assert script.exit_code == 0 and "_monitor_completion()" in script.stdout
    assert "_MONITOR_COMPLETE=bash_complete" in script.stdout
    for words, cword, expected in [("monitor hist", "1", "plain,history"), ("monitor feeds --wi", "2", "plain,--wide"),
                                   ("monitor notify ", "2", "plain,test")]:
        done = runner.invoke(main, [], prog_name="monitor",
                             env={"_MONITOR_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": cword})
        assert done.exit_code == 0 and done.stdout.splitlines() == [expected], (words, done.stdout)
