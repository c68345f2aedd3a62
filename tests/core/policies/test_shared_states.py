"""Training builds each story's states once: the data checks and every policy share them
(``shared_states``), and the shortcuts of the replay (slots read only after an event that can
change them, remembered used entities) give exactly the states of a live tracker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import chinwag.core.policies.states as states_module
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import Entity, Story, UserStep
from chinwag.core.domain import Domain, EntityDef, Intent
from chinwag.core.policies.states import (
    conversation_states,
    conversation_tracker,
    shared_states,
    tracker_states,
)
from chinwag.core.slots import Slot, SlotMapping
from chinwag.core.train import train_bot
from tests.core.data.test_loader import write
from tests.core.policies.helpers import a, slot, story, u
from tests.core.policies.helpers import domain as helpers_domain
from tests.core.policies.test_turn_context import DOMAIN, STORIES

CONFIG = """\
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: LightGBMPolicy
"""
RULES = """\
version: "3.1"
rules:
- rule: bye
  steps:
  - intent: bye
  - action: utter_bye
"""


def _stories(written: list[Story] | None = None) -> list[Conversation]:
    """The expanded stories (of ``written``, as loaded, or of new ones)."""
    return expand(written or _written(), Problems())


def _written() -> list[Story]:
    return [
        story(
            "slots come and go",
            u("inform"),
            slot(ok=True, name="Ann"),
            a("utter_ok"),
            a("utter_more"),
            u("deny"),
            slot(ok=None),
            a("utter_sad"),
            slot(name=None),
            u("bye"),
            a("utter_bye"),
        ),
        story("short", u("greet"), a("utter_greet")),
    ]


def test_two_expansions_of_the_same_stories_share_their_states() -> None:
    domain, written = helpers_domain(), _written()
    alone = [conversation_states(c, domain) for c in _stories(written)]
    with shared_states():
        first = [conversation_states(c, domain) for c in _stories(written)]
        second = [conversation_states(c, domain) for c in _stories(written)]
        other_domain = conversation_states(_stories(written)[0], helpers_domain())
        # the same steps written again are other stories: their own states
        rewritten = conversation_states(_stories()[0], domain)
    for one, two, single in zip(first, second, alone, strict=True):
        assert one[0].states is two[0].states
        assert one == two == single
    # another domain object builds its own states (equal here: the same definitions)
    assert other_domain[0].states is not first[0][0].states
    assert rewritten[0].states is not first[0][0].states
    assert other_domain == first[0]


def test_replayed_states_equal_a_live_trackers_states() -> None:
    """The replay skips reading the slots when no event since could change them; a live
    tracker's incremental states read them every time."""
    domain = helpers_domain()
    for conv in _stories():
        replayed = conversation_states(conv, domain)[0].states
        assert replayed == tuple(tracker_states(conversation_tracker(conv, domain), domain))
    slots_seen = {s.slot("ok") for s in conversation_states(_stories()[0], domain)[0].states}
    assert len(slots_seen) > 1  # the slot was set, then unset


def test_used_entities_are_the_same_with_and_without_sharing() -> None:
    domain = Domain(
        intents={
            "inform": Intent("inform", use_entities=["city"]),
            "chat": Intent("chat", use_entities=True, ignore_entities=["city"]),
        },
        entities={"city": EntityDef("city", roles=["from"]), "mood": EntityDef("mood")},
        slots={
            "city": Slot("city", type="text", mappings=[SlotMapping("from_entity", "city")]),
        },
    )
    city = Entity("city", "Paris", role="from")
    mood = Entity("mood", "fine")
    (conv,) = expand(
        [
            story(
                "entities",
                UserStep("inform", entities=[city, mood]),
                a("utter_ok"),
                UserStep("chat", entities=[city, mood]),
                a("utter_ok"),
            )
        ],
        Problems(),
    )
    alone = conversation_states(conv, domain)
    with shared_states():
        shared = conversation_states(conv, domain)
    assert shared == alone
    labels = [s.entities for s in alone[0].states if s.after_listen][:2]
    assert labels == [("city", "city#from"), ("mood",)]


def test_chinwag_train_builds_each_storys_states_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: Counter[tuple[str, bool]] = Counter()
    build = states_module._conversation_states

    def counting(conv: Conversation, domain: Domain, omit_unset_slots: bool) -> object:
        built[conv.name, omit_unset_slots] += 1
        return build(conv, domain, omit_unset_slots)

    monkeypatch.setattr(states_module, "_conversation_states", counting)
    bot = write(
        tmp_path / "bot",
        {
            "domain.yml": DOMAIN,
            "data/stories.yml": STORIES,
            "data/rules.yml": RULES,
            "config.yml": CONFIG,
        },
    )
    result = train_bot(bot)
    assert result.ok and result.archive is not None
    # the data checks, memoization, rules and LightGBM all read "book a trip" and "bye"
    assert built["book a trip", False] == 1
    assert built["bye", False] == 1
    assert set(built.values()) == {1}
