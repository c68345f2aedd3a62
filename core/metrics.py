"""Prometheus metrics of a hub (``GET /metrics``), one :class:`HubMetrics` per hub.

Each hub keeps its own :class:`prometheus_client.CollectorRegistry` (never the global one),
so tests and several hubs in one process do not clash. Labels are few and bounded: the bot's
folder name, the channel (rest, slack, telegram, shell...) and, for errors, a fixed kind.
The core binds a :class:`BotMetrics` once per bot (the children of each metric for its
``bot`` label), so measuring a message costs a few counter increments and histogram
observations, nothing per conversation.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from chinwag.core.stores.base import StoreError
from chinwag.core.stores.locks import LockStore, LockTimeout

__all__ = ["ACTIVE_MINUTES", "CONTENT_TYPE_LATEST", "BotMetrics", "HubMetrics"]

ACTIVE_MINUTES = 15  # a conversation is active when it had a message in the last 15 minutes
# seconds: a message handled in 1 ms up to one that waited on a slow action server or store
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGES = ("message", "nlu", "policy", "action", "store")


class HubMetrics:
    """The hub's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_in = LoopCounter(
            "chinwag_messages_received", "User messages received", ["bot", "channel"], registry=r
        )
        self.messages_out = LoopCounter(
            "chinwag_messages_sent", "Bot messages sent", ["bot", "channel"], registry=r
        )
        self.latency = LoopHistogram(
            "chinwag_latency_seconds",
            "Time spent per message (stage=message) and in its NLU, policy, action and store steps",
            ["bot", "stage"],
            buckets=BUCKETS,
            registry=r,
        )
        self.fallbacks = LoopCounter(
            "chinwag_fallbacks", "Messages NLU was unsure of (nlu_fallback)", ["bot"], registry=r
        )
        self.errors = LoopCounter(
            "chinwag_errors",
            "Failures: kind=action (an action failed), store (a load or append failed), "
            "lock_timeout (a message waited too long for its conversation)",
            ["bot", "kind"],
            registry=r,
        )
        self.lock_waits = LoopHistogram(
            "chinwag_lock_wait_seconds",
            "Time a message waited for its conversation's lock",
            ["bot"],
            buckets=BUCKETS,
            registry=r,
        )
        self.active = Gauge(
            "chinwag_active_conversations",
            f"Conversations with a message in the last {ACTIVE_MINUTES} minutes",
            ["bot"],
            registry=r,
        )

    def for_bot(self, bot: str) -> BotMetrics:
        return BotMetrics(self, bot)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class _Child(Protocol):
    """What a LoopMetric child gives the registry: its samples, added to ``metric``."""

    def add_samples(self, metric: Metric, name: str, labels: dict[str, str]) -> None: ...


_ChildT = TypeVar("_ChildT", bound=_Child)


class LoopMetric(Generic[_ChildT]):
    """A labelled metric whose children keep plain numbers, for updates made on one thread
    (the event loop's), exposed in prometheus_client's own series.

    The library's metrics take a lock on every update: a histogram one for its sum and
    another for the bucket, which a message paid nine times (3% of its CPU), and a counter
    one for each increment. Here a child's update is a few additions, and the registry reads
    the numbers when it is scraped (:meth:`collect`). Tests compare the expositions with the
    library's, byte for byte.
    """

    kind = ""  # the Prometheus type: each subclass's

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], _ChildT] = {}
        registry.register(self)

    def _new_child(self) -> _ChildT:
        raise NotImplementedError

    def labels(self, *values: str) -> _ChildT:
        """The child for these label values (made on first use)."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: labels {self.labelnames}, got {values!r}")
        key = tuple(map(str, values))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, self.kind)
        for values, child in list(self._children.items()):
            child.add_samples(metric, self.name, dict(zip(self.labelnames, values, strict=True)))
        yield metric


class LoopCounter(LoopMetric["CounterChild"]):
    """:class:`prometheus_client.Counter`'s series (``_total``, ``_created``)."""

    kind = "counter"

    def _new_child(self) -> CounterChild:
        return CounterChild()


class CounterChild:
    """One label set's count of a :class:`LoopCounter`."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount

    def add_samples(self, metric: Metric, name: str, labels: dict[str, str]) -> None:
        metric.add_sample(f"{name}_total", labels, self.value)
        metric.add_sample(f"{name}_created", labels, self.created)


class LoopHistogram(LoopMetric["HistogramChild"]):
    """:class:`prometheus_client.Histogram`'s series (``_bucket``, ``_count``, ``_sum``,
    ``_created``)."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        self.bounds = (*bounds, math.inf) if bounds[-1] != math.inf else tuple(bounds)
        super().__init__(name, documentation, labelnames, registry=registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.bounds)


class HistogramChild:
    """One label set's counts of a :class:`LoopHistogram`: how many observations fell in
    each bucket (not cumulative), their sum, and when it was made."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        """Count ``amount`` (a duration) in the first bucket whose bound is at least it."""
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1

    def add_samples(self, metric: Metric, name: str, labels: dict[str, str]) -> None:
        total = 0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            total += count
            le = floatToGoString(bound)
            metric.add_sample(f"{name}_bucket", {**labels, "le": le}, total)
        metric.add_sample(f"{name}_count", labels, total)
        metric.add_sample(f"{name}_sum", labels, self.sum)
        metric.add_sample(f"{name}_created", labels, self.created)


class BotMetrics:
    """One bot's children of the hub's metrics; what the agent calls on its steps."""

    def __init__(self, hub: HubMetrics | None, bot: str) -> None:
        hub = hub or HubMetrics()  # a bot outside a hub measures into a registry of its own
        self.hub = hub
        self.bot = bot
        self._latency = {stage: hub.latency.labels(bot, stage) for stage in STAGES}
        self._fallbacks = hub.fallbacks.labels(bot)
        self._lock_waits = hub.lock_waits.labels(bot)
        self._errors = {
            kind: hub.errors.labels(bot, kind) for kind in ("action", "store", "lock_timeout")
        }
        self._active = hub.active.labels(bot)
        self._seen: OrderedDict[str, float] = OrderedDict()  # conversation -> last message
        self._channels: dict[str, tuple[CounterChild, CounterChild]] = {}

    def timed(self, stage: str) -> _Timed:
        """Observe the time spent in the ``with`` block as ``stage``'s latency (even when it
        raises)."""
        return _Timed(self._latency[stage])

    def locked(self, locks: LockStore, conversation_id: str) -> _Locked:
        """``locks.lock(conversation_id)``, observing the wait and counting lock timeouts and
        store errors raised inside."""
        return _Locked(self, locks.lock(conversation_id))

    def error(self, kind: str) -> None:
        self._errors[kind].inc()

    def fallback(self) -> None:
        self._fallbacks.inc()

    def _channel(self, name: str) -> tuple[CounterChild, CounterChild]:
        children = self._channels.get(name)
        if children is None:
            children = self._channels[name] = (
                self.hub.messages_in.labels(self.bot, name),
                self.hub.messages_out.labels(self.bot, name),
            )
        return children

    def received(self, channel: str) -> None:
        """A user message came in on ``channel`` (an adapter's name: rest, slack...)."""
        self._channel(channel)[0].inc()

    def sent(self, channel: str, count: int) -> None:
        """``count`` bot messages went out on ``channel``."""
        self._channel(channel)[1].inc(count)

    def conversation_seen(self, conversation_id: str, now: float) -> None:
        """Count ``conversation_id`` as active; forget those quiet for ACTIVE_MINUTES."""
        seen = self._seen
        seen[conversation_id] = now
        seen.move_to_end(conversation_id)
        horizon = now - ACTIVE_MINUTES * 60
        while seen:
            oldest, last = next(iter(seen.items()))
            if last >= horizon:
                break
            del seen[oldest]
        self._active.set(len(seen))


class _Locked:
    """What :meth:`BotMetrics.locked` returns (a plain class, like :class:`_Timed`)."""

    __slots__ = ("_lock", "_metrics")

    def __init__(self, metrics: BotMetrics, lock: AbstractAsyncContextManager[None]) -> None:
        self._metrics = metrics
        self._lock = lock

    async def __aenter__(self) -> None:
        started = time.perf_counter()
        try:
            await self._lock.__aenter__()
        except BaseException as exc:
            self._count(exc)
            raise
        self._metrics._lock_waits.observe(time.perf_counter() - started)

    async def __aexit__(
        self,
        type_: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            suppressed = await self._lock.__aexit__(type_, value, traceback)
        except BaseException as exc:
            self._count(exc)
            raise
        if value is not None and not suppressed:
            self._count(value)
        return suppressed

    def _count(self, exc: BaseException) -> None:
        if isinstance(exc, LockTimeout):
            self._metrics._errors["lock_timeout"].inc()
        elif isinstance(exc, StoreError):
            self._metrics._errors["store"].inc()


class _Timed:
    """A ``with`` block's duration into a histogram (a plain class: half the cost of a
    generator-based context manager on the per-message path)."""

    __slots__ = ("_histogram", "_started")

    def __init__(self, histogram: HistogramChild) -> None:
        self._histogram = histogram
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._histogram.observe(time.perf_counter() - self._started)
