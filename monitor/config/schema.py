"""Configuration schema: the validated, frozen settings models (pure: no file, no environment).

The core (story engine, rendering, routing) imports these models; loading them from TOML and the environment
is :mod:`monitor.config.load`'s job. Validation problems are reported with the field path
(``stories[0].threads.dpa.states[2].cues``), what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor import __version__
from monitor.config.problems import key_path
from monitor.config.values import (
    DEFAULT_DATABASE_URL,
    EARLIEST_DUE_YEAR,
    ID_PATTERN,
    LATEST_DUE_YEAR,
    QUIET_HOURS,
    Duration,
    HeaderText,
    HttpUrl,
    Identifier,
    NonEmptyStr,
    PositiveDuration,
    SeverityField,
    TargetUrl,
    Zone,
    check_cron,
    check_database_url,
    duplicates,
    optional_http_url,
)
from monitor.domain import Confidence, DevelopmentKind, Severity, SourceKind, StateKind


def _problems(problems: Iterable[str]) -> None:
    """Raise every problem at once: one ValueError whose lines :mod:`monitor.config.problems` reports one by one."""
    found = list(problems)
    if found:
        raise ValueError("\n".join(found))


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------------- models
class MonitorSettings(Frozen):
    """The ``[monitor]`` table: process-wide settings."""

    database_url: Annotated[str, AfterValidator(check_database_url)] = DEFAULT_DATABASE_URL
    display_zone: Zone = "UTC"
    contact: HeaderText = "https://github.com/deadline-monitor/deadline-monitor"
    user_agent: HeaderText = ""
    poll_interval: PositiveDuration = timedelta(minutes=15)
    fetch_timeout: PositiveDuration = timedelta(seconds=30)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0, le=1 << 30)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    backoff_cap: PositiveDuration = timedelta(hours=6)
    failure_alert_after: int = Field(default=5, ge=1, le=1000)
    blind_after: PositiveDuration = timedelta(hours=1)
    retention: PositiveDuration = timedelta(days=30)
    tick_interval: PositiveDuration = timedelta(seconds=30)
    heartbeat_url: Annotated[str, AfterValidator(optional_http_url)] = ""

    @property
    def effective_user_agent(self) -> str:

        return self.user_agent or f"deadline-monitor/{__version__} (+{self.contact})"


class FeedConfig(Frozen):
    """One ``[[feeds]]`` entry."""

    id: Identifier
    url: HttpUrl
    title: str = ""
    poll_interval: PositiveDuration | None = None
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
        problems = [
            f"states[{index}].id: state id {state_id!r} appears twice; give each state its own id"
            for index, state_id in enumerate(ids)
            if state_id in ids[:index]
        ]
        initial = self.initial or ids[0]
        if initial not in ids:
            problems.append(f"initial: {initial!r} is not one of the states; use one of {ids}")
        for source, targets in self.transitions.items():
            where = key_path("transitions", source)
            if source not in ids:
                problems.append(f"{where}: unknown state {source!r}; known states are {ids}")
            for target in targets:
                if target not in ids:
                    problems.append(f"{where}: unknown target state {target!r}; known states are {ids}")
        _problems(problems)
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
    min_outlets: int = Field(default=3, ge=1, le=1000)
    outlet_window: PositiveDuration = timedelta(hours=12)
    cluster_window: PositiveDuration = timedelta(hours=48)
    similarity: float = Field(default=0.6, gt=0, le=1)
    known_after: int = Field(default=4, ge=1, le=1_000_000)  # a word seen in this many earlier story items is not new
    label_words: int = Field(default=3, ge=1, le=10)  # how many new words label a new development


class DeadlineConfig(Frozen):
    """A deadline: local due time plus IANA zone, reminders, what resolves it."""

    id: Identifier
    title: str
    due: datetime
    zone: Zone
    reminders: tuple[PositiveDuration, ...] = (timedelta(hours=24), timedelta(hours=3), timedelta(hours=1))
    resolved_by: tuple[str, ...] = ()  # "thread.state" or a development kind such as "story.new_development"
    extension_cues: tuple[str, ...] = ()
    # words naming what this deadline is about ("Anthropic"): with several deadlines in a story, an extension
    # report moves only the deadlines whose subject its cue line names (empty: the story's relevance terms)
    subjects: tuple[NonEmptyStr, ...] = ()
    surge_before: Duration = timedelta(hours=6)  # poll the story's feeds faster from this long before due...
    surge_after: Duration = timedelta(hours=6)  # ...until this long after it
    surge_interval: PositiveDuration = timedelta(minutes=2)
    recap_window: Duration = timedelta(hours=12)  # a "passed" message lists the story's developments this far back

    @model_validator(mode="after")
    def _check_due(self) -> DeadlineConfig:
        if self.due.tzinfo is not None:
            raise ValueError(
                "due: give local wall-clock time without an offset (e.g. '2026-02-27T17:01') and the zone in 'zone'"
            )
        if not EARLIEST_DUE_YEAR <= self.due.year <= LATEST_DUE_YEAR:
            raise ValueError(
                f"due: the year {self.due.year} is outside {EARLIEST_DUE_YEAR}-{LATEST_DUE_YEAR}; "
                "check the date (written like 2026-02-27T17:01:00)"
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
    corroboration_window: PositiveDuration = timedelta(hours=24)
    recent_window: PositiveDuration = timedelta(hours=72)  # developments later items may join; older are forgotten
    threads: dict[str, ThreadConfig] = Field(default_factory=dict)
    deadlines: tuple[DeadlineConfig, ...] = ()

    # Each check is on one field (with the fields before it, when those are valid), so that a mistake elsewhere in
    # the story does not hide it: every problem is reported at once.
    @field_validator("parties")
    @classmethod
    def _check_parties(cls, parties: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        problems: list[str] = []
        for party_id, names in parties.items():
            if not ID_PATTERN.match(party_id):
                problems.append(
                    f"{party_id!r} is not a valid party id; use lower-case letters, digits, '-' and '_'"
                )
            elif not names:
                problems.append(f"{party_id}: list at least one name the news uses for this party")
        _problems(problems)
        return parties

    @field_validator("threads")
    @classmethod
    def _check_threads(cls, threads: dict[str, ThreadConfig], info: ValidationInfo) -> dict[str, ThreadConfig]:
        problems = [
            f"{thread_id!r} is not a valid thread id; use lower-case letters, digits, '-' and '_'"
            for thread_id in threads
            if not ID_PATTERN.match(thread_id)
        ]
        if "parties" in info.data:  # else the parties are wrong themselves, and reported
            parties: dict[str, Any] = info.data["parties"]
            for thread_id, config in ((t, c) for t, c in threads.items() if ID_PATTERN.match(t)):
                wanted = [("by", config.by)] + [(f"states[{i}].by", s.by) for i, s in enumerate(config.states)]
                for field_name, party_ids in wanted:
                    unknown = [p for p in party_ids if p not in parties]
                    if unknown:
                        known = sorted(parties) or "none: add a [stories.parties] table"
                        problems.append(
                            f"{thread_id}.{field_name}: unknown party {unknown[0]!r}; "
                            f"name a party of the story's parties (known: {known})"
                        )
        _problems(problems)
        return threads

    @field_validator("deadlines")
    @classmethod
    def _check_deadlines(
        cls, deadlines: tuple[DeadlineConfig, ...], info: ValidationInfo
    ) -> tuple[DeadlineConfig, ...]:
        problems = duplicates([d.id for d in deadlines], "deadline id")
        threads: dict[str, ThreadConfig] = info.data.get("threads", {})
        kinds = {k.value for k in DevelopmentKind}
        for index, deadline in enumerate(deadlines):
            for ref in deadline.resolved_by if "threads" in info.data else ():  # else threads are wrong, and reported
                if ref in kinds:
                    continue
                thread_id, _, state_id = ref.partition(".")
                thread = threads.get(thread_id)
                if thread is None or state_id not in {s.id for s in thread.states}:
                    problems.append(
                        f"[{index}].resolved_by: {ref!r} is neither 'thread.state' of this story "
                        f"nor a development kind; threads are {sorted(threads)}"
                    )
        _problems(problems)
        return deadlines


class ChannelConfig(Frozen):
    """Where notifications go, and which ones."""

    id: Identifier
    urls: tuple[TargetUrl, ...] = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "markdown"
    min_severity: SeverityField = Severity.NOTICE
    min_confidence: Confidence = Confidence.REPORTED
    kinds: tuple[str, ...] = ()  # empty: every kind; entries may be prefixes such as "deadline." or "ops."
    stories: tuple[str, ...] = ()
    mode: Literal["immediate", "digest"] = "immediate"
    digest_cron: str = "0 8 * * *"
    zone: Zone = "UTC"
    quiet_hours: str = ""  # "22:00-07:00" in the channel's zone; critical messages ignore it
    repeat: PositiveDuration | None = None  # re-send critical developments until acknowledged
    max_age: Duration = timedelta(hours=24)  # "0s": give up after the first failed attempt
    templates: dict[str, str] = Field(default_factory=dict)  # checked by rendering them, at `monitor config check`

    @field_validator("kinds")
    @classmethod
    def _check_kinds(cls, wanted: tuple[str, ...]) -> tuple[str, ...]:
        kinds = {k.value for k in DevelopmentKind}
        _problems(
            f"unknown development kind {kind!r}; known kinds are {sorted(kinds)}"
            for kind in wanted
            if kind not in kinds and not any(k.startswith(kind) for k in kinds)
        )
        return wanted

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet_hours(cls, quiet_hours: str) -> str:
        if quiet_hours and not QUIET_HOURS.fullmatch(quiet_hours):
            shown = quiet_hours if len(quiet_hours) <= 40 else quiet_hours[:37] + "..."
            raise ValueError(
                f"cannot read {shown!r}; write it like '22:00-07:00' (24-hour clock, HH:MM-HH:MM)"
            )
        return quiet_hours

    @field_validator("digest_cron")
    @classmethod
    def _check_digest_cron(cls, digest_cron: str, info: ValidationInfo) -> str:
        if info.data.get("mode") == "digest":
            check_cron(digest_cron)
        return digest_cron


class Settings(Frozen):
    """The whole configuration file."""

    monitor: MonitorSettings = MonitorSettings()
    feeds: tuple[FeedConfig, ...] = ()
    stories: tuple[StoryConfig, ...] = Field(min_length=1)
    channels: tuple[ChannelConfig, ...] = ()

    # Checks per field (with the fields before it, when valid), so a mistake elsewhere does not hide them.
    @field_validator("feeds")
    @classmethod
    def _check_feeds(cls, feeds: tuple[FeedConfig, ...]) -> tuple[FeedConfig, ...]:
        _problems(duplicates([f.id for f in feeds], "feed id"))
        return feeds

    @field_validator("stories")
    @classmethod
    def _check_stories(cls, stories: tuple[StoryConfig, ...], info: ValidationInfo) -> tuple[StoryConfig, ...]:
        problems = duplicates([s.id for s in stories], "story id")
        story_ids = {s.id for s in stories}
        feeds: tuple[FeedConfig, ...] = info.data.get("feeds", ())
        for index, feed in enumerate(feeds):
            problems += [
                f"feeds[{index}].stories: unknown story {story!r}; stories are {sorted(story_ids)}"
                for story in feed.stories
                if story not in story_ids
            ]
        _problems(problems)
        return stories

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, channels: tuple[ChannelConfig, ...], info: ValidationInfo) -> tuple[ChannelConfig, ...]:
        problems = duplicates([c.id for c in channels], "channel id")
        if "stories" in info.data:
            story_ids = {s.id for s in info.data["stories"]}
            for index, channel in enumerate(channels):
                problems += [
                    f"[{index}].stories: unknown story {story!r}; stories are {sorted(story_ids)}"
                    for story in channel.stories
                    if story not in story_ids
                ]
        _problems(problems)
        return channels

    @cached_property
    def _stories_by_id(self) -> dict[str, StoryConfig]:
        return {s.id: s for s in self.stories}

    @cached_property
    def _feeds_by_id(self) -> dict[str, FeedConfig]:
        return {f.id: f for f in self.feeds}

    def story(self, story_id: str) -> StoryConfig:
        """The story ``story_id`` (KeyError when there is none). A dict lookup: called per feed and per item."""
        return self._stories_by_id[story_id]

    def feed(self, feed_id: str) -> FeedConfig:
        """The feed ``feed_id`` (KeyError when there is none). A dict lookup: 5,000 feeds cost the same as 5."""
        return self._feeds_by_id[feed_id]

    def stories_of(self, feed: FeedConfig) -> tuple[StoryConfig, ...]:
        """The stories a feed's items are matched against."""
        if not feed.stories:
            return self.stories
        return tuple(s for s in self.stories if s.id in feed.stories)

