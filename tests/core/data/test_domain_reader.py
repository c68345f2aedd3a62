"""Domain reading: Rasa 3.x in full, 2.x/1.x upgrades, folder merges, located errors, writing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chinwag.core.data.domain_reader import (
    domain_as_dict,
    dump_domain_yaml,
    mark_retrieval_intents,
    read_domain,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.domain import Domain
from chinwag.core.slots import MappingCondition, SlotMapping


def read(tmp_path: Path, text: str, name: str = "domain.yml") -> tuple[Domain, Problems]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    problems = Problems()
    return read_domain([path], tmp_path, problems), problems


def messages(problems: Problems, level: str = "error") -> list[str]:
    return [f"{p.location}: {p.message}" for p in problems if p.level == level]


# --------------------------------------------------------------------------- Rasa 3.x


def test_intents_in_every_form(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        intents:
          - greet
          - inform:
              use_entities: [city]
              ignore_entities: [name]
          - chitchat:
              use_entities: false
          - thank: {use_entities: null}
          - ask: {use_entities: true}
          - faq:
              is_retrieval_intent: true
        """,
    )
    assert not list(problems)
    assert list(domain.intents) == ["greet", "inform", "chitchat", "thank", "ask", "faq"]
    assert domain.intents["greet"].use_entities is True
    assert domain.intents["inform"].use_entities == ["city"]
    assert domain.intents["inform"].ignore_entities == ["name"]
    assert domain.intents["chitchat"].use_entities == []
    assert domain.intents["thank"].use_entities == []
    assert domain.intents["ask"].use_entities is True
    assert domain.intents["faq"].is_retrieval
    assert domain.intents["inform"].location == Location("domain.yml", 4)


def test_entities_with_roles_groups_and_influence(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        entities:
          - name
          - city:
              roles: [from, to]
          - topping:
              groups: ["1", "2"]
          - secret:
              influence_conversation: false
        """,
    )
    assert not list(problems)
    assert domain.entities["city"].roles == ["from", "to"]
    assert domain.entities["topping"].groups == ["1", "2"]
    assert domain.entities["secret"].influence_conversation is False
    assert domain.entities["name"].influence_conversation is True


SLOTS_3X = """\
version: "3.1"
entities: [city, number]
intents: [affirm, deny, inform, order]
slots:
  name:
    type: text
    mappings:
      - type: from_text
        intent: inform
        not_intent: [deny]
        conditions:
          - active_loop: name_form
            requested_slot: name
  confirmed:
    type: bool
    initial_value: false
    mappings:
      - type: from_intent
        intent: affirm
        value: true
      - type: from_intent
        intent: [deny]
        value: false
  size:
    type: categorical
    values: [small, medium, large]
    mappings:
      - type: custom
        action: action_size
  people:
    type: float
    min_value: 1
    max_value: 12
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: number
        role: guests
        group: party
  cities:
    type: list
    mappings:
      - type: from_entity
        entity: city
  ordered:
    type: any
    mappings:
      - type: from_trigger_intent
        intent: order
        value: yes
        conditions:
          - active_loop: null
"""


def test_every_slot_type_and_mapping_type(tmp_path: Path) -> None:
    domain, problems = read(tmp_path, SLOTS_3X)
    assert not list(problems)
    slots = domain.slots
    assert [s.type for s in slots.values()] == [
        "text",
        "bool",
        "categorical",
        "float",
        "list",
        "any",
    ]

    name = slots["name"].mappings[0]
    assert (name.type, name.intent, name.not_intent) == ("from_text", ["inform"], ["deny"])
    assert name.conditions == [MappingCondition("name_form", "name")]

    assert slots["confirmed"].initial_value is False
    assert [(m.intent, m.value) for m in slots["confirmed"].mappings] == [
        (["affirm"], True),
        (["deny"], False),
    ]
    assert slots["size"].values == ["small", "medium", "large"]
    assert slots["size"].categories[-1] == "__other__"
    assert slots["size"].mappings == [SlotMapping(type="custom", action="action_size")]

    people = slots["people"]
    assert (people.min_value, people.max_value, people.influence_conversation) == (1, 12, False)
    assert people.mappings[0] == SlotMapping(
        type="from_entity", entity="number", role="guests", group="party"
    )
    assert slots["cities"].mappings[0].entity == "city"

    ordered = slots["ordered"]
    assert ordered.influence_conversation is False  # `any` slots never influence
    assert ordered.mappings[0].value == "yes"  # YAML 1.2: yes is text
    assert ordered.mappings[0].conditions == [MappingCondition(None)]
    assert slots["name"].location == Location("domain.yml", 5)


def test_slot_featurization_follows_type(tmp_path: Path) -> None:
    domain, _ = read(tmp_path, SLOTS_3X)
    assert domain.slots["confirmed"].featurize(True) == [1.0, 1.0]
    assert domain.slots["size"].featurize("Medium") == [0.0, 1.0, 0.0, 0.0]
    assert domain.slots["people"].featurize(6) == []  # influence_conversation: false
    assert domain.slots["cities"].featurize(["Berlin"]) == [1.0]


def test_responses_variations_kept_as_written(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        responses:
          utter_greet:
            - text: "Hey {name}!"
              buttons:
                - title: great
                  payload: /mood_great
              id: greet_1
            - text: Welcome back
              channel: slack
              condition:
                - type: slot
                  name: logged_in
                  value: true
          utter_cheer_up:
            - image: https://example.com/cat.jpg
          utter_card:
            - custom:
                blocks: [{type: divider}]
              metadata: {rephrase: true}
          utter_quick:
            - text: pick one
              quick_replies:
                - title: a
                  payload: /a
        """,
    )
    assert not list(problems)
    greet = domain.responses["utter_greet"]
    assert greet[0] == {
        "text": "Hey {name}!",
        "buttons": [{"title": "great", "payload": "/mood_great"}],
        "id": "greet_1",
    }
    assert greet[1]["condition"] == [{"type": "slot", "name": "logged_in", "value": True}]
    assert greet[1]["channel"] == "slack"
    assert type(greet[0]) is dict  # plain dicts, not the loader's line-tracking ones
    assert domain.responses["utter_card"][0]["custom"] == {"blocks": [{"type": "divider"}]}
    assert domain.response_locations["utter_cheer_up"] == Location("domain.yml", 15)


def test_actions_forms_session_and_e2e(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        actions:
          - action_hello
          - action_mail: {send_domain: true}
          - validate_booking_form
        forms:
          booking_form:
            required_slots: [date, people]
            ignored_intents: chitchat
            priority: 2
            max_turns: 8
            failure_action: utter_give_up
            rules:
              - keep: date
          empty_form: {}
        session_config:
          session_expiration_time: 0
          carry_over_slots_to_new_session: false
        e2e_actions:
          - Hello there!
        """,
    )
    assert not list(problems)
    assert domain.actions["action_mail"].send_domain
    assert not domain.actions["action_hello"].send_domain
    form = domain.forms["booking_form"]
    assert form.required_slots == ["date", "people"]
    assert form.ignored_intents == ["chitchat"]
    assert form.plans == {
        "priority": 2,
        "max_turns": 8,
        "failure_action": "utter_give_up",
        "rules": [{"keep": "date"}],
    }
    assert domain.forms["empty_form"].required_slots == []
    assert domain.session_config.session_expiration_time == 0
    assert domain.session_config.carry_over_slots is False
    assert domain.action_texts == ["Hello there!"]
    assert domain.version == "3.1"


def test_defaults_when_sections_are_missing(tmp_path: Path) -> None:
    domain, problems = read(tmp_path, 'version: "3.1"\nintents: [greet]\n')
    assert not list(problems)
    assert domain.session_config.session_expiration_time == 60
    assert domain.session_config.carry_over_slots is True
    assert domain.intent_names[:2] == ["greet", "restart"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("intents: greet\n", "domain.yml:1: intents must be a list of intent names"),
        ("intents:\n  - /greet\n", "domain.yml:2: intent name '/greet' starts with '/'"),
        ("intents:\n  - greet\n  - greet\n", "domain.yml:3: intent 'greet' is listed twice"),
        ("intents:\n  - greet:\n", "domain.yml:2: intent 'greet' is followed by ':'"),
        ("entities:\n  - a\n  - a\n", "domain.yml:3: entity 'a' is listed twice"),
        ("slots:\n  s:\n    mappings: []\n", "domain.yml:2: slot 's' has no `type`"),
        ("slots:\n  s:\n    type: number\n", "domain.yml:3: slot 's' has unknown type 'number'"),
        (
            "slots:\n  s:\n    type: text\n    mappings:\n      - type: from_magic\n",
            "domain.yml:5: slot 's': unknown mapping type 'from_magic'",
        ),
        (
            "slots:\n  s:\n    type: text\n    mappings:\n      - type: from_entity\n",
            "domain.yml:5: slot 's': a from_entity mapping needs `entity: <entity name>`",
        ),
        (
            "slots:\n  s:\n    type: text\n    mappings:\n      - type: from_intent\n"
            "        intent: affirm\n",
            "domain.yml:5: slot 's': a from_intent mapping needs a `value`",
        ),
        (
            "slots:\n  s:\n    type: text\n    mappings:\n      - {}\n",
            "domain.yml:5: slot 's': mapping has no `type`",
        ),
        (
            "slots:\n  s:\n    type: any\n    influence_conversation: true\n    mappings: []\n",
            "domain.yml:4: slot 's': an `any` slot cannot influence the conversation",
        ),
        (
            "slots:\n  s:\n    type: float\n    min_value: 5\n    max_value: 1\n    mappings: []\n",
            "domain.yml:2: float slot 's': min_value (5) must be smaller than max_value (1)",
        ),
        (
            "responses:\n  utter_a:\n    - hello\n",
            "domain.yml:3: response 'utter_a': a variation must be a mapping",
        ),
        (
            "responses:\n  utter_a:\n    - stuff: x\n",
            "domain.yml:3: response 'utter_a': variation has no text, image, custom",
        ),
        ("responses:\n  utter_a:\n", "domain.yml:2: response 'utter_a' must be a list"),
        (
            "responses:\n  utter_a:\n    - text: hi\n      condition:\n        - type: intent\n",
            "domain.yml:5: response 'utter_a': condition type must be 'slot'",
        ),
        (
            "responses:\n  utter_a:\n    - text: a\n      id: x\n  utter_b:\n    - text: b\n"
            "      id: x\n",
            "domain.yml:6: response 'utter_b': id 'x' is already used by response 'utter_a'",
        ),
        ("actions:\n  - a\n  - a\n", "domain.yml:3: action 'a' is listed twice"),
        (
            "forms:\n  f:\n    required_slots: 3\n",
            "domain.yml:3: form 'f': required_slots must be a list of slot names",
        ),
        (
            "session_config:\n  session_expiration_time: -1\n",
            "domain.yml:2: session_expiration_time must be a number of minutes",
        ),
        ("responses:\n  a: 1\n  a: 2\n", "domain.yml:3: duplicate key 'a'"),
        ("- intents\n", "domain.yml:1: a domain file must be a mapping of sections"),
    ],
)
def test_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    _, problems = read(tmp_path, 'version: "3.1"\n' + text if text[0] != "-" else text)
    shifted = expected
    if text[0] != "-":  # the version line comes first: every line moves down by one
        file, line, rest = expected.split(":", 2)
        shifted = f"{file}:{int(line) + 1}:{rest}"
    assert any(m.startswith(shifted) for m in messages(problems)), messages(problems)


def test_reading_goes_on_after_an_error(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        intents:
          - /greet
          - goodbye
        slots:
          broken:
            type: nonsense
          fine:
            type: text
            mappings: [{type: from_text}]
        responses:
          utter_bad:
            - just text
          utter_good:
            - text: ok
        """,
    )
    assert len(problems.errors) == 3
    assert list(domain.intents) == ["goodbye"]
    assert list(domain.slots) == ["fine"]
    assert domain.responses["utter_good"] == [{"text": "ok"}]


def test_oddities_are_warnings(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        version: "3.1"
        intents:
          - greet:
              triggers: utter_greet
        stories: []
        slots:
          free:
            type: text
        responses:
          greet:
            - text: hi
        """,
    )
    assert not problems.errors
    warnings = messages(problems, "warning")
    # kept for MappingPolicy (core.data.config.migrate_config makes it a rule or warns)
    assert domain.intents["greet"].triggers == "utter_greet"
    assert any(w.startswith("domain.yml:5: unknown domain section 'stories'") for w in warnings)
    assert any(w.startswith("domain.yml:7: slot 'free' has no `mappings`") for w in warnings)
    assert any("response 'greet' does not start with 'utter_'" in w for w in warnings)
    assert domain.slots["free"].mappings == []  # a 3.x domain: nothing is invented


# --------------------------------------------------------------------------- Rasa 2.x / 1.x


DOMAIN_2X = """\
version: "2.0"
intents: [inform, affirm, deny, book]
entities: [city, date, people]
slots:
  city:
    type: text
  date:
    type: text
    auto_fill: false
  people:
    type: unfeaturized
  confirmed:
    type: bool
  notes:
    type: text
forms:
  booking_form:
    city:
      - type: from_entity
        entity: city
      - type: from_text
        intent: inform
    confirmed:
      - type: from_intent
        intent: affirm
        value: true
      - type: from_trigger_intent
        intent: book
        value: false
  other_form:
    ignored_intents: [deny]
    required_slots:
      city:
        - type: from_entity
          entity: city
      date:
        - type: from_entity
          entity: date
"""


def test_2x_form_mappings_move_to_slots_with_migrate_conditions(tmp_path: Path) -> None:
    domain, problems = read(tmp_path, DOMAIN_2X)
    assert not problems.errors, messages(problems)
    city = domain.slots["city"].mappings
    # from_entity: active_loop only; the same mapping in two forms gets both conditions
    assert city[0] == SlotMapping(
        type="from_entity",
        entity="city",
        conditions=[MappingCondition("booking_form"), MappingCondition("other_form")],
    )
    # from_text: active_loop and requested_slot
    assert city[1] == SlotMapping(
        type="from_text",
        intent=["inform"],
        conditions=[MappingCondition("booking_form", "city")],
    )
    # auto_fill (default true in 2.x) for the entity of the same name, after the form mappings
    assert city[2] == SlotMapping(type="from_entity", entity="city")
    assert len(city) == 3

    confirmed = domain.slots["confirmed"].mappings
    assert confirmed[0].conditions == [MappingCondition("booking_form", "confirmed")]
    assert confirmed[1].type == "from_trigger_intent"
    assert confirmed[1].conditions == [MappingCondition("booking_form")]

    # auto_fill: false -> only the form's mapping, no automatic one
    assert domain.slots["date"].mappings == [
        SlotMapping(type="from_entity", entity="date", conditions=[MappingCondition("other_form")])
    ]
    # unfeaturized -> any, not influencing; it matches the entity `people` (auto_fill)
    people = domain.slots["people"]
    assert (people.type, people.influence_conversation) == ("any", False)
    assert people.mappings == [SlotMapping(type="from_entity", entity="people")]
    # no mapping at all -> custom, as migrate.py does
    assert domain.slots["notes"].mappings == [SlotMapping(type="custom")]

    assert domain.forms["booking_form"].required_slots == ["city", "confirmed"]
    assert domain.forms["other_form"].required_slots == ["city", "date"]
    assert domain.forms["other_form"].ignored_intents == ["deny"]
    assert domain.forms["booking_form"].plans == {}


def test_2x_upgrades_warn_once_each(tmp_path: Path) -> None:
    _, problems = read(tmp_path, DOMAIN_2X)
    warnings = messages(problems, "warning")
    assert warnings == [
        "domain.yml:11: slot 'people': Rasa 2.x `type: unfeaturized` upgraded to `type: any` "
        "with influence_conversation: false",
        "domain.yml:17: form 'booking_form' uses Rasa 2.x slot mappings: moved to the slots "
        "(city, confirmed) with conditions active_loop: booking_form and requested_slot: <slot> "
        "(active_loop only for from_entity and from_trigger_intent), as `rasa data migrate` does",
        "domain.yml:30: form 'other_form' uses Rasa 2.x slot mappings: moved to the slots "
        "(city, date) with conditions active_loop: other_form and requested_slot: <slot> "
        "(active_loop only for from_entity and from_trigger_intent), as `rasa data migrate` does",
        "domain.yml:5: slot 'city': Rasa 2.x auto_fill upgraded to the mapping "
        "`- type: from_entity` / `entity: city`",
        "domain.yml:10: slot 'people': Rasa 2.x auto_fill upgraded to the mapping "
        "`- type: from_entity` / `entity: people`",
        "domain.yml:14: slot 'notes' has no mappings (Rasa 2.x): a `custom` mapping was added, "
        "as `rasa data migrate` does",
    ]


def test_2x_form_slot_that_is_not_declared(tmp_path: Path) -> None:
    _, problems = read(
        tmp_path,
        """\
        version: "2.0"
        forms:
          f:
            ghost:
              - type: from_text
        """,
    )
    assert messages(problems) == [
        "domain.yml:4: form 'f' maps slot 'ghost', which is not declared under slots"
    ]


def test_domain_without_version_is_2x_by_shape(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        entities: [name]
        slots:
          name:
            type: text
        """,
    )
    assert not problems.errors
    assert domain.slots["name"].mappings == [SlotMapping(type="from_entity", entity="name")]


def test_domain_without_version_in_3x_shape_is_not_upgraded(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        entities: [name]
        slots:
          name:
            type: text
            mappings: []
        """,
    )
    assert not list(problems)
    assert domain.slots["name"].mappings == []


def test_1x_templates_and_form_list(tmp_path: Path) -> None:
    domain, problems = read(
        tmp_path,
        """\
        intents:
          - greet
        slots:
          cuisine:
            type: rasa.core.slots.TextSlot
        templates:
          utter_greet:
            - text: hello
        forms:
          - restaurant_form
        """,
    )
    assert not problems.errors
    assert domain.responses == {"utter_greet": [{"text": "hello"}]}
    assert domain.response_locations["utter_greet"] == Location("domain.yml", 7)
    assert domain.forms["restaurant_form"].required_slots == []
    assert domain.slots["cuisine"].type == "text"
    warnings = messages(problems, "warning")
    assert warnings[0].startswith("domain.yml:6: Rasa 1.x section 'templates' read as 'responses'")
    assert warnings[1].startswith("domain.yml:9: Rasa 1.x list of forms upgraded")


# --------------------------------------------------------------------------- domain folder


def test_domain_folder_is_merged(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    (folder / "skill").mkdir(parents=True)
    (folder / "intents.yml").write_text('version: "3.1"\nintents: [greet, bye]\n')
    (folder / "skill" / "responses.yml").write_text(
        'version: "3.1"\nintents: [greet]\nresponses:\n  utter_greet:\n    - text: hi\n'
    )
    (folder / "session.yaml").write_text(
        'version: "3.1"\nsession_config:\n  session_expiration_time: 5\n'
    )
    problems = Problems()
    files = sorted(folder.rglob("*.y*ml"))
    domain = read_domain(files, tmp_path, problems)
    assert not problems.errors
    assert list(domain.intents) == ["greet", "bye"]
    assert domain.responses["utter_greet"] == [{"text": "hi"}]
    assert domain.session_config.session_expiration_time == 5
    assert messages(problems, "warning") == [
        "domain/skill/responses.yml:2: intent 'greet' is declared again "
        "(first at domain/intents.yml:2)"
    ]
    # a folder given as such is searched the same way
    assert read_domain([folder], tmp_path, Problems()) == domain


def test_domain_folder_conflict_names_both_places(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    folder.mkdir()
    (folder / "a.yml").write_text("responses:\n  utter_hi:\n    - text: hi\n")
    (folder / "b.yml").write_text("responses:\n  utter_hi:\n    - text: hello\n")
    problems = Problems()
    domain = read_domain([folder / "a.yml", folder / "b.yml"], tmp_path, problems)
    assert messages(problems) == [
        "domain/b.yml:2: response 'utter_hi' is declared differently here and at "
        "domain/a.yml:2; keep one"
    ]
    assert domain.responses["utter_hi"] == [{"text": "hi"}]


def test_2x_form_in_one_file_and_slots_in_another(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    folder.mkdir()
    (folder / "forms.yml").write_text(
        'version: "2.0"\nforms:\n  f:\n    city:\n      - type: from_text\n'
    )
    (folder / "slots.yml").write_text('version: "2.0"\nslots:\n  city:\n    type: text\n')
    problems = Problems()
    domain = read_domain(sorted(folder.iterdir()), tmp_path, problems)
    assert not problems.errors
    assert domain.slots["city"].mappings == [
        SlotMapping(type="from_text", conditions=[MappingCondition("f", "city")])
    ]


# --------------------------------------------------------------------------- helpers, writing


def test_mark_retrieval_intents(tmp_path: Path) -> None:
    domain, _ = read(
        tmp_path,
        """\
        version: "3.1"
        intents: [faq, chitchat, greet]
        responses:
          utter_faq/ask_name:
            - text: I am a bot
        """,
    )
    mark_retrieval_intents(domain, {"chitchat/ask_weather", "greet"})
    assert [i.name for i in domain.intents.values() if i.is_retrieval] == ["faq", "chitchat"]
    assert domain.is_retrieval_response("utter_faq")


def test_domain_as_dict_is_rasas_shape(tmp_path: Path) -> None:
    domain, _ = read(tmp_path, SLOTS_3X + "forms:\n  name_form:\n    required_slots: [name]\n")
    data = domain.as_dict()
    assert data == domain_as_dict(domain)
    assert data["version"] == "3.1"
    assert data["intents"] == ["affirm", "deny", "inform", "order"]
    assert data["slots"]["people"] == {
        "type": "float",
        "influence_conversation": False,
        "min_value": 1.0,
        "max_value": 12.0,
        "mappings": [
            {"type": "from_entity", "entity": "number", "role": "guests", "group": "party"}
        ],
    }
    assert data["slots"]["name"]["mappings"][0] == {
        "type": "from_text",
        "intent": "inform",
        "not_intent": "deny",
        "conditions": [{"active_loop": "name_form", "requested_slot": "name"}],
    }
    assert data["forms"] == {"name_form": {"required_slots": ["name"]}}
    assert data["session_config"] == {
        "session_expiration_time": 60,
        "carry_over_slots_to_new_session": True,
    }
    assert "responses" not in data and "actions" not in data  # empty sections left out, as Rasa


def test_dump_reads_back_to_an_equal_domain(tmp_path: Path) -> None:
    domain, _ = read(tmp_path, SLOTS_3X)
    domain.responses["utter_long"] = [{"text": "line one\nline two", "channel": "slack"}]
    domain.responses["utter_tricky"] = [{"text": "1e3", "custom": {"a": "yes", "b": "null"}}]
    text = dump_domain_yaml(domain)
    assert text.startswith('version: "3.1"\n')
    assert "  utter_long:\n    - text: |-\n        line one\n        line two\n" in text
    again, problems = read(tmp_path, text, "again/domain.yml")
    assert not list(problems)
    assert again == domain


def test_dump_of_an_upgraded_2x_domain_is_3x(tmp_path: Path) -> None:
    domain, _ = read(tmp_path, DOMAIN_2X)
    domain.intents["inform"].use_entities = ["city"]
    domain.entities["city"].roles = ["from", "to"]
    text = dump_domain_yaml(domain)
    again, problems = read(tmp_path, text, "again/domain.yml")
    assert not list(problems)
    assert again == domain
    assert "auto_fill" not in text and "unfeaturized" not in text
