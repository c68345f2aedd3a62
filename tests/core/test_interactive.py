"""``chinwag interactive`` through a real pty (pexpect): teach a bot, export, retrain."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from rich.console import Console

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.data.validate import validate_path
from chinwag.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    LoopInterrupted,
    SlotSet,
    UserUttered,
    events_from_list,
)
from chinwag.core.interactive import (
    NEW_ACTION,
    NEW_INTENT,
    Exporter,
    ExportError,
    Learned,
    Prompts,
    Session,
    session_stories,
)
from chinwag.core.policies.states import conversation_events
from chinwag.core.tracker import ACTION_SESSION_START_NAME, Tracker
from tests.core.actions.conftest import ActionServer, action_server  # noqa: F401

CHINWAG = Path(sys.executable).parent / "chinwag"
# escape sequences and spaces prompt_toolkit writes between a question and its hint
GAP = r"(?:\x1b\[[0-9;?]*[A-Za-z]|\s)*"
YES_NO = GAP + r"\(Y/n\)"

DOMAIN = """\
version: "3.1"
# the intents the bot knows
intents:
  - greet
  - goodbye
  - book
  - inform
  - chitchat
  - thank
entities:
  - cuisine
slots:
  cuisine:
    type: text
    mappings:
      - type: from_entity
        entity: cuisine
  people:
    type: text
    mappings:
      - type: from_text
        conditions:
          - active_loop: booking_form
            requested_slot: people
forms:
  booking_form:
    required_slots:
      - cuisine
      - people
responses:
  utter_greet:
    - text: "Hello! How can I help?"
  utter_goodbye:
    - text: "Bye."
  utter_ask_cuisine:
    - text: "Which cuisine?"
  utter_ask_people:
    - text: "For how many people?"
  utter_booked:
    - text: "Booked a {cuisine} table for {people}."
  utter_chitchat:
    - text: "I only book tables."
  utter_welcome:
    - text: "You are welcome!"
session_config:
  session_expiration_time: 0
"""
CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
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
  - intent: book
    examples: |
      - book a table
      - I want a table
  - intent: inform
    examples: |
      - [thai](cuisine) food
      - [italian](cuisine)
  - intent: chitchat
    examples: |
      - how is the weather
  - intent: thank
    examples: |
      - thank you
# end of the NLU data
"""
STORIES = """\
version: "3.1"
stories:
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
"""
RULES = """\
version: "3.1"
rules:
  - rule: activate the booking form
    steps:
      - intent: book
      - action: booking_form
      - active_loop: booking_form
  - rule: submit the booking form
    condition:
      - active_loop: booking_form
    steps:
      - action: booking_form
      - active_loop: null
      - slot_was_set:
          - requested_slot: null
      - action: utter_booked
  - rule: goodbye
    steps:
      - intent: goodbye
      - action: utter_goodbye
"""


def make_bot(root: Path, *, domain: str = DOMAIN, stories: str = STORIES) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text(domain)
    (root / "config.yml").write_text(CONFIG)
    (root / "data" / "nlu.yml").write_text(NLU)
    (root / "data" / "stories.yml").write_text(stories)
    (root / "data" / "rules.yml").write_text(RULES)
    return root


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    return make_bot(tmp_path / "bot")


def spawn(bot_dir: Path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        str(CHINWAG),
        ["interactive", str(bot_dir), *args],
        cwd=str(bot_dir),
        timeout=60,
        dimensions=(60, 160),
        env={"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "PATH": str(CHINWAG.parent)},
    )


@pytest.fixture
def children() -> Iterator[list[pexpect.spawn]]:
    started: list[pexpect.spawn] = []
    yield started
    for child in started:
        child.close(force=True)


def say(child: pexpect.spawn, text: str) -> None:
    child.expect(r"Next user input:")
    child.send(text + "\r")


def nlu(child: pexpect.spawn, text: str, intent: str, *, correct_to: str | None = None) -> None:
    """Answer the NLU question for ``text`` (predicted ``intent``, or any when None)."""
    shown = re.escape(text)
    child.expect(rf"Is the NLU classification for '{shown}' with intent '([^']*)' correct\?")
    predicted = child.match.group(1).decode()
    if correct_to is None:
        assert predicted == intent
        child.send("y")
        return
    child.send("n")
    child.expect(r"What intent is it\?")
    child.send(correct_to + "\r")
    child.expect(r"Please mark the entities using \[value\]\(type\) notation")
    child.send("\r")


def action(child: pexpect.spawn, wanted: str) -> str:
    """Confirm ``wanted`` when the bot predicts it, else correct the bot to it from the list;
    the predicted action."""
    child.expect(r"The bot wants to run '([^']+)', correct\?" + YES_NO)
    predicted: str = child.match.group(1).decode()
    if predicted == wanted:
        child.send("y")
    else:
        child.send("n")
        child.expect(r"What is the next action of the bot\?")
        child.send(wanted + "\r")
    return predicted


def menu(child: pexpect.spawn, number: int) -> None:
    child.expect(r"Next user input:")
    child.sendcontrol("c")
    child.expect(r"What do you want to do\?")
    child.send(str(number))  # the number alone picks it


def replayable(events: list[Event], domain: Any) -> list[tuple[Any, ...]]:
    """What a story keeps of a conversation: intents and entities, actions, slots, loops."""
    out: list[tuple[Any, ...]] = []
    for event in Tracker("x", domain, events).applied_events():
        if isinstance(event, UserUttered):
            entities = sorted((e["entity"], e["value"]) for e in event.entities)
            out.append(("user", event.intent_name, entities))
        elif isinstance(event, ActionExecuted) and event.action_name != ACTION_SESSION_START_NAME:
            out.append(("action", event.action_name))
        elif isinstance(event, SlotSet):
            out.append(("slot", event.key, event.value))
        elif isinstance(event, ActiveLoop):
            out.append(("loop", event.name))
    return out


def talk(bot_dir: Path, *texts: str) -> list[str]:
    async def run() -> list[str]:
        agent = load_agent(bot_dir)
        said: list[str] = []
        try:
            for text in texts:
                said += [r.get("text", "") for r in await agent.handle(UserMessage(text, "t"))]
        finally:
            await agent.close()
        return said

    return asyncio.run(run())


def test_teach_export_and_retrain_through_a_pty(bot: Path, children: list[pexpect.spawn]) -> None:
    child = spawn(bot, "--skip-visualization")
    children.append(child)

    say(child, "hello")
    nlu(child, "hello", "greet")
    assert action(child, "utter_greet") == "utter_greet"  # confirmed
    action(child, "action_listen")

    say(child, "cheers mate")  # not in the NLU data: a wrong intent, corrected
    nlu(child, "cheers mate", "", correct_to="thank")
    assert action(child, "utter_welcome") != "utter_welcome"  # a wrong action, corrected
    child.expect("You are welcome!")
    action(child, "action_listen")

    say(child, "/book")  # payloads skip the NLU question
    action(child, "booking_form")
    child.expect("Which cuisine?")
    action(child, "action_listen")

    say(child, "/chitchat")
    action(child, "utter_chitchat")  # the form is rejected
    action(child, "action_listen")
    say(child, "/inform")
    action(child, "booking_form")
    child.expect(r"Should 'booking_form' validate user input to fill the slot 'cuisine'\?" + YES_NO)
    child.send("n")
    child.expect("Which cuisine?")  # not validated: asked again
    action(child, "action_listen")

    say(child, '/inform{"cuisine": "greek"}')
    action(child, "booking_form")
    child.expect("For how many people?")
    action(child, "action_listen")
    menu(child, 2)  # Undo Last: greek is gone
    child.expect(r"cuisine: None")

    say(child, '/inform{"cuisine": "thai"}')
    action(child, "booking_form")
    child.expect("For how many people?")
    action(child, "action_listen")
    say(child, "four")
    nlu(child, "four", "", correct_to="inform")
    action(child, "booking_form")
    action(child, "utter_booked")
    child.expect("Booked a thai table for four.")
    action(child, "action_listen")

    # the session so far, as saved after every change (nothing is lost)
    child.expect(r"Next user input:")
    saved = json.loads((bot / ".chinwag" / "interactive-session.json").read_text())
    session_events = events_from_list(saved["events"])
    child.sendcontrol("c")
    child.expect(r"What do you want to do\?")
    child.send("5")  # Export & Quit, every default accepted
    for question in ("Export stories to", "Export NLU data to", "Export domain to"):
        child.expect(question)
        child.send("\r")
    child.expect(r"Train a new model from the exported data\?" + YES_NO)
    child.send("y")
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    assert child.exitstatus == 0
    assert not (bot / ".chinwag" / "interactive-session.json").exists()

    # the exported files load and validate; comments and the old content stay
    reports = validate_path(bot)
    assert [str(p) for r in reports for p in r.problems.errors] == []
    assert (bot / "data" / "nlu.yml").read_text().endswith("# end of the NLU data\n")
    assert (bot / "domain.yml").read_text() == DOMAIN  # no new names: untouched
    loaded = load_bot(bot)
    assert not loaded.problems.errors
    texts = [(m.text, m.intent) for m in loaded.nlu.examples]
    assert ("cheers mate", "thank") in texts and ("four", "inform") in texts
    assert texts.count(("hello", "greet")) == 1  # merged without duplicates
    story = next(s for s in loaded.stories if s.name == "interactive_story_1")
    assert [s.name for s in loaded.stories] == ["greet", "interactive_story_1"]

    # the exported story replays to the session's events
    (conversation,) = [c for c in expand([story], Problems()) if c.kind == "story"]
    replayed = conversation_events(conversation, loaded.domain)
    assert replayable(replayed, loaded.domain) == replayable(session_events, loaded.domain)
    assert ("slot", "cuisine", "greek") not in replayable(session_events, loaded.domain)

    # the retrained bot does what it was taught
    assert list((bot / "models").glob("*.tar.gz"))
    said = talk(bot, "hello", "cheers mate")
    assert said == ["Hello! How can I help?", "You are welcome!"]


def test_a_crash_keeps_the_session_and_the_next_run_resumes(
    bot: Path, children: list[pexpect.spawn]
) -> None:
    child = spawn(bot, "--skip-visualization")
    children.append(child)
    say(child, "cheers mate")
    nlu(child, "cheers mate", "", correct_to="thank")
    action(child, "utter_welcome")
    action(child, "action_listen")
    menu(child, 4)  # Start Fresh: the same beginning again
    say(child, "cheers mate")
    # learnt at once: the same text is understood as taught, the action is remembered
    nlu(child, "cheers mate", "thank")
    assert action(child, "utter_welcome") == "utter_welcome"
    child.expect(r"The bot wants to run 'action_listen', correct\?" + YES_NO)
    child.kill(signal.SIGKILL)  # chinwag dies mid-turn
    child.close(force=True)

    again = spawn(bot, "--skip-visualization")
    children.append(again)
    again.expect(r"Resume the unfinished session of .* \(2 user messages\)\?" + YES_NO)
    again.send("y")
    action(again, "action_listen")  # the interrupted turn goes on where it stopped
    again.expect(r"Next user input:")
    again.sendcontrol("c")
    again.expect(r"What do you want to do\?")
    again.sendcontrol("c")  # a second Ctrl-C keeps the session
    say(again, "/goodbye")
    action(again, "utter_goodbye")
    action(again, "action_listen")
    menu(again, 3)  # Fork before the third message: the goodbye turn is gone
    again.expect(r"Before which user message do you want to fork\?")
    again.send("3")
    say(again, "/greet")
    action(again, "utter_greet")
    action(again, "action_listen")
    menu(again, 5)
    for question in ("Export stories to", "Export NLU data to", "Export domain to"):
        again.expect(question)
        again.send("\r")
    again.expect(r"Train a new model from the exported data\?" + YES_NO)
    again.send("n")
    again.expect(pexpect.EOF)
    stories = yaml.safe_load((bot / "data" / "stories.yml").read_text())["stories"]
    assert [s["story"] for s in stories] == ["greet", "interactive_story_1", "interactive_story_2"]
    steps = [[s.get("intent") or s.get("action") for s in story["steps"]] for story in stories]
    assert steps[1:] == [
        ["thank", "utter_welcome"],
        ["thank", "utter_welcome", "greet", "utter_greet"],
    ]


SDK_DOMAIN = """\
version: "3.1"
intents:
  - greet
entities:
  - colour
slots:
  colour:
    type: text
    mappings:
      - type: from_entity
        entity: colour
responses:
  utter_greet:
    - text: "Hello!"
actions:
  - action_pick_colour
  - action_crash
"""


def test_teach_with_a_rasa_sdk_action_server(
    tmp_path: Path,
    children: list[pexpect.spawn],
    action_server: ActionServer,  # noqa: F811
) -> None:
    bot = make_bot(tmp_path / "bot", domain=SDK_DOMAIN, stories='version: "3.1"\n')
    (bot / "data" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - hello\n'
    )
    (bot / "data" / "rules.yml").write_text('version: "3.1"\n')
    (bot / "endpoints.yml").write_text(f"action_endpoint:\n  url: {action_server.url}\n")
    child = spawn(bot, "--skip-visualization", "--retrain")
    children.append(child)
    say(child, "/greet")
    action(child, "action_pick_colour")  # run by the real rasa_sdk server
    child.expect("You said blue. Which shade?")
    action(child, "action_crash")  # the server fails: the session goes on
    child.expect("action_crash")
    menu(child, 5)
    for question in ("Export stories to", "Export NLU data to", "Export domain to"):
        child.expect(question)
        child.send("\r")
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    assert child.exitstatus == 0
    loaded = load_bot(bot)
    story = next(s for s in loaded.stories if s.name == "interactive_story_1")
    written = yaml.safe_load((bot / "data" / "stories.yml").read_text())["stories"][-1]
    assert {"slot_was_set": [{"colour": "blue"}]} in written["steps"]
    assert story.steps
    assert talk(bot, "/greet")[:1] == ["You said blue. Which shade?"]


def test_export_adds_only_new_names_and_keeps_comments(bot: Path) -> None:
    learned = Learned(
        intents=["ask_time"],
        entities=["city"],
        actions=["action_tell_time"],
        responses={"utter_time": [{"text": "It is late."}]},
    )
    loaded = load_bot(bot)
    learned.apply(loaded.domain)
    events = [
        ActionExecuted("action_listen"),
        UserUttered("what time is it", {"name": "ask_time", "confidence": 1.0}),
        ActionExecuted("utter_time"),
        ActionExecuted("action_tell_time"),
        ActionExecuted("action_listen"),
    ]
    exporter = Exporter(load_bot(bot), learned, events)
    notes = exporter.write(bot / "data/stories.yml", bot / "data/nlu.yml", bot / "domain.yml")
    assert len(notes) == 3
    text = (bot / "domain.yml").read_text()
    assert text.startswith(DOMAIN.split("entities:")[0])  # comment and order kept
    reloaded = load_bot(bot)
    assert not reloaded.problems.errors
    assert list(reloaded.domain.intents)[-1] == "ask_time"
    assert "city" in reloaded.domain.entities
    assert reloaded.domain.responses["utter_time"] == [{"text": "It is late."}]
    assert "action_tell_time" in reloaded.domain.actions
    assert reloaded.domain.responses["utter_greet"] == loaded.domain.responses["utter_greet"]
    assert ("what time is it", "ask_time") in [(m.text, m.intent) for m in reloaded.nlu.examples]
    assert [s.name for s in session_stories(events)] == ["interactive_story_1"]


def test_a_flow_style_domain_is_rewritten_whole(tmp_path: Path) -> None:
    bot = make_bot(
        tmp_path / "bot",
        domain=DOMAIN.replace(
            "intents:\n  - greet\n  - goodbye\n  - book\n  - inform\n  - chitchat\n  - thank\n",
            "intents: [greet, goodbye, book, inform, chitchat, thank]\n",
        ),
    )
    loaded = load_bot(bot)
    learned = Learned(intents=["ask_time"])
    learned.apply(loaded.domain)
    notes = Exporter(load_bot(bot), learned, []).write(
        bot / "data/stories.yml", bot / "data/nlu.yml", bot / "domain.yml"
    )
    assert "comments not kept" in notes[0]
    assert "ask_time" in load_bot(bot).domain.intents


class Scripted(Prompts):
    """The session's questions answered from a script (the pty tests cover the terminal)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def _next(self, message: str) -> Any:
        self.asked.append(message)
        if not self.answers:
            raise EOFError  # the script is over: the session ends as on Ctrl-D
        return self.answers.pop(0)

    async def text(self, message: str, default: str = "", validate: Any = None) -> str:
        return str(self._next(message))

    async def confirm(self, message: str, default: bool = True) -> bool:
        return bool(self._next(message))

    async def select(self, message: str, choices: Any, *, search: bool = False) -> str:
        return str(self._next(message))


CHITCHAT_STORY = """\
  - story: chitchat in the form
    steps:
      - intent: book
      - action: booking_form
      - active_loop: booking_form
      - slot_was_set:
          - requested_slot: cuisine
      - intent: chitchat
      - action: utter_chitchat
      - intent: inform
      - action: booking_form
      - slot_was_set:
          - cuisine: thai
"""


def scripted_session(bot: Path, prompts: Scripted, out: io.StringIO) -> Session:
    """Run an interactive session on ``bot`` with scripted answers until they run out."""

    async def run() -> Session:
        agent = load_agent(bot)
        session = Session(agent, load_bot(bot), prompts=prompts, console=Console(file=out))
        with contextlib.suppress(EOFError):
            await session.run()
        await agent.close()
        return session

    return asyncio.run(run())


def test_a_form_validation_answer_against_a_story_names_the_story(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", stories=STORIES + CHITCHAT_STORY)
    out = io.StringIO()
    prompts = Scripted(
        [
            *("/book", True, True),
            *("/chitchat", False, "utter_chitchat", False, "action_listen"),
            *("/inform", False, "booking_form", False),  # validate? no -- the story says yes
        ]
    )

    session = scripted_session(bot, prompts, out)
    validate = "Should 'booking_form' validate user input to fill the slot 'cuisine'?"
    assert validate in prompts.asked
    text = " ".join(out.getvalue().split())
    assert "Warning: the story 'chitchat in the form'" in text and "fills 'cuisine'" in text
    interrupted = [e for e in session.tracker.events if isinstance(e, LoopInterrupted)]
    assert [e.is_interrupted for e in interrupted] == [True]


def test_an_export_that_cannot_be_done_changes_no_file(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", stories='version: "3.1"\nstories: []\n')
    before = {p: p.read_text() for p in (bot / "data").iterdir()}
    events = [
        ActionExecuted("action_listen"),
        UserUttered("what time is it", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
    ]
    exporter = Exporter(load_bot(bot), Learned(), events)
    with pytest.raises(ExportError, match=r"stories\.yml: 'stories' is not a block list"):
        exporter.write(bot / "data/stories.yml", bot / "data/nlu.yml", bot / "domain.yml")
    assert {p: p.read_text() for p in (bot / "data").iterdir()} == before


def test_a_missing_model_or_endpoints_file_is_named(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chinwag.core.cli import main

    assert main(["interactive", str(bot), "--model", str(bot / "nope.tar.gz")]) == 1
    assert "--model" in capsys.readouterr().out
    assert main(["interactive", str(bot), "--endpoints", str(bot / "nope.yml")]) == 1
    assert "--endpoints" in capsys.readouterr().out
    assert main(["interactive", str(bot)]) == 2  # pytest's stdin is no terminal
    assert "run it in a terminal" in capsys.readouterr().out


def test_a_new_intent_and_response_are_used_at_once_and_exported(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot")
    out = io.StringIO()
    prompts = Scripted(
        [
            *("howdy", False, NEW_INTENT, "say_howdy", "howdy"),
            *(False, NEW_ACTION, "utter_howdy", "Howdy partner!"),
            *(False, "action_listen"),
        ]
    )

    session = scripted_session(bot, prompts, out)
    assert "Howdy partner!" in out.getvalue()  # the new response ran in this session
    notes = Exporter(session.bot, session.learned, session.tracker.events).write(
        bot / "data/stories.yml", bot / "data/nlu.yml", bot / "domain.yml"
    )
    assert notes[-1] == f"Added say_howdy, utter_howdy to {bot / 'domain.yml'}"
    reports = validate_path(bot)
    assert [str(p) for r in reports for p in r.problems.errors] == []
    loaded = load_bot(bot)
    assert loaded.domain.responses["utter_howdy"] == [{"text": "Howdy partner!"}]
    assert ("howdy", "say_howdy") in [(m.text, m.intent) for m in loaded.nlu.examples]
    story = next(s for s in loaded.stories if s.name == "interactive_story_1")
    assert [getattr(s, "intent", None) or getattr(s, "name", None) for s in story.steps] == [
        "say_howdy",
        "utter_howdy",
    ]
