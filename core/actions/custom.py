"""A bot's own ``actions.py`` (or ``actions/`` package), run in-process.

:func:`load_actions_module` imports the bot's actions the way ``python -m rasa_sdk --actions
actions`` does from the bot folder (so ``from actions.x import y`` works), then files the
modules under a name private to that bot, so two bots' ``actions`` never clash. Every concrete
subclass of ``rasa_sdk.Action`` (when rasa_sdk is installed) or of :class:`core.actions.sdk.Action`
becomes an :class:`InProcessAction`, which does what rasa_sdk's ``ActionExecutor.run`` does and
returns the same events a remote action server would.

Without rasa_sdk installed, ``import rasa_sdk`` (and ``rasa_sdk.events`` / ``executor`` /
``forms`` / ``interfaces`` / ``types``) resolves to :mod:`core.actions.sdk`, so Rasa bots' actions
load unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import operator
import pkgutil
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from chinwag.core.actions import sdk
from chinwag.core.actions.base import Action, ActionContext, ActionExecutionRejection
from chinwag.core.actions.remote import ActionServerError, events_from_action_response
from chinwag.core.data.domain_reader import display_path
from chinwag.core.data.problems import BotDataError, Location, Problems
from chinwag.core.domain import Domain
from chinwag.core.events import Event, EventError, SlotSet, UnreadableEvent, stored_text
from chinwag.core.jsontext import dumps, json_copy, json_value

logger = logging.getLogger(__name__)

ACTIONS_MODULE = "actions"
# what ``import rasa_sdk...`` resolves to when rasa_sdk is not installed
SDK_MODULE_ALIASES = (
    "rasa_sdk",
    "rasa_sdk.events",
    "rasa_sdk.executor",
    "rasa_sdk.forms",
    "rasa_sdk.interfaces",
    "rasa_sdk.types",
)
# modules whose Action subclasses are library bases, never a bot's actions (as rasa_sdk skips)
_LIBRARY_PREFIXES = ("rasa_sdk", "rasa.", "rasa_core", "chinwag.core.actions.sdk")
CACHED_CONVERSATIONS = 1000
# rasa_sdk's FormValidationAction warns on every form turn for each slot without a
# validate_<slot> method (a normal thing to leave out); each such text is logged once
SDK_REPEATED_WARNINGS = ("rasa_sdk.forms", "Skipping validation for ")
REMEMBERED_WARNINGS = 1000


class OnceFilter(logging.Filter):
    """Lets each text starting with ``prefix`` through once (the first ``limit`` texts are
    remembered), every other record always."""

    def __init__(self, prefix: str, limit: int = REMEMBERED_WARNINGS) -> None:
        super().__init__()
        self.prefix = prefix
        self.limit = limit
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(self.prefix):
            return True
        text = record.getMessage()
        if text in self._seen:
            return False
        if len(self._seen) < self.limit:
            self._seen.add(text)
        return True

    def passed(self, text: str) -> bool:
        """Whether ``text`` went through already (a record of it would be dropped)."""
        return text in self._seen


class OnceLogger(logging.LoggerAdapter):
    """A library module's logger that makes no record for a text its :class:`OnceFilter`
    already let through: rasa_sdk's forms module builds its warning anew on every form
    turn, and making the record only for the filter to drop it took about 10 us (0.4% of a
    message's instructions in bench/results/agent_cpu.md, round 12). Every other call goes
    to the logger as it was."""

    def __init__(self, logger: logging.Logger, once: OnceFilter) -> None:
        super().__init__(logger, {})
        self.once = once

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not args and isinstance(msg, str) and self.once.passed(msg):
            return
        # the record names the library's line, not this one
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        super().log(level, msg, *args, **kwargs)


def _quiet_repeated_sdk_warnings() -> None:
    """Install the :class:`OnceFilter` on rasa_sdk's forms logger, and the module's
    :class:`OnceLogger` in front of it (once per process)."""
    name, prefix = SDK_REPEATED_WARNINGS
    sdk_logger = logging.getLogger(name)
    once = next((f for f in sdk_logger.filters if isinstance(f, OnceFilter)), None)
    if once is None:
        once = OnceFilter(prefix)
        sdk_logger.addFilter(once)
    module = sys.modules.get(name)
    if module is not None and getattr(module, "logger", None) is sdk_logger:
        setattr(module, "logger", OnceLogger(sdk_logger, once))  # noqa: B010 - not ours


class EventTexts:
    """The JSON text of recent conversations' events, for the tracker an action receives.

    Events never change once they are in a tracker, and a tracker (and its copies) keep the
    same event objects from one message to the next. A stored event's text is the one its
    store made (:func:`~core.events.stored_text`); the others (this message's, not stored
    yet) are serialized only if the action reads them (:class:`UnreadEvents`). A call looks
    up only the events that are not, by identity, the ones it saw last time for that
    conversation. At most ``max_conversations`` are kept, least recently used first out.
    """

    def __init__(self, max_conversations: int = CACHED_CONVERSATIONS) -> None:
        self.max_conversations = max_conversations
        self._known: OrderedDict[str, tuple[list[Event], list[str | None]]] = OrderedDict()

    def unread(self, sender_id: str, events: Sequence[Event]) -> UnreadEvents:
        """``events`` with the JSON text of each stored one, for an action's tracker to parse
        when it reads them."""
        known, texts = self._known.pop(sender_id, ([], []))
        if len(events) >= len(known) and all(map(operator.is_, known, events)):
            same = len(known)  # the usual case, checked without a Python loop: events added
        else:
            same = 0
            for old, new in zip(known, events, strict=False):
                if old is not new:
                    break
                same += 1
            del known[same:], texts[same:]
        for event in events[same:]:
            known.append(event)
            texts.append(stored_text(event))
        self._known[sender_id] = (known, texts)
        while len(self._known) > self.max_conversations:
            self._known.popitem(last=False)
        return UnreadEvents(known.copy(), texts.copy())


def _text_of(event: Event, text: str | None) -> str:
    """A readable event's JSON: ``text`` if known (the stored one), the store's text if it
    has been stored since, else made now."""
    return text or stored_text(event) or dumps(event.to_dict())


class UnreadEvents:
    """A conversation's events as an action's tracker holds them until it reads them: the
    events and the JSON text of those known to be stored (``None`` for the others, whose
    text is made when they are read)."""

    __slots__ = ("_tail", "events", "texts")

    def __init__(self, events: list[Event], texts: list[str | None]) -> None:
        self.events = events
        self.texts = texts
        self._tail: list[dict[str, Any]] | None = None  # trailing_slots, once parsed

    def parsed(self) -> list[dict[str, Any]]:
        """Every readable one as JSON values: new objects (what an action server parses),
        but the very ``trailing_slots`` if they were asked for."""
        readable = [  # an unreadable stored event is left out, as Tracker.current_state does
            _text_of(event, text)
            for event, text in zip(self.events, self.texts, strict=True)
            if not isinstance(event, UnreadableEvent)
        ]
        tail = self._tail or []
        head = readable[: len(readable) - len(tail)]
        return cast(list[dict[str, Any]], json_value(f"[{', '.join(head)}]")) + tail

    def trailing_slots(self) -> list[dict[str, Any]]:
        """The ``slot`` events at their end, parsed, in order (the same objects each time);
        the events before them are not parsed."""
        if self._tail is None:
            texts = []
            for event, text in zip(reversed(self.events), reversed(self.texts), strict=True):
                if isinstance(event, UnreadableEvent):  # left out of the tracker's events
                    continue
                if event.type_name != SlotSet.type_name:
                    break
                texts.append(_text_of(event, text))
            self._tail = [json_value(text) for text in reversed(texts)]
        return self._tail


class LazyEvents:
    """Mixed into an SDK's tracker class by :func:`lazy_tracker`: the tracker's ``events``
    are parsed from the conversation's JSON when something first reads them, not before.

    A form's validation action reads only the trailing ``slot`` events
    (``slots_to_validate``) and appends the ones it extracted (``add_slots``): both are done
    here without parsing the events before those, with the SDK's results (tests compare the
    two on random conversations). Whatever else touches ``events`` (the action's own code, any
    other SDK method) gets the whole list, and the very same list from then on, holding what
    ``add_slots`` appended before. A copy or a pickle is the SDK's own tracker, events
    parsed."""

    _sdk_tracker: type  # the SDK's tracker class (set on each mixed class)
    _unread: UnreadEvents | None
    _added: list[dict[str, Any]]
    _events: list[dict[str, Any]]

    @property
    def events(self) -> list[dict[str, Any]]:
        if self._unread is not None:
            self._events = self._unread.parsed() + self._added
            self._unread = None
        return self._events

    @events.setter
    def events(self, events: list[dict[str, Any]]) -> None:
        self._unread = None
        self._events = events

    def slots_to_validate(self) -> dict[str, Any]:
        if self._unread is None:
            return cast(dict[str, Any], super().slots_to_validate())  # type: ignore[misc]
        trailing = self._unread.trailing_slots() + self._added  # add_slots adds only slots
        return {event["name"]: event["value"] for event in trailing}

    def add_slots(self, slots: list[dict[str, Any]]) -> None:
        if self._unread is None:
            super().add_slots(slots)  # type: ignore[misc]
            return
        for event in slots:
            if event.get("event") != "slot":
                continue
            self.slots[event["name"]] = event["value"]  # type: ignore[attr-defined]
            self._added.append(event)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        state = {
            name: value
            for name, value in self.__dict__.items()
            if name not in ("_unread", "_added", "_events")
        }
        state["events"] = self.events
        return (_restored_tracker, (self._sdk_tracker, state))


def _restored_tracker(cls: type[Any], state: dict[str, Any]) -> Any:
    """A tracker of the SDK's class ``cls`` with ``state`` (a copy or unpickling of a
    :class:`LazyEvents` tracker)."""
    tracker = object.__new__(cls)
    tracker.__dict__.update(state)
    return tracker


_LAZY_CLASSES: dict[type, type] = {}


def lazy_tracker(tracker: Any, unread: UnreadEvents) -> Any:
    """``tracker`` (an SDK's tracker, built without events) holding ``unread`` as its events,
    parsed when first read (:class:`LazyEvents`). An SDK whose tracker keeps its events other
    than as a plain attribute gets them parsed at once."""
    cls = type(tracker)
    if "events" not in getattr(tracker, "__dict__", ()):
        tracker.events = unread.parsed()
        return tracker
    lazy = _LAZY_CLASSES.get(cls)
    if lazy is None:
        names = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "_sdk_tracker": cls,
        }
        lazy = _LAZY_CLASSES[cls] = type(cls.__name__, (LazyEvents, cls), names)
    del tracker.__dict__["events"]
    tracker.__class__ = lazy
    tracker._unread = unread
    tracker._added = []
    return tracker


_EVENT_TEXTS = EventTexts()


@dataclass(frozen=True)
class _Runtime:
    """The SDK an action class was written against: its tracker, dispatcher and rejection."""

    tracker_from_dict: Callable[[dict[str, Any]], Any]
    dispatcher: Callable[[], Any]
    rejections: tuple[type[BaseException], ...]


class InProcessAction(Action):
    """A bot's SDK-style action (``run(dispatcher, tracker, domain)``) run in this process."""

    def __init__(self, name: str, impl: Any, runtime: _Runtime) -> None:
        self._name = name
        self.impl = impl
        self._runtime = runtime
        # the domain as JSON data, made once per domain (a loaded domain does not change)
        self._domain_data: tuple[Domain, dict[str, Any]] | None = None

    def name(self) -> str:
        return self._name

    def _domain_dict(self, domain: Domain) -> dict[str, Any]:
        """The domain as an action server holds it: rasa_sdk's executor also parses the
        domain once and hands the same dict to every action call."""
        if self._domain_data is None or self._domain_data[0] is not domain:
            self._domain_data = (domain, json_copy(domain.as_dict()))
        return self._domain_data[1]

    async def run(self, ctx: ActionContext) -> list[Event]:
        # the tracker goes through JSON: the action sees exactly what an action server would
        # receive and cannot change our tracker through shared objects; each event's JSON is
        # made once per conversation (EventTexts) and parsed when the action reads the events
        # (LazyEvents), the rest of the state per call
        rest = ctx.tracker.current_state("none")
        rest["events"] = []  # the SDK's tracker is built without them
        unread = _EVENT_TEXTS.unread(ctx.tracker.sender_id, ctx.tracker.events)
        state = json_copy(rest)
        domain = self._domain_dict(ctx.domain)
        tracker = lazy_tracker(self._runtime.tracker_from_dict(state), unread)
        dispatcher = self._runtime.dispatcher()
        try:
            returned = await sdk.call_potential_coroutine(
                self.impl.run(dispatcher, tracker, domain)
            )
            if getattr(dispatcher, "is_streaming_active", False):
                logger.warning("action '%s' never called stream_end(): closing it", self._name)
                await dispatcher.stream_end()
        except ActionExecutionRejection:
            raise
        except self._runtime.rejections as exc:
            name = getattr(exc, "action_name", self._name)
            raise ActionExecutionRejection(name, getattr(exc, "message", None)) from exc
        except Exception as exc:
            logger.exception("custom action '%s' raised an exception", self._name)
            raise ActionServerError(
                self._name, f"custom action '{self._name}' failed: {type(exc).__name__}: {exc}"
            ) from exc
        events = _valid_events(returned or [], self._name)
        try:
            payload = json_copy({"events": events, "responses": dispatcher.messages})
        except (TypeError, ValueError) as exc:
            message = f"custom action '{self._name}' returned data that is not JSON: {exc}"
            logger.error(message)
            raise ActionServerError(self._name, message) from exc
        try:
            return await events_from_action_response(payload["events"], payload["responses"], ctx)
        except (EventError, TypeError) as exc:
            message = f"custom action '{self._name}' returned an invalid event: {exc}"
            logger.error(message)
            raise ActionServerError(self._name, message) from exc


def _valid_events(events: Any, action_name: str) -> list[dict[str, Any]]:
    """rasa_sdk's ``validate_events``: event dicts with an ``event`` key; others are dropped."""
    if not isinstance(events, (list, tuple)):
        logger.error("action '%s' returned %r instead of a list of events", action_name, events)
        return []
    valid = []
    for event in events:
        if isinstance(event, dict) and event.get("event"):
            valid.append(event)
        else:
            logger.error(
                "action '%s' returned an invalid event %r (use the helpers of rasa_sdk.events):"
                " ignored",
                action_name,
                event,
            )
    return valid


# -- loading ------------------------------------------------------------------------------------


def load_actions_module(bot_dir: Path, problems: Problems | None = None) -> dict[str, Action]:
    """The bot's custom actions by name (empty when it has no ``actions.py`` / ``actions/``).

    Import errors and unusable action classes are reported into ``problems`` with the file and
    line they come from; without ``problems`` they raise :class:`BotDataError`.
    """
    root = bot_dir.resolve()
    source = _actions_source(root)
    if source is None:
        return {}
    found = Problems()
    bases = _sdk_action_bases()
    _quiet_repeated_sdk_warnings()
    with _bot_import_context(root):
        # collect inside: inspect finds the classes' source while `actions` is the bot's
        actions = _collect_actions(_import_actions(root, source, found), bases, root, found)
    if problems is not None:
        problems.extend(found)
    elif found.errors:
        raise BotDataError(found.errors)
    return actions


def _actions_source(root: Path) -> Path | None:
    """``actions/`` (a package, or a folder of modules) or ``actions.py``, as Python finds it."""
    package = root / ACTIONS_MODULE
    if (package / "__init__.py").is_file():
        return package
    module = root / f"{ACTIONS_MODULE}.py"
    if module.is_file():
        return module
    return package if package.is_dir() else None


def isolated_module_name(root: Path) -> str:
    """The bot's private prefix: its ``actions.x`` is ``sys.modules["<prefix>:actions.x"]``."""
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"chinwag_bot_{digest}"


def _sdk_action_bases() -> tuple[type, ...]:
    """The Action base classes bots may subclass; maps ``rasa_sdk`` to ours if it is absent."""
    try:
        rasa_sdk = importlib.import_module("rasa_sdk")
    except ImportError:
        for name in SDK_MODULE_ALIASES:
            sys.modules[name] = sdk
        return (sdk.Action,)
    real: type = rasa_sdk.Action
    return (sdk.Action,) if real is sdk.Action else (sdk.Action, real)


@contextmanager
def _bot_import_context(root: Path) -> Iterator[None]:
    """Import as ``python -m rasa_sdk --actions actions`` would from ``root``; on exit, file the
    new modules from the bot under its private name and restore ``actions`` and ``sys.path``."""
    private = isolated_module_name(root)
    for key in [k for k in sys.modules if k.startswith(private + ":")]:
        del sys.modules[key]
    before = set(sys.modules)
    shadowed = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_actions_name(k)}
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for key in set(sys.modules) - before:
            if _is_actions_name(key) or _inside(sys.modules[key], root):
                sys.modules[f"{private}:{key}"] = sys.modules.pop(key)
        sys.modules.update(shadowed)


def _is_actions_name(key: str) -> bool:
    return key == ACTIONS_MODULE or key.startswith(ACTIONS_MODULE + ".")


def _import_actions(root: Path, source: Path, problems: Problems) -> list[ModuleType]:
    """``actions`` and, for a package, every module below it."""
    try:
        top = importlib.import_module(ACTIONS_MODULE)
    except Exception as exc:
        _report_import_error(exc, root, source, problems)
        return []
    return [top, *_import_submodules(top, root, problems)] if source.is_dir() else [top]


def _import_submodules(package: ModuleType, root: Path, problems: Problems) -> list[ModuleType]:
    """Every module below ``package``, recursively (rasa_sdk's ``_import_submodules``)."""
    modules: list[ModuleType] = []
    for info in pkgutil.iter_modules(package.__path__, prefix=package.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            path = Path(package.__path__[0]) / info.name.rsplit(".", 1)[-1]
            _report_import_error(
                exc, root, path if info.ispkg else path.with_suffix(".py"), problems
            )
            continue
        modules.append(module)
        if info.ispkg:
            modules += _import_submodules(module, root, problems)
    return modules


def _inside(module: ModuleType, root: Path) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return Path(file).resolve().is_relative_to(root)


def _report_import_error(exc: Exception, root: Path, source: Path, problems: Problems) -> None:
    """One located error: the bot's file and line where the import failed."""
    location = Location(display_path(source, root))
    if isinstance(exc, SyntaxError) and exc.filename:
        location = Location(display_path(Path(exc.filename), root), exc.lineno)
    else:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if Path(frame.filename).resolve().is_relative_to(root):
                location = Location(display_path(Path(frame.filename), root), frame.lineno)
                break
    detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    problems.error(f"cannot import the bot's actions: {type(exc).__name__}: {detail}", location)


def _collect_actions(
    modules: list[ModuleType], bases: tuple[type, ...], root: Path, problems: Problems
) -> dict[str, Action]:
    """An :class:`InProcessAction` for every concrete action class the modules hold."""
    actions: dict[str, Action] = {}
    origin: dict[str, type] = {}
    seen: set[type] = set()
    for module in modules:
        for value in list(vars(module).values()):
            if not _is_action_class(value, bases) or value in seen:
                continue
            seen.add(value)
            action = _instantiate(value, root, problems)
            if action is None:
                continue
            name = action.name()
            if name in origin and origin[name] is not value:
                problems.warning(
                    f"action '{name}' is defined by both {origin[name].__qualname__} and "
                    f"{value.__qualname__}: the last one is used",
                    _class_location(value, root),
                )
            origin[name] = value
            actions[name] = action
    return actions


def _is_action_class(value: Any, bases: tuple[type, ...]) -> bool:
    return (
        inspect.isclass(value)
        and issubclass(value, bases)
        and not value.__module__.startswith(_LIBRARY_PREFIXES)
        and not inspect.isabstract(value)
    )


def _instantiate(cls: type, root: Path, problems: Problems) -> InProcessAction | None:
    where = _class_location(cls, root)
    try:
        instance = cls()
        name = instance.name()
    except NotImplementedError:
        return None  # an intermediate base class without a name of its own
    except Exception as exc:
        problems.error(
            f"cannot create action class {cls.__qualname__}: {type(exc).__name__}: {exc}", where
        )
        return None
    if not isinstance(name, str) or not name:
        problems.error(f"{cls.__qualname__}.name() must return text, got {name!r}", where)
        return None
    try:
        inspect.signature(instance.run).bind(None, None, None)
    except (TypeError, ValueError):
        problems.error(
            f"{cls.__qualname__}.run must take (dispatcher, tracker, domain), as rasa_sdk "
            f"actions do",
            where,
        )
        return None
    return InProcessAction(name, instance, _runtime_for(cls))


def _class_location(cls: type, root: Path) -> Location:
    try:
        file = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return Location(cls.__module__)
    return Location(display_path(Path(file), root) if file else cls.__module__, line)


def _runtime_for(cls: type) -> _Runtime:
    """rasa_sdk's own Tracker and dispatcher for rasa_sdk classes, ours for the others."""
    ours = _Runtime(
        sdk.Tracker.from_dict, sdk.CollectingDispatcher, (sdk.ActionExecutionRejection,)
    )
    rasa_sdk = sys.modules.get("rasa_sdk")
    if rasa_sdk is None or rasa_sdk is sdk or not issubclass(cls, rasa_sdk.Action):
        return ours
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.interfaces import ActionExecutionRejection as SdkRejection
    from rasa_sdk.interfaces import Tracker as SdkTracker

    return _Runtime(
        SdkTracker.from_dict, CollectingDispatcher, (SdkRejection, sdk.ActionExecutionRejection)
    )
