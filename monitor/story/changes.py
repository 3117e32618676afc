"""What changed in a story state since it was last stored: the record a save writes from. Pure.

``StoryState`` notes every change it makes through its own methods (a record owned or added, a seen link
marked, words counted, a thread moved, something pruned) in its ``changes``; the shell's save writes only the
parts named there and then starts a new record (``StoryState.saved``). So a poll of one item writes, and
costs, what that item changed, however big the state has grown.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Changes:
    """Keys changed since the state was loaded, copied or saved: each one written, added or removed.

    ``words`` is None when the vocabulary was trimmed to its cap (every word's count may have gone).
    """

    developments: set[str] = field(default_factory=set)
    clusters: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    words: set[str] | None = field(default_factory=set)
    threads: set[str] = field(default_factory=set)
