"""What every action is: a name and ``run(ctx) -> events``.

Responses an action sends are ``BotUttered`` events among the ones it returns (as in Rasa);
the agent turns them into channel-neutral response dicts. An action that cannot handle the
current situation (a form whose requested slot was not filled, a custom action answering 400)
raises :class:`ActionExecutionRejection` so other policies get a chance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag.core.domain import Domain
from chinwag.core.events import Event
from chinwag.core.tracker import Tracker

if TYPE_CHECKING:
    from chinwag.channel_responses.variations import ResponseGenerator


class ActionExecutionRejection(Exception):
    """The action declines to run now; the agent records ``action_execution_rejected``."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        self.message = message or f"action '{action_name}' rejected execution"
        super().__init__(self.message)


@dataclass
class ActionContext:
    """What an action may use: the conversation, the domain, and the response generator."""

    tracker: Tracker
    domain: Domain
    nlg: ResponseGenerator
    # the channel the latest user message came from ("rest", "slack", "telegram", "shell"...),
    # for picking channel-specific response variations
    channel: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_tracker(self, tracker: Tracker) -> ActionContext:
        """This context for ``tracker`` (``dataclasses.replace`` without its per-field
        introspection: forms hand a tracker of their own to two or three actions a turn)."""
        return ActionContext(tracker, self.domain, self.nlg, self.channel, self.extra)


class Action(ABC):
    """One runnable action."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def run(self, ctx: ActionContext) -> list[Event]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name()!r})"
