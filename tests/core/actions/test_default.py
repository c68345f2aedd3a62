"""Rasa's default actions: their events, the two-stage fallback flow and slot extraction."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import Action, ActionContext
from chinwag.core.actions.default import (
    DEFAULT_REPHRASE_TEXT,
    ActionExtractSlots,
    default_actions,
    load_intent_prompts,
)
from chinwag.core.actions.registry import ActionRegistry
from chinwag.core.data.problems import Problems
from chinwag.core.domain import DEFAULT_ACTIONS, Domain, EntityDef, Form, Intent, SessionConfig
from chinwag.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from chinwag.core.slots import MappingCondition, Slot, SlotMapping
from chinwag.core.tracker import Tracker

FORM = "restaurant_form"


def listen() -> ActionExecuted:
    return ActionExecuted("action_listen")


def user(
    intent: str,
    text: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> UserUttered:
    confidence = 0.3 if intent == "nlu_fallback" else 1.0
    parse: dict[str, Any] = {}
    if ranking is not None:
        parse["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    return UserUttered(
        text=text or f"/{intent}",
        intent={"name": intent, "confidence": confidence},
        entities=entities or [],
        parse_data=parse,
    )


def entity(name: str, value: Any, role: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": name, "value": value}
    if role:
        out["role"] = role
    return out


def buttons(events: list[Event]) -> Any:
    """The buttons of the only event, a bot utterance."""
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    return events[0].data["buttons"]


def names(events: list[Event]) -> list[str]:
    """A compact view: action names, U:intent, slot=value, loop:name, bot:text, event types."""
    out = []
    for e in events:
        match e:
            case ActionExecuted():
                out.append(e.action_name or "")
            case UserUttered():
                out.append(f"U:{e.intent_name}")
            case SlotSet():
                out.append(f"{e.key}={e.value}")
            case ActiveLoop():
                out.append(f"loop:{e.name}")
            case BotUttered():
                out.append(f"bot:{e.text}")
            case _:
                out.append(e.type_name)
    return out


class Bot:
    """A domain, its registry and one conversation, driven the way the agent drives actions."""

    def __init__(
        self,
        domain: Domain,
        custom: Mapping[str, Action] | None = None,
        intent_prompts: dict[str, str] | None = None,
        events: list[Event] | None = None,
    ) -> None:
        self.domain = domain
        self.registry = ActionRegistry(domain, custom, intent_prompts=intent_prompts)
        self.nlg = ResponseGenerator(domain, random.Random(0))
        self.tracker = Tracker("u", domain, events or [listen()])
        self.extra: dict[str, Any] = {}

    def ctx(self) -> ActionContext:
        return ActionContext(self.tracker, self.domain, self.nlg, "rest", self.extra)

    async def run(self, name: str) -> list[Event]:
        """Run an action without logging it (to look at its events)."""
        return await self.registry.get(name).run(self.ctx())

    async def act(self, name: str) -> list[Event]:
        """Run an action and log it with its events, as Rasa's processor does."""
        events = await self.run(name)
        self.tracker.update(ActionExecuted(name))
        self.tracker.update_all(events)
        return events

    def say(self, message: UserUttered) -> None:
        self.tracker.update(message)


# -- simple default actions -----------------------------------------------------------------------


def test_every_rasa_default_action_is_there() -> None:
    actions = default_actions(lambda name: None)
    assert sorted(actions) == sorted(n for n in DEFAULT_ACTIONS if n != "...")
    assert all(name == action.name() for name, action in actions.items())


async def test_listen_and_unlikely_intent_do_nothing() -> None:
    bot = Bot(Domain())
    assert await bot.run("action_listen") == []
    assert await bot.run("action_unlikely_intent") == []


async def test_restart_says_utter_restart_only_when_defined() -> None:
    assert names(await Bot(Domain()).run("action_restart")) == ["restart"]
    with_response = Bot(Domain(responses={"utter_restart": [{"text": "Restarted."}]}))
    events = await with_response.run("action_restart")
    assert names(events) == ["bot:Restarted.", "restart"]
    assert isinstance(events[1], Restarted)
    assert events[0].metadata == {"utter_action": "utter_restart"}


async def test_default_fallback_says_utter_default_and_reverts() -> None:
    assert names(await Bot(Domain()).run("action_default_fallback")) == ["rewind"]
    bot = Bot(Domain(responses={"utter_default": [{"text": "Sorry?"}]}))
    events = await bot.run("action_default_fallback")
    assert names(events) == ["bot:Sorry?", "rewind"]
    assert isinstance(events[1], UserUtteranceReverted)


async def test_deactivate_loop() -> None:
    events = await Bot(Domain()).run("action_deactivate_loop")
    assert names(events) == ["loop:None", "requested_slot=None"]


async def test_back_rewinds_two_user_turns() -> None:
    assert names(await Bot(Domain()).run("action_back")) == ["rewind", "rewind"]
    bot = Bot(Domain(responses={"utter_back": [{"text": "Going back."}]}))
    bot.say(user("greet"))
    bot.tracker.update_all([ActionExecuted("utter_greet"), listen()])
    bot.say(user("inform"))
    bot.tracker.update_all([ActionExecuted("utter_ok"), listen()])
    bot.say(user("back"))
    events = await bot.act("action_back")
    assert names(events) == ["bot:Going back.", "rewind", "rewind"]
    # both the /back turn and the turn before it are gone
    assert names(bot.tracker.applied_events()) == ["action_listen", "U:greet", "utter_greet"]


async def test_session_start_carries_slots_over_with_their_metadata() -> None:
    domain = Domain(slots={"name": Slot("name", "text"), "city": Slot("city", "text")})
    bot = Bot(domain)
    bot.say(user("greet"))
    bot.tracker.update_all(
        [SlotSet("name", "Ann", metadata={"source": "form"}), SlotSet("city", "Oslo")]
    )
    bot.tracker.update(SlotSet("city", "Rome"))
    events = await bot.run("action_session_start")
    assert names(events) == [
        "session_started",
        "name=Ann",
        "city=Oslo",
        "city=Rome",
        "action_listen",
    ]
    assert isinstance(events[0], SessionStarted)
    assert events[1].metadata == {"source": "form"}
    bot.tracker.update(ActionExecuted("action_session_start"))
    bot.tracker.update_all(events)
    assert bot.tracker.slots["city"] == "Rome"


async def test_session_start_carries_only_slots_set_since_the_last_restart() -> None:
    domain = Domain(slots={"name": Slot("name", "text")})
    bot = Bot(domain, events=[listen(), SlotSet("name", "Old"), Restarted(), listen()])
    assert names(await bot.run("action_session_start")) == ["session_started", "action_listen"]


async def test_session_start_without_carry_over_and_with_metadata() -> None:
    domain = Domain(
        slots={"name": Slot("name", "text")},
        session_config=SessionConfig(carry_over_slots=False),
    )
    bot = Bot(domain, events=[listen(), SlotSet("name", "Ann")])
    assert names(await bot.run("action_session_start")) == ["session_started", "action_listen"]
    bot.extra["metadata"] = {"locale": "nb"}
    events = await bot.run("action_session_start")
    assert names(events) == [
        "session_started",
        "session_started_metadata={'locale': 'nb'}",
        "action_listen",
    ]


# -- affirmation and rephrasing -------------------------------------------------------------------


async def test_ask_affirmation_names_the_runner_up_of_nlu_fallback() -> None:
    bot = Bot(Domain())
    bot.say(user("nlu_fallback", "hmm", ranking=[("nlu_fallback", 0.3), ("greet", 0.25)]))
    events = await bot.run("action_default_ask_affirmation")
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    bot_event = events[0]
    assert bot_event.text == "Did you mean 'greet'?"
    assert bot_event.data["buttons"] == [
        {"title": "Yes", "payload": "/greet"},
        {"title": "No", "payload": "/out_of_scope"},
    ]
    assert bot_event.metadata == {"utter_action": "action_default_ask_affirmation"}


async def test_ask_affirmation_without_a_runner_up_asks_to_rephrase() -> None:
    bot = Bot(Domain())
    bot.say(user("nlu_fallback", "hmm", ranking=[("nlu_fallback", 1.0)]))
    events = await bot.run("action_default_ask_affirmation")
    assert names(events) == ["bot:I'm sorry, I didn't quite understand that. Could you rephrase?"]
    assert not buttons(events)


async def test_ask_affirmation_uses_the_intent_itself_and_the_prompts() -> None:
    bot = Bot(Domain(), intent_prompts={"check_balance": "check your balance"})
    bot.say(user("check_balance", "balance?"))
    events = await bot.run("action_default_ask_affirmation")
    assert names(events) == ["bot:Did you mean 'check your balance'?"]
    assert buttons(events)[0] == {"title": "Yes", "payload": "/check_balance"}


async def test_utter_ask_affirmation_overrides_the_default_text() -> None:
    domain = Domain(
        responses={"utter_ask_affirmation": [{"text": "Do you want to {intent}? ({intent_name})"}]}
    )
    bot = Bot(domain, intent_prompts={"greet": "say hello"})
    bot.say(user("nlu_fallback", "hm", ranking=[("nlu_fallback", 0.3), ("greet", 0.2)]))
    events = await bot.run("action_default_ask_affirmation")
    assert names(events) == ["bot:Do you want to say hello? (greet)"]
    assert buttons(events) == [
        {"title": "Yes", "payload": "/greet"},
        {"title": "No", "payload": "/out_of_scope"},
    ]
    assert events[0].metadata == {"utter_action": "utter_ask_affirmation"}

    own_buttons = [{"title": "Sure", "payload": "/{intent_name}"}]
    domain.responses["utter_ask_affirmation"][0]["buttons"] = own_buttons
    events = await bot.run("action_default_ask_affirmation")
    assert buttons(events) == [{"title": "Sure", "payload": "/greet"}]


async def test_ask_rephrase_uses_utter_ask_rephrase_or_a_default_text() -> None:
    assert names(await Bot(Domain()).run("action_default_ask_rephrase")) == [
        f"bot:{DEFAULT_REPHRASE_TEXT}"
    ]
    bot = Bot(Domain(responses={"utter_ask_rephrase": [{"text": "Say it again?"}]}))
    events = await bot.run("action_default_ask_rephrase")
    assert names(events) == ["bot:Say it again?"]
    assert events[0].metadata == {"utter_action": "utter_ask_rephrase"}


def test_load_intent_prompts(tmp_path: Path) -> None:
    path = tmp_path / "intent_description_mapping.csv"
    path.write_text(
        'intent,text\ngreet,say hello\n\nbuy,"buy a ticket, now"\nask_time,what time, please\n'
        "lonely\n,no intent\ngreet,greet me\n"
    )
    problems = Problems()
    prompts = load_intent_prompts(path, "bot/intent_description_mapping.csv", problems)
    assert prompts == {
        "greet": "greet me",
        "buy": "buy a ticket, now",
        "ask_time": "what time, please",
    }
    assert [(p.level, str(p.location)) for p in problems] == [
        ("error", "bot/intent_description_mapping.csv:6"),
        ("error", "bot/intent_description_mapping.csv:7"),
        ("warning", "bot/intent_description_mapping.csv:8"),
    ]
    missing = Problems()
    assert load_intent_prompts(tmp_path / "nope.csv", "nope.csv", missing) == {}
    assert len(missing.errors) == 1


# -- revert fallback events (legacy TwoStageFallbackPolicy) ---------------------------------------


async def test_revert_fallback_events_after_affirmation() -> None:
    bot = Bot(Domain())
    bot.say(user("nlu_fallback", "hm", ranking=[("nlu_fallback", 0.3), ("greet", 0.2)]))
    await bot.act("action_default_ask_affirmation")
    bot.tracker.update(listen())
    bot.say(user("greet"))
    events = await bot.run("action_revert_fallback_events")
    assert names(events) == ["rewind", "rewind", "action_listen", "U:greet"]
    assert isinstance(events[-1], UserUttered)
    assert events[-1].intent["confidence"] == 1.0
    assert events[-1].parse_data["intent"]["confidence"] == 1.0


async def test_revert_fallback_events_after_rephrasing() -> None:
    bot = Bot(Domain())
    bot.say(user("nlu_fallback", "hm"))
    await bot.act("action_default_ask_affirmation")
    bot.tracker.update(listen())
    bot.say(user("out_of_scope"))
    await bot.act("action_default_ask_rephrase")
    bot.tracker.update(listen())
    bot.say(user("greet", "hello there"))
    events = await bot.run("action_revert_fallback_events")
    assert names(events) == ["rewind", "rewind", "rewind", "action_listen", "U:greet"]
    assert isinstance(events[-1], UserUttered) and events[-1].text == "hello there"
    assert await Bot(Domain()).run("action_revert_fallback_events") == []


# -- the two-stage fallback -----------------------------------------------------------------------

TWO_STAGE_RESPONSES = {
    "utter_default": [{"text": "I give up."}],
    "utter_ask_rephrase": [{"text": "Please rephrase."}],
}


def unclear(text: str, runner_up: str = "greet") -> UserUttered:
    return user("nlu_fallback", text, ranking=[("nlu_fallback", 0.3), (runner_up, 0.28)])


async def start_fallback(bot: Bot, text: str = "hlelo", runner_up: str = "greet") -> None:
    bot.say(unclear(text, runner_up))
    events = await bot.act("action_two_stage_fallback")
    assert names(events) == [
        "loop:action_two_stage_fallback",
        f"bot:Did you mean '{runner_up}'?",
    ]
    assert bot.tracker.active_loop_name == "action_two_stage_fallback"
    bot.tracker.update(listen())


async def test_two_stage_fallback_affirmed() -> None:
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES))
    await start_fallback(bot)
    bot.say(user("greet"))  # the Yes button
    events = await bot.act("action_two_stage_fallback")
    assert names(events) == ["loop:None", "rewind", "action_listen", "U:greet"]
    clarified = events[-1]
    assert isinstance(clarified, UserUttered) and clarified.intent["confidence"] == 1.0
    # the clear message replaced the unclear turn entirely
    assert bot.tracker.active_loop_name is None
    assert names(bot.tracker.applied_events()) == ["action_listen", "U:greet"]
    assert bot.tracker.latest_message.intent == {"name": "greet", "confidence": 1.0}


async def test_two_stage_fallback_denied_then_rephrased_clearly() -> None:
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES))
    await start_fallback(bot)
    bot.say(user("out_of_scope"))  # the No button
    assert names(await bot.act("action_two_stage_fallback")) == ["bot:Please rephrase."]
    bot.tracker.update(listen())
    bot.say(user("greet", "hello"))
    events = await bot.act("action_two_stage_fallback")
    assert names(events) == ["loop:None", "rewind", "action_listen", "U:greet"]
    assert isinstance(events[-1], UserUttered) and events[-1].text == "hello"
    assert names(bot.tracker.applied_events()) == ["action_listen", "U:greet"]
    assert bot.tracker.latest_message.text == "hello"


async def test_two_stage_fallback_gives_up_after_two_fallbacks_in_a_row() -> None:
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES))
    await start_fallback(bot)
    bot.say(unclear("blrgh"))
    events = await bot.act("action_two_stage_fallback")
    assert names(events) == ["loop:None", "bot:I give up.", "rewind"]
    assert bot.tracker.active_loop_name is None


async def test_two_stage_fallback_gives_up_after_deny_unclear_deny() -> None:
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES))
    await start_fallback(bot)
    bot.say(user("out_of_scope"))
    assert names(await bot.act("action_two_stage_fallback")) == ["bot:Please rephrase."]
    bot.tracker.update(listen())
    bot.say(unclear("still unclear", runner_up="goodbye"))
    # an unclear rephrasing is asked to be affirmed again
    assert names(await bot.act("action_two_stage_fallback")) == ["bot:Did you mean 'goodbye'?"]
    bot.tracker.update(listen())
    bot.say(user("out_of_scope"))
    events = await bot.act("action_two_stage_fallback")
    assert names(events) == ["loop:None", "bot:I give up.", "rewind"]
    assert bot.tracker.active_loop_name is None


async def test_two_stage_fallback_on_a_clear_message_ends_without_replaying_it() -> None:
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES))
    bot.say(user("greet"))
    assert names(await bot.act("action_two_stage_fallback")) == [
        "loop:action_two_stage_fallback",
        "loop:None",
    ]


async def test_two_stage_fallback_runs_the_bots_own_affirmation_and_fallback() -> None:
    class Own(Action):
        def __init__(self, name: str, text: str) -> None:
            self._name, self.text = name, text

        def name(self) -> str:
            return self._name

        async def run(self, ctx: ActionContext) -> list[Event]:
            return [BotUttered(text=self.text)]

    custom: dict[str, Action] = {
        "action_default_ask_affirmation": Own("action_default_ask_affirmation", "Really?"),
        "action_default_fallback": Own("action_default_fallback", "Human handoff."),
    }
    bot = Bot(Domain(responses=TWO_STAGE_RESPONSES), custom)
    bot.say(unclear("hm"))
    assert names(await bot.act("action_two_stage_fallback")) == [
        "loop:action_two_stage_fallback",
        "bot:Really?",
    ]
    bot.tracker.update(listen())
    bot.say(unclear("hm hm"))
    assert names(await bot.act("action_two_stage_fallback")) == ["loop:None", "bot:Human handoff."]


# -- action_extract_slots -------------------------------------------------------------------------


def slot(name: str, *mappings: SlotMapping, type: str = "text") -> Slot:
    return Slot(name, type=type, mappings=list(mappings))


def from_entity(entity_name: str, **kw: Any) -> SlotMapping:
    return SlotMapping("from_entity", entity=entity_name, **kw)


def in_form(requested: str | None = None, loop: str | None = FORM) -> list[MappingCondition]:
    return [MappingCondition(loop, requested)]


def extraction_domain(*slots: Slot, forms: dict[str, Form] | None = None) -> Domain:
    intents = ["greet", "inform", "affirm", "deny", "request_restaurant", "chitchat"]
    return Domain(
        intents={i: Intent(i) for i in intents},
        entities={e: EntityDef(e) for e in ("cuisine", "city", "number")},
        slots={s.name: s for s in slots},
        forms=forms or {},
    )


async def extract(
    domain: Domain,
    *events: Event,
    custom: Mapping[str, Action] | None = None,
) -> list[str]:
    bot = Bot(domain, custom, events=[listen(), *events])
    return names(await bot.run("action_extract_slots"))


def in_restaurant_form(requested: str) -> list[Event]:
    return [
        listen(),
        user("request_restaurant"),
        ActionExecuted(FORM),
        ActiveLoop(FORM),
        SlotSet("requested_slot", requested),
        listen(),
    ]


async def test_from_entity_role_group_and_list_slots() -> None:
    domain = extraction_domain(
        slot("cuisine", from_entity("cuisine")),
        slot("cuisines", from_entity("cuisine"), type="list"),
        slot("departure", from_entity("city", role="from")),
        slot("arrival", from_entity("city", role="to")),
        slot("any_city", from_entity("city")),
    )
    message = user(
        "inform",
        "thai or greek from Oslo to Rome",
        entities=[
            entity("cuisine", "thai"),
            entity("cuisine", "greek"),
            entity("city", "Oslo", role="from"),
            entity("city", "Rome", role="to"),
        ],
    )
    assert await extract(domain, message) == [
        "cuisine=greek",
        "cuisines=['thai', 'greek']",
        "departure=Oslo",
        "arrival=Rome",
    ]


async def test_only_changed_slots_get_events() -> None:
    domain = extraction_domain(
        slot("cuisine", from_entity("cuisine")),
        slot("city", from_entity("city")),
    )
    message = user("inform", entities=[entity("cuisine", "thai"), entity("city", "Oslo")])
    assert await extract(domain, SlotSet("cuisine", "thai"), message) == ["city=Oslo"]


async def test_intent_and_not_intent() -> None:
    domain = extraction_domain(
        slot("cuisine", from_entity("cuisine", intent=["inform"])),
        slot("other", SlotMapping("from_entity", entity="cuisine", not_intent=["inform"])),
    )
    thai = [entity("cuisine", "thai")]
    assert await extract(domain, user("inform", entities=thai)) == ["cuisine=thai"]
    assert await extract(domain, user("greet", entities=thai)) == ["other=thai"]


async def test_from_intent_sets_the_value_and_null_clears() -> None:
    domain = extraction_domain(
        slot(
            "confirmed",
            SlotMapping("from_intent", intent=["affirm"], value=True),
            SlotMapping("from_intent", intent=["deny"], value=None),
            type="bool",
        ),
    )
    assert await extract(domain, user("affirm")) == ["confirmed=True"]
    assert await extract(domain, user("deny")) == []
    assert await extract(domain, SlotSet("confirmed", True), user("deny")) == ["confirmed=None"]
    assert await extract(domain, user("greet")) == []


async def test_from_text_without_a_form_fills_on_every_message() -> None:
    domain = extraction_domain(slot("last_words", SlotMapping("from_text", not_intent=["greet"])))
    assert await extract(domain, user("inform", "I like tea")) == ["last_words=I like tea"]
    assert await extract(domain, user("greet", "hi")) == []


async def test_conditions_active_loop_requested_slot_and_no_loop() -> None:
    domain = extraction_domain(
        slot("feedback", SlotMapping("from_text", conditions=in_form("feedback"))),
        slot("any_in_form", SlotMapping("from_text", conditions=in_form())),
        slot("outside", SlotMapping("from_text", conditions=in_form(loop=None))),
        forms={FORM: Form(FORM, required_slots=[])},
    )
    assert await extract(domain, user("inform", "hi")) == ["outside=hi"]
    asking = [*in_restaurant_form("feedback"), user("inform", "great")]
    assert await extract(domain, *asking) == ["feedback=great", "any_in_form=great"]
    other = [*in_restaurant_form("cuisine"), user("inform", "great")]
    assert await extract(domain, *other) == ["any_in_form=great"]


async def test_a_rejected_form_does_not_fill_its_requested_slot_by_condition() -> None:
    from chinwag.core.events import ActionExecutionRejected

    domain = extraction_domain(
        slot("feedback", SlotMapping("from_text", conditions=in_form("feedback"))),
        forms={FORM: Form(FORM, required_slots=["feedback"])},
    )
    events = [*in_restaurant_form("feedback"), user("inform", "x"), ActionExecutionRejected(FORM)]
    assert await extract(domain, *events) == []


async def test_form_ignored_intents_block_its_mappings() -> None:
    domain = extraction_domain(
        slot("cuisine", from_entity("cuisine")),
        forms={FORM: Form(FORM, required_slots=["cuisine"], ignored_intents=["chitchat"])},
    )
    thai = [entity("cuisine", "thai")]
    chitchat = [*in_restaurant_form("cuisine"), user("chitchat", entities=thai)]
    assert await extract(domain, *chitchat) == []
    assert await extract(domain, user("chitchat", entities=thai)) == ["cuisine=thai"]


async def test_unique_entity_rule_for_a_forms_required_slots() -> None:
    domain = extraction_domain(
        slot("people", from_entity("number"), type="float"),
        slot("tables", from_entity("number"), type="float"),
        slot("cuisine", from_entity("cuisine")),
        forms={FORM: Form(FORM, required_slots=["people", "tables", "cuisine"])},
    )
    entities = [entity("number", 4), entity("cuisine", "thai")]
    # the number could fill either slot: only the requested one takes it
    asking_people = [*in_restaurant_form("people"), user("inform", entities=entities)]
    assert await extract(domain, *asking_people) == ["people=4", "cuisine=thai"]
    asking_cuisine = [*in_restaurant_form("cuisine"), user("inform", entities=entities)]
    assert await extract(domain, *asking_cuisine) == ["cuisine=thai"]
    # without an active form the rule does not apply
    assert await extract(domain, user("inform", entities=entities)) == [
        "people=4",
        "tables=4",
        "cuisine=thai",
    ]


async def test_from_trigger_intent_fills_only_while_the_form_is_activated() -> None:
    domain = extraction_domain(
        slot(
            "source",
            SlotMapping("from_trigger_intent", intent=["request_restaurant"], value="trigger"),
        ),
        forms={FORM: Form(FORM, required_slots=[])},
    )
    trigger = user("request_restaurant")
    assert await extract(domain, trigger) == []
    # the form module runs extraction after ActiveLoop(form), on the activating message
    assert await extract(domain, trigger, ActionExecuted(FORM), ActiveLoop(FORM)) == [
        "source=trigger"
    ]
    later = [*in_restaurant_form("x"), user("request_restaurant")]
    assert await extract(domain, *later) == []

    other_form = extraction_domain(
        slot(
            "source",
            SlotMapping(
                "from_trigger_intent",
                intent=["request_restaurant"],
                value="trigger",
                conditions=[MappingCondition("other_form")],
            ),
        ),
        forms={FORM: Form(FORM)},
    )
    assert await extract(other_form, trigger, ActiveLoop(FORM)) == []


async def test_from_text_of_a_form_slot_fills_only_when_the_form_asks_for_it() -> None:
    """chinwag's rule against Rasa issue #10219 (greedy from_text)."""
    domain = extraction_domain(
        slot("notes", SlotMapping("from_text")),
        slot("outdoor", SlotMapping("from_intent", intent=["affirm"], value=True), type="bool"),
        slot("free_text", SlotMapping("from_text")),
        forms={FORM: Form(FORM, required_slots=["notes", "outdoor"])},
    )
    # the message that activates the form fills neither of its slots
    assert await extract(domain, user("request_restaurant", "book a table")) == [
        "free_text=book a table"
    ]
    assert await extract(domain, user("affirm", "yes")) == ["free_text=yes"]
    asking_notes = [*in_restaurant_form("notes"), user("affirm", "yes")]
    assert await extract(domain, *asking_notes) == ["notes=yes", "free_text=yes"]
    asking_outdoor = [*in_restaurant_form("outdoor"), user("affirm", "yes")]
    assert await extract(domain, *asking_outdoor) == ["outdoor=True", "free_text=yes"]


async def test_mappings_with_unknown_entities_or_intents_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    domain = extraction_domain(
        slot("x", from_entity("colour")),
        slot("y", SlotMapping("from_intent", intent=["nonexistent"], value=1)),
    )
    bot = Bot(domain, events=[listen(), user("inform", entities=[entity("colour", "red")])])
    with caplog.at_level(logging.WARNING):
        assert await bot.run("action_extract_slots") == []
        bot.tracker.update_all([listen(), user("greet")])  # the next message: warned already
        assert await bot.run("action_extract_slots") == []
    assert caplog.text.count("non-existent entity 'colour'") == 1
    assert caplog.text.count("non-existent intent 'nonexistent'") == 1


async def test_nothing_is_extracted_before_any_user_message() -> None:
    domain = extraction_domain(slot("flag", SlotMapping("from_intent", value=True)))
    bot = Bot(domain)
    assert await bot.run("action_extract_slots") == []


class Scripted(Action):
    def __init__(self, name: str, events: list[Event], fail: bool = False) -> None:
        self._name, self.events, self.fail, self.calls = name, events, fail, 0

    def name(self) -> str:
        return self._name

    async def run(self, ctx: ActionContext) -> list[Event]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("action server down")
        return list(self.events)


async def test_custom_mappings_run_their_action_once() -> None:
    domain = extraction_domain(
        slot("a", SlotMapping("custom", action="action_fill")),
        slot("b", SlotMapping("custom", action="action_fill")),
        slot("c", SlotMapping("custom")),
    )
    fill = Scripted(
        "action_fill",
        [SlotSet("a", 1), SlotSet("b", "same"), BotUttered(text="Noted."), FollowupAction("x")],
    )
    result = await extract(
        domain, SlotSet("b", "same"), user("inform"), custom={"action_fill": fill}
    )
    assert result == ["a=1", "bot:Noted."]
    assert fill.calls == 1


async def test_missing_or_failing_custom_mapping_actions_fill_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    domain = extraction_domain(slot("a", SlotMapping("custom", action="action_fill")))
    with caplog.at_level(logging.WARNING):
        assert await extract(domain, user("inform")) == []
        failing = {"action_fill": Scripted("action_fill", [], fail=True)}
        assert await extract(domain, user("inform"), custom=failing) == []
    assert "'action_fill' is not available" in caplog.text
    assert "action server down" in caplog.text


async def test_validate_slot_mappings_action_sees_and_corrects_the_extraction() -> None:
    domain = extraction_domain(
        slot("cuisine", from_entity("cuisine")),
        slot("city", from_entity("city")),
    )
    seen: dict[str, Any] = {}

    class Validator(Action):
        def name(self) -> str:
            return "action_validate_slot_mappings"

        async def run(self, ctx: ActionContext) -> list[Event]:
            seen.update(ctx.tracker.slots)
            return [SlotSet("cuisine", None), SlotSet("city", "OSLO")]

    message = user("inform", entities=[entity("cuisine", "mud"), entity("city", "oslo")])
    result = await extract(domain, message, custom={"action_validate_slot_mappings": Validator()})
    assert seen["cuisine"] == "mud" and seen["city"] == "oslo"
    # cuisine was empty before and stays empty: no event for it
    assert result == ["city=OSLO"]


async def test_extract_slots_is_a_plain_action() -> None:
    action = ActionExtractSlots(lambda name: None)
    assert action.name() == "action_extract_slots"


class EveryMappingExtractor(ActionExtractSlots):
    """Slot extraction that looks at every valid mapping on every message (what it did
    before it selected them by the message's intent once per domain and passed over those
    of entities the message does not have)."""

    def _selectable_mappings(
        self, domain: Domain, intent: str | None
    ) -> list[tuple[Slot, list[SlotMapping]]]:
        return self._valid_mappings(domain)

    @staticmethod
    def _entity_names(entities: list[Any]) -> set[Any] | None:
        return None


MAPPING_INTENTS = st.one_of(
    st.none(), st.lists(st.sampled_from(["greet", "inform", "deny", "nowhere"]), max_size=2)
)
MAPPINGS = st.builds(
    SlotMapping,
    type=st.sampled_from(["from_entity", "from_intent", "from_text", "from_trigger_intent"]),
    entity=st.sampled_from(["cuisine", "city", "unknown_entity"]),
    intent=MAPPING_INTENTS,
    not_intent=MAPPING_INTENTS,
    value=st.sampled_from([None, "v", True]),
    conditions=st.lists(
        st.builds(
            MappingCondition,
            st.sampled_from([None, FORM, "other_form"]),
            st.sampled_from([None, "a", "b"]),
        ),
        max_size=2,
    ),
) | st.builds(SlotMapping, type=st.just("custom"), action=st.sampled_from([None, "action_fill"]))
ODD_ENTITIES = st.sampled_from([{"value": "nameless"}, {"entity": ["unhashable"]}])
MESSAGES = st.builds(
    user,
    st.sampled_from(["greet", "inform", "deny", "chitchat"]),
    st.sampled_from(["hi", "thai please"]),
    st.lists(
        st.builds(entity, st.sampled_from(["cuisine", "city"]), st.sampled_from(["thai", "x"]))
        | ODD_ENTITIES,
        max_size=2,
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    mappings=st.lists(st.lists(MAPPINGS, max_size=3), min_size=1, max_size=3),
    turns=st.lists(
        st.tuples(
            st.sampled_from([None, FORM, "other_form"]),
            st.sampled_from([None, "a", "b"]),
            MESSAGES,
        ),
        min_size=1,
        max_size=4,
    ),
)
async def test_extraction_selected_by_intent_is_extraction_over_every_mapping(
    mappings: list[list[SlotMapping]], turns: list[tuple[str | None, str | None, UserUttered]]
) -> None:
    """Mappings a message's intent excludes (and custom ones without an action) are left out
    before the message is read, and those of entities it does not have are passed over: the
    events are those of looking at every mapping, whatever the intent, form, requested slot
    and entities (also ones without a name, or not dicts), message after message."""
    slots = [slot(name, *ms) for name, ms in zip("abc", mappings, strict=False)]
    forms = {FORM: Form(FORM, required_slots=["a", "b"], ignored_intents=["chitchat"])}
    domain = extraction_domain(*slots, forms=forms)
    fill = Scripted("action_fill", [SlotSet("c", "filled")])
    selecting, everything = Bot(domain, {"action_fill": fill}), Bot(domain, {"action_fill": fill})
    reference = EveryMappingExtractor(everything.registry.find)
    for loop, requested, message in turns:
        for bot in (selecting, everything):
            loop_state = [ActiveLoop(loop), SlotSet("requested_slot", requested)]
            bot.tracker.update_all([listen(), *loop_state])
            bot.say(message)
        extracted = await selecting.run("action_extract_slots")
        expected = await reference.run(everything.ctx())
        assert [e.to_dict() | {"timestamp": 0} for e in extracted] == [
            e.to_dict() | {"timestamp": 0} for e in expected
        ]
        selecting.tracker.update_all(extracted)
        everything.tracker.update_all(expected)
