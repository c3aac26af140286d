"""Prometheus metrics of the server: room state at scrape time, counters, worker CPU."""

import asyncio
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sfu import SfuError, Worker

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESOURCE_USAGE_TIMEOUT = 1.0


@dataclass
class WorkerState:
    pid: int
    routers: int
    peers: int
    # Milliseconds of CPU time from getrusage(), or None if the worker did not respond.
    user_ms: int | None = None
    system_ms: int | None = None
    # Cumulative media counters from the worker (Worker.get_media_counters), or None.
    media: dict[str, int] | None = None


@dataclass
class Snapshot:
    """Counts read from the room registry just before a scrape."""

    rooms: int = 0
    connections: int = 0
    peers: int = 0
    producers: Tally[str] = field(default_factory=Tally)
    consumers: Tally[str] = field(default_factory=Tally)
    workers: list[WorkerState] = field(default_factory=list)


class _StateCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        yield GaugeMetricFamily("pysfu_rooms", "Open rooms.", value=snapshot.rooms)
        yield GaugeMetricFamily(
            "pysfu_connections",
            "socket.io connections with a valid token, joined or not.",
            value=snapshot.connections,
        )
        yield GaugeMetricFamily(
            "pysfu_peers", "Peers that have joined a room.", value=snapshot.peers
        )
        for name, tally, text in (
            ("pysfu_producers", snapshot.producers, "Open producers by kind."),
            ("pysfu_consumers", snapshot.consumers, "Open consumers by kind."),
        ):
            family = GaugeMetricFamily(name, text, labels=["kind"])
            for kind in ("audio", "video"):
                family.add_metric([kind], tally[kind])
            yield family

        yield GaugeMetricFamily("pysfu_workers", "Live media workers.", value=len(snapshot.workers))
        routers = GaugeMetricFamily("pysfu_worker_routers", "Rooms per worker.", labels=["worker"])
        peers = GaugeMetricFamily(
            "pysfu_worker_peers", "Connections per worker.", labels=["worker"]
        )
        cpu = CounterMetricFamily(
            "pysfu_worker_cpu_seconds",
            "CPU time used by each worker process (getrusage).",
            labels=["worker", "mode"],
        )

        for worker in snapshot.workers:
            label = str(worker.pid)
            routers.add_metric([label], worker.routers)
            peers.add_metric([label], worker.peers)
            if worker.user_ms is not None and worker.system_ms is not None:
                cpu.add_metric([label, "user"], worker.user_ms / 1000)
                cpu.add_metric([label, "system"], worker.system_ms / 1000)
        yield routers
        yield peers
        yield cpu
        yield from _media_families(snapshot.workers)


class Metrics:
    """The metrics registry of one server instance (tests may run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.join_attempts = Counter(
            "pysfu_join_attempts",
            "socket.io connection attempts to a room.",
            registry=self.registry,
        )
        self.join_successes = Counter(
            "pysfu_join_successes", "Successful join requests.", registry=self.registry
        )
        self.join_failures = Counter(
            "pysfu_join_failures",
            "Rejected connections and failed join requests, by error code.",
            ["reason"],
            registry=self.registry,
        )
        self.worker_deaths = Counter(
            "pysfu_worker_deaths", "Worker processes that died.", registry=self.registry
        )
        self.reconnects = Counter(
            "pysfu_reconnects",
            "Peers told to reconnect because the worker of their room died.",
            registry=self.registry,
        )
        self.consumer_ack_timeouts = Counter(
            "pysfu_consumer_ack_timeouts",
            "Consumers closed because the client did not acknowledge newConsumer in time.",
            registry=self.registry,
        )
        self.requests = Counter(
            "pysfu_requests",
            "Room requests answered, by request name and result (ok or the error code).",
            ["request", "result"],
            registry=self.registry,
        )
        self._state = _StateCollector()
        self.registry.register(self._state)

    async def render(self, snapshot: Callable[[], Snapshot], workers: list[Worker]) -> bytes:
        """Ask every worker for its CPU time, then return the metrics in text format."""
        usages = await asyncio.gather(*(_resource_usage(worker) for worker in workers))
        media = await asyncio.gather(*(_media_counters(worker) for worker in workers))
        state = snapshot()
        by_pid = {worker.pid: usage for worker, usage in zip(workers, usages, strict=True)}
        media_by_pid = {
            worker.pid: counters for worker, counters in zip(workers, media, strict=True)
        }
        for worker_state in state.workers:
            usage = by_pid.get(worker_state.pid)
            if usage is not None:
                worker_state.user_ms = usage.get("ru_utime")
                worker_state.system_ms = usage.get("ru_stime")
            worker_state.media = media_by_pid.get(worker_state.pid)
        self._state.snapshot = state
        return generate_latest(self.registry)


async def _resource_usage(worker: Worker) -> dict[str, int] | None:
    try:
        return await asyncio.wait_for(worker.get_resource_usage(), RESOURCE_USAGE_TIMEOUT)
    except (SfuError, TimeoutError):
        return None


async def _media_counters(worker: Worker) -> dict[str, int] | None:
    try:
        return await asyncio.wait_for(worker.get_media_counters(), RESOURCE_USAGE_TIMEOUT)
    except (SfuError, TimeoutError):
        return None


# (metric name, help, label name, {label value: counter key}) of the worker media counters.
_MEDIA_METRICS = (
    (
        "pysfu_worker_rtp_packets",
        "RTP packets received from and sent to clients, per worker.",
        "direction",
        {"in": "rtpPacketsReceived", "out": "rtpPacketsSent"},
    ),
    (
        "pysfu_worker_bytes",
        "Bytes received and sent on media sockets, per worker.",
        "direction",
        {"in": "bytesReceived", "out": "bytesSent"},
    ),
    (
        "pysfu_worker_nacks",
        "Generic NACKs sent to publishers (out) and received from subscribers (in).",
        "direction",
        {"out": "nacksSent", "in": "nacksReceived"},
    ),
    (
        "pysfu_worker_key_frame_requests",
        "PLI and FIR sent to publishers (out) and received from subscribers (in).",
        "direction",
        {"out": "keyFrameRequestsSent", "in": "keyFrameRequestsReceived"},
    ),
)


def _media_families(workers: list[WorkerState]) -> Iterable[Metric]:
    """Build the counter families of the workers' media counters."""
    reporting = [worker for worker in workers if worker.media is not None]
    for name, text, label, keys in _MEDIA_METRICS:
        family = CounterMetricFamily(name, text, labels=["worker", label])
        for worker in reporting:
            assert worker.media is not None
            for value, key in keys.items():
                family.add_metric([str(worker.pid), value], worker.media.get(key, 0))
        yield family
    retransmitted = CounterMetricFamily(
        "pysfu_worker_retransmitted_packets",
        "Packets resent to subscribers after a NACK.",
        labels=["worker"],
    )
    lost = CounterMetricFamily(
        "pysfu_worker_packets_lost",
        "Packets from publishers that never arrived (RFC 3550 cumulative loss).",
        labels=["worker"],
    )
    dropped = CounterMetricFamily(
        "pysfu_worker_dropped_packets",
        "Packets the worker dropped, by reason (malformed, unknown, too large, ...).",
        labels=["worker", "reason"],
    )
    for worker in reporting:
        assert worker.media is not None
        label = str(worker.pid)
        retransmitted.add_metric([label], worker.media.get("packetsRetransmitted", 0))
        lost.add_metric([label], worker.media.get("packetsLost", 0))
        for key, count in sorted(worker.media.items()):
            if key.startswith("dropped."):
                dropped.add_metric([label, key.removeprefix("dropped.")], count)
    yield retransmitted
    yield lost
    yield dropped
