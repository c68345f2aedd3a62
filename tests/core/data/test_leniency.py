"""The leniency rule on minimal bots: what Rasa trains, chinwag trains (with one located
warning); errors only where Rasa refuses or the bot could not run. One bot per class of
issue 12, each trained and tested, or talked to, through the command line and the agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from tests.core.data.test_loader import write

DOMAIN = """\
version: "3.1"
intents: [greet, goodbye, inform]
entities: [city]
slots:
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
responses:
  utter_greet:
  - text: "Hello!"
  utter_hello:
  - text: "Hi!"
  utter_goodbye:
  - text: "Bye!"
  utter_ok:
  - text: "Noted."
"""
NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
- intent: goodbye
  examples: |
    - bye
    - see you
- intent: inform
  examples: |
    - I live in [Berlin](city)
    - [Paris](city)
"""
STORIES = """\
version: "3.1"
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
- story: inform
  steps:
  - intent: inform
    entities:
    - city: Berlin
  - slot_was_set:
    - city: Berlin
  - action: utter_ok
"""
CONFIG = """\
language: en
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: DIETClassifier
policies:
- name: MemoizationPolicy
- name: RulePolicy
"""
TEST_STORIES = """\
version: "3.1"
stories:
- story: greet then bye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""


def make_bot(tmp_path: Path, overrides: dict[str, str | None] | None = None) -> Path:
    files: dict[str, str | None] = {
        "domain.yml": DOMAIN,
        "config.yml": CONFIG,
        "data/nlu.yml": NLU,
        "data/stories.yml": STORIES,
        "tests/test_stories.yml": TEST_STORIES,
    }
    files.update(overrides or {})
    return write(tmp_path / "bot", {k: v for k, v in files.items() if v is not None})


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def say(bot: Path, *texts: str) -> list[list[dict[str, object]]]:
    agent = load_agent(bot)
    try:
        return [await agent.handle(UserMessage(text, "tester")) for text in texts]
    finally:
        await agent.close()


def train(bot: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["train", str(bot), *extra])
    return code, capsys.readouterr().out


# ------------------------------------------------------------------ class 1


async def test_form_keys_beside_required_slots_warn_once_and_the_form_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = DOMAIN.replace(
        "responses:",
        """\
  email:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: contact_form
        requested_slot: email
forms:
  contact_form:
    required_slots:
    - city
    email:
    - type: from_text
    phone:
    - type: from_text
responses:
  utter_ask_city:
  - text: "Which city?"
""",
    )
    rules = """\
version: "3.1"
rules:
- rule: start the form
  steps:
  - intent: inform
  - action: contact_form
  - active_loop: contact_form
- rule: submit
  condition:
  - active_loop: contact_form
  steps:
  - action: contact_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_ok
"""
    bot = make_bot(
        tmp_path,
        {
            "domain.yml": domain,
            "data/rules.yml": rules,
            "data/stories.yml": STORIES.split("- story: inform")[0],
        },
    )
    code, out = train(bot, capsys)
    assert code == 0, out
    warnings = [line for line in out.splitlines() if "beside `required_slots`" in line]
    assert len(warnings) == 1
    line = domain.splitlines().index("    email:") + 1
    assert warnings[0].startswith(f"domain.yml:{line}: warning:")
    assert "email, phone" in warnings[0]
    # the form asks only for its required slot, then submits
    replies = await say(bot, "/inform", '/inform{"city": "Oslo"}')
    assert replies[0] == [{"text": "Which city?"}]
    assert replies[1] == [{"text": "Noted."}]


# ------------------------------------------------------------------ class 2


async def test_mapping_from_an_undeclared_entity_trains_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = DOMAIN.replace(
        "responses:",
        """\
  town:
    type: text
    mappings:
    - type: from_entity
      entity: town
responses:""",
    )
    bot = make_bot(tmp_path, {"domain.yml": domain})
    code, out = train(bot, capsys)
    assert code == 0, out
    assert "warning: slot 'town' maps from entity 'town', which the domain does not declare" in out
    assert "trained anyway, as Rasa does" in out
    # chinwag data validate keeps it an error, as rasa data validate does
    assert main(["data", "validate", str(bot)]) == 1
    assert "error: slot 'town' maps from entity 'town'" in capsys.readouterr().out
    assert await say(bot, "/greet") == [[{"text": "Hello!"}]]


# ------------------------------------------------------------------ class 3


def test_contradicting_stories_warn_with_count_and_locations_and_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conflicting = [
        ["intent: greet", "action: utter_hello"],
        ["intent: inform", "action: utter_greet"],
        ["intent: goodbye", "action: utter_goodbye"],
        ["intent: goodbye", "action: utter_ok"],
        ["intent: greet", "action: utter_greet", "intent: goodbye", "action: utter_hello"],
    ]
    stories = STORIES.replace(
        "    entities:\n    - city: Berlin\n  - slot_was_set:\n    - city: Berlin\n", ""
    ) + "".join(
        f"- story: c{n}\n  steps:\n" + "".join(f"  - {step}\n" for step in steps)
        for n, steps in enumerate(conflicting)
    )
    bot = make_bot(tmp_path, {"data/stories.yml": stories})
    code, out = train(bot, capsys)
    assert code == 0, out
    (warning,) = [line for line in out.splitlines() if "story conflict" in line]
    assert "warning: 4 story conflict(s)" in warning
    assert warning.startswith("data/stories.yml:")
    # the first three are named with their lines, the rest counted
    assert warning.count("disagree after the same") == 3
    assert "and 1 more (chinwag data validate lists them all)" in warning
    assert (bot / "models").is_dir()
    # validate keeps reporting each conflict as an error, as rasa data validate does
    assert main(["data", "validate", str(bot)]) == 1
    out = capsys.readouterr().out
    assert out.count("disagree after the same") == 4
    assert out.count("error: story") == 4


async def test_with_contradicting_stories_the_ml_policy_learns_the_majority(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def story(name: str, *steps: str) -> str:
        return f"- story: {name}\n  steps:\n" + "".join(f"  - {s}\n" for s in steps)

    stories = (
        STORIES
        + story(
            "minority",
            "intent: greet",
            "action: utter_hello",
            "intent: goodbye",
            "action: utter_goodbye",
        )
        + "".join(
            story(
                f"majority {n}",
                "intent: greet",
                "action: utter_greet",
                "intent: inform",
                "action: utter_ok",
            )
            for n in range(2)
        )
    )
    config = CONFIG + "- name: LightGBMPolicy\n"
    bot = make_bot(tmp_path, {"data/stories.yml": stories, "config.yml": config})
    code, out = train(bot, capsys)
    assert code == 0, out
    assert "warning: 1 story conflict(s)" in out
    # memoization forgot the ambiguous history; LightGBM answers with utter_greet (3 to 1)
    assert await say(bot, "/greet") == [[{"text": "Hello!"}]]


def test_contradicting_rules_still_stop_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = """\
version: "3.1"
rules:
- rule: greet back
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet differently
  steps:
  - intent: greet
  - action: utter_hello
"""
    bot = make_bot(tmp_path, {"data/rules.yml": rules})
    code, out = train(bot, capsys)
    assert code == 1
    assert "data/rules.yml:" in out and "error:" in out and "not trained" in out
    assert not (bot / "models").exists()
    # a story against a rule: RulePolicy refuses it as well
    one_rule = rules.split("- rule: greet differently")[0]
    story = "- story: other\n  steps:\n  - intent: greet\n  - action: utter_hello\n"
    bot = make_bot(
        tmp_path / "2", {"data/rules.yml": one_rule, "data/more.yml": f"stories:\n{story}"}
    )
    code, out = train(bot, capsys)
    assert code == 1
    assert "data/more.yml:" in out and "utter_hello" in out and "not trained" in out


# ------------------------------------------------------------------ class 4


def test_user_text_with_an_entities_list_uses_the_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = """\
version: "2.0"
stories:
- story: agree
  steps:
  - user: |
      I live in [Berlin](city)
    intent: inform
    entities:
    - city: Berlin
  - action: utter_ok
- story: disagree
  steps:
  - user: |
      I live in [Berlin](city)
    intent: inform
    entities:
    - city: Paris
  - action: utter_ok
"""
    bot = make_bot(tmp_path, {"tests/test_stories.yml": tests})
    loaded = load_bot(bot)
    assert [[(e.entity, e.value) for e in s.steps[0].entities] for s in loaded.test_stories] == [
        [("city", "Berlin")],
        [("city", "Berlin")],
    ]
    warnings = [str(p) for p in loaded.problems.warnings if "disagrees" in p.message]
    assert warnings == [
        "tests/test_stories.yml:16: warning: 'entities' disagrees with the entities annotated "
        "in the 'user' text: the annotations are used, as Rasa does"
    ]
    assert main(["test", str(bot), "--out", str(tmp_path / "results")]) == 0
    captured = capsys.readouterr()
    assert "tests/test_stories.yml:16: warning" in captured.err
    assert "conversations: 2/2 passed" in captured.out


# ------------------------------------------------------------------ class 5


async def test_files_in_tests_that_are_not_stories_are_skipped_by_test_and_unread_by_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracker = json.dumps({"sender_id": "x", "events": [{"event": "action", "name": "x"}]})
    bot = make_bot(
        tmp_path,
        {
            "tests/trackers/conversation.json": tracker,
            "tests/fixtures/endpoints.yml": "action_endpoint:\n  url: http://x\n",
            "tests/README.md": "Run the tests with chinwag test.\n",
        },
    )
    assert main(["test", str(bot), "--out", str(tmp_path / "results")]) == 0
    captured = capsys.readouterr()
    for name in ("tests/trackers/conversation.json", "tests/fixtures/endpoints.yml"):
        assert f"{name}: warning: holds no test stories" in captured.err
    assert "tests/README.md: warning: holds no test stories" in captured.err
    assert "conversations: 1/1 passed" in captured.out
    # a broken test file never stops training or the bot: neither reads tests/
    (bot / "tests" / "broken.yml").write_text("stories: [\n")
    code, out = train(bot, capsys)
    assert code == 0, out
    assert "tests/" not in out
    assert await say(bot, "/greet") == [[{"text": "Hello!"}]]
    # while chinwag test, which reads it, reports where it broke
    assert main(["test", str(bot), "--out", str(tmp_path / "results")]) == 1
    assert "tests/broken.yml:2: error:" in capsys.readouterr().err


# ------------------------------------------------------------------ class 6


def test_test_stories_with_unknown_names_fail_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = (
        TEST_STORIES
        + """\
- story: unknown
  steps:
  - intent: order_pizza
  - action: utter_pizza
"""
    )
    bot = make_bot(tmp_path, {"tests/test_stories.yml": tests})
    code, out = train(bot, capsys)
    assert code == 0, out
    results = tmp_path / "results"
    assert main(["test", str(bot), "--out", str(results)]) == 0
    out = capsys.readouterr().out
    assert "conversations: 1/2 passed" in out
    assert (
        "failed: unknown (intent 'order_pizza', response 'utter_pizza' not in the domain "
        "(written at tests/test_stories.yml:9))" in out
    )
    failed = (results / "failed_test_stories.yml").read_text()
    assert "# not run: intent 'order_pizza', response 'utter_pizza' not in the domain" in failed
    assert main(["test", str(bot), "--out", str(results), "--fail-on-prediction-errors"]) == 1


# ------------------------------------------------------------------ class 9


async def test_bot_texts_of_end_to_end_stories_are_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stories = """\
version: "3.1"
stories:
- story: e2e
  steps:
  - user: "ciao"
    intent: greet
  - bot: "Ciao, human!"
  - intent: goodbye
  - action: utter_goodbye
"""
    bot = make_bot(tmp_path, {"data/stories.yml": stories, "tests/test_stories.yml": None})
    assert load_bot(bot).domain.action_texts == ["Ciao, human!"]
    # without a model (policies trained at start) and with one
    assert await say(bot, "/greet") == [[{"text": "Ciao, human!"}]]
    code, out = train(bot, capsys)
    assert code == 0, out
    assert await say(bot, "/greet", "/goodbye") == [[{"text": "Ciao, human!"}], [{"text": "Bye!"}]]


# ------------------------------------------------------------------ layouts and commands

TRAIN_MD = """\
## greet
* greet
  - utter_greet
* goodbye
  - utter_goodbye
"""
TEST_MD = """\
## greet then bye
* greet
  - utter_greet
* goodbye
  - utter_goodbye

## only in the test set
* inform
  - utter_ok
"""


def ted_bot(tmp_path: Path) -> Path:
    return make_bot(
        tmp_path,
        {
            "data/nlu.yml": None,
            "data/stories.yml": None,
            "tests/test_stories.yml": None,
            "config.yml": None,
            "data/train/stories.md": TRAIN_MD,
            "data/test/stories.md": TEST_MD,
        },
    )


def test_ted_layout_trains_on_train_and_tests_on_test_without_writing_into_the_bot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = ted_bot(tmp_path)
    before = listing(bot)
    assert [s.name for s in load_bot(bot, data=[bot / "data" / "train"]).stories] == ["greet"]
    model = tmp_path / "out" / "model.tar.gz"
    code, out = train(bot, capsys, "--data", str(bot / "data" / "train"), "--out", str(model))
    assert code == 0, out
    assert model.is_file()
    results = tmp_path / "results"
    args = ["test", str(bot), "--stories", str(bot / "data" / "test" / "stories.md")]
    assert main([*args, "--model", str(model), "--out", str(results)]) == 0
    out = capsys.readouterr().out
    # the story seen only in the test set was never trained on
    assert "conversations: 1/2 passed" in out
    assert "failed: only in the test set" in out
    report = json.loads((results / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] == 2
    assert listing(bot) == before


def test_test_without_model_excludes_the_given_stories_from_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = ted_bot(tmp_path)
    before = listing(bot)
    stories = bot / "data" / "test"
    assert main(["test", str(bot), "--stories", str(stories), "--out", str(tmp_path / "r")]) == 0
    assert "conversations: 1/2 passed" in capsys.readouterr().out
    assert listing(bot) == before


def test_an_empty_test_set_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = make_bot(tmp_path, {"tests/test_stories.yml": None})
    assert main(["test", str(bot), "--out", str(tmp_path / "results")]) == 1
    err = capsys.readouterr().err
    assert f"no test stories in {bot}/tests" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["test", str(bot), "--stories", str(empty)]) == 1
    assert f"no test stories in {empty}" in capsys.readouterr().err
    assert main(["test", str(bot), "--stories", str(tmp_path / "missing.yml")]) == 1
    assert "missing.yml: error: no such file or folder" in capsys.readouterr().err


def test_train_data_replaces_data_discovery_and_missing_paths_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = make_bot(tmp_path)
    extra = write(tmp_path / "elsewhere", {"more.yml": NLU, "stories.yml": STORIES})
    loaded = load_bot(bot, data=[extra / "more.yml"])
    assert loaded.stories == [] and len(loaded.nlu.examples) == 6
    code, out = train(bot, capsys, "--data", str(tmp_path / "nowhere"))
    assert code == 1
    assert "nowhere: error: no such file or folder" in out


def test_test_reports_accuracy_with_and_without_action_listen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = make_bot(tmp_path)
    results = tmp_path / "results"
    assert main(["test", str(bot), "--out", str(results)]) == 0
    out = capsys.readouterr().out
    report = json.loads((results / "story_report.json").read_text())
    accuracy = report["action_accuracy"]
    # greet, utter_greet, listen, goodbye, utter_goodbye, listen: 4 actions, 2 of them listens
    assert accuracy["with_action_listen"] == {"accuracy": 1.0, "correct": 4, "total": 4}
    assert accuracy["without_action_listen"] == {"accuracy": 1.0, "correct": 2, "total": 2}
    assert "accuracy 1.000 (4/4)" in out
    assert "actions without action_listen (as Rasa reports them): accuracy 1.000 (2/2)" in out


def test_validate_fail_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = make_bot(tmp_path)
    (bot / "domain.yml").write_text(
        DOMAIN.replace("[greet, goodbye, inform]", "[greet, goodbye, inform, unused]")
    )
    assert main(["data", "validate", str(bot)]) == 0
    assert "warning: intent 'unused' has no training examples" in capsys.readouterr().out
    assert main(["data", "validate", str(bot), "--fail-on-warnings"]) == 1
    assert "FAILED (0 errors, " in capsys.readouterr().out


def test_train_into_an_unwritable_place_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = make_bot(tmp_path)
    (bot / "models").write_text("not a folder")  # as unwritable as a read-only bot folder
    code, out = train(bot, capsys)
    assert code == 1
    assert "/models/" in out and "error: cannot write the model" in out
    assert "choose a writable file with --out" in out
    code, out = train(bot, capsys, "--out", str(tmp_path / "model.tar.gz"))
    assert code == 0, out
