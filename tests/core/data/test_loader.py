from pathlib import Path

from chinwag.core.data.loader import is_bot_dir, load_bot
from chinwag.core.data.training import ActionStep, UserStep


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


BOT = {
    "domain.yml": """\
version: "3.1"
intents: [greet, faq]
entities: [city]
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
responses:
  utter_greet:
    - text: "Hi {city}!"
""",
    "config.yml": "language: en\npipeline: []\npolicies: []\n",
    "endpoints.yml": "action_endpoint:\n  url: ${ACTIONS_URL}\n",
    "credentials.yml": "rest:\nslack:\n  slack_token: ${SLACK_TOKEN}\n",
    "data/nlu/nlu.yml": """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi from [Berlin](city)
    - hello
- intent: faq/ask_name
  examples: |
    - what is your name
responses:
  utter_faq/ask_name:
  - text: I am chinwag.
""",
    "data/stories.md": """\
## greet
* greet{"city": "Paris"}
  - utter_greet
""",
    "data/rules.yml": """\
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
""",
    "tests/test_stories.yml": """\
version: "3.1"
stories:
- story: test greet
  steps:
  - user: hi from [Rome](city)
    intent: greet
  - action: utter_greet
""",
}


def test_loads_every_file_of_a_mixed_format_bot(tmp_path: Path) -> None:
    root = write(tmp_path / "bot", BOT)
    env = {"ACTIONS_URL": "http://localhost:5055/webhook", "SLACK_TOKEN": "xoxb-1"}
    bot = load_bot(root, env=env)
    assert [str(p) for p in bot.problems.errors] == []
    assert bot.name == "bot"
    assert len(bot.nlu.examples) == 3
    assert bot.nlu.examples[0].entities[0].entity == "city"
    # the Markdown story and the YAML rule
    assert [s.name for s in bot.stories] == ["greet"]
    first = bot.stories[0].steps[0]
    assert isinstance(first, UserStep)
    assert (first.intent, first.entities[0].value) == ("greet", "Paris")
    assert isinstance(bot.stories[0].steps[1], ActionStep)
    assert [r.name for r in bot.rules] == ["greet"]
    assert [(s.name, s.kind) for s in bot.test_stories] == [("test greet", "test")]
    # retrieval responses from the NLU file join the domain; the intent is marked
    assert "utter_faq/ask_name" in bot.domain.responses
    assert bot.domain.intents["faq"].is_retrieval
    assert bot.endpoints["action_endpoint"]["url"] == "http://localhost:5055/webhook"
    assert bot.credentials["slack"]["slack_token"] == "xoxb-1"
    assert is_bot_dir(root)


def test_unset_env_var_and_missing_domain_are_located_errors(tmp_path: Path) -> None:
    files = dict(BOT)
    del files["domain.yml"]
    root = write(tmp_path / "bot", files)
    bot = load_bot(root, env={})
    errors = [str(p) for p in bot.problems.errors]
    assert any("no domain.yml" in e for e in errors)
    assert any(e.startswith("endpoints.yml:2:") and "ACTIONS_URL" in e for e in errors)
    assert any(e.startswith("credentials.yml:3:") and "SLACK_TOKEN" in e for e in errors)


def test_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    files = dict(BOT)
    files["data/broken.yml"] = "nlu:\n- intent: x\n  examples: [oops\n"
    root = write(tmp_path / "bot", files)
    bot = load_bot(root, env={"ACTIONS_URL": "u", "SLACK_TOKEN": "t"})
    errors = bot.problems.errors
    assert len(errors) == 1
    assert errors[0].location is not None
    assert errors[0].location.file == "data/broken.yml"
    assert len(bot.nlu.examples) == 3


def test_not_a_folder(tmp_path: Path) -> None:
    bot = load_bot(tmp_path / "nope")
    assert [p.message for p in bot.problems.errors] == ["not a folder"]
