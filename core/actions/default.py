"""Rasa's default actions, with Rasa's names and behaviour.

Ported from Rasa 3.6: rasa/core/actions/action.py (listen, restart, session start, default
fallback, deactivate loop, revert fallback events, ask affirmation, ask rephrase, back,
unlikely intent, extract slots), rasa/core/actions/loops.py (:class:`LoopAction`) and
rasa/core/actions/two_stage_fallback.py. Differences from Rasa are noted where they are made.

Default actions that run other actions (the two-stage fallback, slot extraction's custom
mappings) look them up through the registry, so a bot's own action of a default's name
overrides it everywhere, as in Rasa.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chinwag.core.actions.base import Action, ActionContext
from chinwag.core.actions.utter import bot_utterance, utter
from chinwag.core.data.config import TwoStageFallbackSettings
from chinwag.core.data.problems import Location, Problems
from chinwag.core.domain import DEFAULT_SLOTS, REQUESTED_SLOT, Domain
from chinwag.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from chinwag.core.slots import Slot, SlotMapping
from chinwag.core.tracker import ACTION_LISTEN_NAME, SESSION_STARTED_METADATA_SLOT, Tracker

logger = logging.getLogger(__name__)

# finds an action by name (custom > default > response > loop), None when there is none
Lookup = Callable[[str], Action | None]

ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_REVERT_FALLBACK_EVENTS = "action_revert_fallback_events"
ACTION_DEFAULT_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
ACTION_BACK = "action_back"
ACTION_EXTRACT_SLOTS = "action_extract_slots"
# the custom action Rasa runs to validate what action_extract_slots extracted
ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"
# slot extraction remembers the mappings a message can select for this many intents
MAX_INTENTS_SELECTED = 1000

NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
DEFAULT_REPHRASE_TEXT = "I'm sorry, I didn't quite understand that. Could you rephrase?"
# the context key of the triggering message's metadata (Rasa's ``metadata`` run argument)
METADATA_KEY = "metadata"


class ActionListen(Action):
    """Wait for the user: the end of the bot's turn."""

    def name(self) -> str:
        return ACTION_LISTEN_NAME

    async def run(self, ctx: ActionContext) -> list[Event]:
        return []


class ActionRestart(Action):
    """Says ``utter_restart`` if the bot has it, then restarts the conversation."""

    def name(self) -> str:
        return ACTION_RESTART

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [*await utter(ctx, "utter_restart"), Restarted()]


class ActionSessionStart(Action):
    """Starts a new session, carrying the slots over when the session config says so.

    The carried slots are the ``SlotSet`` events among the tracker's applied events (Rasa's
    ``_slot_set_events_from_tracker``), re-applied with their metadata. The triggering
    message's metadata (``ctx.extra["metadata"]``) goes to ``session_started_metadata``.
    """

    def name(self) -> str:
        return ACTION_SESSION_START

    async def run(self, ctx: ActionContext) -> list[Event]:
        events: list[Event] = [SessionStarted()]
        if ctx.domain.session_config.carry_over_slots:
            events += [
                SlotSet(e.key, e.value, metadata=dict(e.metadata))
                for e in ctx.tracker.applied_events()
                if isinstance(e, SlotSet)
            ]
        metadata = ctx.extra.get(METADATA_KEY)
        if metadata:
            events.append(SlotSet(SESSION_STARTED_METADATA_SLOT, metadata))
        events.append(ActionExecuted(ACTION_LISTEN_NAME))
        return events


class ActionDefaultFallback(Action):
    """Says ``utter_default`` if the bot has it, then forgets the user's message."""

    def name(self) -> str:
        return ACTION_DEFAULT_FALLBACK

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [*await utter(ctx, "utter_default"), UserUtteranceReverted()]


class ActionDeactivateLoop(Action):
    """Deactivates the active loop (form) and clears ``requested_slot``."""

    def name(self) -> str:
        return ACTION_DEACTIVATE_LOOP

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


class ActionUnlikelyIntent(Action):
    """Marks an intent the UnexpecTED policy found unlikely; does nothing itself."""

    def name(self) -> str:
        return ACTION_UNLIKELY_INTENT

    async def run(self, ctx: ActionContext) -> list[Event]:
        return []


class ActionBack(Action):
    """Says ``utter_back`` if the bot has it, then rewinds the last two user turns."""

    def name(self) -> str:
        return ACTION_BACK

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [*await utter(ctx, "utter_back"), UserUtteranceReverted(), UserUtteranceReverted()]


class ActionRevertFallbackEvents(Action):
    """Removes the turns of a finished fallback (Rasa's legacy TwoStageFallbackPolicy).

    After a successful rephrasing the unclear message, the rephrase request and the
    rephrasing are undone and the rephrased message is replayed; after an affirmation the
    affirmation turns are undone and the affirmed message is replayed with confidence 1.0.
    """

    def name(self) -> str:
        return ACTION_REVERT_FALLBACK_EVENTS

    async def run(self, ctx: ActionContext) -> list[Event]:
        tracker = ctx.tracker
        last_user = tracker.get_last_event_for(UserUttered)
        if last_user is None:
            return []
        if _last_executed_action_is(tracker, ACTION_DEFAULT_ASK_REPHRASE):
            return [*_revert_rephrasing_events(), copy.deepcopy(last_user)]
        if _last_executed_action_is(tracker, ACTION_DEFAULT_ASK_AFFIRMATION):
            events: list[Event] = [
                UserUtteranceReverted(),  # the affirmation and the question
                UserUtteranceReverted(),  # the original message, re-added below
                ActionExecuted(ACTION_LISTEN_NAME),
            ]
            if _last_executed_action_is(tracker, ACTION_DEFAULT_ASK_REPHRASE, skip=1):
                events += _revert_rephrasing_events()
            return [*events, _with_full_confidence(last_user)]
        return []


def _last_executed_action_is(tracker: Tracker, name: str, skip: int = 0) -> bool:
    """Rasa's ``tracker.last_executed_action_has``: ignoring ``action_listen``."""
    last = tracker.get_last_event_for(
        ActionExecuted, action_names_to_exclude=[ACTION_LISTEN_NAME], skip=skip
    )
    return last is not None and last.action_name == name


def _revert_rephrasing_events() -> list[Event]:
    return [
        UserUtteranceReverted(),  # the rephrasing
        UserUtteranceReverted(),  # the feedback and the rephrase request
        UserUtteranceReverted(),  # the affirmation request and the unclear message
        ActionExecuted(ACTION_LISTEN_NAME),
    ]


def _with_full_confidence(message: UserUttered) -> UserUttered:
    """A copy of ``message`` whose intent has confidence 1.0 (a clarified message)."""
    clarified = copy.deepcopy(message)
    clarified.intent = {**clarified.intent, "confidence": 1.0}
    parsed_intent = clarified.parse_data.get("intent") or {}
    clarified.parse_data["intent"] = {**parsed_intent, "confidence": 1.0}
    return clarified


class ActionDefaultAskAffirmation(Action):
    """Asks "Did you mean '<intent>'?" with Yes (``/<intent>``) and No (``/out_of_scope``, or
    the configured denial intent).

    The intent is the latest message's, or the runner-up when it is ``nlu_fallback``; with no
    runner-up there is nothing to offer and the user is asked to rephrase instead. The
    prompt is the intent's entry in ``intent_prompts`` (a bot's
    ``intent_description_mapping.csv``), else the intent's name. A bot's
    ``utter_ask_affirmation`` response replaces the default text: ``{intent}`` in it is the
    prompt and ``{intent_name}`` the intent; the Yes/No buttons are added if it has none.
    """

    def __init__(
        self,
        intent_prompts: Mapping[str, str] | None = None,
        deny_intent: str = OUT_OF_SCOPE_INTENT,
    ) -> None:
        self.intent_prompts = dict(intent_prompts or {})
        self.deny_intent = deny_intent

    def name(self) -> str:
        return ACTION_DEFAULT_ASK_AFFIRMATION

    async def run(self, ctx: ActionContext) -> list[Event]:
        message = ctx.tracker.latest_message
        intent = message.intent_name
        ranking = message.parse_data.get("intent_ranking") or []
        if intent == NLU_FALLBACK_INTENT and len(ranking) > 1:
            intent = ranking[1].get("name")
        if intent in (None, NLU_FALLBACK_INTENT):
            # nothing to offer ("Did you mean 'nlu_fallback'?" helps nobody): ask to rephrase
            return await ActionDefaultAskRephrase().run(ctx)
        prompt = self.intent_prompts.get(str(intent), str(intent))
        buttons = [
            {"title": "Yes", "payload": f"/{intent}"},
            {"title": "No", "payload": f"/{self.deny_intent}"},
        ]
        response = ctx.nlg.generate(
            "utter_ask_affirmation", ctx.tracker, ctx.channel, intent=prompt, intent_name=intent
        )
        if response is not None:
            response["buttons"] = response.get("buttons") or buttons
            return [bot_utterance(response, "utter_ask_affirmation")]
        message_dict = {"text": f"Did you mean '{prompt}'?", "buttons": buttons}
        return [bot_utterance(message_dict, self.name())]


class ActionDefaultAskRephrase(Action):
    """Says ``utter_ask_rephrase``, or Rasa's usual rephrase request when the bot has none."""

    def name(self) -> str:
        return ACTION_DEFAULT_ASK_REPHRASE

    async def run(self, ctx: ActionContext) -> list[Event]:
        events = await utter(ctx, "utter_ask_rephrase")
        if events:
            return events
        return [bot_utterance({"text": DEFAULT_REPHRASE_TEXT}, self.name())]


def load_intent_prompts(path: Path, display: str, problems: Problems) -> dict[str, str]:
    """Read ``intent_description_mapping.csv``: ``intent,prompt`` rows (a header is skipped).

    An unquoted comma in a prompt is kept as written. Rows without an intent and a prompt are
    reported with their line and left out.
    """
    prompts: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(f"cannot read the intent prompts: {exc}", Location(display))
        return prompts
    reader = csv.reader(text.splitlines())
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        intent, prompt = row[0].strip(), ",".join(row[1:]).strip()
        if not intent or not prompt:
            problems.error(
                "expected a row `intent,prompt` (an intent name, a comma and the prompt), "
                f"found {','.join(row)!r}",
                Location(display, line),
            )
            continue
        if line == 1 and intent.lower() == "intent":
            continue
        if intent in prompts:
            problems.warning(
                f"intent '{intent}' has a prompt already; the later one is used",
                Location(display, line),
            )
        prompts[intent] = prompt
    return prompts


# -- loops ----------------------------------------------------------------------------------------


class LoopAction(Action, ABC):
    """An action that stays active over several turns (Rasa's ``LoopAction``).

    ``run`` activates the loop if it is not active (``ActiveLoop(name)`` plus
    :meth:`activate`), runs :meth:`do` unless the loop is done, and deactivates it
    (``ActiveLoop(None)`` plus :meth:`deactivate`) once it is done.
    """

    async def run(self, ctx: ActionContext) -> list[Event]:
        events: list[Event] = []
        if ctx.tracker.active_loop_name != self.name():
            events += [ActiveLoop(self.name()), *await self.activate(ctx)]
        if not await self.is_done(ctx, events):
            events += await self.do(ctx, events)
        if await self.is_done(ctx, events):
            events += [ActiveLoop(None), *await self.deactivate(ctx, events)]
        return events

    async def activate(self, ctx: ActionContext) -> list[Event]:
        """Events on activation, after ``ActiveLoop(name)``."""
        return []

    @abstractmethod
    async def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]: ...

    @abstractmethod
    async def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool: ...

    async def deactivate(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        """Events on deactivation, after ``ActiveLoop(None)``."""
        return []


class TwoStageFallbackAction(LoopAction):
    """Rasa's two-stage fallback: ask to affirm, then to rephrase, then give up.

    * Just activated, or the latest intent is ``nlu_fallback``: ask for affirmation.
    * The user denied (``out_of_scope``): ask to rephrase.
    * The user was understood: the loop ends and the clear message replaces the unclear turn
      (``UserUtteranceReverted``, ``action_listen`` and a copy of the message with
      confidence 1.0), so the conversation goes on as if it had been clear at once.
    * Two ``nlu_fallback`` in a row, or ``out_of_scope`` → ``nlu_fallback`` →
      ``out_of_scope``: the loop ends with ``action_default_fallback``.

    ``settings`` (Rasa 1.x's TwoStageFallbackPolicy options) may name another denial intent
    than ``out_of_scope`` and another give-up action. Unlike Rasa:

    * a run that activates the loop on a message that was clear already ends it without
      replaying the message, which would only trigger the fallback again;
    * a denial of the rephrase request (``out_of_scope`` twice in a row) also gives up, where
      Rasa 3 would ask to rephrase again and again; the user is asked to rephrase once.
    """

    def __init__(self, lookup: Lookup, settings: TwoStageFallbackSettings | None = None) -> None:
        self._lookup = lookup
        self.settings = settings or TwoStageFallbackSettings()

    def name(self) -> str:
        return ACTION_TWO_STAGE_FALLBACK

    async def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        just_activated = any(isinstance(e, ActiveLoop) for e in events_so_far)
        if just_activated or _last_intent(ctx.tracker) == NLU_FALLBACK_INTENT:
            return await self._run(ACTION_DEFAULT_ASK_AFFIRMATION, ctx)
        return await self._run(ACTION_DEFAULT_ASK_REPHRASE, ctx)

    async def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool:
        deny = self.settings.deny_intent
        clarified = _last_intent(ctx.tracker) not in (NLU_FALLBACK_INTENT, deny)
        return clarified or _should_give_up(ctx.tracker, deny)

    async def deactivate(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        if _should_give_up(ctx.tracker, self.settings.deny_intent):
            give_up = self.settings.give_up_action
            events = await self._run(give_up, ctx)
            if give_up != ACTION_DEFAULT_FALLBACK and not any(
                isinstance(e, UserUtteranceReverted) for e in events
            ):
                # a 1.x `fallback_nlu_action_name` ends as action_default_fallback does: the
                # failed exchange leaves no trace for the next prediction
                events.append(UserUtteranceReverted())
            return events
        if any(isinstance(e, ActiveLoop) and e.name == self.name() for e in events_so_far):
            return []
        clarification = _with_full_confidence(ctx.tracker.latest_message)
        clarification.timestamp = time.time()
        return [UserUtteranceReverted(), ActionExecuted(ACTION_LISTEN_NAME), clarification]

    async def _run(self, name: str, ctx: ActionContext) -> list[Event]:
        action = self._lookup(name)
        if action is None:
            logger.error("The two-stage fallback cannot run '%s': no such action.", name)
            return []
        return await action.run(ctx)


def _last_intent(tracker: Tracker) -> str | None:
    return tracker.latest_message.intent_name


def _last_intents(tracker: Tracker, count: int) -> list[str | None]:
    """The intents of the last ``count`` user messages, stopping at a rewind (as Rasa)."""
    intents: list[str | None] = []
    for skip in range(count):
        event = tracker.get_last_event_for(
            (UserUttered, UserUtteranceReverted), skip=skip, verbosity="after_restart"
        )
        if isinstance(event, UserUttered):
            intents.append(event.intent_name)
    return intents


def _should_give_up(tracker: Tracker, deny: str = OUT_OF_SCOPE_INTENT) -> bool:
    """Two fallbacks in a row, a second denial after an unclear rephrasing (Rasa's rules), or
    a denial of the rephrase request (two denials in a row: chinwag's, never a loop)."""
    last = _last_intents(tracker, 3)
    two_fallbacks = last[:2] == [NLU_FALLBACK_INTENT] * 2
    second_denial = last == [deny, NLU_FALLBACK_INTENT, deny]
    rephrase_denied = last[:2] == [deny, deny]
    return two_fallbacks or second_denial or rephrase_denied


# -- slot extraction ------------------------------------------------------------------------------


class ActionExtractSlots(Action):
    """Sets slots from the latest user message by their mappings (Rasa 3.6's action).

    For each slot, the first mapping that applies and yields a value sets it:

    * ``intent`` / ``not_intent`` select the messages (an active form's ``ignored_intents``
      count as ``not_intent`` for mappings that apply to that form);
    * ``conditions`` (``active_loop`` with an optional ``requested_slot``; ``active_loop:
      null`` means no loop is active) must match, except for ``from_trigger_intent``, which
      applies only while the form it triggers is being activated (its ``ActiveLoop`` came after
      the latest user message) and, with conditions, only for the forms they name;
    * ``from_entity`` (entity, role, group): the last value, or all of them for a list slot; a
      mapping of a slot the active form requires but does not ask for fills only if no other
      required slot of that form has the same mapping (Rasa's unique-entity rule);
    * ``from_intent`` / ``from_trigger_intent``: the mapping's value; ``from_text``: the text;
    * ``custom``: runs the named action (once) and keeps the slots it sets and what it says.

    chinwag rule (Rasa issue #10219, greedy ``from_text``): a ``from_text`` or ``from_intent``
    mapping without ``conditions`` of a slot some form requires fills only while that form is
    active and asks for that slot; elsewhere, say when the message that activates the form is
    read, it does not fill. Give the mapping ``conditions`` to fill it in other situations.

    Slots already holding the value get no event. A custom ``action_validate_slot_mappings``
    then sees the extracted slots, as in Rasa.
    """

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        # each slot with its valid mappings, worked out (and warned about) once per domain
        self._mappings: tuple[Domain, list[tuple[Slot, list[SlotMapping]]]] | None = None
        # the domain's mappings that a message of an intent can select, per domain and intent
        self._by_intent: dict[str | None, list[tuple[Slot, list[SlotMapping]]]] = {}
        self._by_intent_domain: Domain | None = None

    def name(self) -> str:
        return ACTION_EXTRACT_SLOTS

    def _valid_mappings(self, domain: Domain) -> list[tuple[Slot, list[SlotMapping]]]:
        """The domain's slots (not the default ones) with the mappings that can apply: an
        invalid mapping is warned about once, not on every message."""
        if self._mappings is None or self._mappings[0] is not domain:
            valid = [
                (slot, [m for m in slot.mappings if _mapping_is_valid(slot, m, domain)])
                for slot in domain.slots.values()
                if slot.name not in DEFAULT_SLOTS
            ]
            self._mappings = (domain, valid)
        return self._mappings[1]

    def _selectable_mappings(
        self, domain: Domain, intent: str | None
    ) -> list[tuple[Slot, list[SlotMapping]]]:
        """The valid mappings (by slot, slots without any left out) that a message of
        ``intent`` can select: ``intent``/``not_intent`` exclude the others whatever else
        holds (see ``_intent_is_desired``), and a custom mapping without an action never runs.
        Worked out once per domain and intent (at most ``MAX_INTENTS_SELECTED`` intents)."""
        by_intent = self._by_intent
        if self._by_intent_domain is not domain:
            by_intent.clear()
            self._by_intent_domain = domain
        selectable = by_intent.get(intent)
        if selectable is None:
            if len(by_intent) >= MAX_INTENTS_SELECTED:
                by_intent.clear()
            selectable = by_intent[intent] = [
                (slot, kept)
                for slot, mappings in self._valid_mappings(domain)
                if (kept := [m for m in mappings if _selectable(m, intent)])
            ]
        return selectable

    @staticmethod
    def _entity_names(entities: list[Any]) -> set[Any] | None:
        """The names (``entity``) of the message's entities, so that a ``from_entity``
        mapping of another entity is passed over; None when an entity is not a dict or its
        name is not hashable (then every ``from_entity`` mapping looks at the entities)."""
        try:
            return {entity.get("entity") for entity in entities}
        except (AttributeError, TypeError):
            return None

    async def run(self, ctx: ActionContext) -> list[Event]:
        tracker, domain = ctx.tracker, ctx.domain
        message = tracker.latest_message
        if message.text is None and message.intent_name is None:
            return []
        events: list[Event] = []
        ran_custom: set[str] = set()
        named = self._entity_names(message.entities)
        for slot, mappings in self._selectable_mappings(domain, message.intent_name):
            for mapping in mappings:
                if (
                    mapping.type == "from_entity"
                    and named is not None
                    and mapping.entity not in named
                ):
                    continue  # the message has no entity of that name: no values
                if mapping.type == "custom":
                    if (
                        mapping.action
                        and mapping.action not in ran_custom
                        and self._applies(slot, mapping, tracker, domain)
                    ):
                        ran_custom.add(mapping.action)
                        events += await self._run_custom(mapping.action, ctx)
                    continue
                # the values first: most mappings find none in a message (both checks only read)
                values = _mapping_values(mapping, tracker)
                if not values or not self._applies(slot, mapping, tracker, domain):
                    continue
                value = values if slot.type == "list" else values[-1]
                current = tracker.get_slot(slot.name)
                if value is None and current is None:
                    continue
                if value != current:
                    events.append(SlotSet(slot.name, value))
                break
        return await self._validate(events, ctx)

    def _applies(self, slot: Slot, mapping: SlotMapping, tracker: Tracker, domain: Domain) -> bool:
        return (
            _intent_is_desired(mapping, tracker, domain)
            and _conditions_match(slot.name, mapping, tracker)
            and not _fails_unique_entity_check(slot.name, mapping, tracker, domain)
            and not _form_owns_slot(slot.name, mapping, tracker, domain)
        )

    async def _run_custom(self, name: str, ctx: ActionContext) -> list[Event]:
        """Run a custom action; keep its changing ``SlotSet`` and its ``BotUttered`` events."""
        action = self._lookup(name)
        if action is None:
            logger.warning(
                "Slot mapping action '%s' is not available: slots of its custom mapping "
                "are not filled.",
                name,
            )
            return []
        try:
            events = await action.run(ctx)
        except Exception as exc:
            logger.warning(
                "Custom slot mapping action '%s' failed (%s): its slots are not filled.", name, exc
            )
            return []
        kept: list[Event] = []
        for event in events:
            if isinstance(event, SlotSet):
                if ctx.tracker.get_slot(event.key) != event.value:
                    kept.append(event)
            elif isinstance(event, BotUttered):
                kept.append(event)
            else:
                logger.info(
                    "Custom slot mapping action '%s' returned a '%s' event: only slot and bot "
                    "events are kept.",
                    name,
                    event.type_name,
                )
        return kept

    async def _validate(self, events: list[Event], ctx: ActionContext) -> list[Event]:
        """Let ``action_validate_slot_mappings`` (if the bot has it) check the extraction."""
        validator = self._lookup(ACTION_VALIDATE_SLOT_MAPPINGS)
        if validator is None:
            return events
        extracted = [e for e in events if isinstance(e, SlotSet)]
        temporary = ctx.tracker.copy()
        temporary.update_all(extracted)
        validated = await self._run_custom(
            ACTION_VALIDATE_SLOT_MAPPINGS, ctx.with_tracker(temporary)
        )
        # a slot the validator does not mention was valid; it resets invalid ones to None
        decided = {e.key for e in validated if isinstance(e, SlotSet)}
        merged = validated + [e for e in extracted if e.key not in decided]
        return [
            e
            for e in merged
            if not isinstance(e, SlotSet) or e.value != ctx.tracker.get_slot(e.key)
        ]


def _mapping_is_valid(slot: Slot, mapping: SlotMapping, domain: Domain) -> bool:
    """Rasa's ``check_mapping_validity``: the mapping's entity and intents exist."""
    if mapping.type == "from_entity" and mapping.entity not in domain.entities:
        logger.warning(
            "Slot '%s' uses a 'from_entity' mapping for a non-existent entity '%s': skipped.",
            slot.name,
            mapping.entity,
        )
        return False
    if mapping.type == "from_intent":
        known = set(domain.intent_names)
        for intent in mapping.intent or []:
            if intent not in known:
                logger.warning(
                    "Slot '%s' uses a 'from_intent' mapping for a non-existent intent '%s': "
                    "skipped.",
                    slot.name,
                    intent,
                )
                return False
    return True


def _selectable(mapping: SlotMapping, intent: str | None) -> bool:
    """Whether a message of ``intent`` can select ``mapping`` at all: the parts of
    ``_intent_is_desired`` that depend on the intent alone, and a custom mapping's action."""
    if mapping.type == "custom" and not mapping.action:
        return False
    if mapping.intent:
        return intent in mapping.intent
    return not (mapping.not_intent and intent in mapping.not_intent)


def _intent_is_desired(mapping: SlotMapping, tracker: Tracker, domain: Domain) -> bool:
    """Rasa's ``SlotMapping.intent_is_desired``, with the active form's ignored intents."""
    intent = tracker.latest_message.intent_name
    if mapping.intent:
        return intent in mapping.intent
    if mapping.not_intent and intent in mapping.not_intent:
        return False
    active = tracker.active_loop_name
    if active and active in domain.forms:
        applies_to_form = not mapping.conditions or any(
            c.active_loop == active for c in mapping.conditions
        )
        if applies_to_form:
            return intent not in domain.forms[active].ignored_intents
    return True


def _conditions_match(slot_name: str, mapping: SlotMapping, tracker: Tracker) -> bool:
    if mapping.type == "from_trigger_intent":
        return _form_being_activated(mapping, tracker)
    if not mapping.conditions:
        return True
    requested = tracker.get_slot(REQUESTED_SLOT)
    if tracker.is_active_loop_rejected and requested == slot_name:
        return False
    active = tracker.active_loop_name
    for condition in mapping.conditions:
        if condition.active_loop is None:
            if active is None:
                return True
        elif condition.active_loop == active and (
            not condition.requested_slot or condition.requested_slot == requested
        ):
            return True
    return False


def _form_being_activated(mapping: SlotMapping, tracker: Tracker) -> bool:
    """A loop (one the conditions name, if any) was activated after the latest user message."""
    active = tracker.active_loop_name
    if active is None:
        return False
    if mapping.conditions and active not in {c.active_loop for c in mapping.conditions}:
        return False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActiveLoop) and event.name == active:
            return True
    return False


def _fails_unique_entity_check(
    slot_name: str, mapping: SlotMapping, tracker: Tracker, domain: Domain
) -> bool:
    """Rasa's unique-entity rule for a required slot the active form is not asking for."""
    if mapping.type != "from_entity":
        return False
    form = domain.forms.get(tracker.active_loop_name or "")
    if form is None or tracker.get_slot(REQUESTED_SLOT) == slot_name:
        return False
    if slot_name not in form.required_slots:
        return False
    key = _mapping_key(mapping)
    uses = sum(
        _mapping_key(other) == key
        for required in form.required_slots
        if required in domain.slots
        for other in domain.slots[required].mappings
        if other.type == "from_entity"
    )
    return uses > 1


# each mapping's key, made once (a loaded domain's mappings do not change); bounded
_MAPPING_KEYS: dict[int, tuple[SlotMapping, str]] = {}
MAX_MAPPING_KEYS = 10_000


def _mapping_key(mapping: SlotMapping) -> str:
    held = _MAPPING_KEYS.get(id(mapping))
    if held is None or held[0] is not mapping:
        if len(_MAPPING_KEYS) >= MAX_MAPPING_KEYS:
            _MAPPING_KEYS.clear()
        held = (mapping, json.dumps(mapping.as_dict(), sort_keys=True, default=str))
        _MAPPING_KEYS[id(mapping)] = held
    return held[1]


def _form_owns_slot(slot_name: str, mapping: SlotMapping, tracker: Tracker, domain: Domain) -> bool:
    """chinwag's rule against greedy ``from_text``/``from_intent`` (see ActionExtractSlots)."""
    if mapping.type not in ("from_text", "from_intent") or mapping.conditions:
        return False
    owners = {name for name, form in domain.forms.items() if slot_name in form.required_slots}
    if not owners:
        return False
    asking = tracker.active_loop_name in owners and tracker.get_slot(REQUESTED_SLOT) == slot_name
    return not asking


def _mapping_values(mapping: SlotMapping, tracker: Tracker) -> list[Any]:
    """The values a predefined mapping extracts from the latest message."""
    message = tracker.latest_message
    if mapping.type == "from_entity" and mapping.entity is not None:
        return list(tracker.get_latest_entity_values(mapping.entity, mapping.role, mapping.group))
    if mapping.type in ("from_intent", "from_trigger_intent"):
        return [mapping.value]
    if mapping.type == "from_text" and message.text is not None:
        return [message.text]
    return []


# -- all of them ----------------------------------------------------------------------------------


def default_actions(
    lookup: Lookup,
    intent_prompts: Mapping[str, str] | None = None,
    two_stage_fallback: TwoStageFallbackSettings | None = None,
) -> dict[str, Action]:
    """Every Rasa default action by name; ``lookup`` finds the actions they delegate to."""
    settings = two_stage_fallback or TwoStageFallbackSettings()
    actions: list[Action] = [
        ActionListen(),
        ActionRestart(),
        ActionSessionStart(),
        ActionDefaultFallback(),
        ActionDeactivateLoop(),
        ActionRevertFallbackEvents(),
        ActionDefaultAskAffirmation(intent_prompts, settings.deny_intent),
        ActionDefaultAskRephrase(),
        TwoStageFallbackAction(lookup, settings),
        ActionUnlikelyIntent(),
        ActionBack(),
        ActionExtractSlots(lookup),
    ]
    return {action.name(): action for action in actions}
