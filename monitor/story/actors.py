"""Who acts in a clause: the story's parties, another party, or a name the story does not know. Pure.

A thread state says who can make it happen (``by``: ids of the story's ``parties``). The reader finds the
clause's actor for a cue whose object stands right of it (active voice, headline style):

- passive with an agent: "Anthropic designated by the Pentagon": the words after "by";
- otherwise the head of the subject: the named party or proper name nearest before the cue in its clause
  ("Trump envoy Witkoff meets Putin": Witkoff). A possessor is not the actor: in "the president's envoy
  meets the rival leader" the envoy acts, not the president; so does "Trump envoy Witkoff". A name before a
  people noun ("Pentagon officials", "Ford workers") still acts; a name before a thing ("GM deal ends the
  strike", "GM's Arlington plant walks out") is no evidence of who acts. A subject naming someone else by
  role ("rival lab", "another AI company", "competitors") is another actor whatever the parties.

The actor is *another* one when it is a party outside ``by``, a possessor's agent, or a capitalised name that
none of the story's terms (relevance terms, parties, objects, mentions) knows ("Spirit Airlines terminates its
merger"). Capitalisation is only read when the line is not in title case. No subject, or a common noun
("officials", "the union"), is not evidence of another actor: headlines drop their subjects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.config.schema import StoryConfig
from monitor.story.relevance import fold, phrase_pattern
from monitor.story.text import clause_end, clause_start

SUBJECT_WORDS = 8
"""How many words left of a cue are read for its subject."""

HEAD_GAP_WORDS = 4
"""At most this many words (adverbs, modals, "on Tuesday") between a subject's head and the cue."""

_CAPITALISED = re.compile(r"(?<![\w'’])[A-Z][\w'’.&-]*(?:\s+(?:(?:of|de|al)\s+)?[A-Z][\w'’.&-]*)*")
_POSSESSIVE = re.compile(r"^['’]s?\s+(\w+)")
_LOCATIVE = frozenset({"in", "at", "of", "from", "near", "outside", "inside", "across", "for", "with", "to", "on"})
_RIVAL = re.compile(
    r"\b(?:rivals?|competitors?|(?:an)?other|fellow)(?:\s+\w+)?\s+"
    r"(?:labs?|firms?|compan(?:y|ies)|startups?|makers?|carmakers?|automakers?|airlines?|unions?|countr(?:y|ies)|"
    r"nations?|governments?|developers?|providers?|contractors?|vendors?|suppliers?|bidders?|buyers?)\b"
    r"|\b(?:rivals?|competitors?)\b"
)
"""A subject that names someone else by role: "rival lab", "another AI company", "competitors"."""
ENVOYS: frozenset[str] = frozenset(
    {"envoy", "envoys", "emissary", "emissaries", "ally", "allies", "adviser", "advisers", "advisor", "advisors",
     "aide", "aides", "partner", "partners", "counterpart", "counterparts", "proxy", "proxies", "surrogate",
     "surrogates", "rival", "rivals", "subsidiary", "unit"}
)
"""Nouns after a name that make someone else the actor: "the president's envoy", "Trump envoy Witkoff"."""

REPRESENTATIVES: frozenset[str] = frozenset(
    {"officials", "official", "spokesman", "spokeswoman", "spokesperson", "lawyers", "attorneys", "negotiators",
     "executives", "leaders", "leadership", "chief", "ceo", "boss", "board", "team", "staff", "management",
     "workers", "members", "secretary", "administration", "employees", "strikers", "union", "unions", "pilots",
     "machinists", "shareholders", "stockholders", "directors", "government", "ministry", "department", "says",
     "said"}
)
"""Nouns after a name that keep the name as the actor: "Pentagon officials designate", "Ford workers ratify"."""

_FILLERS = frozenset(
    {"is", "was", "are", "were", "has", "have", "had", "will", "would", "could", "may", "might", "to", "also", "now",
     "again", "still", "not", "never", "on", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
     "sunday", "today", "tonight", "finally", "formally", "officially", "quietly", "just", "then", "and"}
)
_AGENT = re.compile(r"^\W*by\s+")
_LATER_AGENT = re.compile(r"\bby\s+")
_JOINT = re.compile(r"\s*(?:,|and|&|,\s*and)\s*")
PASSIVE_AUX: frozenset[str] = frozenset(
    {"is", "was", "are", "were", "be", "been", "being", "gets", "got", "get", "formally", "officially"}
)
"""Words right before a participle that make it passive ("Anthropic is designated", "formally designated")."""


def _agent_start(folded: str, end: int, participle: bool) -> int | None:
    """Where the agent of a passive participle begins: right after it ("designated by") or later in its clause
    ("designated a supply chain risk by the Pentagon"); None for an active verb or when there is none."""
    if not participle:
        return None  # "blocks the designation by the Pentagon": "by" belongs to the noun, not to "blocks"
    right_after = _AGENT.match(folded[end:])
    if right_after is not None:
        return end + right_after.end()
    if participle:
        later = _LATER_AGENT.search(folded, end, clause_end(folded, end))
        if later is not None:
            return later.end()
    return None


@dataclass(frozen=True, slots=True)
class _Head:
    start: int
    end: int
    party: str | None  # party id, or None for a name the story does not know
    text: str
    joint: tuple[_Head, ...] = ()  # this head and the names joined to it by "and" ("GM and UAW")


class Actors:
    """A story's parties and known names, compiled once."""

    def __init__(self, story: StoryConfig) -> None:
        self._party_of: dict[str, str] = {}
        for party_id, names in story.parties.items():
            for name in names:
                self._party_of[" ".join(fold(name).split())] = party_id
        self._parties = phrase_pattern(self._party_of)
        known: list[str] = [term for group in story.relevance.require for term in group]
        known += list(self._party_of)
        for thread in story.threads.values():
            known += [*thread.objects, *thread.mentions]
            for state in thread.states:
                known += [*state.objects, *state.cues]
        for deadline in story.deadlines:
            known += list(deadline.subjects)
        self._known = phrase_pattern(known)

    def other_actor(self, line: str, folded: str, start: int, end: int, allowed: frozenset[str],
                    participle: bool = False, objects: re.Pattern[str] | None = None) -> str | None:
        """Why the cue at ``[start, end)`` is another actor's act ("actor: Spirit Airlines"), or None.

        ``participle``: the cue's verb is a past participle, so the clause may be passive: the agent is the
        party after "by" later in the clause ("Anthropic designated a supply chain risk by Pentagon"), and a
        subject that is one of the thread's ``objects`` is the one acted on, not the actor."""
        rival = _RIVAL.search(" ".join(folded[clause_start(folded, start) : start].split()[-HEAD_GAP_WORDS - 2 :]))
        if rival is not None:
            return f"actor: {rival.group(0)}"  # "rival lab reaches Pentagon agreement": someone else's deal
        a_start = _agent_start(folded, end, participle)
        if a_start is not None:
            a_end = min(clause_end(folded, a_start), a_start + 60)
            for hit in self._party_hits(folded, a_start, a_end):
                if allowed and hit.party not in allowed:
                    return f"actor: {hit.text}"
                return None
            return None
        left = folded[clause_start(folded, start) : start].split()
        if participle and left and left[-1] in PASSIVE_AUX:
            return None  # "Anthropic is designated": passive with no agent named
        head = self._head(line, folded, start)
        if head is None:
            return None
        if any(h.party is not None and (not allowed or h.party in allowed) for h in head.joint):
            return None  # "Biden and McCarthy reach a deal": one of a joint subject is enough
        if participle and objects is not None and objects.search(fold(head.text)):
            return None  # headline passive: "Anthropic designated a supply chain risk": Anthropic is acted on
        return f"actor: {head.text}"

    def _party_hits(self, folded: str, start: int, end: int) -> list[_Head]:
        if self._parties is None:
            return []
        hits = []
        for hit in self._parties.finditer(folded, start, end):
            name = " ".join(hit.group(0).split())
            hits.append(_Head(hit.start(), hit.end(), self._party_of.get(name), hit.group(0)))
        return hits

    def _head(self, line: str, folded: str, cue_start: int) -> _Head | None:
        """The subject's head: the rightmost party or unknown name before the cue, or None."""
        s0 = clause_start(folded, cue_start)
        words = folded[s0:cue_start].split()
        if len(words) > SUBJECT_WORDS:
            s0 = cue_start - len(" ".join(words[-SUBJECT_WORDS:])) - 1
        candidates = [h for h in self._party_hits(folded, s0, cue_start)]
        covered = [(h.start, h.end) for h in candidates]
        if self._known is not None:
            covered += [(k.start(), k.end()) for k in self._known.finditer(folded, s0, cue_start)]
        if not _title_case(line):
            for name in _CAPITALISED.finditer(line, s0, cue_start):
                n_start, n_end = name.start(), name.end()
                if any(c_start <= n_start and n_end <= c_end for c_start, c_end in covered):
                    continue
                if any(n_start < c_end and c_start < n_end for c_start, c_end in covered):
                    continue  # overlaps a known term ("Kentucky Truck Plant" around "Truck"): not a stranger
                before = folded[s0:n_start].split()
                if before and before[-1] in _LOCATIVE:
                    continue  # "plant in Sterling Heights joins": a place modifies the head, it does not act
                first_word = not line[s0:n_start].strip(" \"'([")
                if first_word and " " not in name.group(0).strip() and not _acronym(name.group(0)):
                    continue  # the clause's first word is capitalised anyway
                candidates.append(_Head(n_start, n_end, None, name.group(0).strip()))
        if not candidates:
            return None
        if _second_predicate(folded[s0:cue_start]):
            # "Anthropic meets Pentagon officials and rejects their demands": the clause's subject acts in both
            # predicates; names after the first verb are its objects
            first = min(candidates, key=lambda h: (h.start, -(h.end - h.start)))
            return _Head(first.start, first.end, first.party, first.text, (first,))
        head = max(candidates, key=lambda h: (h.end, h.end - h.start))
        joint = [head]
        for other in sorted(candidates, key=lambda h: -h.end):
            if other.end <= joint[-1].start and _JOINT.fullmatch(folded[other.end : joint[-1].start]):
                joint.append(other)
        head = _Head(head.start, head.end, head.party, head.text, tuple(joint))
        between = folded[head.end : cue_start]
        possessor = _POSSESSIVE.match(between)
        if possessor is not None:
            noun = possessor.group(1)
            if noun in ENVOYS:
                envoy = _Head(head.start, head.end + possessor.end(), None, f"{head.text}'s {noun}")
                return _Head(envoy.start, envoy.end, None, envoy.text, (envoy,))
            return None  # "GM's Arlington plant walks out": the plant's people act, not GM; no evidence either way
        if len(between.split()) > HEAD_GAP_WORDS:
            return None
        following = [w for w in between.split() if w not in _FILLERS and not w.endswith("ly")]
        if following and following[0].isalpha():
            if following[0] in ENVOYS:  # "Trump envoy meets Putin"
                envoy = _Head(head.start, head.end, None, f"{head.text} {following[0]}")
                return _Head(envoy.start, envoy.end, None, envoy.text, (envoy,))
            if following[0] not in REPRESENTATIVES:
                return None  # the name modifies a thing: "GM deal ends the strike" is the deal, not GM acting
        return head


def _second_predicate(subject: str) -> bool:
    """The cue is the verb of a second predicate joined by "and"/"or" ("meets X and rejects")."""
    words = [w for w in subject.split() if w not in _FILLERS or w in ("and", "or")]
    return bool(words) and words[-1] in ("and", "or") and len(words) >= 3


def _title_case(line: str) -> bool:
    """Most longer words start with a capital: capitals say nothing about names."""
    long_words = [w for w in line.split() if len(w) > 3 and w[0].isalpha()]
    if len(long_words) < 3:
        return False
    return sum(w[0].isupper() for w in long_words) >= 0.7 * len(long_words)


def _acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)
