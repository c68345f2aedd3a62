"""The channels' memory of what they already handled."""

from __future__ import annotations

from adapters.seen import RecentIds


def test_recent_ids_expire_by_age_and_size() -> None:
    now = [0.0]
    seen = RecentIds(size=2, seconds=10, clock=lambda: now[0])
    assert seen.first_time("a") and not seen.first_time("a")
    now[0] = 11
    assert seen.first_time("a")  # forgotten after ``seconds``
    assert seen.first_time("b") and seen.first_time("c")
    assert seen.first_time("a")  # pushed out by size
    assert not seen.first_time("c")
