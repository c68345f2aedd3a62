"""The shipped example bot must pass its own checks."""

from pathlib import Path

from core.data.loader import load_bot
from core.data.validate import validate_bot

BOT = Path(__file__).resolve().parents[2] / "bots" / "restaurant"


def test_restaurant_bot_is_clean() -> None:
    bot = load_bot(BOT)
    problems = validate_bot(bot)
    assert [str(p) for p in problems] == []
    assert list(bot.domain.forms) == ["restaurant_form", "hotel_form"]
    assert bot.domain.forms["restaurant_form"].required_slots == [
        "cuisine",
        "num_people",
        "outdoor_seating",
        "preferences",
        "feedback",
    ]
    assert len(bot.test_stories) >= 1
