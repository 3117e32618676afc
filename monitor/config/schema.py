"""Configuration schema: the validated, frozen settings models (pure: no file, no environment).

The core (story engine, rendering, routing) imports these models; loading them from TOML and the environment
is :mod:`monitor.config.load`'s job. Validation problems are reported with the field path
(``stories[0].threads.dpa.states[2].cues``), what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from monitor import __version__
from monitor.domain import Confidence, DevelopmentKind, Severity, SourceKind, StateKind
from monitor.durations import parse_duration

DEFAULT_CONFIG_PATH = "config/monitor.toml"
DEFAULT_DATABASE_URL = "sqlite:///state/monitor.db"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d"
_QUIET_HOURS = re.compile(rf"{_CLOCK}-{_CLOCK}")


# ----------------------------------------------------------------------------------------- field types
def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("write a duration as a string like '10m', '2h' or '1d'")
    return parse_duration(value)


def _zone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("write the time zone as an IANA name such as 'America/New_York' or 'UTC'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'America/New_York' or 'UTC'")
    return value


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not a valid id; use lower-case letters, digits, '-' and '_'")
    return value


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    try:
        return Severity.parse(str(value))
    except KeyError:
        raise ValueError(f"unknown severity {value!r}; use one of info, notice, warning, critical")


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Zone = Annotated[str, BeforeValidator(_zone)]
Identifier = Annotated[str, AfterValidator(_identifier)]
SeverityField = Annotated[Severity, BeforeValidator(_severity)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------------- models
class MonitorSettings(Frozen):
    """The ``[monitor]`` table: process-wide settings."""

    database_url: str = DEFAULT_DATABASE_URL
    display_zone: Zone = "UTC"
    contact: str = "https://github.com/deadline-monitor/deadline-monitor"
    user_agent: str = ""
    poll_interval: Duration = timedelta(minutes=15)
    fetch_timeout: Duration = timedelta(seconds=30)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    backoff_cap: Duration = timedelta(hours=6)
    failure_alert_after: int = Field(default=5, ge=1)
    blind_after: Duration = timedelta(hours=1)
    retention: Duration = timedelta(days=30)
    tick_interval: Duration = timedelta(seconds=30)
    heartbeat_url: str = ""

    @property
    def effective_user_agent(self) -> str:

        return self.user_agent or f"deadline-monitor/{__version__} (+{self.contact})"


class FeedConfig(Frozen):
    """One ``[[feeds]]`` entry."""

    id: Identifier
    url: Annotated[str, Field(pattern=r"^https?://", description="http or https URL")]
    title: str = ""
    poll_interval: Duration | None = None
    enabled: bool = True
    tags: tuple[str, ...] = ()
    source: SourceKind = SourceKind.ORDINARY
    stories: tuple[str, ...] = ()  # empty: every story
    backfill: Duration = timedelta(0)
    ignore_cache_headers: bool = False


class StateConfig(Frozen):
    """One state of a thread's ladder, in escalation order."""

    id: Identifier
    title: str = ""
    level: int = Field(ge=0, le=100)
    kind: StateKind = StateKind.ACT
    cues: tuple[NonEmptyStr, ...] = ()
    objects: tuple[NonEmptyStr, ...] = ()  # replaces the thread's objects for this state's cues when set
    by: tuple[Identifier, ...] = ()  # the parties (story ``parties`` ids) who can make it happen; thread's when empty

    @property
    def label(self) -> str:
        return self.title or self.id.replace("_", " ")


class ThreadConfig(Frozen):
    """A thread of the story: a ladder of states, cue phrases per state, allowed transitions."""

    title: str = ""
    initial: str = ""
    objects: tuple[str, ...] = ()  # words one of which must be near an act cue (its object), e.g. the party
    mentions: tuple[str, ...] = ()  # noun forms ("the designation"): evidence of the thread, never of an act
    by: tuple[Identifier, ...] = ()  # the parties who can move the thread (a state's own ``by`` replaces it)
    states: tuple[StateConfig, ...] = Field(min_length=2)
    transitions: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _check(self) -> ThreadConfig:
        ids = [s.id for s in self.states]
        for index, state_id in enumerate(ids):
            if state_id in ids[:index]:
                raise ValueError(f"states[{index}].id: state id {state_id!r} appears twice; give each state its own id")
        initial = self.initial or ids[0]
        if initial not in ids:
            raise ValueError(f"initial: {initial!r} is not one of the states; use one of {ids}")
        for source, targets in self.transitions.items():
            if source not in ids:
                raise ValueError(f"transitions.{source}: unknown state {source!r}; known states are {ids}")
            for target in targets:
                if target not in ids:
                    raise ValueError(f"transitions.{source}: unknown target state {target!r}; known states are {ids}")
        return self

    @property
    def initial_state(self) -> str:
        return self.initial or self.states[0].id

    def state(self, state_id: str) -> StateConfig:
        return next(s for s in self.states if s.id == state_id)

    def label_of(self, state_id: str) -> str:
        """The state's words ("DPA invoked"), or its id when the config no longer has it (a stored old state)."""
        return next((s.label for s in self.states if s.id == state_id), state_id)

    def allows(self, source: str, target: str) -> bool:
        return target in self.transitions.get(source, ())

    def actors(self, state_id: str) -> tuple[str, ...]:
        """The party ids who can make ``state_id`` happen: the state's ``by``, else the thread's; () is anyone."""
        state = next((s for s in self.states if s.id == state_id), None)
        return (state.by if state is not None and state.by else self.by)


class RelevanceConfig(Frozen):
    """Which items belong to a story: every group in ``require`` must match, no ``exclude`` term may."""

    require: tuple[tuple[NonEmptyStr, ...], ...] = Field(min_length=1)
    exclude: tuple[NonEmptyStr, ...] = ()


class SignalsConfig(Frozen):
    """Extra hedge and negation cues a story adds to the built-in ones."""

    hedges: tuple[NonEmptyStr, ...] = ()
    negations: tuple[NonEmptyStr, ...] = ()


class NewDevelopmentConfig(Frozen):
    """When untracked news counts as a new development."""

    enabled: bool = True
    min_outlets: int = Field(default=3, ge=1)
    outlet_window: Duration = timedelta(hours=12)
    cluster_window: Duration = timedelta(hours=48)
    similarity: float = Field(default=0.6, gt=0, le=1)
    known_after: int = Field(default=4, ge=1)  # a word seen in this many earlier story items is not new
    label_words: int = Field(default=3, ge=1, le=10)  # how many new words label a new development


class DeadlineConfig(Frozen):
    """A deadline: local due time plus IANA zone, reminders, what resolves it."""

    id: Identifier
    title: str
    due: datetime
    zone: Zone
    reminders: tuple[Duration, ...] = (timedelta(hours=24), timedelta(hours=3), timedelta(hours=1))
    resolved_by: tuple[str, ...] = ()  # "thread.state" or a development kind such as "story.new_development"
    extension_cues: tuple[str, ...] = ()
    # words naming what this deadline is about ("Anthropic"): with several deadlines in a story, an extension
    # report moves only the deadlines whose subject its cue line names (empty: the story's relevance terms)
    subjects: tuple[NonEmptyStr, ...] = ()
    surge_before: Duration = timedelta(hours=6)  # poll the story's feeds faster from this long before due...
    surge_after: Duration = timedelta(hours=6)  # ...until this long after it
    surge_interval: Duration = timedelta(minutes=2)
    recap_window: Duration = timedelta(hours=12)  # a "passed" message lists the story's developments this far back

    @model_validator(mode="after")
    def _check_due(self) -> DeadlineConfig:
        if self.due.tzinfo is not None:
            raise ValueError(
                "due: give local wall-clock time without an offset (e.g. '2026-02-27T17:01') and the zone in 'zone'"
            )
        zone = ZoneInfo(self.zone)
        as_utc = self.due.replace(tzinfo=zone).astimezone(UTC)
        if as_utc.astimezone(zone).replace(tzinfo=None) != self.due:
            raise ValueError(
                f"due: {self.due.isoformat()} does not exist in {self.zone} (a daylight-saving gap); "
                "move it outside the gap"
            )
        other_fold = self.due.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if other_fold != as_utc:
            raise ValueError(
                f"due: {self.due.isoformat()} happens twice in {self.zone} (clocks go back); "
                "move it outside the repeated hour"
            )
        return self

    @property
    def due_utc(self) -> datetime:
        """The due time converted to UTC once (DST-exact)."""
        return self.due.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)


class StoryConfig(Frozen):
    """One story: relevance, threads, deadlines."""

    id: Identifier
    title: str
    zone: Zone = "UTC"
    relevance: RelevanceConfig
    parties: dict[str, tuple[NonEmptyStr, ...]] = Field(default_factory=dict)  # id -> names that refer to it
    signals: SignalsConfig = SignalsConfig()
    new_developments: NewDevelopmentConfig = NewDevelopmentConfig()
    corroboration_window: Duration = timedelta(hours=24)
    recent_window: Duration = timedelta(hours=72)  # developments later items may join; older ones are forgotten
    threads: dict[str, ThreadConfig] = Field(default_factory=dict)
    deadlines: tuple[DeadlineConfig, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> StoryConfig:
        for thread_id in self.threads:
            if not _ID.match(thread_id):
                raise ValueError(
                    f"threads: {thread_id!r} is not a valid thread id; use lower-case letters, digits, '-' and '_'"
                )
        _no_duplicates([d.id for d in self.deadlines], "deadlines", "deadline id")
        for party_id, names in self.parties.items():
            if not _ID.match(party_id):
                raise ValueError(
                    f"parties: {party_id!r} is not a valid party id; use lower-case letters, digits, '-' and '_'"
                )
            if not names:
                raise ValueError(f"parties.{party_id}: list at least one name the news uses for this party")
        for thread_id, config in self.threads.items():
            wanted = [("by", config.by)] + [(f"states[{i}].by", s.by) for i, s in enumerate(config.states)]
            for field_name, party_ids in wanted:
                unknown = [p for p in party_ids if p not in self.parties]
                if unknown:
                    known = sorted(self.parties) or "none: add a [stories.parties] table"
                    raise ValueError(
                        f"threads.{thread_id}.{field_name}: unknown party {unknown[0]!r}; "
                        f"name a party of the story's parties (known: {known})"
                    )
        kinds = {k.value for k in DevelopmentKind}
        for index, deadline in enumerate(self.deadlines):
            for ref in deadline.resolved_by:
                if ref in kinds:
                    continue
                thread_id, _, state_id = ref.partition(".")
                thread = self.threads.get(thread_id)
                if thread is None or state_id not in {s.id for s in thread.states}:
                    raise ValueError(
                        f"deadlines[{index}].resolved_by: {ref!r} is neither 'thread.state' of this story "
                        f"nor a development kind; threads are {sorted(self.threads)}"
                    )
        return self


class ChannelConfig(Frozen):
    """Where notifications go, and which ones."""

    id: Identifier
    urls: tuple[NonEmptyStr, ...] = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "markdown"
    min_severity: SeverityField = Severity.NOTICE
    min_confidence: Confidence = Confidence.REPORTED
    kinds: tuple[str, ...] = ()  # empty: every kind; entries may be prefixes such as "deadline." or "ops."
    stories: tuple[str, ...] = ()
    mode: Literal["immediate", "digest"] = "immediate"
    digest_cron: str = "0 8 * * *"
    zone: Zone = "UTC"
    quiet_hours: str = ""  # "22:00-07:00" in the channel's zone; critical messages ignore it
    repeat: Duration | None = None  # re-send critical developments until acknowledged
    max_age: Duration = timedelta(hours=24)
    templates: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ChannelConfig:
        kinds = {k.value for k in DevelopmentKind}
        for kind in self.kinds:
            if kind not in kinds and not any(k.startswith(kind) for k in kinds):
                raise ValueError(f"kinds: unknown development kind {kind!r}; known kinds are {sorted(kinds)}")
        if self.quiet_hours and not _QUIET_HOURS.fullmatch(self.quiet_hours):
            raise ValueError(
                f"quiet_hours: cannot read {self.quiet_hours!r}; "
                "write it like '22:00-07:00' (24-hour clock, HH:MM-HH:MM)"
            )
        if self.mode == "digest":
            _check_cron(self.digest_cron)
        return self


class Settings(Frozen):
    """The whole configuration file."""

    monitor: MonitorSettings = MonitorSettings()
    feeds: tuple[FeedConfig, ...] = ()
    stories: tuple[StoryConfig, ...] = Field(min_length=1)
    channels: tuple[ChannelConfig, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        _no_duplicates([f.id for f in self.feeds], "feeds", "feed id")
        _no_duplicates([s.id for s in self.stories], "stories", "story id")
        _no_duplicates([c.id for c in self.channels], "channels", "channel id")
        story_ids = {s.id for s in self.stories}
        for index, feed in enumerate(self.feeds):
            for story in feed.stories:
                if story not in story_ids:
                    raise ValueError(
                        f"feeds[{index}].stories: unknown story {story!r}; stories are {sorted(story_ids)}"
                    )
        for index, channel in enumerate(self.channels):
            for story in channel.stories:
                if story not in story_ids:
                    raise ValueError(
                        f"channels[{index}].stories: unknown story {story!r}; stories are {sorted(story_ids)}"
                    )
        return self

    def story(self, story_id: str) -> StoryConfig:
        return next(s for s in self.stories if s.id == story_id)

    def feed(self, feed_id: str) -> FeedConfig:
        return next(f for f in self.feeds if f.id == feed_id)

    def stories_of(self, feed: FeedConfig) -> tuple[StoryConfig, ...]:
        """The stories a feed's items are matched against."""
        if not feed.stories:
            return self.stories
        return tuple(s for s in self.stories if s.id in feed.stories)


def _check_cron(expression: str) -> None:
    """A standard 5-field crontab line whose every field is in range (APScheduler parses it later)."""
    hint = "write a 5-field cron expression like '0 8 * * *' (minute hour day month weekday)"
    if len(expression.split()) != 5:
        raise ValueError(f"digest_cron: {expression!r} does not have 5 fields; {hint}")
    from apscheduler.triggers.cron import CronTrigger  # lazy: only digest channels pay for the import

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"digest_cron: {expression!r} is not valid ({exc}); {hint}") from None


def _no_duplicates(ids: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{where}[{index}].id: duplicate {what} {item!r}; each must be unique")
        seen.add(item)
