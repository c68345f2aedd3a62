"""Every corpus bot's domain, config and endpoints read cleanly; malformed ones fail located."""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.data.config import read_config, read_endpoints
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.slots import MappingCondition, SlotMapping
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus

BOTS = CORPUS_BOTS
# intents, entities, slots, responses, actions, forms (counted in each domain.yml)
COUNTS = {
    "breakoutbot": (9, 1, 2, 3, 4, 0),
    "carbon-bot": (23, 7, 10, 62, 15, 1),
    "financial-demo": (22, 10, 24, 51, 18, 3),
    "helpdesk-assistant": (17, 3, 9, 21, 7, 2),
    "rasa-formbot": (9, 4, 5, 17, 1, 1),
    "rasa-rules": (11, 1, 2, 13, 12, 1),
}


def load(path: Path, root: Path) -> tuple[Domain, Problems]:
    problems = Problems()
    return read_domain([path], root, problems), problems


@pytest.mark.parametrize("bot", BOTS)
def test_every_bot_domain_reads_without_errors(corpus_dir: Path, bot: str) -> None:
    root = corpus_dir / bot
    domain, problems = load(root / "domain.yml", root)
    assert not problems.errors, [str(p) for p in problems.errors]
    assert domain.intents and domain.responses
    assert all(p.location and p.location.file == "domain.yml" for p in problems)
    if bot in COUNTS:
        counts = tuple(
            len(x)
            for x in (
                domain.intents,
                domain.entities,
                domain.slots,
                domain.responses,
                domain.actions,
                domain.forms,
            )
        )
        assert counts == COUNTS[bot]


@pytest.mark.parametrize("bot", BOTS)
def test_every_bot_config_and_endpoints_read_without_errors(corpus_dir: Path, bot: str) -> None:
    root = corpus_dir / bot
    problems = Problems()
    config = read_config(root / "config.yml", root, problems)
    endpoints = read_endpoints(root / "endpoints.yml", root, problems, env={})
    assert not problems.errors, [str(p) for p in problems.errors]
    assert config.language == "en"
    assert all("name" in c for c in [*config.pipeline, *config.policies])
    if (root / "endpoints.yml").is_file() and "action_endpoint" in endpoints:
        assert endpoints["action_endpoint"]["url"].startswith("http://localhost:505")


def test_financial_demo(corpus_dir: Path) -> None:
    root = corpus_dir / "financial-demo"
    domain, problems = load(root / "domain.yml", root)
    assert not list(problems)  # a clean 3.1 domain: not even a warning
    assert domain.forms["transfer_money_form"].required_slots == [
        "AA_CONTINUE_FORM",
        "PERSON",
        "amount-of-money",
        "zz_confirm_form",
    ]
    cont = domain.slots["AA_CONTINUE_FORM"].mappings[0]
    assert (cont.type, cont.intent, cont.value) == ("from_intent", ["affirm"], "yes")
    assert len(cont.conditions) == 3
    assert domain.session_config.session_expiration_time == 0  # sessions never expire


def test_carbon_bot_is_upgraded_from_2x(corpus_dir: Path) -> None:
    root = corpus_dir / "carbon-bot"
    domain, problems = load(root / "domain.yml", root)
    assert domain.version == "2.0"
    assert domain.intents["faq"].is_retrieval
    form = domain.forms["airtravel_form"]
    assert form.required_slots == ["travel_flight_class", "travel_departure", "travel_destination"]
    assert form.ignored_intents == ["faq", "why", "inquire-ask_clarification"]
    loop = MappingCondition("airtravel_form")
    asked = MappingCondition("airtravel_form", "travel_departure")
    assert domain.slots["travel_departure"].mappings == [
        SlotMapping(type="from_entity", entity="city", role="from", conditions=[loop]),
        SlotMapping(type="from_entity", entity="iata", role="from", conditions=[loop]),
        SlotMapping(type="from_entity", entity="city", conditions=[loop]),
        SlotMapping(type="from_entity", entity="iata", conditions=[loop]),
        SlotMapping(type="from_text", conditions=[asked]),
    ]
    flight_class = domain.slots["travel_flight_class"].mappings
    assert flight_class[0] == SlotMapping(
        type="from_intent",
        intent=["affirm"],
        value="economy",
        conditions=[MappingCondition("airtravel_form", "travel_flight_class")],
    )
    # auto_fill: the slot has an entity of the same name
    assert flight_class[-1] == SlotMapping(type="from_entity", entity="travel_flight_class")
    # slots that had no mapping at all get `custom`, as migrate.py does
    assert domain.slots["link_1_url"].mappings == [SlotMapping(type="custom")]
    warnings = [str(p) for p in problems.warnings]
    assert any("form 'airtravel_form' uses Rasa 2.x slot mappings" in w for w in warnings)


def test_formbot_restaurant_form(corpus_dir: Path) -> None:
    root = corpus_dir / "rasa-formbot"
    domain, problems = load(root / "domain.yml", root)
    assert not list(problems)
    form = domain.forms["restaurant_form"]
    assert form.required_slots == [
        "cuisine",
        "num_people",
        "outdoor_seating",
        "preferences",
        "feedback",
    ]
    assert form.ignored_intents == ["chitchat"]
    assert domain.intents["chitchat"].use_entities == []
    seating = domain.slots["outdoor_seating"].mappings
    assert [m.type for m in seating] == ["from_entity", "from_intent", "from_intent"]
    assert seating[1].conditions == [MappingCondition("restaurant_form", "outdoor_seating")]
    assert domain.slots["num_people"].mappings[0].intent == ["inform", "request_restaurant"]


# Rasa's own malformed and odd test domains: file -> the located errors they must give
MALFORMED = {
    "duplicate_actions.yml": ["duplicate_actions.yml:35: action 'utter_default' is listed twice"],
    "duplicate_entities.yml": ["duplicate_entities.yml:20: entity 'name' is listed twice"],
    "duplicate_intents.yml": [
        "duplicate_intents.yml:5: intent 'default' is listed twice",
        "duplicate_intents.yml:6: intent 'goodbye' is listed twice",
    ],
    "duplicate_responses.yml": ["duplicate_responses.yml:22: duplicate key 'utter_greet'"],
    "empty_response_format.yml": [
        "empty_response_format.yml:16: response 'utter_greet' must be a list of variations"
    ],
    "invalid_format.yml": ["invalid_format.yml:15: invalid YAML"],
    "missing_text_for_templates.yml": [
        "missing_text_for_templates.yml:8: response 'utter_greet': a variation must be a mapping",
        "missing_text_for_templates.yml:10: response 'utter_goodbye': a variation must be a",
        "missing_text_for_templates.yml:12: response 'utter_default': a variation must be a",
    ],
    "wrong_custom_response_format.yml": [
        "wrong_custom_response_format.yml:17: response 'utter_greet': variation has no text"
    ],
    "wrong_response_format.yml": [
        "wrong_response_format.yml:17: response 'utter_greet': a variation must be a mapping",
        "wrong_response_format.yml:19: response 'utter_goodbye': a variation must be a mapping",
        "wrong_response_format.yml:21: response 'utter_default': variation has no text",
    ],
    "custom_slot_domain.yml": [
        "custom_slot_domain.yml:10: slot 'limit' has unknown type "
        "'data.test_classes.custom_slots.LimitSlot' (custom slot classes are not supported)"
    ],
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_rasa_domains_give_located_errors(corpus_dir: Path, name: str) -> None:
    root = corpus_dir / "rasa-testdata" / "test_domains"
    _, problems = load(root / name, root)
    found = [f"{p.location}: {p.message}" for p in problems.errors]
    assert len(found) == len(MALFORMED[name]), found
    for got, expected in zip(found, MALFORMED[name], strict=True):
        assert got.startswith(expected)


def test_every_other_rasa_test_domain_reads_without_errors(corpus_dir: Path) -> None:
    root = corpus_dir / "rasa-testdata"
    files = (
        [p for p in sorted((root / "test_domains").glob("*.yml")) if p.name not in MALFORMED]
        + sorted(root.glob("*/domain*.yml"))
        + sorted((root / "test_responses").glob("*.yml"))
    )
    assert len(files) == 34
    for path in files:
        _, problems = load(path, root)
        assert not problems.errors, [str(p) for p in problems.errors]


def test_leading_slash_intent_file_from_rasa(corpus_dir: Path, tmp_path: Path) -> None:
    """The intent named in rasa-testdata's intent_with_leading_slash.yml, declared in a domain."""
    story = corpus_dir / "rasa-testdata/test_wrong_yaml_stories/intent_with_leading_slash.yml"
    assert "intent: /simple" in story.read_text()
    path = tmp_path / "domain.yml"
    path.write_text('version: "3.1"\nintents:\n  - /simple\n')
    _, problems = load(path, tmp_path)
    assert [str(p.location) for p in problems.errors] == ["domain.yml:3"]


def test_rasa_domain_folders_merge(corpus_dir: Path) -> None:
    root = corpus_dir / "rasa-testdata" / "test_domains"
    folder = root / "test_domain_from_multiple_files"
    domain, problems = load(folder, folder)
    assert not list(problems)
    assert (len(domain.intents), len(domain.slots), len(domain.actions)) == (32, 24, 35)
    assert domain.session_config.session_expiration_time == 360
    assert domain.entities["caramel_robot"].roles == ["sauce", "chips"]
    assert domain.entities["rum_and_raisin_robot"].groups == ["rum", "raisin"]
    assert domain.forms["robot_form"].required_slots == [
        "propose_simulation",
        "display_cure_method",
    ]

    folder = root / "test_domain_with_separate_session_config"
    domain, problems = load(folder, folder)
    assert not list(problems)
    assert domain.session_config.session_expiration_time == 1
    assert len(domain.responses) == 6

    folder = root / "test_domain_with_duplicates"
    domain, problems = load(folder, folder)
    assert not problems.errors
    duplicated = sorted(p.message.split("'")[1] for p in problems.warnings)
    assert duplicated == ["greet", "mood", "utter_did_that_help", "utter_greet"]

    folder = root / "test_domain_from_directory"
    domain, problems = load(folder, folder)
    assert [str(p.location) for p in problems.errors] == ["domain_invalid.yml:4"]
    assert list(domain.intents) == ["greet", "default", "goodbye"]
