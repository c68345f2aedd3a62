"""Rasa bots' configs and runtimes that chinwag runs as Rasa does (issue 12, classes 7-12).

Each test writes a minimal bot of its own, in the version of Rasa's formats the class comes
from, and runs its conversation through the real Agent (trained with ``chinwag train`` where
the NLU pipeline is what is under test).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chinwag.core.actions.custom import SDK_MODULE_ALIASES
from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.data.validate import validate_bot
from chinwag.core.events import SlotSet
from chinwag.core.policies.ensemble import build_policies
from chinwag.core.policies.lightgbm import LightGBMPolicy
from chinwag.core.policies.rules import RulePolicy
from chinwag.core.policies.states import conversation_events
from chinwag.core.train import train_bot
from tests.core.data.test_loader import write

MOOD_DOMAIN_1X = """\
intents:
  - greet
  - goodbye
  - mood_great
  - bot_challenge:
      triggers: utter_iamabot
  - out_of_scope

templates:
  utter_greet:
    - text: "Hey! How are you?"
  utter_happy:
    - text: "Great, carry on!"
  utter_goodbye:
    - text: "Bye"
  utter_iamabot:
    - text: "I am a bot."
  utter_ask_rephrase:
    - text: "Could you say that differently?"
  utter_default:
    - text: "Sorry, I am handing you over to a human."

actions:
  - utter_greet
  - utter_happy
  - utter_goodbye
  - utter_iamabot
"""
MOOD_NLU_1X = """\
## intent:greet
- hey
- hello
- hi
- good morning
- hey there

## intent:goodbye
- bye
- goodbye
- see you later
- cu later

## intent:mood_great
- great
- I am feeling very good
- amazing
- wonderful

## intent:bot_challenge
- are you a bot?
- am I talking to a bot?
- are you a human?
"""
MOOD_STORIES_1X = """\
## happy path
* greet
  - utter_greet
* mood_great
  - utter_happy

## say goodbye
* goodbye
  - utter_goodbye
"""


def mood_bot_1x(root: Path, config: str) -> Path:
    """Rasa 1.x's moodbot (Markdown data, ``templates:``) with the given config.yml."""
    return write(
        root,
        {
            "config.yml": config,
            "domain.yml": MOOD_DOMAIN_1X,
            "data/nlu.md": MOOD_NLU_1X,
            "data/stories.md": MOOD_STORIES_1X,
        },
    )


async def say(agent: Agent, text: str, sender: str = "u") -> list[str]:
    return [r.get("text", "") for r in await agent.handle(UserMessage(text, sender))]


def warnings_of(bot_dir: Path) -> list[str]:
    return [str(w) for w in validate_bot(load_bot(bot_dir)).warnings]


# -- class 7: community and custom NLU components ---------------------------------------------


COMMUNITY_CONFIG = """\
version: "3.1"
language: en
pipeline:
  - name: rasa_nlu_examples.tokenizers.StanzaTokenizer
  - name: rasa_nlu_examples.featurizers.sparse.TfIdfFeaturizer
  - name: rasa_nlu_examples.classifiers.SparseNaiveBayesIntentClassifier
  - name: rasa_nlu_examples.extractors.FlashTextEntityExtractor
  - name: my_module.MyCleaner
policies:
  - name: RulePolicy
"""
COMMUNITY_DOMAIN = """\
version: "3.1"
intents: [greet, order]
entities: [dish]
slots:
  dish:
    type: text
    mappings:
      - type: from_entity
        entity: dish
responses:
  utter_greet:
    - text: "Hello!"
  utter_order:
    - text: "One {dish} coming."
"""
COMMUNITY_DATA = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
- intent: order
  examples: |
    - I would like a [pizza](dish)
    - one [salad](dish) please
    - can I get a [burger](dish)
    - I want [soup](dish)
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: order
  steps:
  - intent: order
  - action: utter_order
"""


async def test_community_components_map_by_kind_and_the_bot_understands(tmp_path: Path) -> None:
    bot = write(
        tmp_path / "bot",
        {
            "config.yml": COMMUNITY_CONFIG,
            "domain.yml": COMMUNITY_DOMAIN,
            "data/data.yml": COMMUNITY_DATA,
        },
    )
    result = train_bot(bot)
    assert result.ok, [str(p) for p in result.problems]
    mapped = [str(w) for w in result.problems.warnings if "unknown component" in w.message]
    # one located warning per component, saying what it became
    assert [m.split(": warning: ")[0] for m in mapped] == [
        "config.yml:4",
        "config.yml:5",
        "config.yml:6",
        "config.yml:7",
    ]
    assert "StanzaTokenizer' is a tokenizer by its name" in mapped[0]
    assert "TfIdfFeaturizer' is a featurizer" in mapped[1]
    assert "SparseNaiveBayesIntentClassifier' is an intent classifier" in mapped[2]
    assert "FlashTextEntityExtractor' is an entity extractor" in mapped[3]
    ignored = [str(w) for w in result.problems.warnings if "MyCleaner" in w.message]
    assert ignored and ignored[0].startswith("config.yml:8:")
    agent = load_agent(bot)
    assert await say(agent, "hello") == ["Hello!"]
    assert await say(agent, "I would like a pizza") == ["One pizza coming."]


async def test_a_pipeline_without_intent_classifier_still_understands(tmp_path: Path) -> None:
    config = """\
version: "3.1"
pipeline:
  - name: WhitespaceTokenizer
  - name: CRFEntityExtractor
policies:
  - name: RulePolicy
"""
    bot = write(
        tmp_path / "bot",
        {"config.yml": config, "domain.yml": COMMUNITY_DOMAIN, "data/data.yml": COMMUNITY_DATA},
    )
    result = train_bot(bot)
    assert result.ok
    (added,) = [w for w in result.problems.warnings if "no intent classifier" in w.message]
    assert str(added.location) == "config.yml:3"
    agent = load_agent(bot)
    assert await say(agent, "good morning") == ["Hello!"]


# -- class 8: Rasa 1.x/2.x policies and pipeline templates ---------------------------------------


def test_1x_ml_policies_become_lightgbm_with_their_max_history(tmp_path: Path) -> None:
    for name in ("EmbeddingPolicy", "KerasPolicy"):
        config = f"policies:\n  - name: MemoizationPolicy\n  - name: {name}\n    max_history: 3\n"
        bot = load_bot(mood_bot_1x(tmp_path / name, config))
        policies = build_policies(bot.config.policies, bot.problems, bot.config.policy_locations)
        (lightgbm,) = [p for p in policies if isinstance(p, LightGBMPolicy)]
        assert lightgbm.max_history == 3
        (warning,) = [w for w in bot.problems.warnings if name in w.message]
        assert str(warning.location) == "config.yml:3"


async def test_mapping_policy_runs_the_domain_triggers(tmp_path: Path) -> None:
    config = "policies:\n  - name: MemoizationPolicy\n  - name: MappingPolicy\n"
    bot = mood_bot_1x(tmp_path / "bot", config)
    loaded = load_bot(bot)
    assert [type(p).__name__ for p in build_policies(loaded.config.policies, loaded.problems)] == [
        "MemoizationPolicy",
        "RulePolicy",
    ]
    (rule,) = [r for r in loaded.rules if "bot_challenge" in r.name]
    assert str(rule.location) == "domain.yml:5"
    agent = load_agent(bot)
    # no story has the bot question; the trigger answers it anywhere in the conversation
    assert await say(agent, "hello") == ["Hey! How are you?"]
    assert await say(agent, "are you a bot?") == ["I am a bot."]
    assert await say(agent, "are you a bot?", sender="other") == ["I am a bot."]


def test_triggers_without_mapping_policy_are_ignored_with_a_warning(tmp_path: Path) -> None:
    bot = mood_bot_1x(tmp_path / "bot", "policies:\n  - name: MemoizationPolicy\n")
    loaded = load_bot(bot)
    assert not [r for r in loaded.rules if "bot_challenge" in r.name]
    (warning,) = [w for w in loaded.problems.warnings if "triggers" in w.message]
    assert str(warning.location) == "domain.yml:5"
    assert "MappingPolicy is not in config.yml" in warning.message


FORM_DOMAIN_2X = """\
version: "2.0"
intents: [greet, request_table, inform]
entities: [cuisine]
slots:
  cuisine:
    type: text
    influence_conversation: false
forms:
  table_form:
    required_slots:
      cuisine:
        - type: from_entity
          entity: cuisine
responses:
  utter_ask_cuisine:
    - text: "Which cuisine?"
  utter_done:
    - text: "Booked {cuisine}."
"""
FORM_DATA_2X = """\
version: "2.0"
nlu:
- intent: request_table
  examples: |
    - book a table
- intent: inform
  examples: |
    - [thai](cuisine)
stories:
- story: book
  steps:
  - intent: request_table
  - action: table_form
  - active_loop: table_form
  - active_loop: null
  - action: utter_done
"""


async def test_form_policy_runs_the_form(tmp_path: Path) -> None:
    config = "policies:\n  - name: MemoizationPolicy\n  - name: FormPolicy\n"
    bot = write(
        tmp_path / "bot",
        {"config.yml": config, "domain.yml": FORM_DOMAIN_2X, "data/data.yml": FORM_DATA_2X},
    )
    (warning,) = [w for w in warnings_of(bot) if "FormPolicy" in w]
    assert warning.startswith("config.yml:3:") and "RulePolicy's form handling" in warning
    agent = load_agent(bot)
    assert await say(agent, "book a table") == ["Which cuisine?"]
    assert await say(agent, "thai") == ["Booked thai."]


def test_fallback_policy_options_reach_classifier_rule_policy_and_rule(tmp_path: Path) -> None:
    config = """\
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: EmbeddingIntentClassifier
policies:
  - name: MemoizationPolicy
  - name: FallbackPolicy
    nlu_threshold: 0.55
    ambiguity_threshold: 0.2
    core_threshold: 0.4
    fallback_action_name: utter_default
"""
    bot = load_bot(mood_bot_1x(tmp_path / "bot", config))
    assert bot.config.pipeline[-1] == {
        "name": "FallbackClassifier",
        "threshold": 0.55,
        "ambiguity_threshold": 0.2,
    }
    (rule_policy,) = [p for p in bot.config.policies if p["name"] == "RulePolicy"]
    assert rule_policy["core_fallback_threshold"] == 0.4
    assert rule_policy["core_fallback_action_name"] == "utter_default"
    (rule,) = [r for r in bot.rules if "FallbackPolicy" in r.name]
    assert [getattr(s, "intent", None) or getattr(s, "name", None) for s in rule.steps] == [
        "nlu_fallback",
        "utter_default",
    ]
    (policy,) = [
        p for p in build_policies(bot.config.policies, bot.problems) if isinstance(p, RulePolicy)
    ]
    assert policy.core_fallback_threshold == 0.4
    assert not validate_bot(bot).errors


def test_settings_written_in_3x_places_win_and_own_rules_are_kept(tmp_path: Path) -> None:
    config = """\
pipeline:
  - name: WhitespaceTokenizer
  - name: FallbackClassifier
    threshold: 0.7
policies:
  - name: RulePolicy
    core_fallback_threshold: 0.25
  - name: TwoStageFallbackPolicy
    nlu_threshold: 0.5
    core_threshold: 0.6
"""
    rules = """\
version: "2.0"
rules:
- rule: my own fallback
  steps:
  - intent: nlu_fallback
  - action: utter_default
"""
    bot_dir = mood_bot_1x(tmp_path / "bot", config)
    write(bot_dir, {"data/rules.yml": rules})
    bot = load_bot(bot_dir)
    assert bot.config.pipeline[1]["threshold"] == 0.7
    assert bot.config.policies == [
        {
            "name": "RulePolicy",
            "core_fallback_threshold": 0.25,
            "core_fallback_action_name": "action_default_fallback",
        }
    ]
    # the bot's own nlu_fallback rule stays the only one
    assert [r.name for r in bot.rules if "nlu_fallback" in str(r.steps)] == ["my own fallback"]


@pytest.mark.parametrize(
    ("template", "classifier_warning"),
    [
        ("supervised_embeddings", "EmbeddingIntentClassifier runs as"),
        ("tensorflow_embedding", "EmbeddingIntentClassifier runs as"),
        ("pretrained_embeddings_spacy", "SklearnIntentClassifier runs as"),
        ("spacy_sklearn", "SklearnIntentClassifier runs as"),
        ("keyword", "KeywordIntentClassifier runs as"),
    ],
)
async def test_pipeline_templates_train_and_understand(
    tmp_path: Path, template: str, classifier_warning: str
) -> None:
    config = f"language: en\npipeline: {template}\npolicies:\n  - name: MemoizationPolicy\n"
    bot = mood_bot_1x(tmp_path / "bot", config)
    result = train_bot(bot)
    assert result.ok
    warnings = [str(w) for w in result.problems.warnings]
    assert any(
        w.startswith(f"config.yml:2: warning: Rasa 1.x pipeline template '{template}'")
        for w in warnings
    )
    assert any(classifier_warning in w for w in warnings)
    agent = load_agent(bot)
    assert await say(agent, "good morning") == ["Hey! How are you?"]


# -- classes 8 and 11: the two-stage fallback of Rasa 1.x's config --------------------------------


TWO_STAGE_1X = """\
language: en
pipeline: supervised_embeddings
policies:
  - name: MemoizationPolicy
  - name: KerasPolicy
  - name: MappingPolicy
  - name: TwoStageFallbackPolicy
    nlu_threshold: 0.8
"""


def trained_agent(bot: Path) -> Agent:
    result = train_bot(bot)
    assert result.ok, [str(p) for p in result.problems.errors]
    return load_agent(bot)


async def test_two_stage_fallback_of_a_1x_config_asks_twice_then_hands_off(tmp_path: Path) -> None:
    """No rule in the data: the migrated policy's rule runs the loop. The texts are unclear
    to the trained bot (below the 0.8 threshold), so it suggests its runner-up intent."""
    agent = trained_agent(mood_bot_1x(tmp_path / "bot", TWO_STAGE_1X))
    responses = await agent.handle(UserMessage("blorp zizzle", "u"))
    assert responses[0]["text"].startswith("Did you mean")
    assert responses[0]["buttons"][1] == {"title": "No", "payload": "/out_of_scope"}
    assert await say(agent, "/out_of_scope") == ["Could you say that differently?"]
    (asked,) = await agent.handle(UserMessage("zizzle blorp", "u"))
    assert asked["text"].startswith("Did you mean")
    assert await say(agent, "/out_of_scope") == ["Sorry, I am handing you over to a human."]
    tracker = await agent.load_tracker("u")
    assert tracker.active_loop_name is None
    # the conversation goes on normally afterwards
    assert await say(agent, "hello") == ["Hey! How are you?"]


async def test_denying_the_rephrase_request_hands_off_at_once(tmp_path: Path) -> None:
    agent = trained_agent(mood_bot_1x(tmp_path / "bot", TWO_STAGE_1X))
    await agent.handle(UserMessage("blorp zizzle", "u"))
    assert await say(agent, "/out_of_scope") == ["Could you say that differently?"]
    # "no" again instead of a rephrasing: the second failure ends the fallback
    assert await say(agent, "/out_of_scope") == ["Sorry, I am handing you over to a human."]
    assert (await agent.load_tracker("u")).active_loop_name is None


async def test_two_stage_options_of_1x_name_the_denial_and_the_hand_off(tmp_path: Path) -> None:
    config = """\
pipeline: supervised_embeddings
policies:
  - name: MemoizationPolicy
  - name: TwoStageFallbackPolicy
    nlu_threshold: 0.8
    deny_suggestion_intent_name: deny
    fallback_nlu_action_name: utter_handoff
"""
    bot = mood_bot_1x(tmp_path / "bot", config)
    domain = (bot / "domain.yml").read_text().replace("  - out_of_scope\n", "  - deny\n")
    domain = domain.replace("actions:\n", "actions:\n  - utter_handoff\n").replace(
        "templates:\n", 'templates:\n  utter_handoff:\n    - text: "Calling a human."\n'
    )
    write(bot, {"domain.yml": domain})
    agent = trained_agent(bot)
    (asked,) = await agent.handle(UserMessage("blorp zizzle", "u"))
    assert asked["buttons"][1] == {"title": "No", "payload": "/deny"}
    assert await say(agent, "/deny") == ["Could you say that differently?"]
    await agent.handle(UserMessage("zizzle blorp", "u"))
    assert await say(agent, "/deny") == ["Calling a human."]


# -- class 10: responses named by `template` (rasa_sdk < 2) ---------------------------------------


LEGACY_ACTIONS = """\
from rasa_sdk import Action


class ActionOldStyle(Action):
    def name(self):
        return "action_old_style"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_template("utter_hello", tracker, name="Ada")
        dispatcher.utter_message(template="utter_bye")
        dispatcher.utter_button_template(
            "utter_bye", [{"title": "Again", "payload": "/greet"}], tracker
        )
        return []
"""
LEGACY_DOMAIN = """\
version: "2.0"
intents: [greet]
actions: [action_old_style]
responses:
  utter_hello:
    - text: "Hello {name}!"
  utter_bye:
    - text: "Bye."
"""
LEGACY_RULES = """\
version: "2.0"
rules:
- rule: old style
  steps:
  - intent: greet
  - action: action_old_style
"""


@pytest.mark.parametrize("sdk", ["rasa_sdk", "chinwag's stand-in"])
async def test_in_process_actions_using_template_calls_speak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sdk: str
) -> None:
    if sdk != "rasa_sdk":
        for name in SDK_MODULE_ALIASES:
            monkeypatch.setitem(sys.modules, name, None)
    bot = write(
        tmp_path / "bot",
        {
            "domain.yml": LEGACY_DOMAIN,
            "data/rules.yml": LEGACY_RULES,
            "actions.py": LEGACY_ACTIONS,
        },
    )
    agent = load_agent(bot)
    responses = await agent.handle(UserMessage("/greet", "u"))
    assert [r.get("text") for r in responses] == ["Hello Ada!", "Bye.", "Bye."]
    assert responses[2]["buttons"] == [{"title": "Again", "payload": "/greet"}]


# -- class 12: store_entities_as_slots: false -----------------------------------------------------


async def test_store_entities_as_slots_false_holds_in_story_replay(tmp_path: Path) -> None:
    domain = """\
version: "3.1"
config:
  store_entities_as_slots: false
intents: [inform]
entities: [cuisine]
slots:
  cuisine:
    type: text
    mappings:
      - type: from_entity
        entity: cuisine
responses:
  utter_unknown:
    - text: "Which cuisine was that?"
  utter_known:
    - text: "Looking for {cuisine}."
"""
    data = """\
version: "3.1"
nlu:
- intent: inform
  examples: |
    - [thai](cuisine) food
stories:
- story: the entity alone sets no slot
  steps:
  - intent: inform
    entities:
    - cuisine: thai
  - action: utter_unknown
- story: a slot set explicitly
  steps:
  - intent: inform
    entities:
    - cuisine: thai
  - slot_was_set:
    - cuisine: thai
  - action: utter_known
"""
    bot_dir = write(tmp_path / "bot", {"domain.yml": domain, "data/data.yml": data})
    bot = load_bot(bot_dir)
    assert bot.domain.store_entities_as_slots is False
    replayed = [conversation_events(c, bot.domain) for c in expand(bot.stories, Problems())]
    assert [[e.key for e in events if isinstance(e, SlotSet)] for events in replayed] == [
        [],
        ["cuisine"],
    ]
    # the two stories no longer look alike to the contradiction check, so the bot trains
    result = train_bot(bot_dir)
    assert result.ok, [str(p) for p in result.problems.errors]
