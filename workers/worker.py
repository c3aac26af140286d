"""The worker process's root object: settings, certificate, routers and WebRtcServers."""

import asyncio
import os
import resource
from collections import Counter
from typing import Any

import structlog

from workers.certificate import Certificate
from workers.channel_server import ChannelServer
from workers.errors import InvalidParameterError, NotFoundError
from workers.params import require
from workers.registry import Registry
from workers.router import Router
from workers.webrtc_server import WebRtcServer

LOG_LEVELS = ("debug", "warn", "error", "none")
LOG_TAGS = (
    "info",
    "ice",
    "dtls",
    "rtp",
    "srtp",
    "rtcp",
    "rtx",
    "bwe",
    "score",
    "simulcast",
    "svc",
    "sctp",
    "message",
)


class WorkerSettings:
    """Validated worker settings; bad values raise InvalidParameterError naming the setting."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.log_level = "error"
        self.log_tags: list[str] = []
        self.update(data)
        min_port = data.get("rtcMinPort", 10000)
        max_port = data.get("rtcMaxPort", 59999)
        for name, value in (("rtcMinPort", min_port), ("rtcMaxPort", max_port)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
                raise InvalidParameterError(f"{name} must be an integer 1..65535, got {value!r}")
        if min_port > max_port:
            raise InvalidParameterError(
                f"rtcMinPort {min_port} is greater than rtcMaxPort {max_port}"
            )
        self.port_range = (min_port, max_port)
        self.certificate_file = data.get("dtlsCertificateFile")
        self.private_key_file = data.get("dtlsPrivateKeyFile")

    def update(self, data: dict[str, Any]) -> None:
        level = data.get("logLevel", self.log_level)
        if level not in LOG_LEVELS:
            raise InvalidParameterError(
                f"logLevel must be one of {list(LOG_LEVELS)}, got {level!r}"
            )
        tags = data.get("logTags", self.log_tags)
        if not isinstance(tags, list) or any(tag not in LOG_TAGS for tag in tags):
            raise InvalidParameterError(f"logTags must be a list of {list(LOG_TAGS)}, got {tags!r}")
        self.log_level = level
        self.log_tags = list(tags)


def load_certificate(settings: WorkerSettings) -> Certificate:
    if settings.certificate_file or settings.private_key_file:
        if not (settings.certificate_file and settings.private_key_file):
            raise InvalidParameterError(
                "dtlsCertificateFile and dtlsPrivateKeyFile must be given together"
            )
        return Certificate.load(settings.certificate_file, settings.private_key_file)
    return Certificate.generate()


class Worker:
    def __init__(
        self, channel: ChannelServer, settings: WorkerSettings, certificate: Certificate
    ) -> None:
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.settings = settings
        self.certificate = certificate
        self.registry = Registry()
        self.routers: dict[str, Router] = {}
        self.webrtc_servers: dict[str, WebRtcServer] = {}
        self.logger = structlog.get_logger("workers").bind(worker=os.getpid())
        # Counters of closed transports, producers and consumers, so totals never go down.
        self.retired_counters: Counter[str] = Counter()

    @property
    def port_range(self) -> tuple[int, int]:
        return self.settings.port_range

    async def handle_request(self, method: str, target_id: str | None, data: dict[str, Any]) -> Any:
        """Route one request: `worker.*` methods here, others to the object named by target."""
        if method.startswith("worker."):
            return await self._handle_worker_request(method, data)
        target = self.registry.get(target_id)
        result = target.handle_request(method, data)
        if hasattr(result, "__await__"):
            result = await result
        return result

    async def _handle_worker_request(self, method: str, data: dict[str, Any]) -> Any:
        if method == "worker.dump":
            return self.dump()
        if method == "worker.getResourceUsage":
            return resource_usage()
        if method == "worker.getMediaCounters":
            return dict(self.media_counters())
        if method == "worker.updateSettings":
            self.settings.update(data)
            return None
        if method == "worker.createRouter":
            router_id = require(data, "routerId", str)
            if router_id in self.registry:
                raise InvalidParameterError(f"routerId {router_id!r} is already in use")
            router = Router(self, router_id)
            self.routers[router_id] = router
            self.registry.add(router)
            self.logger.debug("router created", router=router_id)
            return None
        if method == "worker.closeRouter":
            router_id = require(data, "routerId", str)
            if router_id not in self.routers:
                raise NotFoundError(f"router {router_id!r} not found")
            router = self.routers.pop(router_id)
            router.close()
            self.registry.remove(router.id)
            self.logger.debug("router closed", router=router.id)
            return None
        if method == "worker.createWebRtcServer":
            server = WebRtcServer(data)
            if server.id in self.registry:
                raise InvalidParameterError(f"webRtcServerId {server.id!r} is already in use")
            await server.open(data, self.port_range)
            self.webrtc_servers[server.id] = server
            self.registry.add(server)
            return server.describe()
        if method == "worker.closeWebRtcServer":
            server_id = require(data, "webRtcServerId", str)
            if server_id not in self.webrtc_servers:
                raise NotFoundError(f"webRtcServer {server_id!r} not found")
            server = self.webrtc_servers.pop(server_id)
            server.close()
            self.registry.remove(server.id)
            return None
        if method == "worker.close":
            self.close()
            return None
        raise NotFoundError(f"unknown worker method {method!r}")

    def retire_counters(self, counters: dict[str, int]) -> None:
        self.retired_counters.update(counters)

    def media_counters(self) -> Counter[str]:
        """Return worker-wide cumulative media counters: live objects plus closed ones."""
        totals: Counter[str] = Counter(self.retired_counters)
        for router in self.routers.values():
            for transport in router.transports.values():
                totals.update(transport.media_counters())
            for producer in router.producers.values():
                totals.update(producer.media_counters())
            for consumer in router.consumers.values():
                totals.update(consumer.media_counters())
        for server in self.webrtc_servers.values():
            for reason, count in server.drop_counters.items():
                totals[f"dropped.server_{reason}"] += count
        return totals

    def get_webrtc_server(self, server_id: str) -> WebRtcServer:
        server = self.webrtc_servers.get(server_id)
        if server is None:
            raise NotFoundError(f"webRtcServer {server_id!r} not found in this worker")
        return server

    def close(self) -> None:
        for router in list(self.routers.values()):
            router.close()
        for server in list(self.webrtc_servers.values()):
            server.close()
        self.routers.clear()
        self.webrtc_servers.clear()

    def dump(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "webRtcServerIds": list(self.webrtc_servers),
            "routerIds": list(self.routers),
            "objectCount": len(self.registry),
        }


def resource_usage() -> dict[str, int]:
    """Return getrusage(RUSAGE_SELF) with mediasoup's field names; times in milliseconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "ru_utime": int(usage.ru_utime * 1000),
        "ru_stime": int(usage.ru_stime * 1000),
        "ru_maxrss": usage.ru_maxrss,
        "ru_ixrss": usage.ru_ixrss,
        "ru_idrss": usage.ru_idrss,
        "ru_isrss": usage.ru_isrss,
        "ru_minflt": usage.ru_minflt,
        "ru_majflt": usage.ru_majflt,
        "ru_nswap": usage.ru_nswap,
        "ru_inblock": usage.ru_inblock,
        "ru_oublock": usage.ru_oublock,
        "ru_msgsnd": usage.ru_msgsnd,
        "ru_msgrcv": usage.ru_msgrcv,
        "ru_nsignals": usage.ru_nsignals,
        "ru_nvcsw": usage.ru_nvcsw,
        "ru_nivcsw": usage.ru_nivcsw,
    }
