"""BotMetrics.locked: the lock's wait observed, lock timeouts and store errors counted;
LoopHistogram and LoopCounter exposed as prometheus_client's Histogram and Counter are."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from chinwag.core.metrics import BUCKETS, BotMetrics, LoopCounter, LoopHistogram
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


def exposed(registry: CollectorRegistry) -> str:
    """The registry's exposition, each _created time replaced (they differ, nothing else)."""
    text = generate_latest(registry).decode()
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", text)


def test_a_loop_histogram_is_exposed_as_the_library_histogram_is() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("t_seconds", "Time", ["bot", "stage"], buckets=BUCKETS, registry=ours)
    library = Histogram("t_seconds", "Time", ["bot", "stage"], buckets=BUCKETS, registry=theirs)
    # on a bound, between bounds, past the last, zero, and a second label set
    amounts = [0.001, 0.0011, 0.0025, 0.03, 31.0, 0.0, 1e-9, 10.0, 7.5]
    for i, amount in enumerate(amounts):
        labels = ("b", "nlu" if i % 3 else "message")
        loop.labels(*labels).observe(amount)
        library.labels(*labels).observe(amount)

    assert exposed(ours) == exposed(theirs)
    assert 't_seconds_bucket{bot="b",le="+Inf",stage="nlu"} 6.0' in exposed(ours)
    with pytest.raises(ValueError, match="labels"):
        loop.labels("b")


def test_a_loop_counter_is_exposed_as_the_library_counter_is() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopCounter("m_sent", "Sent", ["bot", "channel"], registry=ours)
    library = Counter("m_sent", "Sent", ["bot", "channel"], registry=theirs)
    for channel, amount in [("rest", 1), ("slack", 2.5), ("rest", 3), ("telegram", 0)]:
        loop.labels("b", channel).inc(amount)
        library.labels("b", channel).inc(amount)
    loop.labels("b", "rest").inc()
    library.labels("b", "rest").inc()
    assert exposed(ours) == exposed(theirs)
    assert 'm_sent_total{bot="b",channel="rest"} 5.0' in exposed(ours)
    with pytest.raises(ValueError, match="non-negative"):
        loop.labels("b", "rest").inc(-1)
