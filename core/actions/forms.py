"""Forms: Rasa 3.x's ``FormAction``, plus chinwag's optional form "plans".

Ported from Rasa 3.6 (rasa/core/actions/forms.py, rasa/core/actions/loops.py) and matched to
what rasa_sdk's ``FormValidationAction`` (rasa_sdk/forms.py) sends back:

* **Activation**: ``ActiveLoop(form)``; ``action_extract_slots`` runs once more with the form
  active, so ``from_trigger_intent`` mappings fill from the message that triggered it; required
  slots that already hold a value go through ``validate_<form>`` (when the bot has that action).
* **Each answer** (the form runs right after ``action_listen`` and was not interrupted): the
  candidates are the ``SlotSet`` events of required slots (and of the requested slot, for
  dynamic forms) that ``action_extract_slots`` logged since the latest user message.
  ``validate_<form>`` sees them as the trailing slot events of a temporary tracker; a slot it
  does not mention is valid, ``SlotSet(slot, None)`` rejects a value (the slot is asked again).
  When a slot was requested and nothing at all was extracted or validated, the form raises
  :class:`ActionExecutionRejection`, so rules and stories handle the unhappy path.
* **After an interruption** (the form runs after another action, or ``LoopInterrupted``) the
  form validates nothing and asks its requested slot again.
* **Next slot**: a ``SlotSet(requested_slot, x)`` returned by validation wins (rasa_sdk's
  overridden ``required_slots``; the last one counts); otherwise the first empty required
  slot. The question is the first of ``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
  ``action_ask_<slot>``, ``utter_ask_<slot>`` that exists. No empty slot left (or
  validation set ``requested_slot`` to None, or returned ``ActiveLoop(None)``): the form
  ends with ``SlotSet(requested_slot, None)`` and ``ActiveLoop(None)``.
* ``ignored_intents`` are honoured by ``action_extract_slots`` (as ``not_intent``).

Plans
-----
Optional keys under a form in the domain (``Form.plans``); a form without them behaves exactly
as in Rasa. :func:`check_plans` reports malformed plans and unknown names.

.. code-block:: yaml

    forms:
      booking_form:
        required_slots: [city, date, seats, smoker]
        priority: {date: 1, city: 2}       # ask empty slots by ascending priority; slots
                                           # without one follow, in required_slots order
        max_turns: 6                       # after 6 user turns in the form without finishing,
        failure_action: utter_give_up      # ... give up and run this action
        exit: {stop: utter_stopped}        # this intent leaves the form and runs the action
        chitchat: {bot_challenge: utter_iamabot}  # answer, then ask the same slot again
        clarify: {seats: utter_explain_seats}     # on the clarify intent, explain the slot
        clarify_intent: details            # the intent that asks for a clarification (default)
        rules:                             # slot -> value -> keep / lose slots
          smoker: {true: {keep: [smoking_area]}, false: {lose: [ashtray]}}

* ``exit``, ``chitchat`` and ``clarify`` apply when the user has just answered the form; they
  come before validation and before the form could reject.
* A plan that ends the form (``exit``, ``max_turns``) returns ``SlotSet(requested_slot,
  None)``, ``FollowupAction(action)`` and ``ActiveLoop(None)``. The follow-up action runs right
  after the form, before any policy is asked, so the state "the form just ended" (previous
  action = the form, no active loop), which the usual submit rule answers, is never seen by
  the policies: a failed or abandoned form is not submitted. The ``FollowupAction`` event
  carries ``metadata = {"form": <form>, "plan": "exit" | "max_turns"}`` so the message loop
  can tell it apart (and listen once the action ran).
* ``chitchat`` and ``clarify`` answer inside the form's own run (the answering action's events
  come first, then the question), so the form stays active and no unhappy-path story is needed.
* ``max_turns`` counts the user messages since the form was activated; it is checked whenever
  the form would ask another question, and then replaces the question (and a rejection).
* ``rules``: while ``slot`` holds ``value`` (compared as text, case-insensitively), the ``lose``
  slots are not required and the ``keep`` slots are required even if ``required_slots`` lacks
  them (added at the end).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from chinwag.core.actions.base import Action, ActionContext, ActionExecutionRejection
from chinwag.core.actions.default import ACTION_EXTRACT_SLOTS, Lookup, LoopAction
from chinwag.core.actions.utter import utter
from chinwag.core.data.problems import Problems
from chinwag.core.domain import REQUESTED_SLOT, Domain, Form
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    FollowupAction,
    Restarted,
    SlotSet,
    UserUttered,
)
from chinwag.core.tracker import ACTION_LISTEN_NAME, Tracker

logger = logging.getLogger(__name__)

DEFAULT_CLARIFY_INTENT = "details"
# FollowupAction metadata naming the plan that ended a form
PLAN_METADATA_KEY = "plan"


# -- plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRule:
    """Slots a value makes required (``keep``) or not required (``lose``)."""

    keep: tuple[str, ...] = ()
    lose: tuple[str, ...] = ()


@dataclass
class Plans:
    """A form's plans, read from ``Form.plans`` (see the module doc)."""

    priority: dict[str, float] = field(default_factory=dict)
    max_turns: int | None = None
    failure_action: str | None = None
    exit: dict[str, str] = field(default_factory=dict)
    chitchat: dict[str, str] = field(default_factory=dict)
    clarify: dict[str, str] = field(default_factory=dict)
    clarify_intent: str = DEFAULT_CLARIFY_INTENT
    # slot -> [(value, rule)]
    rules: dict[str, list[tuple[Any, SlotRule]]] = field(default_factory=dict)


def read_plans(form: Form, problems: Problems) -> Plans:
    """The form's plans; malformed parts are reported into ``problems`` and left out."""
    plans = Plans()
    raw = form.plans
    where = form.location

    def error(key: str, expected: str, value: Any) -> None:
        problems.error(
            f"form '{form.name}': `{key}` must be {expected}, found {_describe(value)}", where
        )

    for key, value in raw.items():
        if key == "priority":
            if _is_map_of(value, lambda v: isinstance(v, int | float) and not isinstance(v, bool)):
                plans.priority = {str(k): float(v) for k, v in value.items()}
            else:
                error(key, "a mapping of slot names to numbers", value)
        elif key == "max_turns":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                plans.max_turns = value
            else:
                error(key, "a whole number above 0", value)
        elif key in ("failure_action", "clarify_intent"):
            if isinstance(value, str) and value:
                setattr(plans, key, value)
            else:
                error(key, "a name", value)
        elif key in ("exit", "chitchat", "clarify"):
            if _is_map_of(value, lambda v: isinstance(v, str) and bool(v)):
                setattr(plans, key, {str(k): v for k, v in value.items()})
            else:
                expected = (
                    "slot names to response names" if key == "clarify" else "intents to actions"
                )
                error(key, f"a mapping of {expected}", value)
        else:
            plans.rules = _read_rules(form, value, problems)
    if plans.max_turns is not None and plans.failure_action is None:
        problems.error(
            f"form '{form.name}': `max_turns` needs a `failure_action` to run when it is reached",
            where,
        )
        plans.max_turns = None
    elif plans.failure_action is not None and plans.max_turns is None:
        problems.warning(
            f"form '{form.name}': `failure_action` does nothing without `max_turns`", where
        )
    return plans


def _read_rules(
    form: Form, value: Any, problems: Problems
) -> dict[str, list[tuple[Any, SlotRule]]]:
    expected = "a mapping of slot -> value -> {keep: [slots], lose: [slots]}"
    if not isinstance(value, Mapping):
        problems.error(
            f"form '{form.name}': `rules` must be {expected}, found {_describe(value)}",
            form.location,
        )
        return {}
    rules: dict[str, list[tuple[Any, SlotRule]]] = {}
    for slot, by_value in value.items():
        if not isinstance(by_value, Mapping):
            problems.error(
                f"form '{form.name}': `rules.{slot}` must map slot values to keep/lose lists, "
                f"found {_describe(by_value)}",
                form.location,
            )
            continue
        for slot_value, rule in by_value.items():
            where = f"`rules.{slot}.{slot_value}`"
            if not isinstance(rule, Mapping) or not rule or set(rule) - {"keep", "lose"}:
                problems.error(
                    f"form '{form.name}': {where} must be a mapping with `keep` and/or `lose`, "
                    f"found {_describe(rule)}",
                    form.location,
                )
                continue
            lists = {}
            for part in ("keep", "lose"):
                names = rule.get(part, [])
                if isinstance(names, str):
                    names = [names]
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    problems.error(
                        f"form '{form.name}': {where}.{part} must be a list of slot names, "
                        f"found {_describe(names)}",
                        form.location,
                    )
                    names = []
                lists[part] = tuple(names)
            rules.setdefault(str(slot), []).append((slot_value, SlotRule(**lists)))
    return rules


def check_plans(domain: Domain, problems: Problems) -> None:
    """Report every form's malformed plans and the names in them the domain lacks."""
    for form in domain.forms.values():
        plans = read_plans(form, problems)

        def missing(what: str, name: str, where: str, form: Form = form) -> None:
            problems.error(
                f"form '{form.name}': {where} names {what} '{name}', which the domain does "
                "not declare",
                form.location,
            )

        for slot in plans.priority:
            if slot not in domain.slots:
                missing("the slot", slot, "`priority`")
        if plans.failure_action and not domain.is_known_action(plans.failure_action):
            missing("the action", plans.failure_action, "`failure_action`")
        for key in ("exit", "chitchat"):
            for intent, action in getattr(plans, key).items():
                if intent not in domain.intent_names:
                    missing("the intent", intent, f"`{key}`")
                if not domain.is_known_action(action):
                    missing("the action", action, f"`{key}.{intent}`")
        for slot, response in plans.clarify.items():
            if slot not in domain.slots:
                missing("the slot", slot, "`clarify`")
            if response not in domain.responses:
                missing("the response", response, f"`clarify.{slot}`")
        if plans.clarify and plans.clarify_intent not in domain.intent_names:
            missing("the intent", plans.clarify_intent, "`clarify_intent`")
        for slot, rules in plans.rules.items():
            if slot not in domain.slots:
                missing("the slot", slot, "`rules`")
            for value, rule in rules:
                for name in (*rule.keep, *rule.lose):
                    if name not in domain.slots:
                        missing("the slot", name, f"`rules.{slot}.{value}`")


def _is_map_of(value: Any, check: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(check(v) for v in value.values())


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _same_value(slot_value: Any, rule_value: Any) -> bool:
    return slot_value == rule_value or str(slot_value).lower() == str(rule_value).lower()


# -- the form -----------------------------------------------------------------------------------


class FormAction(LoopAction):
    """A form of the domain, run as Rasa runs it, with its plans (see the module doc).

    ``lookup`` finds the actions the form runs: ``action_extract_slots``, ``validate_<form>``,
    the questions and the plans' answers (normally the registry's ``find``).
    """

    def __init__(self, form_name: str, lookup: Lookup) -> None:
        self._form_name = form_name
        self._lookup = lookup
        # the plans, read once per domain (a loaded domain does not change)
        self._plans: tuple[Domain, Plans] | None = None

    def name(self) -> str:
        return self._form_name

    # -- what the form needs ----------------------------------------------------------------

    def form(self, domain: Domain) -> Form:
        return domain.forms.get(self._form_name) or Form(self._form_name)

    def plans(self, domain: Domain) -> Plans:
        """The form's plans; the malformed parts (see :func:`check_plans`) are ignored."""
        if self._plans is None or self._plans[0] is not domain:
            self._plans = (domain, read_plans(self.form(domain), Problems()))
        return self._plans[1]

    def required_slots(self, slots: Mapping[str, Any], domain: Domain) -> list[str]:
        """The domain's required slots, changed by the plans' keep/lose rules for ``slots``."""
        required = list(self.form(domain).required_slots)
        for slot, rules in self.plans(domain).rules.items():
            for value, rule in rules:
                if slots.get(slot) is not None and _same_value(slots.get(slot), value):
                    required = [s for s in required if s not in rule.lose]
                    required += [s for s in rule.keep if s not in required]
        return required

    def get_slot_to_fill(self, tracker: Tracker) -> str | None:
        """The requested slot, if it is this form's (another form may have left one)."""
        if tracker.active_loop_name != self.name():
            return None
        value = tracker.get_slot(REQUESTED_SLOT)
        return value if isinstance(value, str) else None

    # -- LoopAction ---------------------------------------------------------------------------

    async def activate(self, ctx: ActionContext) -> list[Event]:
        """Extract with the form active (trigger-intent mappings), validate pre-filled slots."""
        activating = _with_events(ctx.tracker, [ActiveLoop(self.name())])
        events: list[Event] = []
        extractor = self._lookup(ACTION_EXTRACT_SLOTS)
        if extractor is not None:
            events += await extractor.run(ctx.with_tracker(activating))
        activating.update_all(events)
        prefilled = {
            slot: activating.get_slot(slot)
            for slot in self.required_slots(activating.slots, ctx.domain)
            if activating.get_slot(slot) is not None
        }
        if not prefilled or self._validator() is None:
            return events
        return events + await self.validate_slots(prefilled, ctx)

    async def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        tracker = ctx.tracker
        plans = self.plans(ctx.domain)
        activating = tracker.active_loop_name != self.name()
        answered = not activating and (
            tracker.latest_action_name == ACTION_LISTEN_NAME
            and not tracker.is_active_loop_interrupted
        )
        intent = tracker.latest_message.intent_name or ""
        requested = self.get_slot_to_fill(tracker)
        events: list[Event] = []
        if answered and intent in plans.exit:
            return self._leave(plans.exit[intent], "exit")
        if answered and intent in plans.chitchat:
            events += await self._run(plans.chitchat[intent], ctx)
            answered = False
        elif answered and intent == plans.clarify_intent and requested in plans.clarify:
            events += await utter(ctx, plans.clarify[requested])
            answered = False

        over_limit = (
            not activating
            and plans.max_turns is not None
            and _turns_in(tracker, self.name()) >= plans.max_turns
        )
        if activating or answered:
            try:
                events += await self.validate(ctx)
            except ActionExecutionRejection:
                if not over_limit:
                    raise
        else:
            # no answer to check: only let a dynamic form say which slot comes next
            events += await self.validate_slots({}, ctx)
        if _rejected_manually(events):
            return events
        slot, asking = self._slot_to_request(ctx, [*events_so_far, *events])
        if slot is None:
            return [*events, SlotSet(REQUESTED_SLOT, None)]
        if over_limit and plans.failure_action:
            return [*events, *self._leave(plans.failure_action, "max_turns")]
        if _requested_by(events) != slot:
            events.append(SlotSet(REQUESTED_SLOT, slot))
            if asking is not None:
                asking.update(events[-1])
        if asking is None:
            asking = _with_events(tracker, [*events_so_far, *events])
        return events + await self._ask(ctx, slot, asking)

    async def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool:
        """Rasa's rule: ``requested_slot`` (last set) is None or the last loop event ends it."""
        if _rejected_manually(events_so_far):
            return False
        last_requested = next(
            (
                e
                for e in reversed(events_so_far)
                if isinstance(e, SlotSet) and e.key == REQUESTED_SLOT
            ),
            None,
        )
        last_loop = next((e for e in reversed(events_so_far) if isinstance(e, ActiveLoop)), None)
        return (last_requested is not None and last_requested.value is None) or (
            last_loop is not None and last_loop.name is None
        )

    # -- validation ---------------------------------------------------------------------------

    async def validate(self, ctx: ActionContext) -> list[Event]:
        """Validate what was extracted; reject when the requested slot got nothing at all."""
        events = await self.validate_slots(self._slot_candidates(ctx), ctx)
        validated = any(isinstance(e, SlotSet) and e.key != REQUESTED_SLOT for e in events)
        requested = self.get_slot_to_fill(ctx.tracker)
        if requested and not validated and not _rejected_manually(events):
            raise ActionExecutionRejection(
                self.name(), f"Failed to extract slot {requested} with action {self.name()}"
            )
        return events

    def _slot_candidates(self, ctx: ActionContext) -> dict[str, Any]:
        """Required slots set since the latest user message (by ``action_extract_slots``)."""
        tracker = ctx.tracker
        if tracker.active_loop_name is None:
            return {}  # pre-filled slots were validated on activation
        required = set(self.required_slots(tracker.slots, ctx.domain))
        requested = self.get_slot_to_fill(tracker)
        if requested:
            required.add(requested)  # a dynamic form's slot
        since_user: list[SlotSet] = []
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, SlotSet) and event.key in required:
                since_user.insert(0, event)
        return {event.key: event.value for event in since_user}

    async def validate_slots(
        self, candidates: Mapping[str, Any], ctx: ActionContext
    ) -> list[Event]:
        """``validate_<form>``'s verdict on ``candidates``; without it every value is valid."""
        events: list[Event] = [SlotSet(name, value) for name, value in candidates.items()]
        validator = self._validator()
        if validator is None:
            return events
        temporary = _with_events(
            ctx.tracker,
            [
                SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(ctx.tracker)),
                ActionExecuted(self.name()),
                *events,
            ],
            after_restart=True,
        )
        verdict = await validator.run(ctx.with_tracker(temporary))
        decided = {e.key for e in verdict if isinstance(e, SlotSet)}
        return verdict + [e for e in events if isinstance(e, SlotSet) and e.key not in decided]

    def _validator(self) -> Action | None:
        return self._lookup(f"validate_{self.name()}")

    # -- asking -------------------------------------------------------------------------------

    def _slot_to_request(
        self, ctx: ActionContext, events_so_far: list[Event]
    ) -> tuple[str | None, Tracker | None]:
        """The slot validation asked for, else the first empty required slot (by priority).

        None when there is nothing left to ask (validation may decide that, too). With it the
        tracker after ``events_so_far`` when one was made to find the slot (the question is
        asked with that tracker, plus the ``requested_slot`` event if one is added), else None.
        """
        chosen = next(
            (
                e
                for e in reversed(events_so_far)
                if isinstance(e, SlotSet) and e.key == REQUESTED_SLOT
            ),
            None,
        )
        if chosen is not None:
            return (chosen.value if isinstance(chosen.value, str) else None), None
        tracker = _with_events(ctx.tracker, events_so_far)
        priority = self.plans(ctx.domain).priority
        required = self.required_slots(tracker.slots, ctx.domain)
        ordered = sorted(
            enumerate(required), key=lambda item: (priority.get(item[1], math.inf), item[0])
        )
        return next((slot for _, slot in ordered if tracker.get_slot(slot) is None), None), tracker

    def question_name(self, slot: str) -> str | None:
        """The first question action or response that exists for ``slot``."""
        form = self.name()
        for name in (
            f"action_ask_{form}_{slot}",
            f"utter_ask_{form}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        ):
            if self._lookup(name) is not None:
                return name
        return None

    async def _ask(self, ctx: ActionContext, slot: str, tracker: Tracker) -> list[Event]:
        name = self.question_name(slot)
        if name is None:
            logger.debug("Form '%s' has no question for slot '%s'.", self.name(), slot)
            return []
        return await self._run(name, ctx.with_tracker(tracker))

    async def _run(self, name: str, ctx: ActionContext) -> list[Event]:
        action = self._lookup(name)
        if action is None:
            logger.error("Form '%s' cannot run '%s': no such action.", self.name(), name)
            return []
        return await action.run(ctx)

    def _leave(self, action: str, plan: str) -> list[Event]:
        """End the form without finishing it; ``action`` runs next (see the module doc)."""
        metadata = {"form": self.name(), PLAN_METADATA_KEY: plan}
        return [SlotSet(REQUESTED_SLOT, None), FollowupAction(action, metadata=metadata)]


def form_actions(domain: Domain, lookup: Lookup) -> dict[str, FormAction]:
    """A :class:`FormAction` for each form of the domain, for the registry's ``loops``."""
    return {name: FormAction(name, lookup) for name in domain.forms}


# -- helpers -------------------------------------------------------------------------------------


def _with_events(tracker: Tracker, events: list[Event], after_restart: bool = False) -> Tracker:
    """A new tracker: ``tracker``'s events (those after the latest restart) plus ``events``."""
    # a restart anywhere (what idx_after_latest_restart() > 0 says), looked for in one C loop
    if after_restart and any(map(isinstance, tracker.events, repeat(Restarted))):
        copy = tracker.init_copy()
        copy.update_all(tracker.events_after_latest_restart())
    else:
        copy = tracker.copy()  # the same events: their state is copied, not replayed
    copy.update_all(events)
    return copy


def _rejected_manually(events: list[Event]) -> bool:
    return any(isinstance(e, ActionExecutionRejected) for e in events)


def _requested_by(events: list[Event]) -> str | None:
    """The value of the last ``SlotSet(requested_slot)`` among ``events``, if it names a slot."""
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.key == REQUESTED_SLOT:
            return event.value if isinstance(event.value, str) else None
    return None


def _turns_in(tracker: Tracker, form: str) -> int:
    """User messages since ``form`` was last activated."""
    turns = 0
    for event in reversed(tracker.events):
        if isinstance(event, ActiveLoop) and event.name == form:
            return turns
        if isinstance(event, UserUttered):
            turns += 1
    return turns
