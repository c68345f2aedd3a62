"""BotMetrics.locked: the lock's wait observed, lock timeouts and store errors counted."""

from __future__ import annotations

import pytest

from chinwag.core.metrics import BotMetrics
from chinwag.core.stores.base import StoreUnavailable
from chinwag.core.stores.locks import InProcessLockStore, LockTimeout


def sample(metrics: BotMetrics, name: str, **labels: str) -> float:
    value = metrics.hub.registry.get_sample_value(name, {"bot": "b", **labels})
    return value or 0.0


async def test_locked_observes_waits_and_counts_what_failed_inside() -> None:
    metrics = BotMetrics(None, "b")
    locks = InProcessLockStore(wait_timeout=0.01)
    async with metrics.locked(locks, "c"):
        with pytest.raises(LockTimeout):
            async with metrics.locked(locks, "c"):
                pass
    assert sample(metrics, "chinwag_errors_total", kind="lock_timeout") == 1
    assert sample(metrics, "chinwag_lock_wait_seconds_count") == 1  # the timeout got no lock
    with pytest.raises(StoreUnavailable):
        async with metrics.locked(locks, "c"):
            raise StoreUnavailable("down")
    with pytest.raises(KeyError):
        async with metrics.locked(locks, "c"):
            raise KeyError("other")
    assert sample(metrics, "chinwag_errors_total", kind="store") == 1
    assert sample(metrics, "chinwag_errors_total", kind="lock_timeout") == 1
    assert sample(metrics, "chinwag_lock_wait_seconds_count") == 3
    assert locks._locks == {}
