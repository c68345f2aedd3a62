"""The agent: one user message in, the bot's responses out, the conversation stored.

``Agent.handle(message)`` does what Rasa's MessageProcessor does, in this order:

1. lock the conversation (one message at a time per conversation, in arrival order);
2. load its events and replay them into a :class:`~core.tracker.Tracker` (a recent
   conversation's tracker is kept and only extended by the events stored since);
3. start a new session when there is none yet or the last one expired
   (``action_session_start``, carrying slots over per the domain's session_config);
4. understand the text (``/intent{...}`` payloads bypass NLU) and log the user event;
5. run ``action_extract_slots`` (slot mappings), then predict -> run -> log until the bot
   listens, at most ``max_predictions`` actions per message;
6. append the new events to the store (also when something failed half-way).

The agent knows no platform: it returns channel-neutral response dicts.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core import logs
from chinwag.core.actions.base import Action, ActionContext, ActionExecutionRejection
from chinwag.core.actions.custom import InProcessAction, load_actions_module
from chinwag.core.actions.default import NLU_FALLBACK_INTENT, load_intent_prompts
from chinwag.core.actions.forms import PLAN_METADATA_KEY, form_actions
from chinwag.core.actions.registry import ActionRegistry, UnknownActionError
from chinwag.core.actions.remote import ActionEndpoint, ActionServerError, RemoteAction
from chinwag.core.actions.utter import EndToEndAction
from chinwag.core.data.config import read_endpoints
from chinwag.core.data.loader import Bot, load_bot
from chinwag.core.data.problems import BotDataError, Location, Problems
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    FollowupAction,
    UserUttered,
    check_parse_data,
)
from chinwag.core.metrics import BotMetrics
from chinwag.core.model import Fingerprints, ModelError, latest_archive
from chinwag.core.nlu.fallback import FallbackClassifier
from chinwag.core.nlu.interpreter import (
    ExampleInterpreter,
    Interpreter,
    PayloadError,
    parse_payload,
)
from chinwag.core.nlu.text import DEFAULT_MAX_CHARS, nlu_view, scrub
from chinwag.core.policies.ensemble import PolicyEnsemble, build_policies, train_policies
from chinwag.core.stores.base import TrackerStore, UnstorableEvent, storable
from chinwag.core.stores.cache import RecentTrackers
from chinwag.core.stores.locks import InProcessLockStore, LockStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.tracker import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, Tracker

if TYPE_CHECKING:
    from chinwag.core.train import LoadedModel

logger = logging.getLogger(__name__)

# Rasa's MAX_NUMBER_OF_PREDICTIONS: actions the bot may run for one user message
MAX_PREDICTIONS = 10
EXTRACT_SLOTS = "action_extract_slots"
RESPONSE_KEYS = ("text", "buttons", "quick_replies", "image", "attachment", "custom", "elements")
# how a response wants its buttons laid out (Rasa passes these through to the channel)
LAYOUT_KEYS = ("button_type", "buttons_per_row")


def _executed(
    name: str, action: Action, policy: str | None, confidence: float, now: float
) -> ActionExecuted:
    """The event that logs a run action: an end-to-end bot text is logged as ``action_text``
    (as Rasa logs it, and as the stories that taught it are featurized)."""
    if isinstance(action, EndToEndAction):
        return ActionExecuted(
            None, action_text=name, policy=policy, confidence=confidence, timestamp=now
        )
    return ActionExecuted(name, policy=policy, confidence=confidence, timestamp=now)


@dataclass
class UserMessage:
    """A message from any channel, as the adapters hand it over."""

    text: str | None
    sender_id: str = "default"
    input_channel: str = "rest"
    metadata: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None


def response_dict(event: BotUttered) -> dict[str, Any]:
    """A bot event as a channel-neutral response (only the keys that carry something)."""
    message = event.message()
    keys = (*RESPONSE_KEYS, *LAYOUT_KEYS)
    return {key: message[key] for key in keys if message.get(key) not in (None, [], "")}


class Agent:
    """One bot, ready to talk: domain, understanding, policies, actions and stores."""

    def __init__(
        self,
        domain: Domain,
        policies: PolicyEnsemble,
        interpreter: Interpreter,
        registry: ActionRegistry,
        *,
        nlg: ResponseGenerator | None = None,
        store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        clock: Callable[[], float] = time.time,
        max_predictions: int = MAX_PREDICTIONS,
        rng: random.Random | None = None,
        fallback: FallbackClassifier | None = None,
        nlu_max_chars: int = DEFAULT_MAX_CHARS,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.domain = domain
        self.policies = policies
        self.interpreter = interpreter
        self.registry = registry
        self.nlg = nlg or ResponseGenerator(domain, rng)
        self.store = store or InMemoryTrackerStore()
        # replayed trackers of recent conversations; the store stays the truth
        self.trackers = RecentTrackers()
        self.lock_store = lock_store or InProcessLockStore()
        self.clock = clock
        self.max_predictions = max_predictions
        self.fallback = fallback
        self.nlu_max_chars = nlu_max_chars
        self.metrics = metrics or BotMetrics(None, "bot")

    # ------------------------------------------------------------------ public

    async def handle(self, message: UserMessage) -> list[dict[str, Any]]:
        """Process one user message; return what the bot says, in order."""
        with (
            logs.handling(self.metrics.bot, message.input_channel, message.sender_id, message.text),
            self.metrics.timed("message"),
        ):
            _, new = await self._locked(message, predict=True)
        return [response_dict(e) for e in new if isinstance(e, BotUttered)]

    async def log_message(
        self, message: UserMessage, parse_data: dict[str, Any] | None = None
    ) -> Tracker:
        """Rasa's HTTP API ``messages``: start a session if due, log the user message (parsed,
        or with ``parse_data`` as given), apply slot mappings, store -- and predict nothing."""
        if parse_data is not None:  # an EventError naming the field; nothing is stored
            parse_data = check_parse_data(parse_data)
        tracker, _ = await self._locked(message, predict=False, parse_data=parse_data)
        return tracker.copy()

    async def _locked(
        self,
        message: UserMessage,
        *,
        predict: bool,
        parse_data: dict[str, Any] | None = None,
    ) -> tuple[Tracker, list[Event]]:
        """Lock, load, process, store: the tracker and the events this message added."""
        # lone surrogates are no text: no store or model could take them (see core.nlu.text)
        message = dataclasses.replace(
            message,
            text=scrub(message.text),
            metadata=scrub(message.metadata),
            message_id=scrub(message.message_id),
        )
        metrics = self.metrics
        async with metrics.locked(self.lock_store, message.sender_id):
            with metrics.timed("store"):
                tracker = await self.trackers.load(self.store, message.sender_id, self.domain)
            stored = len(tracker.events)
            try:
                now = self.clock()
                metrics.conversation_seen(message.sender_id, now)
                await self._log_user_message(message, tracker, now, parse_data)
                if predict:
                    await self._predict_and_run(tracker, message, now)
            finally:
                with metrics.timed("store"):
                    await self.store.append(message.sender_id, tracker.events[stored:], stored)
            # kept only when everything went through: the tracker is what the store holds
            self.trackers.put(tracker)
            return tracker, tracker.events[stored:]

    async def load_tracker(self, conversation_id: str) -> Tracker:
        """The conversation as stored now, as a tracker of the caller's own."""
        tracker = await self.trackers.load(self.store, conversation_id, self.domain)
        self.trackers.put(tracker)
        return tracker.copy()

    async def parse(self, text: str) -> dict[str, Any]:
        """Parse data for ``text``: payloads as sent, anything else through NLU and the
        FallbackClassifier; a malformed payload is understood as plain text."""
        text = scrub(text)
        try:
            payload = parse_payload(text)
        except PayloadError as exc:
            logger.warning("%s; treating it as plain text", exc)
            text, payload = text.lstrip("/"), None
        if payload is not None:
            return payload
        view = nlu_view(text, self.nlu_max_chars)
        if len(view) < len(text):
            logger.warning(
                "a message of %d characters: NLU reads its first %d (config.yml nlu_max_chars)",
                len(text),
                len(view),
            )
        with self.metrics.timed("nlu"):
            parsed = await self.interpreter.parse(view)
        parsed["text"] = text  # entity offsets hold in the whole text: the view is its start
        if self.fallback is None:
            return parsed
        parsed = self.fallback.apply(parsed)
        if (parsed.get("intent") or {}).get("name") == NLU_FALLBACK_INTENT:
            self.metrics.fallback()
        return parsed

    async def close(self) -> None:
        self.trackers.clear()
        close = getattr(self.interpreter, "close", None)  # the trained pipeline's thread
        if close is not None:
            close()
        await self.store.close()

    # ------------------------------------------------------------------ the loop

    async def _log_user_message(
        self,
        message: UserMessage,
        tracker: Tracker,
        now: float,
        parse_data: dict[str, Any] | None = None,
    ) -> None:
        """A new session if due, the user event, then slot mappings (Rasa 3's order)."""
        if self._session_expired(tracker, now):
            await self._run(ACTION_SESSION_START_NAME, tracker, message, policy=None, now=now)
        if parse_data is None:
            parse_data = await self.parse(message.text or "")
        else:
            parse_data = dict(parse_data)
        parse_data.setdefault("text", message.text)
        tracker.update(
            UserUttered(
                text=message.text,
                intent=parse_data.get("intent") or {},
                entities=list(parse_data.get("entities") or []),
                parse_data=parse_data,
                input_channel=message.input_channel,
                message_id=message.message_id,
                timestamp=now,
                metadata=dict(message.metadata),
            )
        )
        logger.debug(
            "conversation %s: user said %r -> intent %s",
            message.sender_id,
            message.text,
            (parse_data.get("intent") or {}).get("name"),
        )
        await self._extract_slots(tracker, message, now)

    def _session_expired(self, tracker: Tracker, now: float) -> bool:
        """Rasa's rule: no events since the last restart, or the last user message is older
        than session_expiration_time (0 switches sessions off)."""
        if not tracker.applied_events():
            return True
        minutes = self.domain.session_config.session_expiration_time
        if minutes <= 0:
            return False
        last_user = next((e for e in reversed(tracker.events) if isinstance(e, UserUttered)), None)
        return last_user is not None and (now - last_user.timestamp) / 60 > minutes

    async def _extract_slots(self, tracker: Tracker, message: UserMessage, now: float) -> None:
        """Rasa 3: slot mappings apply after every user message, without an action event."""
        action = self.registry.find(EXTRACT_SLOTS)
        if action is None:
            return
        try:
            events = await action.run(self._context(tracker, message))
        except (ActionServerError, ActionExecutionRejection) as exc:
            logger.error("slot extraction failed: %s", exc)
            return
        for event in events:
            event.timestamp = now
            tracker.update(event)

    async def _predict_and_run(self, tracker: Tracker, message: UserMessage, now: float) -> None:
        for _ in range(self.max_predictions):
            followup = self._pending_followup(tracker)
            if followup is not None:
                listen_next = await self._run(
                    followup.action_name, tracker, message, policy="followup", now=now
                )
                if not listen_next and followup.metadata.get(PLAN_METADATA_KEY):
                    # a form plan (max_turns, exit) ended the form with this action: the
                    # turn is over, nothing else is predicted from the unfinished form
                    tracker.update(
                        ActionExecuted(ACTION_LISTEN_NAME, policy="followup", timestamp=now)
                    )
                    return
            else:
                with self.metrics.timed("policy"):
                    name, prediction = self.policies.predict(tracker, self.domain)
                listen_next = await self._run(
                    name,
                    tracker,
                    message,
                    policy=prediction.policy_name,
                    confidence=prediction.max_confidence,
                    extra_events=prediction.events,
                    now=now,
                )
            if listen_next:
                return
        logger.warning(
            "conversation %s: the bot ran %d actions for one message without listening; "
            "stopped here and listening (check the stories/rules for a loop)",
            message.sender_id,
            self.max_predictions,
        )
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME, policy="circuit_breaker", timestamp=now))

    @staticmethod
    def _pending_followup(tracker: Tracker) -> FollowupAction | None:
        """The FollowupAction to run now (Rasa runs it before asking any policy), if any."""
        if not tracker.followup_action:
            return None
        for event in reversed(tracker.events):
            if isinstance(event, FollowupAction):
                return event
            if isinstance(event, (ActionExecuted, UserUttered)):
                break
        return FollowupAction(tracker.followup_action)

    async def _run(
        self,
        name: str,
        tracker: Tracker,
        message: UserMessage,
        *,
        policy: str | None,
        confidence: float = 1.0,
        extra_events: list[Event] | None = None,
        now: float,
    ) -> bool:
        """Run one action and log it; True when the bot should now listen."""
        try:
            action = self.registry.get(name)
        except UnknownActionError as exc:
            logger.error("%s; listening instead", exc)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME, policy=policy, timestamp=now))
            return True
        # actions read their tracker and return events, never change it (custom ones get its
        # JSON): a copy is needed only to show them the prediction's events before they count
        scratch = tracker
        if extra_events:
            scratch = tracker.copy()
            scratch.update_all(extra_events)
        try:
            with self.metrics.timed("action"):
                events = await action.run(self._context(scratch, message))
        except ActionExecutionRejection as exc:
            logger.debug("action %s rejected: %s", name, exc.message)
            tracker.update(ActionExecutionRejected(name, policy, confidence, timestamp=now))
            return False
        except ActionServerError as exc:
            # the action failed on the bot's side: keep what we have, tell the log, listen
            logger.error("action %s failed: %s", name, exc)
            self.metrics.error("action")
            tracker.update(_executed(name, action, policy, confidence, now))
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME, policy=policy, timestamp=now))
            return True
        logger.debug("ran %s (predicted by %s, confidence %.2f)", name, policy, confidence)
        if isinstance(action, (InProcessAction, RemoteAction)):
            events = _storable_only(events, tracker.sender_id, name)
        if not any(isinstance(e, ActionExecutionRejected) for e in events):
            for event in extra_events or []:
                tracker.update(event)
            tracker.update(_executed(name, action, policy, confidence, now))
        for event in events:
            event.timestamp = now
            tracker.update(event)
        return name in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME)

    def _context(self, tracker: Tracker, message: UserMessage) -> ActionContext:
        return ActionContext(
            tracker=tracker,
            domain=self.domain,
            nlg=self.nlg,
            channel=message.input_channel,
            extra={"metadata": message.metadata},
        )


def _storable_only(events: list[Event], conversation_id: str, action_name: str) -> list[Event]:
    """A custom action's events without those no store could write and read back (a NaN
    slot value, a lone surrogate): each is dropped with an error, so the rest of the turn and
    the user's message are still stored."""
    kept = []
    for event in events:
        try:
            storable(conversation_id, None, event)
        except UnstorableEvent as exc:
            logger.error(
                "custom action '%s' returned an event that cannot be stored, dropped: %s",
                action_name,
                exc,
            )
        else:
            kept.append(event)
    return kept


INTENT_PROMPTS_FILE = "intent_description_mapping.csv"


def build_registry(bot: Bot, problems: Problems) -> ActionRegistry:
    """Custom actions (in-process actions.py first, then the action server), defaults,
    responses and loops of a bot."""
    custom: dict[str, Action] = dict(load_actions_module(bot.path, problems))
    endpoint_config = bot.endpoints.get("action_endpoint")
    if endpoint_config:
        try:
            endpoint = ActionEndpoint.from_dict(endpoint_config)
        except ValueError as exc:
            problems.error(f"action_endpoint: {exc}", Location("endpoints.yml"))
        else:
            for name in bot.domain.actions:
                # responses are said by chinwag, never asked of the action server (as Rasa)
                if name.startswith("utter_") or name in bot.domain.responses:
                    continue
                custom.setdefault(name, RemoteAction(name, endpoint))
    prompts_path = bot.path / INTENT_PROMPTS_FILE
    prompts = (
        load_intent_prompts(prompts_path, INTENT_PROMPTS_FILE, problems)
        if prompts_path.is_file()
        else None
    )
    registry: ActionRegistry | None = None

    def lookup(name: str) -> Action | None:  # forms find their questions in the registry
        return registry.find(name) if registry is not None else None

    loops = form_actions(bot.domain, lookup)
    registry = ActionRegistry(
        bot.domain,
        custom,
        intent_prompts=prompts,
        loops=loops,
        two_stage_fallback=bot.config.two_stage_fallback,
    )
    return registry


def _latest_model(bot: Bot) -> LoadedModel | None:
    """The newest archive under the bot's models/ (None when there is none or it is
    unreadable); a warning when it was trained on other data than the bot's files now."""
    archive = latest_archive(bot.path)
    if archive is None:
        return None
    from chinwag.core.train import (
        load_model,
    )  # the trained pipeline's libraries load only when used

    try:
        model = load_model(archive)
    except ModelError as exc:
        logger.warning("%s; training the policies at start instead", exc)
        return None
    if model.metadata.fingerprints != Fingerprints.of(bot):
        logger.warning("model %s is older than the data; run chinwag train", archive.name)
    return model


def _model_at(archive: Path, problems: Problems) -> LoadedModel | None:
    """The model archive the caller named; an error when it cannot be read."""
    from chinwag.core.train import load_model

    try:
        return load_model(archive)
    except ModelError as exc:
        problems.error(str(exc), Location(str(archive)))
        return None


def load_agent(
    bot_dir: Path | str,
    *,
    store: TrackerStore | None = None,
    lock_store: LockStore | None = None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    model_archive: Path | None = None,
    endpoints: Path | None = None,
    metrics: BotMetrics | None = None,
) -> Agent:
    """Read a bot folder and make it ready to talk; raise BotDataError on errors in it.

    With a model archive under ``models/`` (or ``model_archive``) the newest one gives the NLU
    and the policies; without one the policies train now and messages are understood by
    example matching. ``endpoints`` replaces the bot's own endpoints.yml.
    """
    bot = load_bot(bot_dir, tests=False)
    problems = Problems()
    problems.extend(bot.problems)
    if endpoints is not None:
        bot.endpoints = read_endpoints(endpoints, bot.path, problems)
    interpreter: Interpreter = ExampleInterpreter(bot.nlu)
    if not problems.errors:
        model = _latest_model(bot) if model_archive is None else _model_at(model_archive, problems)
        if model is not None:
            interpreter, policies = model.nlu, model.policies
        else:
            policies = train_policies(build_policies(bot.config.policies, problems), bot)
        registry = build_registry(bot, problems)
    for warning in problems.warnings:
        logger.warning("%s", warning)
    if problems.errors:
        raise BotDataError(problems.errors)
    fallback = next(
        (
            FallbackClassifier.from_config(c)
            for c in bot.config.pipeline
            if c.get("name") == "FallbackClassifier"
        ),
        None,
    )
    return Agent(
        bot.domain,
        policies,
        interpreter,
        registry,
        fallback=fallback,
        store=store,
        lock_store=lock_store,
        clock=clock,
        rng=rng,
        nlu_max_chars=bot.config.nlu_max_chars,
        metrics=metrics,
    )
