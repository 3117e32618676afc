"""A story's config compiled once for the engine: relevance matcher, signal reader, the config's own words.

The shell builds one :class:`CompiledStory` per story each time it loads a config (and again on reload) and
passes it to :func:`monitor.story.reducer.advance`; nothing is cached by object identity, so a replaced
config and its compiled form are freed together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.config.schema import Settings, StoryConfig
from monitor.domain import Item, SignalMode
from monitor.story.cluster import config_words
from monitor.story.relevance import RelevanceDecision, RelevanceMatcher
from monitor.story.signals import SignalReader


@dataclass(frozen=True)
class CompiledStory:
    """Everything the reducer derives from a story's config, built once."""

    story: StoryConfig
    relevance: RelevanceMatcher = field(init=False, repr=False, compare=False)
    reader: SignalReader = field(init=False, repr=False, compare=False)
    known: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "relevance", RelevanceMatcher(self.story))
        object.__setattr__(self, "reader", SignalReader(self.story))
        object.__setattr__(self, "known", frozenset(config_words(self.story)))

    def match(self, item: Item) -> RelevanceDecision:
        """Is the item about the story? Every relevance group matches; or all groups but one do and a thread
        state cue (with its object) is used as an act or a threat: the story's own cues name its topic, so
        "Strike widens to Ford's Chicago plant" belongs to the UAW story though it does not say "UAW"."""
        decision = self.relevance.match(item)
        if decision.relevant or decision.excluded_by or decision.missing != 1 or self.relevance.groups < 2:
            return decision
        for signals in self.reader.by_thread(item.title, item.summary).values():
            for signal in signals:
                if signal.mode in (SignalMode.ACT, SignalMode.THREAT):
                    return RelevanceDecision(True, (*decision.terms, f"cue '{signal.cue}'"))
        return decision


def compile_stories(settings: Settings) -> dict[str, CompiledStory]:
    """Every configured story, compiled, by id."""
    return {story.id: CompiledStory(story) for story in settings.stories}
