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
        state = snapshot()
        by_pid = {worker.pid: usage for worker, usage in zip(workers, usages, strict=True)}
        for worker_state in state.workers:
            usage = by_pid.get(worker_state.pid)
            if usage is not None:
                worker_state.user_ms = usage.get("ru_utime")
                worker_state.system_ms = usage.get("ru_stime")
        self._state.snapshot = state
        return generate_latest(self.registry)


async def _resource_usage(worker: Worker) -> dict[str, int] | None:
    try:
        return await asyncio.wait_for(worker.get_resource_usage(), RESOURCE_USAGE_TIMEOUT)
    except (SfuError, TimeoutError):
        return None
