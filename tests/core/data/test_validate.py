from pathlib import Path

from chinwag.core.data.loader import load_bot
from chinwag.core.data.validate import validate_bot, validate_path
from tests.core.data.test_loader import write

DOMAIN = """\
version: "3.1"
intents: [greet, goodbye, mood_great, mood_unhappy]
entities: [name]
slots:
  name:
    type: text
    mappings:
      - type: from_entity
        entity: name
responses:
  utter_greet:
    - text: "Hey {name}!"
  utter_goodbye:
    - text: "Bye"
  utter_happy:
    - text: "Great!"
  utter_cheer_up:
    - text: "Here is something to cheer you up."
"""
NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - I am [Ann](name)
- intent: goodbye
  examples: |
    - bye
- intent: mood_great
  examples: |
    - great
- intent: mood_unhappy
  examples: |
    - sad
"""
STORIES = """\
version: "3.1"
stories:
- story: happy
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_great
  - action: utter_happy
- story: sad
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_unhappy
  - action: utter_cheer_up
  - intent: goodbye
  - action: utter_goodbye
"""


def bot_dir(tmp_path: Path, overrides: dict[str, str] | None = None) -> Path:
    files = {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/stories.yml": STORIES}
    files.update(overrides or {})
    return write(tmp_path / "bot", files)


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in validate_bot(load_bot(path))]


def test_clean_bot_has_no_problems(tmp_path: Path) -> None:
    assert problems_of(bot_dir(tmp_path)) == []


def test_undeclared_names_in_stories_are_located_errors(tmp_path: Path) -> None:
    stories = (
        STORIES
        + """\
- story: broken
  steps:
  - intent: hello
    entities:
    - city: Paris
  - action: utter_missing
  - action: action_missing
  - slot_was_set:
    - colour: red
  - active_loop: some_form
"""
    )
    found = problems_of(bot_dir(tmp_path, {"data/stories.yml": stories}))
    assert (
        "data/stories.yml:19: error: intent 'hello' is used in story 'broken' but not declared "
        "in the domain's intents" in found
    )
    assert any(p.startswith("data/stories.yml:19: error: entity 'city'") for p in found)
    assert any(p.startswith("data/stories.yml:22: error: response 'utter_missing'") for p in found)
    assert any(p.startswith("data/stories.yml:23: error: action 'action_missing'") for p in found)
    assert any(p.startswith("data/stories.yml:24: error: slot 'colour'") for p in found)
    assert any(p.startswith("data/stories.yml:26: error: active_loop 'some_form'") for p in found)


def test_unused_names_and_nlu_only_intents_are_warnings(tmp_path: Path) -> None:
    domain = DOMAIN.replace("intents: [greet,", "intents: [bot_challenge, greet,") + (
        "  utter_unused:\n    - text: never said\n"
    )
    nlu = NLU + "- intent: affirm\n  examples: |\n    - yes\n"
    report = validate_bot(load_bot(bot_dir(tmp_path, {"domain.yml": domain, "data/nlu.yml": nlu})))
    assert report.errors == []
    warnings = [str(p) for p in report.warnings]
    assert "domain.yml:2: warning: intent 'bot_challenge' has no training examples" in warnings
    assert any("response 'utter_unused' is not used" in w for w in warnings)
    assert any(
        w.startswith("data/nlu.yml:") and "intent 'affirm' has training examples" in w
        for w in warnings
    )


def test_form_slot_without_mapping_is_an_error(tmp_path: Path) -> None:
    domain = (
        DOMAIN
        + """\
forms:
  name_form:
    required_slots:
      - name
      - age
      - nickname
actions:
  - action_hello
"""
    )
    domain = domain.replace(
        "\nslots:\n", "\nslots:\n  nickname:\n    type: text\n    mappings: []\n"
    )
    found = problems_of(bot_dir(tmp_path, {"domain.yml": domain}))
    assert any(
        "form 'name_form' requires slot 'age', which the domain does not" in p for p in found
    )
    assert any(
        "error: form 'name_form' requires slot 'nickname', which has no mapping" in p for p in found
    )
    assert any("warning: form 'name_form' has no question for slot 'name'" in p for p in found)
    assert any("warning: action 'action_hello' is not used" in p for p in found)


def test_contradicting_stories_name_both(tmp_path: Path) -> None:
    stories = (
        STORIES
        + """\
- story: contradiction
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_great
  - action: utter_goodbye
"""
    )
    found = [
        p for p in problems_of(bot_dir(tmp_path, {"data/stories.yml": stories})) if "error" in p
    ]
    assert len(found) == 1
    assert "'happy'" in found[0] and "'contradiction'" in found[0]
    assert "data/stories.yml:8" in found[0] and "data/stories.yml:22" in found[0]
    assert "utter_happy" in found[0] and "utter_goodbye" in found[0]


def test_rule_contradicting_a_story(tmp_path: Path) -> None:
    rules = """\
version: "3.1"
rules:
- rule: always goodbye after great
  steps:
  - intent: mood_great
  - action: utter_goodbye
"""
    found = [p for p in problems_of(bot_dir(tmp_path, {"data/rules.yml": rules})) if "error" in p]
    assert found, "a rule that contradicts a story must be reported"
    assert any("always goodbye after great" in p for p in found)


def test_undefined_checkpoint_is_an_error(tmp_path: Path) -> None:
    stories = (
        STORIES
        + """\
- story: continues
  steps:
  - checkpoint: nowhere
  - intent: goodbye
  - action: utter_goodbye
"""
    )
    found = problems_of(bot_dir(tmp_path, {"data/stories.yml": stories}))
    assert any(p.startswith("data/stories.yml:19: error:") and "nowhere" in p for p in found)


def test_folder_of_loose_files(tmp_path: Path) -> None:
    write(
        tmp_path / "fixtures",
        {
            "good/domain.yml": DOMAIN,
            "good/data/nlu.yml": NLU,
            "good/data/stories.yml": STORIES,
            "loose/broken.yml": "stories:\n- story: x\n  steps:\n  - intent: /greet\n",
            "loose/tracker.json": '{"events": []}',
            "loose/nlu.json": '{"rasa_nlu_data": {"common_examples": [{"text": "hi"}]}}',
            "loose/domain_only.yml": "intents:\n  - a\n  - a\n",
        },
    )
    reports = {r.name: r.problems for r in validate_path(tmp_path / "fixtures")}
    assert set(reports) == {"good", "loose/broken.yml", "loose/nlu.json", "loose/domain_only.yml"}
    assert reports["good"].errors == []
    assert [str(p.location) for p in reports["loose/broken.yml"].errors] == ["loose/broken.yml:4"]
    assert len(reports["loose/nlu.json"].errors) == 1
    assert [str(p.location) for p in reports["loose/domain_only.yml"].errors] == [
        "loose/domain_only.yml:3"
    ]


def test_a_broken_domain_is_one_error_not_an_avalanche(tmp_path: Path) -> None:
    found = problems_of(bot_dir(tmp_path, {"domain.yml": DOMAIN + "forms: [\n"}))
    assert len([p for p in found if "error" in p]) == 1
    assert found[0].startswith("domain.yml:")
