"""bots/restaurant, the example bot: clean, and the conversations its users have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.training import ActionStep, Story, UserStep
from chinwag.core.data.validate import validate_bot
from chinwag.core.events import ActionExecuted, UserUttered
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.policies.ensemble import build_policies
from chinwag.core.stores.cache import RecentTrackers

BOT = Path(__file__).resolve().parents[2] / "bots" / "restaurant"


def test_restaurant_bot_is_clean() -> None:
    bot = load_bot(BOT)
    assert [str(p) for p in validate_bot(bot)] == []
    assert list(bot.domain.forms) == ["restaurant_form", "hotel_form"]
    assert bot.domain.forms["restaurant_form"].required_slots == [
        "cuisine",
        "num_people",
        "outdoor_seating",
        "preferences",
        "feedback",
    ]
    assert len(bot.test_stories) >= 6


def test_restaurant_config_uses_chinwags_own_names() -> None:
    """`make run` on a fresh clone trains this bot: no mapping warning may show."""
    bot = load_bot(BOT)
    problems = Problems()
    NLUPipeline.from_config(
        bot.config.pipeline, bot.domain, problems, bot.config.pipeline_locations
    )
    build_policies(bot.config.policies, problems, bot.config.policy_locations)
    assert [str(p) for p in problems] == []


@pytest.fixture
def agent() -> Agent:
    return load_agent(BOT)


async def say(agent: Agent, text: str, sender: str = "guest") -> list[str]:
    return [r.get("text", "") for r in await agent.handle(UserMessage(text, sender))]


async def actions_after_each_message(agent: Agent, sender: str) -> list[list[str]]:
    """The actions the bot ran for each user message (listening left out)."""
    tracker = await agent.load_tracker(sender)
    turns: list[list[str]] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            turns.append([])
        elif isinstance(event, ActionExecuted) and turns and event.action_name != "action_listen":
            turns[-1].append(event.action_name)
    return turns


def expected_turns(story: Story) -> list[tuple[str, list[str]]]:
    turns: list[tuple[str, list[str]]] = []
    for step in story.steps:
        if isinstance(step, UserStep):
            turns.append((step.text or f"/{step.intent}", []))
        elif isinstance(step, ActionStep) and turns and step.name:
            turns[-1][1].append(step.name)
    return turns


TEST_STORIES = load_bot(BOT).test_stories


@pytest.mark.parametrize("cooled", [False, True], ids=["hot", "cooled"])
@pytest.mark.parametrize("story", TEST_STORIES, ids=[s.name for s in TEST_STORIES])
async def test_every_test_story_turn_by_turn(agent: Agent, story: Story, cooled: bool) -> None:
    """``cooled``: another conversation's message between two of the story's pushes the
    story's tracker out of the hot conversations, so every prediction replays its states."""
    if cooled:
        agent.trackers = RecentTrackers(hot_conversations=1)
    turns = expected_turns(story)
    for text, _ in turns:
        await agent.handle(UserMessage(text.strip(), story.name))
        if cooled:
            await agent.handle(UserMessage("hello", "someone else"))
    assert await actions_after_each_message(agent, story.name) == [a for _, a in turns]


async def test_wander_off_and_come_back(agent: Agent) -> None:
    assert await say(agent, "book a table") == ["What cuisine?"]
    assert await say(agent, "are you a bot?") == [
        "I am a bot, powered by chinwag.",
        "What cuisine?",
    ]
    assert await say(agent, "what is your favourite food") == [
        "Chitchat is nice, but let's get your booking done first.",
        "What cuisine?",
    ]
    assert await say(agent, "thai") == ["For how many people?"]
    assert await say(agent, "stop") == ["Do you want to continue?"]
    assert await say(agent, "yes") == ["For how many people?"]
    assert await say(agent, "3 people") == ["Do you want to sit outside?"]


async def test_values_the_validation_refuses_are_asked_again(agent: Agent) -> None:
    await say(agent, "book a table")
    assert await say(agent, "klingon food") == [
        "Sorry, we don't serve klingon food. We have: chinese, french, greek, indian, italian, "
        "japanese, mexican, spanish, thai.",
        "What cuisine?",
    ]
    assert await say(agent, "italiano") == ["For how many people?"]  # a synonym of italian
    assert await say(agent, "0 people") == [
        "The number of people should be a positive whole number, like 2.",
        "For how many people?",
    ]
    assert await say(agent, "for three") == ["Do you want to sit outside?"]
    tracker = await agent.load_tracker("guest")
    assert (tracker.get_slot("cuisine"), tracker.get_slot("num_people")) == ("italian", 3)


async def test_the_booking_is_read_back_with_every_slot(agent: Agent) -> None:
    for text in ("I want thai food", "4 people", "/affirm", "no preferences"):
        await say(agent, text)
    assert await say(agent, "sounds good") == [
        "All done!",
        "I am going to run a restaurant search using the following parameters:\n"
        " - cuisine: thai\n - num_people: 4\n - outdoor_seating: True\n"
        " - preferences: no additional preferences\n - feedback: sounds good",
    ]


async def test_hotel_form_with_a_button_payload(agent: Agent) -> None:
    assert await say(agent, "book a hotel room") == ["In which city?"]
    assert await say(agent, "Lisbon") == ["For how many nights?"]
    assert await say(agent, "for 5 nights") == ["Which room: single, double or suite?"]
    assert await say(agent, '/inform{"room_type": "suite"}') == [
        "Your suite room in Lisbon is booked for 5 nights."
    ]


class RankedNLU:
    """NLU that is unsure: it ranks intents as a trained model would (the NLU model is not
    part of this engine yet, so the ranking is given here)."""

    def __init__(self, rankings: dict[str, list[tuple[str, float]]]) -> None:
        self.rankings = rankings

    async def parse(self, text: str) -> dict[str, Any]:
        ranking = [{"name": n, "confidence": c} for n, c in self.rankings[text]]
        return {"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": []}


def unsure(agent: Agent, rankings: dict[str, list[tuple[str, float]]]) -> Agent:
    agent.interpreter = RankedNLU(rankings)
    return agent


async def test_unclear_message_is_clarified_with_a_prompt(agent: Agent) -> None:
    unsure(agent, {"hiya": [("greet", 0.2), ("goodbye", 0.1)]})
    said = await agent.handle(UserMessage("hiya", "guest"))
    assert said[0]["text"] == "Did you mean 'say hello'?"  # from intent_description_mapping.csv
    assert [b["payload"] for b in said[0]["buttons"]] == ["/greet", "/out_of_scope"]
    assert await say(agent, "/greet") == [
        "Hello! I can book a restaurant table or a hotel room. What would you like?"
    ]
    tracker = await agent.load_tracker("guest")
    # the clarified message replaced the unclear one: policies never see the detour
    intents = [e.intent_name for e in tracker.applied_events() if isinstance(e, UserUttered)]
    assert intents == ["greet"]


async def test_denying_twice_hands_over(agent: Agent) -> None:
    unsure(agent, {"hiya": [("greet", 0.2), ("goodbye", 0.1)], "hmm": [("stop", 0.2)]})
    await say(agent, "hiya")
    assert await say(agent, "/out_of_scope") == [
        "Sorry, I didn't quite understand that. Could you rephrase?"
    ]
    said = await say(agent, "hmm")
    assert said[0].startswith("Did you mean")
    assert await say(agent, "/out_of_scope") == [
        "Sorry, I can't help with that. Let me hand you over to a human."
    ]
    # no loop afterwards: a clear message is understood again
    assert await say(agent, "/greet") == [
        "Hello! I can book a restaurant table or a hotel room. What would you like?"
    ]


async def test_two_unclear_messages_in_a_row_hand_over(agent: Agent) -> None:
    unsure(agent, {"hiya": [("greet", 0.2)], "hmm": [("stop", 0.2)]})
    assert (await say(agent, "hiya"))[0].startswith("Did you mean")
    assert await say(agent, "hmm") == [
        "Sorry, I can't help with that. Let me hand you over to a human."
    ]
