"""Response variations are chosen and filled as Rasa 3.6's templated NLG does, never evaluated."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from chinwag.channel_responses.variations import ResponseGenerator, fill_text, suitable_variations
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.events import SlotSet
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker

SLOTS = {"cuisine": Slot("cuisine", type="text"), "vip": Slot("vip", type="bool")}

CHOICE_TABLE: list[dict[str, Any]] = [
    {"text": "default"},
    {"text": "slack", "channel": "slack"},
    {"text": "vip", "condition": [{"type": "slot", "name": "vip", "value": True}]},
    {
        "text": "vip slack",
        "channel": "slack",
        "condition": [{"type": "slot", "name": "vip", "value": True}],
    },
    {
        "text": "italian",
        "condition": [{"type": "slot", "name": "cuisine", "value": "Italian"}],
    },
]


def make_tracker(domain: Domain, **slots: Any) -> Tracker:
    return Tracker("u", domain, [SlotSet(k, v) for k, v in slots.items()])


def generator(responses: dict[str, list[dict[str, Any]]], seed: int = 0) -> ResponseGenerator:
    return ResponseGenerator(Domain(slots=dict(SLOTS), responses=responses), random.Random(seed))


def texts(variations: list[dict[str, Any]]) -> list[str]:
    return [v["text"] for v in variations]


@pytest.mark.parametrize(
    ("channel", "slots", "expected"),
    [
        # condition and channel both match: the most specific wins
        ("slack", {"vip": True}, ["vip slack"]),
        # channel-specific (no condition) beats a matching condition without channel
        ("slack", {"vip": False}, ["slack"]),
        ("slack", {}, ["slack"]),
        # no variation for this channel: matching conditions, then the defaults
        ("telegram", {"vip": True}, ["vip"]),
        ("rest", {"vip": True, "cuisine": "ITALIAN"}, ["vip", "italian"]),
        ("rest", {"vip": False}, ["default"]),
        (None, {"vip": True}, ["vip"]),
        (None, {}, ["default"]),
    ],
)
def test_variation_choice_table(
    channel: str | None, slots: dict[str, Any], expected: list[str]
) -> None:
    assert texts(suitable_variations(CHOICE_TABLE, slots, channel)) == expected


def test_condition_needs_every_constraint_and_compares_text_casefolded() -> None:
    both: list[dict[str, Any]] = [
        {"text": "a", "condition": [{"type": "slot", "name": "cuisine", "value": "thai"}]},
        {
            "text": "b",
            "condition": [
                {"type": "slot", "name": "cuisine", "value": "thai"},
                {"type": "slot", "name": "vip", "value": True},
            ],
        },
        {"text": "c"},
    ]
    assert texts(suitable_variations(both, {"cuisine": "THAI", "vip": None}, None)) == ["a"]
    assert texts(suitable_variations(both, {"cuisine": "Thai", "vip": True}, None)) == ["a", "b"]
    # a bool slot is not the text "true"
    assert texts(suitable_variations(both, {"cuisine": "x", "vip": "True"}, None)) == ["c"]


def test_only_channel_variations_and_no_match_gives_none() -> None:
    gen = generator({"utter_x": [{"text": "only slack", "channel": "slack"}]})
    tracker = make_tracker(gen.domain)
    assert gen.generate("utter_x", tracker, "telegram") is None
    assert gen.generate("utter_missing", tracker, "slack") is None
    response = gen.generate("utter_x", tracker, "slack")
    assert response is not None and response["text"] == "only slack"


def test_seeded_rng_picks_deterministically_and_covers_all_equals() -> None:
    variations = [{"text": f"hi {i}"} for i in range(4)]
    domain = Domain(responses={"utter_hi": variations})
    tracker = make_tracker(domain)

    def pick(seed: int) -> str:
        response = ResponseGenerator(domain, random.Random(seed)).generate(
            "utter_hi", tracker, None
        )
        assert response is not None
        return str(response["text"])

    assert [pick(7) for _ in range(5)] == [pick(7)] * 5
    seen = {pick(seed) for seed in range(200)}
    assert seen == {"hi 0", "hi 1", "hi 2", "hi 3"}
    # one generator draws a sequence: the same seed gives the same sequence
    sequence = [ResponseGenerator(domain, random.Random(3)) for _ in range(2)]
    draws = [
        [(g.generate("utter_hi", tracker, None) or {})["text"] for _ in range(6)] for g in sequence
    ]
    assert draws[0] == draws[1]


def test_generated_response_shape() -> None:
    gen = generator(
        {
            "utter_x": [
                {
                    "id": "x1",
                    "text": "Hi {cuisine}",
                    "channel": "slack",
                    "condition": [{"type": "slot", "name": "cuisine", "value": "thai"}],
                    "metadata": {"rephrase": True},
                    "button_type": "vertical",
                }
            ]
        }
    )
    response = gen.generate("utter_x", make_tracker(gen.domain, cuisine="thai"), "slack")
    assert response == {
        "text": "Hi thai",
        "buttons": None,
        "image": None,
        "custom": None,
        "quick_replies": None,
        "attachment": None,
        "elements": None,
        "response": "utter_x",
        "id": "x1",
        "metadata": {"rephrase": True},
        "button_type": "vertical",
    }


def test_filling_text_buttons_image_custom_quick_replies_and_kwargs() -> None:
    gen = generator(
        {
            "utter_x": [
                {
                    "text": "{cuisine} for {who}",
                    "buttons": [
                        {"title": "More {cuisine}", "payload": '/more{{"c": "{cuisine}"}}'}
                    ],
                    "image": "https://img/{cuisine}.png",
                    "attachment": {"url": "https://a/{cuisine}"},
                    "custom": {"blocks": [{"text": {"value": "{cuisine}"}}], "n": 3},
                    "quick_replies": [{"title": "{cuisine}", "payload": "/q"}],
                    "elements": [{"title": "{cuisine}"}],
                }
            ]
        }
    )
    variation_before = repr(gen.domain.responses)
    response = gen.generate("utter_x", make_tracker(gen.domain, cuisine="thai"), None, who="Ann")
    assert response is not None
    assert response["text"] == "thai for Ann"
    assert response["buttons"] == [{"title": "More thai", "payload": '/more{"c": "thai"}'}]
    assert response["image"] == "https://img/thai.png"
    assert response["attachment"] == {"url": "https://a/thai"}
    assert response["custom"] == {"blocks": [{"text": {"value": "thai"}}], "n": 3}
    assert response["quick_replies"] == [{"title": "thai", "payload": "/q"}]
    # elements are not among Rasa's interpolated keys
    assert response["elements"] == [{"title": "{cuisine}"}]
    # the domain's variation is untouched
    assert repr(gen.domain.responses) == variation_before


def test_kwargs_win_over_slots_and_empty_slots_fill_as_none() -> None:
    values = {"cuisine": "thai", "vip": None}
    assert fill_text("{cuisine}", {**values, "cuisine": "sushi"}) == "sushi"
    assert fill_text("vip={vip}", values) == "vip=None"
    assert fill_text("{vip}", {"vip": True}) == "True"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{cuisine.__class__}", "{cuisine.__class__}"),
        ("{cuisine.__class__.__mro__}", "{cuisine.__class__.__mro__}"),
        ("{0}", "{0}"),
        ("{}", "{}"),
        ("{cuisine!r}", "{cuisine!r}"),
        ("{cuisine:>10}", "{cuisine:>10}"),
        ("{cuisine[0]}", "{cuisine[0]}"),
        ("{unknown} and {cuisine}", "{unknown} and a {other} b"),
        ("{{cuisine}}", "{cuisine}"),
        ("{ cuisine }", "{ cuisine }"),
        ("a { b", "a { b"),
        ("{\ncuisine}", "{\ncuisine}"),
    ],
)
def test_filling_never_evaluates(template: str, expected: str) -> None:
    values = {"cuisine": "a {other} b", "other": "EXPANDED"}
    assert fill_text(template, values) == expected


def test_value_with_braces_is_not_expanded_again() -> None:
    gen = generator({"utter_x": [{"text": "You said: {cuisine}"}]})
    tracker = make_tracker(gen.domain, cuisine="{vip} {0} {cuisine.__class__}", vip=True)
    response = gen.generate("utter_x", tracker, None)
    assert response is not None
    assert response["text"] == "You said: {vip} {0} {cuisine.__class__}"


def test_responses_read_from_a_domain_file(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(
        """version: "3.1"
slots:
  vip:
    type: bool
    mappings: []
responses:
  utter_greet:
  - text: "Hello!"
  - text: "Hello, dear guest!"
    condition:
    - type: slot
      name: vip
      value: true
  - text: "Hello *slack*!"
    channel: slack
"""
    )
    problems = Problems()
    domain = read_domain([tmp_path / "domain.yml"], tmp_path, problems)
    assert not problems.errors
    gen = ResponseGenerator(domain, random.Random(1))
    normal, vip = make_tracker(domain), make_tracker(domain, vip=True)
    assert (gen.generate("utter_greet", normal, "rest") or {})["text"] == "Hello!"
    assert (gen.generate("utter_greet", vip, "rest") or {})["text"] == "Hello, dear guest!"
    assert (gen.generate("utter_greet", vip, "slack") or {})["text"] == "Hello *slack*!"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('/inform{{"cuisine": "{cuisine}"}}', '/inform{"cuisine": "thai"}'),
        ('/inform{"cuisine": "greek"}', '/inform{"cuisine": "greek"}'),
        ("{{{cuisine}}}", "{thai}"),
        ("a }} b {{", "a } b {"),
        ("a } b", "a } b"),
    ],
)
def test_double_braces_are_rasas_escapes(template: str, expected: str) -> None:
    assert fill_text(template, {"cuisine": "thai"}) == expected
