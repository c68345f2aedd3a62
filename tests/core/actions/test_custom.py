"""In-process actions: loading a bot's actions.py / actions/ and running them like rasa_sdk."""

from __future__ import annotations

import copy
import json
import pickle
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.core.actions import sdk
from chinwag.core.actions.base import ActionContext, ActionExecutionRejection
from chinwag.core.actions.custom import (
    SDK_MODULE_ALIASES,
    EventTexts,
    InProcessAction,
    UnreadEvents,
    isolated_module_name,
    lazy_tracker,
    load_actions_module,
)
from chinwag.core.actions.remote import ActionEndpoint, ActionServerError, RemoteAction
from chinwag.core.data.problems import BotDataError, Problems
from chinwag.core.events import ActionExecuted, Event, SlotSet, UnreadableEvent, UserUttered
from chinwag.core.stores.base import storable
from chinwag.core.tracker import Tracker
from tests.core.actions.conftest import ActionServer

MakeCtx = Callable[[Tracker], ActionContext]
Plain = Callable[[list[Event]], list[dict[str, Any]]]
SAMPLE = Path(__file__).with_name("sample_actions.py")
SAMPLE_NAMES = {
    "action_pick_colour",
    "action_greet_user",
    "action_reject",
    "action_crash",
    "validate_table_form",
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def importing_bot(tmp_path: Path) -> Path:
    """A bot whose actions.py imports the sample actions (rasa_sdk classes)."""
    write(tmp_path / "bot" / "actions.py", "from tests.core.actions.sample_actions import *\n")
    return tmp_path / "bot"


@pytest.fixture
def no_rasa_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import rasa_sdk`` fail, as where it is not installed (restored afterwards)."""
    for name in SDK_MODULE_ALIASES:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def own_sdk_bot(tmp_path: Path, no_rasa_sdk: None) -> Path:
    """The sample actions' source as a bot's actions.py, run on core.actions.sdk."""
    bot = tmp_path / "sdkbot"
    write(bot / "actions.py", SAMPLE.read_text())
    return bot


@pytest.fixture
async def endpoint(action_server: ActionServer) -> AsyncIterator[ActionEndpoint]:
    ep = ActionEndpoint(url=action_server.url, timeout=30)
    yield ep
    await ep.aclose()


# -- same events as the real action server -------------------------------------------------------


async def test_in_process_matches_action_server(
    importing_bot: Path,
    endpoint: ActionEndpoint,
    scenario: tuple[str, str],
    trackers: dict[str, Tracker],
    make_ctx: MakeCtx,
    as_plain: Plain,
) -> None:
    action_name, tracker_name = scenario
    actions = load_actions_module(importing_bot)
    local = actions[action_name]
    assert isinstance(local, InProcessAction)
    tracker = trackers[tracker_name]
    remote_events = await RemoteAction(action_name, endpoint).run(make_ctx(tracker))
    local_events = await local.run(make_ctx(tracker))
    assert remote_events  # every scenario produces events
    assert as_plain(local_events) == as_plain(remote_events)


async def test_own_sdk_matches_action_server(
    own_sdk_bot: Path,
    endpoint: ActionEndpoint,
    scenario: tuple[str, str],
    trackers: dict[str, Tracker],
    make_ctx: MakeCtx,
    as_plain: Plain,
) -> None:
    actions = load_actions_module(own_sdk_bot)
    assert set(actions) == SAMPLE_NAMES
    action_name, tracker_name = scenario
    local = actions[action_name]
    assert isinstance(local, InProcessAction)
    assert isinstance(local.impl, sdk.Action)  # really ours, not rasa_sdk's
    tracker = trackers[tracker_name]
    remote_events = await RemoteAction(action_name, endpoint).run(make_ctx(tracker))
    assert as_plain(await local.run(make_ctx(tracker))) == as_plain(remote_events)


async def test_form_validation_in_process(
    importing_bot: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx, as_plain: Plain
) -> None:
    action = load_actions_module(importing_bot)["validate_table_form"]
    nobody = as_plain(await action.run(make_ctx(trackers["nobody"])))
    assert nobody[0]["event"] == "bot"
    assert nobody[0]["text"] == "A party needs at least one person."
    assert nobody[0]["metadata"]["utter_action"] == "utter_wrong_party_size"
    assert [(e["name"], e["value"]) for e in nobody[1:]] == [("party_size", None)]


@pytest.mark.parametrize("bot_fixture", ["importing_bot", "own_sdk_bot"])
async def test_rejection_and_crash(
    bot_fixture: str,
    request: pytest.FixtureRequest,
    trackers: dict[str, Tracker],
    make_ctx: MakeCtx,
    caplog: pytest.LogCaptureFixture,
) -> None:
    actions = load_actions_module(request.getfixturevalue(bot_fixture))
    ctx = make_ctx(trackers["colour"])
    with pytest.raises(ActionExecutionRejection) as info:
        await actions["action_reject"].run(ctx)
    assert (info.value.action_name, info.value.message) == ("action_reject", "not in this state")
    with pytest.raises(ActionServerError, match="'action_crash' failed: RuntimeError: database"):
        await actions["action_crash"].run(ctx)
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


# -- loading -------------------------------------------------------------------------------------


def test_no_actions_file(tmp_path: Path) -> None:
    assert load_actions_module(tmp_path) == {}


def test_package_with_submodules_and_absolute_imports(tmp_path: Path) -> None:
    bot = tmp_path / "bot"
    write(bot / "actions" / "__init__.py", "")
    write(bot / "actions" / "helpers.py", "GREETING = 'hello'\n")
    write(
        bot / "actions" / "greet.py",
        """
        from actions.helpers import GREETING
        from .base import Base
        from chinwag.core.actions.sdk import SlotSet


        class ActionHello(Base):
            def name(self):
                return "action_hello"

            def run(self, dispatcher, tracker, domain):
                dispatcher.utter_message(text=GREETING)
                return [SlotSet("said", GREETING)]
        """,
    )
    write(
        bot / "actions" / "base.py",
        """
        from chinwag.core.actions.sdk import Action


        class Base(Action):
            '''no name(): an intermediate base class, not an action'''
        """,
    )
    write(bot / "actions" / "deep" / "__init__.py", "")
    write(
        bot / "actions" / "deep" / "more.py",
        """
        from rasa_sdk import Action


        class ActionDeep(Action):
            def name(self):
                return "action_deep"

            async def run(self, dispatcher, tracker, domain):
                return []
        """,
    )
    actions = load_actions_module(bot)
    assert set(actions) == {"action_hello", "action_deep"}
    private = isolated_module_name(bot.resolve())
    assert "actions" not in sys.modules
    assert f"{private}:actions.greet" in sys.modules
    assert f"{private}:actions.deep.more" in sys.modules
    assert str(bot.resolve()) not in sys.path


async def test_two_bots_do_not_clash(
    tmp_path: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    source = """
        from rasa_sdk import Action
        from rasa_sdk.events import SlotSet


        class ActionWho(Action):
            def name(self):
                return "action_who"

            def run(self, dispatcher, tracker, domain):
                return [SlotSet("colour", "{bot}")]
        """
    first = write(tmp_path / "one" / "actions.py", source.replace("{bot}", "one")).parent
    second = write(tmp_path / "two" / "actions.py", source.replace("{bot}", "two")).parent
    one, two = load_actions_module(first), load_actions_module(second)
    ctx = make_ctx(trackers["colour"])
    (event_one,) = await one["action_who"].run(ctx)
    (event_two,) = await two["action_who"].run(ctx)
    assert isinstance(event_one, SlotSet) and isinstance(event_two, SlotSet)
    assert (event_one.value, event_two.value) == ("one", "two")


def test_syntax_error_located(tmp_path: Path) -> None:
    write(
        tmp_path / "actions.py", "from rasa_sdk import Action\n\nclass Broken(Action)\n    pass\n"
    )
    problems = Problems()
    assert load_actions_module(tmp_path, problems) == {}
    (problem,) = problems.errors
    assert str(problem.location) == "actions.py:3"
    assert "SyntaxError" in problem.message


def test_exception_in_submodule_located_and_others_loaded(tmp_path: Path) -> None:
    write(tmp_path / "actions" / "__init__.py", "")
    write(
        tmp_path / "actions" / "bad.py",
        "import json\n\nSETTINGS = json.loads('{broken')\n",
    )
    write(
        tmp_path / "actions" / "good.py",
        """
        from rasa_sdk import Action


        class ActionGood(Action):
            def name(self):
                return "action_good"

            def run(self, dispatcher, tracker, domain):
                return []
        """,
    )
    problems = Problems()
    actions = load_actions_module(tmp_path, problems)
    assert set(actions) == {"action_good"}
    (problem,) = problems.errors
    assert str(problem.location) == "actions/bad.py:3"
    assert problem.message.startswith("cannot import the bot's actions: JSONDecodeError")
    with pytest.raises(BotDataError, match=r"actions/bad.py:3: error: cannot import"):
        load_actions_module(tmp_path)


def test_missing_package_located(tmp_path: Path) -> None:
    write(tmp_path / "actions.py", "import os\nimport not_a_real_package_xyz\n")
    problems = Problems()
    load_actions_module(tmp_path, problems)
    (problem,) = problems.errors
    assert str(problem.location) == "actions.py:2"
    assert "No module named 'not_a_real_package_xyz'" in problem.message


def test_bad_action_classes_reported(tmp_path: Path) -> None:
    write(
        tmp_path / "actions.py",
        """
        from rasa_sdk import Action


        class NoArgs(Action):
            def name(self):
                return "action_no_args"

            def run(self):
                return []


        class BadName(Action):
            def name(self):
                return 42

            def run(self, dispatcher, tracker, domain):
                return []


        class First(Action):
            def name(self):
                return "action_twice"

            def run(self, dispatcher, tracker, domain):
                return []


        class Second(First):
            pass
        """,
    )
    problems = Problems()
    actions = load_actions_module(tmp_path, problems)
    assert set(actions) == {"action_twice"}
    assert [(str(p.location), p.level) for p in problems] == [
        ("actions.py:5", "error"),
        ("actions.py:13", "error"),
        ("actions.py:29", "warning"),
    ]
    messages = [p.message for p in problems]
    assert "NoArgs.run must take (dispatcher, tracker, domain)" in messages[0]
    assert "BadName.name() must return text, got 42" in messages[1]
    assert "defined by both First and Second" in messages[2]


def test_rasa_sdk_alias_when_not_installed(tmp_path: Path, no_rasa_sdk: None) -> None:
    write(
        tmp_path / "actions.py",
        """
        from rasa_sdk import Action, Tracker
        from rasa_sdk.events import SlotSet
        from rasa_sdk.executor import CollectingDispatcher
        from rasa_sdk.forms import FormValidationAction
        from rasa_sdk.types import DomainDict


        class ActionA(Action):
            def name(self):
                return "action_a"

            def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
                return [SlotSet("x", 1)]


        class ValidateF(FormValidationAction):
            def name(self):
                return "validate_f"
        """,
    )
    actions = load_actions_module(tmp_path)
    assert set(actions) == {"action_a", "validate_f"}
    assert sys.modules["rasa_sdk.forms"] is sdk


# -- what actions return -------------------------------------------------------------------------


async def test_invalid_events_dropped_and_non_json_rejected(
    tmp_path: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    write(
        tmp_path / "actions.py",
        """
        import datetime
        from rasa_sdk import Action


        class ActionSloppy(Action):
            def name(self):
                return "action_sloppy"

            def run(self, dispatcher, tracker, domain):
                # rasa_sdk drops events that are not dicts with an `event` key
                return [{"name": "x"}, "slot", {"event": "slot", "name": "colour", "value": "x"}]


        class ActionNone(Action):
            def name(self):
                return "action_none"

            def run(self, dispatcher, tracker, domain):
                dispatcher.utter_message(text="hi")


        class ActionDate(Action):
            def name(self):
                return "action_date"

            def run(self, dispatcher, tracker, domain):
                return [{"event": "slot", "name": "colour", "value": datetime.date(2024, 1, 1)}]
        """,
    )
    actions = load_actions_module(tmp_path)
    ctx = make_ctx(trackers["colour"])
    (event,) = await actions["action_sloppy"].run(ctx)
    assert isinstance(event, SlotSet) and event.value == "x"
    assert [e.to_dict()["text"] for e in await actions["action_none"].run(ctx)] == ["hi"]
    with pytest.raises(ActionServerError, match="'action_date' returned data that is not JSON"):
        await actions["action_date"].run(ctx)


async def test_action_cannot_change_our_tracker(
    tmp_path: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    write(
        tmp_path / "actions.py",
        """
        from rasa_sdk import Action


        class ActionMeddle(Action):
            def name(self):
                return "action_meddle"

            def run(self, dispatcher, tracker, domain):
                tracker.slots["colour"] = "hacked"
                tracker.events.clear()
                domain["slots"].clear()
                return []
        """,
    )
    tracker = trackers["colour"]
    ctx = make_ctx(tracker)
    before = tracker.current_state("all")
    await load_actions_module(tmp_path)["action_meddle"].run(ctx)
    assert tracker.current_state("all") == before
    assert "colour" in ctx.domain.as_dict()["slots"]


async def test_stored_events_reach_actions_as_stored_and_edits_stay_in_the_call(
    tmp_path: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    """An action's tracker takes a stored event's JSON from the store's check (not serialized
    again): it holds the same values, and an action editing its event dicts in place changes
    neither the next call's tracker nor what the store writes."""
    write(
        tmp_path / "actions.py",
        """
        import copy

        from rasa_sdk import Action

        SEEN = []


        class ActionScribble(Action):
            def name(self):
                return "action_scribble"

            def run(self, dispatcher, tracker, domain):
                SEEN.append(copy.deepcopy(tracker.events))
                for event in tracker.events:
                    event["event"] = "scribbled"
                    event.setdefault("metadata", {})["scribbled"] = True
                tracker.events.append({"event": "restart"})
                return []
        """,
    )
    tracker = trackers["colour"].copy()
    tracker.update(SlotSet("colour", ["red", "green"], metadata={"by": "test"}))
    tracker.update(ActionExecuted("action_scribble"))
    texts = [storable(tracker.sender_id, seq, e).text for seq, e in enumerate(tracker.events)]
    action = load_actions_module(tmp_path)["action_scribble"]
    await action.run(make_ctx(tracker))
    await action.run(make_ctx(tracker))
    module = sys.modules[f"{isolated_module_name(tmp_path.resolve())}:actions"]
    expected = [json.loads(json.dumps(e.to_dict())) for e in tracker.events]
    seen = module.SEEN
    assert seen == [expected, expected]
    again = [storable(tracker.sender_id, seq, e).text for seq, e in enumerate(tracker.events)]
    assert again == texts
    assert [json.loads(t) for t in texts] == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=12), min_size=1, max_size=6))
def test_event_texts_are_a_fresh_serialization(calls: list[list[int]]) -> None:
    """Whatever the conversation's events do between calls (grow, lose their tail, get other
    objects in the middle), the cached texts give what serializing every event gives."""
    pool: list[Event] = [SlotSet(f"s{i}", [i], timestamp=float(i)) for i in range(5)]
    pool += [ActionExecuted(f"a{i}", timestamp=float(i)) for i in range(4)]
    pool.append(UnreadableEvent(seq=3, reason="damaged", timestamp=0.0))  # left out
    texts = EventTexts()
    for picks in calls:
        events = [pool[i] for i in picks]
        unread = texts.unread("c", events)
        readable = [e for e in events if not isinstance(e, UnreadableEvent)]
        assert unread.parsed() == [json.loads(json.dumps(e.to_dict())) for e in readable]


# events a lazy tracker starts with: slots of every kind of value, others, an unreadable one
_POOL: list[Event] = [
    SlotSet("cuisine", "thai", timestamp=1.5),
    SlotSet("people", [2, {"kids": 1}], timestamp=2.0),
    SlotSet("cuisine", None, timestamp=3.0),
    SlotSet("table", {"id": 7, "tags": ["window"]}, timestamp=4.0),
    ActionExecuted("validate_table_form", timestamp=5.0),
    UserUttered("a table for two", {"intent": {"name": "book", "confidence": 0.9}}),
    UnreadableEvent(seq=3, reason="damaged", timestamp=0.0),
]
_ADDED = st.lists(
    st.one_of(
        st.builds(
            lambda name, value: {"event": "slot", "name": name, "value": value},
            st.sampled_from(["cuisine", "people", "phone"]),
            st.one_of(st.none(), st.integers(0, 9), st.lists(st.integers(0, 3), max_size=2)),
        ),
        st.just({"event": "action", "name": "action_listen"}),
    ),
    max_size=3,
)
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _ADDED),
        st.sampled_from([("validate",), ("read",), ("set",), ("copy",), ("pickle",), ("eq",)]),
    ),
    max_size=8,
)


@pytest.mark.parametrize("sdk_tracker", ["rasa_sdk", "ours"])
@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.integers(0, len(_POOL) - 1), max_size=8), operations=_OPERATIONS)
def test_a_lazy_tracker_acts_as_the_sdks_tracker(
    sdk_tracker: str, picks: list[int], operations: list[tuple[Any, ...]]
) -> None:
    """An action's tracker whose events are parsed when first read gives, whatever the action
    does with it, what the SDK's tracker built from the whole JSON gives: the trailing slots
    to validate, the slots and events after ``add_slots``, the events list itself (changed in
    place, or replaced), copies, pickles and comparisons."""
    from rasa_sdk.interfaces import Tracker as RasaSdkTracker

    cls = RasaSdkTracker if sdk_tracker == "rasa_sdk" else sdk.Tracker
    events = [_POOL[i] for i in picks]
    readable = [e for e in events if not isinstance(e, UnreadableEvent)]
    state = {"sender_id": "c", "slots": {"cuisine": "thai"}, "latest_message": {}, "events": []}
    eager = cls.from_dict({**copy.deepcopy(state), "events": [e.to_dict() for e in readable]})
    eager.events = json.loads(json.dumps(eager.events))
    lazy = lazy_tracker(cls.from_dict(copy.deepcopy(state)), EventTexts().unread("c", events))
    assert isinstance(lazy, cls)
    for operation in operations:
        match operation:
            case ("add", added):
                eager.add_slots(copy.deepcopy(added))
                lazy.add_slots(copy.deepcopy(added))
                assert lazy.slots == eager.slots
            case ("validate",):
                assert lazy.slots_to_validate() == eager.slots_to_validate()
            case ("read",):
                assert lazy.events == eager.events
                assert lazy.events is lazy.events
                for tracker in (eager, lazy):
                    tracker.events.append({"event": "bot", "text": "read"})
            case ("set",):
                eager.events = [{"event": "slot", "name": "phone", "value": "1"}]
                lazy.events = [{"event": "slot", "name": "phone", "value": "1"}]
            case ("copy" | "pickle",):
                twin = (
                    copy.deepcopy(lazy)
                    if operation[0] == "copy"
                    else pickle.loads(pickle.dumps(lazy))
                )
                assert type(twin) is cls
                assert (twin.events, twin.slots) == (eager.events, eager.slots)
            case ("eq",):
                assert lazy == eager
                assert eager == lazy
    assert (lazy.slots, lazy.current_state()) == (eager.slots, eager.current_state())


def test_an_sdk_tracker_without_a_plain_events_attribute_gets_them_parsed() -> None:
    """A tracker class keeping its events in slots (another SDK version) is not made lazy: it
    gets every event at once."""

    class Slotted:
        __slots__ = ("events", "sender_id")

        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []
            self.sender_id = "c"

    events: list[Event] = [ActionExecuted("a", timestamp=1.0), SlotSet("people", 2)]
    tracker = lazy_tracker(Slotted(), EventTexts().unread("c", events))
    assert type(tracker) is Slotted
    assert tracker.events == [json.loads(json.dumps(e.to_dict())) for e in events]


def test_a_trailing_slots_value_is_the_one_in_the_events() -> None:
    """A value ``slots_to_validate`` gave before the events were parsed is the very object
    in them afterwards (changing one changes the other, as in the SDK's tracker)."""
    events: list[Event] = [ActionExecuted("a"), SlotSet("people", [2]), SlotSet("kids", [0])]
    tracker = lazy_tracker(
        sdk.Tracker.from_dict({"sender_id": "c", "events": []}),
        EventTexts().unread("c", events),
    )
    tracker.slots_to_validate()["people"].append(3)
    assert tracker.events[1] == {**events[1].to_dict(), "value": [2, 3]}


async def test_a_form_validation_parses_only_the_trailing_slots(
    tmp_path: Path, trackers: dict[str, Tracker], make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rasa_sdk's FormValidationAction reads only the slots it validates, so a form turn does
    not parse the conversation's other events (what spares every form turn that cost); an
    action that reads them gets them all."""
    write(
        tmp_path / "actions.py",
        """
        from rasa_sdk import Action
        from rasa_sdk.events import SlotSet

        from tests.core.actions.sample_actions import ValidateTableForm


        class ActionCount(Action):
            def name(self):
                return "action_count"

            def run(self, dispatcher, tracker, domain):
                return [SlotSet("count", len(tracker.events))]
        """,
    )
    parsed: list[UnreadEvents] = []
    original = UnreadEvents.parsed
    monkeypatch.setattr(UnreadEvents, "parsed", lambda self: parsed.append(self) or original(self))
    actions = load_actions_module(tmp_path)
    tracker = trackers["nobody"]
    assert len(tracker.events) > 3
    await actions["validate_table_form"].run(make_ctx(tracker))
    assert parsed == []
    counted = await actions["action_count"].run(make_ctx(tracker))
    assert len(parsed) == 1
    assert counted == [SlotSet("count", len(tracker.events), timestamp=counted[0].timestamp)]
