"""The judgement benchmark's dev stories may only get better: figures are kept at or above the recorded ones.

When a change improves a figure, record the new one (tests/judgement/recorded.json) so it cannot slip back:
    .venv/bin/python tests/benchmarks/judgement.py --split dev --markdown
The test stories are not run here: they are measured, never tuned on (tests/judgement/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import judgement

RECORDED = json.loads((judgement.CORPUS.parent / "recorded.json").read_text(encoding="utf-8"))
DEV = judgement.stories("dev")


def test_every_dev_story_has_a_recorded_floor_and_a_blind_config() -> None:
    assert sorted(s.id for s in DEV) == sorted(RECORDED)
    assert all(s.config.exists() for s in DEV)


@pytest.mark.parametrize("story", DEV, ids=[s.id for s in DEV])
def test_dev_story_judgement_does_not_fall_below_the_recorded_figures(story: judgement.Story) -> None:
    settings, developments = judgement.replay(story)
    score = judgement.score(story, settings, developments)
    floor = RECORDED[story.id]
    assert score.caught >= floor["caught"], score.missed
    assert score.right >= floor["right"], score.missed
    assert score.false_acts <= floor["false_acts"], score.false
    assert score.noise <= floor["noise"]
    assert score.wrong_due <= floor["wrong_due"], score.false
