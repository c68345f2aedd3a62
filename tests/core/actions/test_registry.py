"""The registry resolves names: custom > default > response > loop, with clear errors."""

from __future__ import annotations

import dataclasses
import random

import pytest

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import Action, ActionContext
from chinwag.core.actions.default import ActionDefaultFallback, ActionListen, TwoStageFallbackAction
from chinwag.core.actions.registry import ActionRegistry, UnknownActionError
from chinwag.core.actions.utter import EndToEndAction, RetrievalAction, UtterAction
from chinwag.core.domain import ActionDef, Domain, Form
from chinwag.core.events import ActionExecuted, BotUttered, Event, UserUttered
from chinwag.core.tracker import Tracker


class Named(Action):
    def __init__(self, name: str, text: str = "custom") -> None:
        self._name, self.text = name, text

    def name(self) -> str:
        return self._name

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [BotUttered(text=self.text)]


def domain() -> Domain:
    return Domain(
        responses={
            "utter_greet": [{"text": "Hi"}],
            "utter_default": [{"text": "Sorry"}],
            "utter_faq/ask_name": [{"text": "chinwag"}],
            "restaurant_form": [{"text": "a response named like the form"}],
        },
        actions={
            "action_fetch": ActionDef("action_fetch"),
            "utter_declared": ActionDef("utter_declared"),
        },
        forms={"restaurant_form": Form("restaurant_form")},
        action_texts=["Sure thing!"],
    )


def test_defaults_responses_retrieval_and_end_to_end_texts() -> None:
    registry = ActionRegistry(domain())
    assert isinstance(registry.get("action_listen"), ActionListen)
    assert isinstance(registry.get("action_default_fallback"), ActionDefaultFallback)
    assert isinstance(registry.get("action_two_stage_fallback"), TwoStageFallbackAction)
    greet = registry.get("utter_greet")
    assert type(greet) is UtterAction and greet.name() == "utter_greet"
    faq = registry.get("utter_faq")
    assert isinstance(faq, RetrievalAction) and faq.name() == "utter_faq"
    e2e = registry.get("Sure thing!")
    assert isinstance(e2e, EndToEndAction) and e2e.name() == "Sure thing!"
    # declared under `actions` without a response: runs (and logs the missing response)
    assert type(registry.get("utter_declared")) is UtterAction


def test_custom_actions_override_defaults_responses_and_loops() -> None:
    custom = {name: Named(name) for name in ("action_default_fallback", "utter_greet", "action_x")}
    form = Named("restaurant_form", "form")
    registry = ActionRegistry(domain(), custom, loops={"restaurant_form": form})
    assert registry.get("action_default_fallback") is custom["action_default_fallback"]
    assert registry.get("utter_greet") is custom["utter_greet"]
    assert registry.get("action_x") is custom["action_x"]
    # a response outranks a loop of the same name; the loop is found by its own name otherwise
    assert type(registry.get("restaurant_form")) is UtterAction
    loops_only = ActionRegistry(Domain(forms={"f": Form("f")}), loops={"f": form})
    assert loops_only.get("f") is form
    own_form = Named("f")
    assert ActionRegistry(Domain(), {"f": own_form}, loops={"f": form}).get("f") is own_form


async def test_default_actions_delegate_through_the_registry() -> None:
    own_fallback = Named("action_default_fallback", "handing over to a human")
    d = domain()
    registry = ActionRegistry(d, {"action_default_fallback": own_fallback})
    tracker = Tracker("u", d, [ActionExecuted("action_listen")])
    for text in ("hm", "hm?"):
        tracker.update(UserUttered(text=text, intent={"name": "nlu_fallback", "confidence": 0.3}))
        ctx = ActionContext(tracker, d, ResponseGenerator(d, random.Random(0)))
        events = await registry.get("action_two_stage_fallback").run(ctx)
        tracker.update(ActionExecuted("action_two_stage_fallback"))
        tracker.update_all(events)
        tracker.update(ActionExecuted("action_listen"))
    assert isinstance(events[-1], BotUttered) and events[-1].text == "handing over to a human"


def test_intent_prompts_reach_the_affirmation_action() -> None:
    registry = ActionRegistry(domain(), intent_prompts={"greet": "say hello"})
    action = registry.get("action_default_ask_affirmation")
    assert getattr(action, "intent_prompts", None) == {"greet": "say hello"}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("action_fetch", "declared under `actions` in the domain but neither"),
        ("restaurant_form_x", "not a default action, a response, a form"),
        ("utter_nothing", "the domain has no response of that name"),
        ("...", "not a default action"),
    ],
)
def test_unknown_names_raise_a_clear_error(name: str, reason: str) -> None:
    registry = ActionRegistry(domain())
    with pytest.raises(UnknownActionError) as info:
        registry.get(name)
    assert str(info.value).startswith(f"no action named '{name}': ")
    assert reason in str(info.value)
    assert info.value.name == name
    assert not isinstance(info.value, KeyError)
    assert registry.find(name) is None


def test_a_form_without_its_loop_action_is_reported_as_such() -> None:
    registry = ActionRegistry(Domain(forms={"f": Form("f")}))
    with pytest.raises(UnknownActionError, match="it is a form"):
        registry.get("f")


def test_a_remembered_answer_is_the_first_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each name is resolved once: asking again gives the same action (or None), also past
    the bound on remembered names, where it starts over."""
    monkeypatch.setattr("chinwag.core.actions.registry.MAX_FOUND_NAMES", 3)
    registry = ActionRegistry(domain(), loops={"restaurant_form": Named("restaurant_form")})
    names = ["utter_greet", "utter_faq", "Sure thing!", "action_nope", "restaurant_form"]
    first = [registry.find(name) for name in names]
    assert first[3] is None and all(action is not None for i, action in enumerate(first) if i != 3)
    fresh = ActionRegistry(domain(), loops={"restaurant_form": Named("restaurant_form")})
    assert [type(fresh.find(n)) for n in names] == [type(a) for a in first]
    # the bound was passed at the fourth name: the last two are remembered, the rest found again
    assert all(registry.find(n) is a for n, a in zip(names[3:], first[3:], strict=True))
    again = [registry.find(name) for name in names[:3]]
    assert [(type(a), a and a.name()) for a in again] == [
        (type(a), a and a.name()) for a in first[:3]
    ]


def test_a_context_for_another_tracker_is_the_replaced_one() -> None:
    d = domain()
    ctx = ActionContext(Tracker("a", d), d, ResponseGenerator(d), "slack", {"metadata": {"k": 1}})
    other = Tracker("b", d)
    assert vars(ctx.with_tracker(other)) == vars(dataclasses.replace(ctx, tracker=other))
