"""``chinwag interactive``: teach a bot by talking to it.

The loop of Rasa's interactive learning (``rasa/core/training/interactive.py``), with its
prompts' wording, on top of :class:`core.agent.Agent`:

* ``? Next user input:`` -- text, or a ``/intent{...}`` payload (payloads skip NLU);
* ``? Is the NLU classification for '<text>' with intent '<intent>' correct?`` -- on no, pick
  the intent (ranked by confidence, type to filter) or create one, then re-annotate the
  entities in ``[value](entity)`` syntax;
* ``? The bot wants to run '<action>', correct?`` for every action -- on no,
  ``? What is the next action of the bot?`` lists every action with its probability (or
  creates a response or custom action, added to the domain);
* forms: picking another action while a form is active rejects the form (as Rasa logs it);
  when the form runs again, ``? Should '<form>' validate user input to fill the slot
  '<slot>'?`` decides between ``LoopInterrupted(True)`` (no validation) and validation, with a
  warning naming the training story that does the opposite.

Ctrl-C (at a prompt, or while an action runs) opens the menu ``1) Continue 2) Undo Last
3) Fork 4) Start Fresh 5) Export & Quit``. The session learns at once: every turn is written
into the running memoization policies and a corrected NLU result is reused for the same text.
Nothing is lost: after every change the session goes to ``.chinwag/interactive-session.json``
(the next run offers to resume it); a failing custom action keeps the session; a second
Ctrl-C at the menu continues.

Export appends stories to ``data/stories.yml``, merges new NLU examples into ``data/nlu.yml``
(no duplicates) and adds only the new names to ``domain.yml``, inserting text after the last
item of each section so comments and order stay (a domain the inserter cannot edit, e.g. one
written in flow style, is rewritten whole, with a note).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import questionary
import yaml
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent, merge_key_bindings
from rich.console import Console
from rich.table import Table

from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.data.domain_reader import dump_domain_yaml, read_domain
from chinwag.core.data.loader import Bot, load_bot
from chinwag.core.data.nlu_text import annotate, parse_annotated
from chinwag.core.data.problems import BotDataError, Location, Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.data.training import Entity, Message, NLUData, SlotStep, Story, StoryData
from chinwag.core.data.training import UserStep as StoryUserStep
from chinwag.core.data.yaml_writer import dump_nlu_yaml, dump_stories_yaml
from chinwag.core.domain import REQUESTED_SLOT, ActionDef, Domain, EntityDef, Intent
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    LoopInterrupted,
    Restarted,
    UserUttered,
    events_from_list,
)
from chinwag.core.export import story_steps
from chinwag.core.nlu.interpreter import PayloadError, parse_payload
from chinwag.core.policies.memoization import MemoizationPolicy
from chinwag.core.policies.states import conversation_states, tracker_states
from chinwag.core.tracker import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, Tracker
from chinwag.core.visualize import (
    GraphFeed,
    build_graph,
    event_path,
    paths_sharing_beginning,
    training_paths,
    visualization_app,
)

logger = logging.getLogger(__name__)

SENDER_ID = "interactive"
RECOVERY_FILE = "interactive-session.json"
RECOVERY_VERSION = 1
DEFAULT_PORT = 5006
MENU = ("Continue", "Undo Last", "Fork", "Start Fresh", "Export & Quit")
NEW_INTENT = "<create new intent>"
NEW_ACTION = "<create new action>"
STORY_PREFIX = "interactive_story_"
# actions no story runs by name: not offered as the next action
UNLISTED_ACTIONS = ("...", "action_extract_slots")
# states compared when looking for a training story that contradicts a form-validation answer
CONFLICT_HISTORY = 3


class ExportError(Exception):
    """A file the export cannot write safely (it stays as it was)."""


# ------------------------------------------------------------------------------ prompts


class Prompts:
    """The questions, through questionary; each raises KeyboardInterrupt on Ctrl-C."""

    async def text(
        self, message: str, default: str = "", validate: Callable[[str], bool | str] | None = None
    ) -> str:
        question = questionary.text(message, default=default, validate=validate)
        return str(await question.unsafe_ask_async(patch_stdout=True))

    async def confirm(self, message: str, default: bool = True) -> bool:
        question = questionary.confirm(message, default=default)
        return bool(await question.unsafe_ask_async(patch_stdout=True))

    async def select(
        self, message: str, choices: Sequence[questionary.Choice], *, search: bool = False
    ) -> str:
        """One of ``choices``; without ``search`` (and at most 9 of them) typing a choice's
        number picks it at once."""
        numbered = not search and len(choices) <= 9
        question = questionary.select(
            message,
            choices=list(choices),
            use_search_filter=search,
            use_jk_keys=not search,
            use_shortcuts=numbered,
        )
        if numbered:
            _pick_by_number(question, [str(c.value) for c in choices])
        return str(await question.unsafe_ask_async(patch_stdout=True))


def _pick_by_number(question: questionary.Question, values: list[str]) -> None:
    """Typing 1..n answers the question with that choice (no Enter needed)."""
    bindings = KeyBindings()
    for number, value in enumerate(values, start=1):

        def pick(event: KeyPressEvent, value: str = value) -> None:
            event.app.exit(result=value)

        bindings.add(str(number), eager=True)(pick)
    app = question.application
    app.key_bindings = merge_key_bindings([app.key_bindings or KeyBindings(), bindings])


# ------------------------------------------------------------------------------ session


@dataclass
class Learned:
    """What the session taught beyond its events: NLU corrections and new domain names."""

    nlu: dict[str, dict[str, Any]] = field(default_factory=dict)  # text -> parse data
    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "nlu": self.nlu,
            "intents": self.intents,
            "entities": self.entities,
            "actions": self.actions,
            "responses": self.responses,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Learned:
        return cls(
            nlu=dict(data.get("nlu") or {}),
            intents=list(data.get("intents") or []),
            entities=list(data.get("entities") or []),
            actions=list(data.get("actions") or []),
            responses=dict(data.get("responses") or {}),
        )

    def apply(self, domain: Domain) -> None:
        """Declare the new names in the running domain."""
        _with_names(
            domain,
            {
                "intents": self.intents,
                "entities": self.entities,
                "responses": self.responses,
                "actions": self.actions,
            },
        )


def recovery_path(bot_dir: Path) -> Path:
    return bot_dir / ".chinwag" / RECOVERY_FILE


class Session:
    """One interactive session: the conversation, what it taught, and the prompts."""

    def __init__(
        self,
        agent: Agent,
        bot: Bot,
        *,
        prompts: Prompts | None = None,
        console: Console | None = None,
        feed: GraphFeed | None = None,
        retrain: bool | None = None,
    ) -> None:
        self.agent = agent
        self.bot = bot
        self.domain = agent.domain
        self.prompts = prompts or Prompts()
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.feed = feed
        self.retrain = retrain
        self.tracker = Tracker(SENDER_ID, self.domain)
        self.learned = Learned()
        self.recovery = recovery_path(bot.path)
        self.interrupted = False  # Ctrl-C while no prompt was open: the menu opens next
        self.paths = training_paths(bot) if feed is not None else []
        self.memo = self._memo_policies()
        self.base_lookups = [dict(policy.lookup) for policy in self.memo]

    def _memo_policies(self) -> list[MemoizationPolicy]:
        """The running memoization policies (one is added when the bot has none)."""
        found = [p for p in self.agent.policies.policies if isinstance(p, MemoizationPolicy)]
        if not found:
            policy = MemoizationPolicy()
            self.agent.policies.policies.append(policy)
            found = [policy]
        return found

    # -------------------------------------------------------------- the loop

    async def run(self) -> int:
        await self._offer_resume()
        await self._changed()
        self.console.print(
            "Teach the bot: confirm or correct what it understood and does. Ctrl-C opens the "
            "menu (undo, fork, start fresh, export & quit).",
            style="dim",
            markup=False,
        )
        while True:
            try:
                if self.interrupted:
                    self.interrupted = False
                    raise KeyboardInterrupt
                if self._bot_to_act():
                    await self._predict_till_listen()
                else:
                    await self._user_turn()
            except KeyboardInterrupt:
                # a Ctrl-C inside the menu (or its questions) goes back to the conversation
                with contextlib.suppress(KeyboardInterrupt):
                    if await self._menu():
                        return 0

    def _bot_to_act(self) -> bool:
        """True when the user spoke last and the bot has not listened since."""
        for event in reversed(self.tracker.events):
            if isinstance(event, UserUttered):
                return True
            if isinstance(event, ActionExecuted):
                return event.action_name not in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME)
        return False

    def _message(self, text: str | None) -> UserMessage:
        return UserMessage(text, SENDER_ID, "interactive")

    async def _user_turn(self) -> None:
        self._print_history()
        text = (await self.prompts.text("Next user input:")).strip()
        if not text:
            return
        parse_data = await self._understand(text)
        # the agent's own order: a new session if due, the user event, slot mappings
        await self.agent._log_user_message(
            self._message(text), self.tracker, self.agent.clock(), parse_data
        )
        await self._changed()
        await self._predict_till_listen()

    async def _understand(self, text: str) -> dict[str, Any]:
        """Parse data for ``text``, confirmed or corrected by the user (payloads as sent)."""
        try:
            is_payload = parse_payload(text) is not None
        except PayloadError:
            is_payload = False
        if is_payload:
            return await self.agent.parse(text)
        taught = self.learned.nlu.get(text)
        parse_data = dict(taught) if taught else await self.agent.parse(text)
        intent = (parse_data.get("intent") or {}).get("name") or "None"
        shown = annotate(text, _entities(parse_data))
        if await self.prompts.confirm(
            f"Is the NLU classification for '{shown}' with intent '{intent}' correct?"
        ):
            return parse_data
        intent = await self._pick_intent(parse_data)
        entities = await self._annotate(text, _entities(parse_data))
        corrected = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [e.as_dict() for e in entities],
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
        }
        self.learned.nlu[text] = corrected
        for entity in entities:
            if entity.entity not in self.domain.entities:
                self.learned.entities.append(entity.entity)
        self.learned.apply(self.domain)
        return corrected

    async def _pick_intent(self, parse_data: dict[str, Any]) -> str:
        scores = {name: 0.0 for name in self.domain.intent_names}
        for item in parse_data.get("intent_ranking") or []:
            if isinstance(item, dict) and item.get("name") in scores:
                scores[item["name"]] = float(item.get("confidence") or 0.0)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        choices = [questionary.Choice(f"{score:.2f} {name}", value=name) for name, score in ranked]
        choices.append(questionary.Choice(NEW_INTENT, value=NEW_INTENT))
        intent = await self.prompts.select("What intent is it?", choices, search=True)
        if intent != NEW_INTENT:
            return intent
        intent = (
            await self.prompts.text("Please type the intent name:", validate=_valid_name)
        ).strip()
        if intent not in self.domain.intents:
            self.learned.intents.append(intent)
            self.learned.apply(self.domain)
        return intent

    async def _annotate(self, text: str, entities: list[Entity]) -> list[Entity]:
        def check(answer: str) -> bool | str:
            problems = Problems()
            plain, _ = parse_annotated(answer, Location("<input>"), problems)
            if problems.errors:
                return str(problems.errors[0].message)
            return True if plain == text else f"the text must stay '{text}'"

        answer = await self.prompts.text(
            "Please mark the entities using [value](type) notation",
            default=annotate(text, entities),
            validate=check,
        )
        _, found = parse_annotated(answer, Location("<input>"), Problems())
        return found

    async def _predict_till_listen(self) -> None:
        for _ in range(self.agent.max_predictions):
            self._print_history()
            followup = self.agent._pending_followup(self.tracker)
            if followup is not None:
                name, policy, confidence = followup.action_name, "followup", 1.0
                extra: list[Event] = []
            else:
                name, prediction = self.agent.policies.predict(self.tracker, self.domain)
                policy, confidence = prediction.policy_name, prediction.max_confidence
                extra = prediction.events
            self.console.print(
                f"The bot predicts '{name}' ({policy}, confidence {confidence:.2f})",
                style="dim",
                markup=False,
            )
            if not await self.prompts.confirm(f"The bot wants to run '{name}', correct?"):
                name = await self._pick_action()
                policy, confidence, extra = "interactive", 1.0, []
            await self._check_form(name)
            listen = await self._run_action(name, policy, confidence, extra)
            await self._changed()
            if listen:
                return
        self.console.print(
            f"The bot ran {self.agent.max_predictions} actions without listening; it listens "
            "now (check the stories for a loop).",
            style="yellow",
            markup=False,
        )
        self.tracker.update(ActionExecuted(ACTION_LISTEN_NAME, policy="circuit_breaker"))
        await self._changed()

    async def _pick_action(self) -> str:
        scores = {name: 0.0 for name in self.domain.action_names}
        for policy in self.agent.policies.policies:
            prediction = policy.predict(self.tracker, self.domain)
            for name, score in prediction.probabilities.items():
                scores[name] = max(scores.get(name, 0.0), score)
        for hidden in UNLISTED_ACTIONS:
            scores.pop(hidden, None)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        choices = [questionary.Choice(NEW_ACTION, value=NEW_ACTION)]
        choices += [questionary.Choice(f"{score:.2f} {name}", value=name) for name, score in ranked]
        name = await self.prompts.select(
            "What is the next action of the bot?", choices, search=True
        )
        if name != NEW_ACTION:
            return name
        name = (
            await self.prompts.text(
                "Please type the action name (utter_... for a response):", validate=_valid_name
            )
        ).strip()
        if self.domain.is_known_action(name):
            return name
        if name.startswith("utter_"):
            said = await self.prompts.text("What should the bot say?", validate=_not_empty)
            self.learned.responses[name] = [{"text": said}]
        else:
            self.learned.actions.append(name)
        self.learned.apply(self.domain)
        return name

    async def _check_form(self, name: str) -> None:
        """Rasa's form handling: another action rejects the active form; the form chosen
        again after that asks whether it should validate the user's input."""
        loop = self.tracker.active_loop_name
        if not loop:
            return
        if name not in (loop, ACTION_LISTEN_NAME):
            self.tracker.update(ActionExecutionRejected(loop, "interactive", 1.0))
            return
        restored = (
            name == loop
            and self.tracker.is_active_loop_rejected
            and self.tracker.latest_action_name == ACTION_LISTEN_NAME
        )
        if not restored:
            return
        slot = self.tracker.get_slot(REQUESTED_SLOT)
        validate = await self.prompts.confirm(
            f"Should '{loop}' validate user input to fill the slot '{slot}'?"
        )
        self._warn_form_conflict(loop, str(slot), validate)
        self.tracker.update(LoopInterrupted(not validate))

    def _warn_form_conflict(self, loop: str, slot: str, validate: bool) -> None:
        """Name a training story that, at this point, does the opposite of ``validate``."""
        now = tracker_states(self.tracker, self.domain)[-CONFLICT_HISTORY:]
        for conv in expand(self.bot.stories, Problems()):
            if conv.kind != "story":
                continue
            steps = conv.steps
            for turn in conversation_states(conv, self.domain):
                if turn.action != loop or list(turn.history[-CONFLICT_HISTORY:]) != now:
                    continue
                at = next((i for i, s in enumerate(steps) if s.location == turn.location), None)
                if at is None or turn.story is None:
                    continue
                following = steps[at + 1] if at + 1 < len(steps) else None
                fills = isinstance(following, SlotStep) and following.slots.get(slot) is not None
                if fills != validate:
                    where = f" ({turn.location})" if turn.location else ""
                    self.console.print(
                        f"Warning: the story '{turn.story.name}'{where} "
                        f"{'fills' if fills else 'does not fill'} '{slot}' here; your answer "
                        "contradicts it. Remove or change that story, or the trained bot will "
                        "not do what you teach now.",
                        style="yellow",
                        markup=False,
                    )
                    return

    async def _run_action(
        self, name: str, policy: str, confidence: float, extra: list[Event]
    ) -> bool:
        """Run ``name`` as the agent does; True when the bot listens next."""
        before = len(self.tracker.events)
        if self.agent.registry.find(name) is None:
            self.console.print(
                f"'{name}' has no implementation yet; logged without running it.",
                style="yellow",
                markup=False,
            )
            self.tracker.update(ActionExecuted(name, policy=policy, confidence=confidence))
            return name == ACTION_LISTEN_NAME
        try:
            listen = await self.agent._run(
                name,
                self.tracker,
                self._message(None),
                policy=policy,
                confidence=confidence,
                extra_events=extra,
                now=self.agent.clock(),
            )
        except Exception as exc:  # a bug in an action must not end the session
            logger.exception("action %s failed", name)
            self.console.print(f"action '{name}' failed: {exc}", style="red", markup=False)
            self.tracker = Tracker(SENDER_ID, self.domain, self.tracker.events[:before])
            self.tracker.update(ActionExecuted(name, policy=policy, confidence=confidence))
            self.tracker.update(ActionExecuted(ACTION_LISTEN_NAME, policy=policy))
            return True
        for event in self.tracker.events[before:]:
            if isinstance(event, BotUttered) and event.text:
                self.console.print(event.text, style="bold cyan", markup=False)
        return listen

    # -------------------------------------------------------------- learning and saving

    async def _changed(self) -> None:
        """After every change: learn, save the session, redraw the graph."""
        self._learn()
        self._save()
        if self.feed is not None:
            current = event_path(self.tracker.events)
            paths = paths_sharing_beginning(self.paths, current)
            await self.feed.publish(build_graph(paths, current))

    def _learn(self) -> None:
        """The running memoization policies know every turn of the session."""
        conversations = split_at_restarts(self.tracker.events)
        for policy, base in zip(self.memo, self.base_lookups, strict=True):
            policy.lookup = dict(base)
            for events in conversations:
                seen_user = False
                running = Tracker(SENDER_ID, self.domain)
                for event in Tracker(SENDER_ID, self.domain, events).applied_events():
                    if isinstance(event, UserUttered):
                        seen_user = True
                    elif isinstance(event, ActionExecuted) and seen_user and event.action_name:
                        policy.remember(running, self.domain, event.action_name)
                    running.update(event)

    def _save(self) -> None:
        data = {
            "version": RECOVERY_VERSION,
            "saved": time.time(),
            "events": [event.to_dict() for event in self.tracker.events],
            "learned": self.learned.as_dict(),
        }
        self.recovery.parent.mkdir(parents=True, exist_ok=True)
        partial = self.recovery.with_suffix(".tmp")
        partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, self.recovery)

    async def _offer_resume(self) -> None:
        if not self.recovery.is_file():
            return
        try:
            data = json.loads(self.recovery.read_text(encoding="utf-8"))
            events = events_from_list(data["events"])
            learned = Learned.from_dict(data.get("learned") or {})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.console.print(
                f"{self.recovery}: cannot read the saved session ({exc}); starting fresh",
                style="yellow",
                markup=False,
            )
            return
        turns = sum(isinstance(e, UserUttered) for e in events)
        saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(data.get("saved", 0))))
        if await self.prompts.confirm(
            f"Resume the unfinished session of {saved} ({turns} user messages)?"
        ):
            self.learned = learned
            learned.apply(self.domain)
            self.tracker = Tracker(SENDER_ID, self.domain, events)
        else:
            os.replace(
                self.recovery, self.recovery.with_name(f"{RECOVERY_FILE}.{int(time.time())}")
            )

    # -------------------------------------------------------------- the menu

    async def _menu(self) -> bool:
        """Ctrl-C's menu; True when the session is over."""
        choices = [questionary.Choice(title, value=title) for title in MENU]
        choice = await self.prompts.select("What do you want to do?", choices)
        if choice == "Undo Last":
            self._undo()
        elif choice == "Fork":
            await self._fork()
        elif choice == "Start Fresh":
            self.tracker.update(Restarted())
        elif choice == "Export & Quit":
            return await self._export_and_quit()
        await self._changed()
        return False

    def _user_indices(self) -> list[int]:
        return [i for i, e in enumerate(self.tracker.events) if isinstance(e, UserUttered)]

    def _truncate(self, index: int) -> None:
        self.tracker = Tracker(SENDER_ID, self.domain, self.tracker.events[:index])

    def _undo(self) -> None:
        users = self._user_indices()
        if not users:
            self.console.print("Nothing to undo.", style="yellow", markup=False)
            return
        self._truncate(users[-1])

    async def _fork(self) -> None:
        users = self._user_indices()
        if not users:
            self.console.print("Nothing to fork from yet.", style="yellow", markup=False)
            return
        choices = []
        for index in users:
            event = self.tracker.events[index]
            assert isinstance(event, UserUttered)
            choices.append(questionary.Choice(str(event.text), value=str(index)))
        picked = await self.prompts.select(
            "Before which user message do you want to fork?", choices
        )
        self._truncate(int(picked))

    async def _export_and_quit(self) -> bool:
        root = self.bot.path
        domain_default = (
            "domain.yml" if not (root / "domain").is_dir() else "domain/interactive.yml"
        )
        targets = []
        for question, default in (
            ("Export stories to", "data/stories.yml"),
            ("Export NLU data to", "data/nlu.yml"),
            ("Export domain to", domain_default),
        ):
            answer = (await self.prompts.text(question, default=default)).strip() or default
            targets.append(root / answer)
        exporter = Exporter(self.bot, self.learned, self.tracker.events)
        try:
            notes = exporter.write(*targets)
        except (ExportError, OSError) as exc:
            self.console.print(f"Export failed: {exc}", style="red", markup=False)
            return False  # the session stays, nothing is lost
        for note in notes:
            self.console.print(note, markup=False)
        self.recovery.unlink(missing_ok=True)
        retrain = self.retrain
        if retrain is None:
            retrain = await self.prompts.confirm("Train a new model from the exported data?")
        if retrain:
            from chinwag.core.train import train_bot

            result = await asyncio.to_thread(train_bot, root, console=self.console)
            if not result.ok:
                for problem in result.problems.errors:
                    self.console.print(str(problem), style="red", markup=False)
                self.console.print("not trained (fix the errors first)", style="red")
            else:
                self.console.print(f"trained {result.archive}", markup=False)
        return True

    # -------------------------------------------------------------- the screen

    def _print_history(self) -> None:
        table = Table("#", "Bot", "You", title="Chat History", show_lines=True)
        table.columns[2].justify = "right"
        number = 0
        bot_lines: list[str] = []

        def flush() -> None:
            nonlocal number, bot_lines
            if bot_lines:
                number += 1
                table.add_row(str(number), "\n".join(bot_lines), "")
                bot_lines = []

        for event in self.tracker.applied_events():
            if isinstance(event, ActionExecuted) and event.action_name not in (
                None,
                ACTION_SESSION_START_NAME,
            ):
                confidence = event.confidence if event.confidence is not None else 1.0
                bot_lines.append(f"{event.action_name} {confidence:.2f}")
            elif isinstance(event, BotUttered) and event.text:
                bot_lines.append(f"  {event.text}")
            elif isinstance(event, UserUttered):
                flush()
                number += 1
                intent = event.intent or {}
                you = f"{event.text}\nintent: {intent.get('name')} "
                you += f"{float(intent.get('confidence') or 0.0):.2f}"
                table.add_row(str(number), "", you)
        flush()
        if number:
            self.console.print(table)
        slots = ", ".join(
            f"{name}: {self.tracker.slots.get(name)}"
            for name in self.domain.slots
            if name != "session_started_metadata"
        )
        if slots:
            self.console.print(f"Current slots:\n\t{slots}", markup=False)


def _entities(parse_data: dict[str, Any]) -> list[Entity]:
    found = []
    for item in parse_data.get("entities") or []:
        if isinstance(item, dict) and "entity" in item:
            found.append(
                Entity(
                    item["entity"],
                    item.get("value"),
                    item.get("start"),
                    item.get("end"),
                    item.get("role"),
                    item.get("group"),
                )
            )
    return found


def _valid_name(answer: str) -> bool | str:
    name = answer.strip()
    if not name or any(c.isspace() for c in name) or name.startswith("/") or "{" in name:
        return "a name: no spaces, no leading slash, no braces"
    return True


def _not_empty(answer: str) -> bool | str:
    return True if answer.strip() else "please type what the bot should say"


# ------------------------------------------------------------------------------ export


def split_at_restarts(events: Sequence[Event]) -> list[list[Event]]:
    """The conversations of a session: the events between restarts."""
    conversations: list[list[Event]] = [[]]
    for event in events:
        if isinstance(event, Restarted):
            conversations.append([])
        else:
            conversations[-1].append(event)
    return conversations


def session_stories(events: Sequence[Event], first_number: int = 1) -> list[Story]:
    """The session as training stories, one per conversation (split at restarts); user
    turns by intent and entities (their texts go to the NLU data)."""
    stories: list[Story] = []
    for conversation in split_at_restarts(events):
        applied = Tracker(SENDER_ID, None, conversation).applied_events()
        steps = []
        for event in applied:
            for step in story_steps(event):
                if isinstance(step, StoryUserStep):
                    step.text = None
                steps.append(step)
        if any(isinstance(step, StoryUserStep) for step in steps):
            name = f"{STORY_PREFIX}{first_number + len(stories)}"
            stories.append(Story(name, steps))
    return stories


def session_examples(events: Sequence[Event]) -> list[Message]:
    """The user texts of the session (payloads aside) as NLU examples."""
    examples: list[Message] = []
    for event in events:
        if not isinstance(event, UserUttered) or not event.text or not event.intent_name:
            continue
        try:
            if parse_payload(event.text) is not None:
                continue
        except PayloadError:
            pass
        examples.append(Message(event.text, event.intent_name, _entities(event.parse_data)))
    return examples


class Exporter:
    """Writes a session's stories, NLU examples and new domain names into the bot's files."""

    def __init__(self, bot: Bot, learned: Learned, events: Sequence[Event]) -> None:
        self.bot = bot
        self.learned = learned
        self.events = list(events)

    def write(self, stories_path: Path, nlu_path: Path, domain_path: Path) -> list[str]:
        """Write all three; what was done. Every new text is made and checked before any
        file is replaced, so a failure (ExportError) leaves every file as it was."""
        notes = []
        pending: dict[Path, str] = {}

        def current(path: Path) -> str | None:
            if path in pending:
                return pending[path]
            return path.read_text(encoding="utf-8") if path.exists() else None

        taken = {s.name for s in self.bot.stories if s.name.startswith(STORY_PREFIX)}
        number = 1
        while f"{STORY_PREFIX}{number}" in taken:
            number += 1
        stories = session_stories(self.events, number)
        if stories:
            dumped = dump_stories_yaml(StoryData(stories=stories))
            pending[stories_path] = _add_items(
                current(stories_path), "stories", dumped, stories_path
            )
            notes.append(f"Appended {len(stories)} stories to {stories_path}")
        examples = self._new_examples()
        if examples:
            dumped = dump_nlu_yaml(NLUData(examples=examples))
            pending[nlu_path] = _add_items(current(nlu_path), "nlu", dumped, nlu_path)
            notes.append(f"Added {len(examples)} NLU examples to {nlu_path}")
        names = self._new_domain_names()
        if names:
            pending[domain_path], note = self._domain_text(current(domain_path), domain_path, names)
            notes.append(note)
        for path, text in pending.items():
            _replace(path, text)
        return notes

    def _new_examples(self) -> list[Message]:
        known = {(m.text.strip(), m.intent) for m in self.bot.nlu.examples}
        fresh: list[Message] = []
        for message in session_examples(self.events):
            key = (message.text.strip(), message.intent)
            if key not in known:
                known.add(key)
                fresh.append(message)
        return fresh

    def _new_domain_names(self) -> dict[str, Any]:
        """Section -> new items, for the names the bot's files do not declare yet."""
        declared = self.bot.domain
        learned = self.learned
        out: dict[str, Any] = {}
        intents = [n for n in learned.intents if n not in declared.intents]
        entities = [n for n in learned.entities if n not in declared.entities]
        actions = [n for n in learned.actions if n not in declared.actions]
        responses = {n: v for n, v in learned.responses.items() if n not in declared.responses}
        if intents:
            out["intents"] = intents
        if entities:
            out["entities"] = entities
        if responses:
            out["responses"] = responses
        if actions:
            out["actions"] = actions
        return out

    def _domain_text(self, text: str | None, path: Path, names: dict[str, Any]) -> tuple[str, str]:
        """The domain file with the new names, and what was done."""
        listed = ", ".join(n for items in names.values() for n in items)
        if text is None:
            return dump_domain_yaml(_with_names(Domain(), names)), (
                f"Wrote the new names ({listed}) to {path}"
            )
        try:
            for section, items in names.items():
                dumped = yaml.safe_dump({section: items}, sort_keys=False, allow_unicode=True)
                text = _insert(text, section, dumped, path)
        except ExportError as exc:
            problems = Problems()
            domain = read_domain([path], self.bot.path, problems)
            if problems.errors:
                raise ExportError(f"{path}: {problems.errors[0]}") from None
            return dump_domain_yaml(_with_names(domain, names)), (
                f"Rewrote {path} whole with the new names ({listed}); comments not kept: {exc}"
            )
        return text, f"Added {listed} to {path}"


def _with_names(domain: Domain, names: dict[str, Any]) -> Domain:
    for name in names.get("intents", []):
        domain.intents.setdefault(name, Intent(name))
    for name in names.get("entities", []):
        domain.entities.setdefault(name, EntityDef(name))
    for name, variations in names.get("responses", {}).items():
        domain.responses.setdefault(name, variations)
    for name in names.get("actions", []):
        domain.actions.setdefault(name, ActionDef(name))
    return domain


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _add_items(text: str | None, section: str, dumped: str, path: Path) -> str:
    """``text`` with the items of ``section`` of the dumped document appended (the whole
    document when there is no file yet)."""
    if text is None:
        return dumped
    return _insert(text, section, dumped, path)


def _section_items(dumped: str, section: str) -> list[str]:
    """The lines of ``section``'s items in a document dumped with ``section:`` at column 0."""
    lines = dumped.splitlines()
    start = lines.index(f"{section}:") + 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i] and lines[i][0] not in " -"), len(lines)
    )
    items = lines[start:end]
    base = len(items[0]) - len(items[0].lstrip()) if items else 0
    return [line[base:] for line in items]


def _insert(text: str, section: str, dumped: str, path: Path) -> str:
    """``text`` with the items of ``dumped``'s ``section`` added after the last item of the
    same top-level section (a new section at the end when there is none); the result is
    checked to read back with every old and new item."""
    items = _section_items(dumped, section)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ExportError(f"{path} is not valid YAML ({exc})") from None
    lines = text.splitlines()
    before = yaml.safe_load(text) if root is not None else None
    if root is None or not isinstance(root, yaml.MappingNode):
        if text.strip():
            raise ExportError(f"{path}: expected a YAML mapping at the top")
        new_lines = [*lines, f"{section}:", *items]
    else:
        value = next((v for k, v in root.value if k.value == section), None)
        if value is None:
            if lines and lines[-1].strip():
                lines.append("")
            new_lines = [*lines, f"{section}:", *items]
        else:
            new_lines = _into_block(lines, value, items, section, path)
    result = "\n".join(new_lines) + "\n"
    _check_added(before, yaml.safe_load(result), section, dumped, path)
    return result


def _into_block(
    lines: list[str], value: yaml.Node, items: list[str], section: str, path: Path
) -> list[str]:
    if getattr(value, "flow_style", False) or not value.value:
        raise ExportError(f"{path}: '{section}' is not a block list or mapping to add to")
    if isinstance(value, yaml.SequenceNode):
        indent = value.start_mark.column
        last = value.value[-1]
    elif isinstance(value, yaml.MappingNode):
        indent = value.value[0][0].start_mark.column
        last = value.value[-1][1]
    else:
        raise ExportError(f"{path}: '{section}' is neither a list nor a mapping")
    end = last.end_mark
    at = end.line if end.column == 0 else end.line + 1
    # blank lines and comments that close the section (a comment at or left of the items'
    # column cannot be part of a block scalar) stay below the new items
    while at > last.start_mark.line + 1 and _closing(lines[at - 1], indent):
        at -= 1
    shifted = [(" " * indent + line) if line else line for line in items]
    return [*lines[:at], *shifted, *lines[at:]]


def _closing(line: str, indent: int) -> bool:
    stripped = line.lstrip()
    return not stripped or (stripped.startswith("#") and len(line) - len(stripped) <= indent)


def _check_added(before: Any, after: Any, section: str, dumped: str, path: Path) -> None:
    added = yaml.safe_load(dumped)[section]
    old = (before or {}).get(section) or type(added)()
    new = (after or {}).get(section)
    if isinstance(added, list):
        ok = isinstance(new, list) and new == [*old, *added]
    else:
        ok = isinstance(new, dict) and new == {**old, **added}
    others_kept = {k: v for k, v in (before or {}).items() if k != section} == {
        k: v for k, v in (after or {}).items() if k != section
    }
    if not ok or not others_kept:
        raise ExportError(f"{path}: could not add to '{section}' without changing other content")


# ------------------------------------------------------------------------------ entry point


async def _serve_visualization(feed: GraphFeed, title: str, port: int, console: Console) -> Any:
    from aiohttp import web

    runner = web.AppRunner(visualization_app(feed, title), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        console.print(
            f"the story graph cannot listen on port {port} ({exc}); going on without it",
            style="yellow",
            markup=False,
        )
        return None
    bound = runner.addresses[0][1] if runner.addresses else port
    console.print(
        f"Story graph: http://localhost:{bound}/visualization.html", style="bold", markup=False
    )
    return runner


async def interactive(
    bot_dir: Path,
    *,
    model: Path | None = None,
    endpoints: Path | None = None,
    port: int = DEFAULT_PORT,
    visualize: bool = True,
    retrain: bool | None = None,
    console: Console | None = None,
) -> int:
    console = console or Console(highlight=False, soft_wrap=True)
    try:
        agent = load_agent(bot_dir, model_archive=model, endpoints=endpoints)
    except BotDataError as exc:
        for problem in exc.problems:
            console.print(str(problem), style="red", markup=False)
        console.print(f"{bot_dir}: cannot start (fix the errors first)", style="bold red")
        return 1
    bot = load_bot(bot_dir)
    feed = GraphFeed() if visualize else None
    session = Session(agent, bot, console=console, feed=feed, retrain=retrain)
    runner = None
    if feed is not None:
        runner = await _serve_visualization(feed, f"{bot.name}: interactive", port, console)
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        session.interrupted = True
        console.print("\n(Ctrl-C: the menu opens at the next prompt)", style="dim", markup=False)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        return await session.run()
    except EOFError:
        console.print("input closed; the session is saved and offered next time", style="dim")
        return 0
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        if runner is not None and feed is not None:
            await feed.close()
            await runner.cleanup()
        await agent.close()
