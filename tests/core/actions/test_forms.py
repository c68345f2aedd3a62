"""Forms: Rasa 3.x's FormAction run through a real registry, and chinwag's form plans."""

from __future__ import annotations

import logging
import random
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import Action, ActionContext, ActionExecutionRejection
from chinwag.core.actions.custom import OnceFilter, load_actions_module
from chinwag.core.actions.forms import FormAction, check_plans, form_actions
from chinwag.core.actions.registry import ActionRegistry
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    LoopInterrupted,
    SlotSet,
    UserUttered,
)
from chinwag.core.tracker import Tracker

TRIP_DOMAIN = """
version: "3.1"
intents: [book, inform, affirm, deny, stop, bot_challenge, details, greet]
entities:
  - city:
      roles: [from, to]
  - number
slots:
  origin:
    type: text
    mappings: [{type: from_entity, entity: city, role: from}]
  destination:
    type: text
    mappings: [{type: from_entity, entity: city, role: to}]
  seats:
    type: any
    mappings: [{type: from_entity, entity: number}]
  note:
    type: text
    mappings: [{type: from_text, conditions: [{active_loop: trip_form, requested_slot: note}]}]
  confirmed:
    type: bool
    mappings:
      - {type: from_intent, intent: affirm, value: true}
      - {type: from_intent, intent: deny, value: false}
  booked_via:
    type: text
    mappings: [{type: from_trigger_intent, intent: book, value: chat}]
responses:
  utter_ask_origin: [{text: "From where?"}]
  utter_ask_trip_form_destination: [{text: "Where to?"}]
  utter_ask_destination: [{text: "never used: the form's own question wins"}]
  utter_ask_seats: [{text: "How many seats?"}]
  utter_ask_note: [{text: "Any note?"}]
  utter_ask_confirmed: [{text: "Shall I book?"}]
forms:
  trip_form:
    required_slots: [origin, destination, seats, note, confirmed]
"""


def read(tmp_path: Path, text: str) -> Domain:
    (tmp_path / "domain.yml").write_text(textwrap.dedent(text))
    problems = Problems()
    domain = read_domain([tmp_path / "domain.yml"], tmp_path, problems)
    assert not problems.errors, [str(p) for p in problems]
    return domain


def city(value: str, role: str) -> dict[str, Any]:
    return {"entity": "city", "value": value, "role": role}


class Bot:
    """A domain, a real registry with the forms as loops, and one conversation, driven the way
    the agent drives it: user message -> action_extract_slots -> actions."""

    def __init__(self, domain: Domain, custom: Mapping[str, Action] | None = None) -> None:
        registry: ActionRegistry
        loops = form_actions(domain, lambda name: registry.find(name))
        registry = ActionRegistry(domain, custom, loops=loops)
        self.registry = registry
        self.domain = domain
        self.nlg = ResponseGenerator(domain, random.Random(0))
        self.tracker = Tracker("u", domain, [ActionExecuted("action_listen")])

    def ctx(self) -> ActionContext:
        return ActionContext(self.tracker, self.domain, self.nlg, "rest")

    async def say(
        self, intent: str, text: str | None = None, entities: list[dict[str, Any]] | None = None
    ) -> list[Event]:
        """The user speaks; slot mappings run; returns the extracted events."""
        if self.tracker.latest_action_name != "action_listen":
            self.tracker.update(ActionExecuted("action_listen"))
        self.tracker.update(
            UserUttered(
                text=text or f"/{intent}",
                intent={"name": intent, "confidence": 1.0},
                entities=entities or [],
            )
        )
        events = await self.registry.get("action_extract_slots").run(self.ctx())
        self.tracker.update_all(events)
        return events

    async def act(self, name: str) -> list[Event]:
        """Run an action and log it (a rejection is logged as the agent logs it)."""
        try:
            events = await self.registry.get(name).run(self.ctx())
        except ActionExecutionRejection:
            self.tracker.update(ActionExecutionRejected(name))
            raise
        self.tracker.update(ActionExecuted(name))
        self.tracker.update_all(events)
        return events


def plain(events: list[Event]) -> list[str]:
    """slot=value, loop:name, bot:text, followup:name."""
    out = []
    for e in events:
        match e:
            case SlotSet():
                out.append(f"{e.key}={e.value}")
            case ActiveLoop():
                out.append(f"loop:{e.name}")
            case BotUttered():
                out.append(f"bot:{e.text}")
            case FollowupAction():
                out.append(f"followup:{e.action_name}")
            case _:
                out.append(e.type_name)
    return out


# -- Rasa's form ----------------------------------------------------------------------------------


async def test_happy_path_slot_by_slot_with_each_mapping_type(tmp_path: Path) -> None:
    bot = Bot(read(tmp_path, TRIP_DOMAIN))
    assert await bot.say("book", "book a trip") == []  # the trigger mapping waits for activation
    assert plain(await bot.act("trip_form")) == [
        "loop:trip_form",
        "booked_via=chat",  # from_trigger_intent, while the form is being activated
        "requested_slot=origin",
        "bot:From where?",
    ]
    # from_entity with a role: only the `from` city fills origin
    await bot.say("inform", "from Oslo", [city("Oslo", "from")])
    assert plain(await bot.act("trip_form")) == [
        "origin=Oslo",
        "requested_slot=destination",
        "bot:Where to?",  # utter_ask_<form>_<slot> before utter_ask_<slot>
    ]
    await bot.say("inform", "to Rome", [city("Rome", "to")])
    assert plain(await bot.act("trip_form")) == [
        "destination=Rome",
        "requested_slot=seats",
        "bot:How many seats?",
    ]
    await bot.say("inform", "two", [{"entity": "number", "value": 2}])
    assert plain(await bot.act("trip_form"))[:2] == ["seats=2", "requested_slot=note"]
    # from_text, only while the form asks for it
    await bot.say("inform", "window seat please")
    assert plain(await bot.act("trip_form")) == [
        "note=window seat please",
        "requested_slot=confirmed",
        "bot:Shall I book?",
    ]
    # from_intent: deny gives False, and the form is done
    await bot.say("deny", "no")
    assert plain(await bot.act("trip_form")) == [
        "confirmed=False",
        "requested_slot=None",
        "loop:None",
    ]
    assert bot.tracker.active_loop_name is None
    assert bot.tracker.slots["origin"] == "Oslo" and bot.tracker.slots["confirmed"] is False


async def test_prefilled_slots_are_skipped_and_an_extra_slot_is_taken(tmp_path: Path) -> None:
    bot = Bot(read(tmp_path, TRIP_DOMAIN))
    await bot.say("book", "book from Oslo", [city("Oslo", "from")])
    assert bot.tracker.slots["origin"] == "Oslo"
    assert plain(await bot.act("trip_form"))[2:] == ["requested_slot=destination", "bot:Where to?"]
    # answering the question and giving another required slot at once
    await bot.say(
        "inform", "to Rome, 3 of us", [city("Rome", "to"), {"entity": "number", "value": 3}]
    )
    assert plain(await bot.act("trip_form")) == [
        "destination=Rome",
        "seats=3",
        "requested_slot=note",
        "bot:Any note?",
    ]


async def test_nothing_extracted_rejects_and_resuming_re_asks(tmp_path: Path) -> None:
    bot = Bot(read(tmp_path, TRIP_DOMAIN))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("greet", "hello")
    with pytest.raises(ActionExecutionRejection, match="Failed to extract slot origin"):
        await bot.act("trip_form")
    assert bot.tracker.is_active_loop_rejected
    # a rule answers, then the form comes back: it validates nothing and asks again
    bot.tracker.update(LoopInterrupted(True))
    await bot.act("utter_ask_seats")  # any other action
    assert plain(await bot.act("trip_form")) == ["requested_slot=origin", "bot:From where?"]


async def test_an_interrupted_form_does_not_validate_the_answer(tmp_path: Path) -> None:
    bot = Bot(read(tmp_path, TRIP_DOMAIN))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("inform", "from Oslo", [city("Oslo", "from")])
    bot.tracker.update(LoopInterrupted(True))  # the policy's event, applied before the run
    # no validation events (no origin=Oslo from the form): the slot mapping's value stands
    assert plain(await bot.act("trip_form")) == ["requested_slot=destination", "bot:Where to?"]


async def test_ignored_intents_fill_nothing(tmp_path: Path) -> None:
    domain = read(tmp_path, TRIP_DOMAIN + "    ignored_intents: [bot_challenge]\n")
    bot = Bot(domain)
    await bot.say("book")
    await bot.act("trip_form")
    assert await bot.say("bot_challenge", "from Oslo?", [city("Oslo", "from")]) == []
    with pytest.raises(ActionExecutionRejection):
        await bot.act("trip_form")
    assert bot.tracker.slots["origin"] is None


async def test_custom_mapping_and_question_action(tmp_path: Path) -> None:
    domain = read(
        tmp_path,
        """
        version: "3.1"
        intents: [order, inform]
        slots:
          code:
            type: text
            mappings: [{type: custom, action: action_extract_code}]
        actions: [action_extract_code, action_ask_code]
        forms:
          code_form:
            required_slots: [code]
        """,
    )
    (tmp_path / "actions.py").write_text(
        textwrap.dedent(
            """
            from rasa_sdk import Action
            from rasa_sdk.events import SlotSet

            class ExtractCode(Action):
                def name(self):
                    return "action_extract_code"

                def run(self, dispatcher, tracker, domain):
                    text = tracker.latest_message.get("text") or ""
                    if tracker.get_slot("requested_slot") == "code" and text.isdigit():
                        return [SlotSet("code", text)]
                    return []

            class AskCode(Action):
                def name(self):
                    return "action_ask_code"

                def run(self, dispatcher, tracker, domain):
                    dispatcher.utter_message(text="Your code, please?")
                    return []
            """
        )
    )
    bot = Bot(domain, load_actions_module(tmp_path))
    await bot.say("order")
    assert plain(await bot.act("code_form")) == [
        "loop:code_form",
        "requested_slot=code",
        "bot:Your code, please?",  # action_ask_<slot> before utter_ask_<slot>
    ]
    assert plain(await bot.say("inform", "1234")) == ["code=1234"]
    assert plain(await bot.act("code_form")) == [
        "code=1234",
        "requested_slot=None",
        "loop:None",
    ]


# -- validate_<form>: rasa_sdk's FormValidationAction in-process ----------------------------------

TABLE_DOMAIN = """
version: "3.1"
intents: [greet, inform, request_table]
entities: [cuisine]
slots:
  cuisine:
    type: text
    mappings: [{type: from_entity, entity: cuisine, conditions: [{active_loop: table_form}]}]
  party_size:
    type: any
    mappings: [{type: custom, action: validate_table_form}]
  phone:
    type: text
    mappings:
      - type: from_text
        conditions: [{active_loop: table_form, requested_slot: phone}]
responses:
  utter_ask_cuisine: [{text: "Which cuisine?"}]
  utter_ask_party_size: [{text: "How many people?"}]
  utter_ask_phone: [{text: "Your phone number?"}]
  utter_wrong_party_size: [{text: "A party needs at least one person."}]
actions: [validate_table_form]
forms:
  table_form:
    required_slots: [cuisine, party_size]
"""


@pytest.fixture
def table_bot(tmp_path: Path) -> Bot:
    domain = read(tmp_path, TABLE_DOMAIN)
    (tmp_path / "actions.py").write_text("from tests.core.actions.sample_actions import *\n")
    return Bot(domain, load_actions_module(tmp_path))


async def test_validation_rejects_a_value_and_adds_a_dynamic_slot(table_bot: Bot) -> None:
    bot = table_bot
    await bot.say("request_table")
    assert plain(await bot.act("table_form")) == [
        "loop:table_form",
        "requested_slot=cuisine",
        "bot:Which cuisine?",
    ]
    # the validator refuses pizza: the slot is emptied and asked again (no rejection)
    await bot.say("inform", "pizza", [{"entity": "cuisine", "value": "pizza"}])
    assert plain(await bot.act("table_form")) == [
        "bot:We don't serve pizza.",
        "cuisine=None",
        "requested_slot=cuisine",
        "bot:Which cuisine?",
    ]
    await bot.say("inform", "Thai", [{"entity": "cuisine", "value": "Thai"}])
    assert plain(await bot.act("table_form")) == [
        "cuisine=thai",
        "requested_slot=party_size",
        "bot:How many people?",
    ]
    # a big party: the validator's required_slots adds phone and requests it
    await bot.say("inform", "we are 8 people")
    events = plain(await bot.act("table_form"))
    assert events[-2:] == ["requested_slot=phone", "bot:Your phone number?"]
    assert "party_size=8" in events
    await bot.say("inform", "555 1234")
    events = plain(await bot.act("table_form"))
    assert events[0] == "phone=555 1234"
    assert events[-2:] == ["requested_slot=None", "loop:None"]
    assert bot.tracker.slots["phone"] == "555 1234" and bot.tracker.active_loop_name is None


async def test_validation_with_nothing_extracted_rejects(table_bot: Bot) -> None:
    bot = table_bot
    await bot.say("request_table")
    await bot.act("table_form")
    await bot.say("greet", "hello")
    with pytest.raises(ActionExecutionRejection):
        await bot.act("table_form")


async def test_prefilled_slots_are_validated_on_activation(table_bot: Bot) -> None:
    bot = table_bot
    await bot.say("request_table", "a table for pizza", [{"entity": "cuisine", "value": "pizza"}])
    events = plain(await bot.act("table_form"))
    # extracted on activation (the mapping needs the form active), then refused by validation
    assert events[:2] == ["loop:table_form", "cuisine=pizza"]
    assert "bot:We don't serve pizza." in events and "cuisine=None" in events
    assert events[-2:] == ["requested_slot=cuisine", "bot:Which cuisine?"]


async def test_a_slot_without_a_validate_method_is_warned_about_once(
    table_bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rasa_sdk warns on every turn that validates ``phone`` (no ``validate_phone``): the
    warning is logged once, naming rasa_sdk's own line, and later turns make no record of it
    at all (making one only for the filter to drop it took about 10 us)."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == "rasa_sdk.forms":
            made.append(record)
        return record

    monkeypatch.setattr(logging, "_logRecordFactory", counting)
    # as in a process that has not seen the warning yet (an earlier test may have)
    (once,) = [f for f in logging.getLogger("rasa_sdk.forms").filters if isinstance(f, OnceFilter)]
    monkeypatch.setattr(once, "_seen", set())
    caplog.set_level(logging.WARNING, logger="rasa_sdk.forms")
    for phone in ("555 1234", "555 9876"):  # two conversations: the same warning each time
        bot = Bot(table_bot.domain, table_bot.registry.custom)
        await bot.say("request_table")
        await bot.act("table_form")
        await bot.say("inform", "Thai", [{"entity": "cuisine", "value": "Thai"}])
        await bot.act("table_form")
        await bot.say("inform", "we are 8 people")
        await bot.act("table_form")
        await bot.say("inform", phone)
        assert plain(await bot.act("table_form"))[0] == f"phone={phone}"
    skipped = [r for r in caplog.records if r.getMessage().startswith("Skipping validation")]
    assert [r.getMessage() for r in skipped] == [
        "Skipping validation for `phone`: there is no validation method specified."
    ]
    assert skipped[0].pathname.endswith(str(Path("rasa_sdk", "forms.py")))
    assert [r.getMessage() for r in made] == [skipped[0].getMessage()]


# -- plans ---------------------------------------------------------------------------------------

PLANNED = TRIP_DOMAIN.replace(
    "responses:\n",
    """responses:
  utter_give_up: [{text: "Let's try again later."}]
  utter_stopped: [{text: "Stopped."}]
  utter_iamabot: [{text: "I am a bot."}]
  utter_explain_seats: [{text: "Seats are for adults and children."}]
""",
)


def planned(tmp_path: Path, plans: str) -> Domain:
    return read(tmp_path, PLANNED + textwrap.indent(textwrap.dedent(plans), "    "))


async def test_priority_orders_the_questions(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "priority: {seats: 1, destination: 2}\n"))
    await bot.say("book")
    assert plain(await bot.act("trip_form"))[-2:] == ["requested_slot=seats", "bot:How many seats?"]
    await bot.say("inform", "2", [{"entity": "number", "value": 2}])
    assert plain(await bot.act("trip_form"))[-2:] == ["requested_slot=destination", "bot:Where to?"]
    await bot.say("inform", "to Rome", [city("Rome", "to")])
    # slots without a priority follow in required_slots order
    assert plain(await bot.act("trip_form"))[-2:] == ["requested_slot=origin", "bot:From where?"]


async def test_max_turns_gives_up_with_the_failure_action(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "max_turns: 2\nfailure_action: utter_give_up\n"))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("inform", "from Oslo", [city("Oslo", "from")])
    assert plain(await bot.act("trip_form"))[-1] == "bot:Where to?"  # turn 1 of 2
    await bot.say("greet", "hmm")  # turn 2, nothing extracted: no rejection, the form gives up
    events = await bot.act("trip_form")
    assert plain(events) == ["requested_slot=None", "followup:utter_give_up", "loop:None"]
    followup = events[1]
    assert followup.metadata == {"form": "trip_form", "plan": "max_turns"}
    assert bot.tracker.followup_action == "utter_give_up"
    assert bot.tracker.active_loop_name is None


async def test_max_turns_does_not_stop_a_form_that_finishes(tmp_path: Path) -> None:
    domain = read(
        tmp_path,
        """
        version: "3.1"
        intents: [go, inform]
        entities: [number]
        responses:
          utter_give_up: [{text: "bye"}]
        slots:
          seats: {type: any, mappings: [{type: from_entity, entity: number}]}
        forms:
          f:
            required_slots: [seats]
            max_turns: 1
            failure_action: utter_give_up
        """,
    )
    bot = Bot(domain)
    await bot.say("go")
    await bot.act("f")
    await bot.say("inform", "2", [{"entity": "number", "value": 2}])
    assert plain(await bot.act("f")) == ["seats=2", "requested_slot=None", "loop:None"]


async def test_exit_leaves_the_form(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "exit: {stop: utter_stopped}\n"))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("stop", "stop it")
    events = await bot.act("trip_form")
    assert plain(events) == ["requested_slot=None", "followup:utter_stopped", "loop:None"]
    assert events[1].metadata["plan"] == "exit"


async def test_chitchat_answers_and_asks_again(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "chitchat: {bot_challenge: utter_iamabot}\n"))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("bot_challenge", "are you a bot?")
    assert plain(await bot.act("trip_form")) == [
        "bot:I am a bot.",
        "requested_slot=origin",
        "bot:From where?",
    ]
    assert bot.tracker.active_loop_name == "trip_form"


async def test_clarify_explains_the_requested_slot(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "clarify: {seats: utter_explain_seats}\npriority: {seats: 0}\n"))
    await bot.say("book")
    await bot.act("trip_form")
    await bot.say("details", "what do you mean?")
    assert plain(await bot.act("trip_form")) == [
        "bot:Seats are for adults and children.",
        "requested_slot=seats",
        "bot:How many seats?",
    ]


async def test_clarify_for_another_slot_rejects_as_usual(tmp_path: Path) -> None:
    bot = Bot(planned(tmp_path, "clarify: {seats: utter_explain_seats}\n"))
    await bot.say("book")
    await bot.act("trip_form")  # asks origin, which has no clarification
    await bot.say("details")
    with pytest.raises(ActionExecutionRejection):
        await bot.act("trip_form")


async def test_keep_and_lose_rules_change_the_required_slots(tmp_path: Path) -> None:
    plans = """
    rules:
      confirmed:
        true: {keep: [booked_via]}
        false: {lose: [note]}
    priority: {confirmed: 0}
    """
    form = FormAction("trip_form", lambda name: None)
    domain = planned(tmp_path, plans)
    base = ["origin", "destination", "seats", "note", "confirmed"]
    assert form.required_slots({}, domain) == base
    assert form.required_slots({"confirmed": False}, domain) == [
        "origin",
        "destination",
        "seats",
        "confirmed",
    ]
    assert form.required_slots({"confirmed": True}, domain) == [*base, "booked_via"]
    # in a conversation: denying first makes the note unnecessary
    bot = Bot(domain)
    await bot.say("greet")
    await bot.act("trip_form")
    await bot.say("deny")
    await bot.act("trip_form")
    for entities in (
        [city("Oslo", "from")],
        [city("Rome", "to")],
        [{"entity": "number", "value": 1}],
    ):
        await bot.say("inform", "x", entities)
        events = plain(await bot.act("trip_form"))
    assert events[-2:] == ["requested_slot=None", "loop:None"]
    assert bot.tracker.slots["note"] is None


def test_check_plans_reports_bad_shapes_and_unknown_names(tmp_path: Path) -> None:
    domain = planned(
        tmp_path,
        """
        priority: {seats: first, nowhere: 1}
        max_turns: 3
        exit: {quit: utter_nothing}
        chitchat: [bot_challenge]
        clarify: {seats: utter_missing}
        rules: {confirmed: {true: {keep: [ghost], drop: [note]}}}
        """,
    )
    problems = Problems()
    check_plans(domain, problems)
    messages = [p.message for p in problems.errors]
    assert all(str(p.location).startswith("domain.yml:") for p in problems.errors)
    assert any("`priority` must be a mapping of slot names to numbers" in m for m in messages)
    assert any("`max_turns` needs a `failure_action`" in m for m in messages)
    assert any("`exit` names the intent 'quit'" in m for m in messages)
    assert any("`exit.quit` names the action 'utter_nothing'" in m for m in messages)
    assert any(
        "`chitchat` must be a mapping of intents to actions, found a list" in m for m in messages
    )
    assert any("`clarify.seats` names the response 'utter_missing'" in m for m in messages)
    assert any(
        "`rules.confirmed.True` must be a mapping with `keep` and/or `lose`" in m for m in messages
    )
    assert len(messages) == 7


def test_unknown_form_keys_are_ignored_with_a_located_warning(tmp_path: Path) -> None:
    # Rasa's domain schema lets a form carry keys it does not know, and ignores them
    (tmp_path / "domain.yml").write_text(
        textwrap.dedent(PLANNED + textwrap.indent("colour: red\nmax_turns: 2\n", "    "))
    )
    problems = Problems()
    domain = read_domain([tmp_path / "domain.yml"], tmp_path, problems)
    assert not problems.errors, [str(p) for p in problems.errors]
    [warning] = [p for p in problems.warnings if "colour" in p.message]
    assert "unknown key `colour` ignored" in warning.message
    assert str(warning.location).startswith("domain.yml:")
    assert "colour" not in domain.forms["trip_form"].plans
    assert domain.forms["trip_form"].plans["max_turns"] == 2


def test_check_plans_accepts_good_plans(tmp_path: Path) -> None:
    domain = planned(
        tmp_path,
        """
        priority: {seats: 1}
        max_turns: 4
        failure_action: utter_give_up
        exit: {stop: utter_stopped}
        chitchat: {bot_challenge: utter_iamabot}
        clarify: {seats: utter_explain_seats}
        rules: {confirmed: {false: {lose: [note]}, true: {keep: [booked_via]}}}
        """,
    )
    problems = Problems()
    check_plans(domain, problems)
    assert list(problems) == []


# -- the tracker a question is asked with --------------------------------------------------------


class QuestionRecorder(Action):
    """A form's question that keeps (a copy of) the tracker it was asked with."""

    def __init__(self, name: str, asked: list[Tracker]) -> None:
        self._name = name
        self.asked = asked

    def name(self) -> str:
        return self._name

    async def run(self, ctx: ActionContext) -> list[Event]:
        self.asked.append(ctx.tracker.copy())
        return []


def recorders(form: str, slots: list[str], asked: list[Tracker]) -> dict[str, Action]:
    return {
        f"action_ask_{form}_{slot}": QuestionRecorder(f"action_ask_{form}_{slot}", asked)
        for slot in slots
    }


async def assert_asked_after_the_forms_events(
    bot: Bot, form: str, asked: list[Tracker], turns: list[tuple[str, str, list[Any]]]
) -> None:
    """Each turn's question sees the conversation plus every event the form returned before
    it, as replaying them gives (whether or not finding the slot made a tracker of its own)."""
    for intent, text, entities in turns:
        await bot.say(intent, text, entities)
        before = list(bot.tracker.events)
        asked.clear()
        events = await bot.act(form)
        assert len(asked) == 1, plain(events)
        replayed = Tracker("u", bot.domain, [*before, *events])
        assert asked[0].current_state("all") == replayed.current_state("all")


async def test_questions_see_the_form_turns_events(tmp_path: Path) -> None:
    asked: list[Tracker] = []
    slots = ["origin", "destination", "seats", "note", "confirmed"]
    bot = Bot(read(tmp_path, TRIP_DOMAIN), recorders("trip_form", slots, asked))
    await assert_asked_after_the_forms_events(
        bot,
        "trip_form",
        asked,
        [
            ("book", "book a trip", []),
            ("inform", "from Oslo", [city("Oslo", "from")]),
            ("inform", "to Rome", [city("Rome", "to")]),
            ("inform", "two", [{"entity": "number", "value": 2}]),
            ("inform", "window seat please", []),
        ],
    )


async def test_questions_see_the_slot_validation_requested(tmp_path: Path) -> None:
    asked: list[Tracker] = []
    domain = read(tmp_path, TABLE_DOMAIN)
    (tmp_path / "actions.py").write_text("from tests.core.actions.sample_actions import *\n")
    custom = {
        **load_actions_module(tmp_path),
        **recorders("table_form", ["cuisine", "party_size", "phone"], asked),
    }
    await assert_asked_after_the_forms_events(
        Bot(domain, custom),
        "table_form",
        asked,
        [
            ("request_table", "a table", []),
            ("inform", "pizza", [{"entity": "cuisine", "value": "pizza"}]),
            ("inform", "Thai", [{"entity": "cuisine", "value": "Thai"}]),
            ("inform", "we are 8 people", []),  # the validator requests phone itself
        ],
    )


@pytest.mark.parametrize("restarts", [(), (1,), (0, 3), (2, 5)])
def test_validations_tracker_starts_after_the_latest_restart(
    tmp_path: Path, restarts: tuple[int, ...]
) -> None:
    """What ``validate_<form>`` is shown: the events after the latest restart (all of them
    without one) and the form's own, as a tracker replaying only those would hold them."""
    from chinwag.core.actions.forms import _with_events
    from chinwag.core.events import Restarted

    domain = read(tmp_path, TRIP_DOMAIN)
    events: list[Event] = []
    after_restart = 0
    for i in range(6):
        if i in restarts:
            events.append(Restarted())
            after_restart = len(events)
        events += [ActionExecuted("action_listen"), UserUttered(f"hi {i}", {"name": "greet"})]
        events.append(SlotSet("origin", f"city {i}"))
    own = [SlotSet("requested_slot", "origin"), ActionExecuted("trip_form")]
    tracker = Tracker("u", domain, events)
    shown = _with_events(tracker, own, after_restart=True)
    kept = events[after_restart:]
    assert shown.events == [*kept, *own]
    assert shown.current_state("all") == Tracker("u", domain, [*kept, *own]).current_state("all")
