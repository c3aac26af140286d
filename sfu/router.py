"""Router: a room's media hub inside one worker, with its transports and a producer index."""

import asyncio
import copy
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfu import ortc
from sfu.channel import Channel
from sfu.entity import Entity
from sfu.errors import InvalidParameterError, NotFoundError
from sfu.transport import RouterLinks

if TYPE_CHECKING:
    from sfu.consumer import Consumer
    from sfu.pipe_transport import PipeTransport
    from sfu.plain_transport import PlainTransport
    from sfu.producer import Producer
    from sfu.rtp_observer import ActiveSpeakerObserver, AudioLevelObserver
    from sfu.webrtc_server import WebRtcServer
    from sfu.webrtc_transport import WebRtcTransport


@dataclass(frozen=True)
class PipeToRouterResult:
    """The consumer on this router and the producer it feeds on the other router."""

    pipe_consumer: "Consumer"
    pipe_producer: "Producer"


class Router(Entity):
    """Events: `workerclose`. Observer: `newtransport`, `close`."""

    child_close_event = "routerclose"

    def __init__(
        self,
        router_id: str,
        channel: Channel,
        rtp_capabilities: dict[str, Any],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(router_id, app_data)
        self._channel = channel
        self._rtp_capabilities = rtp_capabilities
        self._transports: dict[str, Entity] = {}
        self._rtp_observers: dict[str, Entity] = {}
        self._producers: dict[str, Producer] = {}
        # One connected pair of pipe transports per other router, created on first use.
        self._pipe_pairs: dict[str, asyncio.Future[tuple[PipeTransport, PipeTransport]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def rtp_capabilities(self) -> dict[str, Any]:
        """The router's RTP capabilities (a copy: callers may modify it)."""
        return copy.deepcopy(self._rtp_capabilities)

    def _children(self) -> list[dict[str, Entity]]:
        return [self._transports, self._rtp_observers]

    def _request_close(self) -> None:
        self._channel.request_nowait("worker.closeRouter", None, {"routerId": self.id})

    def _after_close(self) -> None:
        self._producers.clear()
        for task in self._tasks:
            task.cancel()

    def _links(self) -> RouterLinks:
        return RouterLinks(
            router_id=self.id,
            rtp_capabilities=lambda: self._rtp_capabilities,
            get_producer=self.get_producer,
            register_producer=self._register_producer,
            unregister_producer=self._unregister_producer,
            router_closed=lambda: self.closed,
        )

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("router.dump", self.id)
        return result

    def can_consume(self, *, producer_id: str, rtp_capabilities: dict[str, Any]) -> bool:
        """Tell whether a device with `rtp_capabilities` can consume the producer.

        Returns False for an unknown producer id; raises InvalidParameterError when the
        capabilities are malformed.
        """
        producer = self._producers.get(producer_id)
        if producer is None:
            return False
        capabilities = ortc.validate_rtp_capabilities(rtp_capabilities)
        return ortc.can_consume(producer.consumable_rtp_parameters, capabilities)

    def get_producer(self, producer_id: str) -> "Producer":
        """Return a live producer of this router; raise NotFoundError naming the id if none."""
        producer = self._producers.get(producer_id)
        if producer is None:
            raise NotFoundError(f"producer with id {producer_id!r} not found in router {self.id}")
        return producer

    def _register_producer(self, producer: "Producer") -> None:
        if producer.id in self._producers:
            raise InvalidParameterError(f"a producer with id {producer.id!r} already exists")
        self._producers[producer.id] = producer

    def _unregister_producer(self, producer: "Producer") -> None:
        self._producers.pop(producer.id, None)

    async def create_webrtc_transport(
        self,
        *,
        listen_infos: list[dict[str, Any]] | None = None,
        webrtc_server: "WebRtcServer | None" = None,
        enable_udp: bool | None = None,
        enable_tcp: bool | None = None,
        prefer_udp: bool = False,
        prefer_tcp: bool = False,
        ice_consent_timeout: int = 30,
        initial_available_outgoing_bitrate: int = 600000,
        enable_sctp: bool = False,
        app_data: dict[str, Any] | None = None,
    ) -> "WebRtcTransport":
        """Create a WebRTC transport on `listen_infos` or on a WebRtcServer (exactly one)."""
        from sfu.webrtc_transport import WebRtcTransport

        self._check_open("create_webrtc_transport")
        if (listen_infos is None) == (webrtc_server is None):
            raise InvalidParameterError(
                "exactly one of listen_infos and webrtc_server must be given"
            )
        data: dict[str, Any] = {
            "transportId": str(uuid.uuid4()),
            "enableUdp": True if enable_udp is None else enable_udp,
            "enableTcp": (webrtc_server is not None) if enable_tcp is None else enable_tcp,
            "preferUdp": prefer_udp,
            "preferTcp": prefer_tcp,
            "iceConsentTimeout": ice_consent_timeout,
            "initialAvailableOutgoingBitrate": initial_available_outgoing_bitrate,
            "enableSctp": enable_sctp,
        }
        if webrtc_server is not None:
            if webrtc_server.closed:
                raise InvalidParameterError(f"webrtc_server {webrtc_server.id} is closed")
            data["webRtcServerId"] = webrtc_server.id
        else:
            data["listenInfos"] = listen_infos
        response = await self._channel.request("router.createWebRtcTransport", self.id, data)
        transport = WebRtcTransport(
            data["transportId"], self._channel, self._links(), response, app_data
        )
        self._adopt(self._transports, transport)
        if webrtc_server is not None:
            webrtc_server._attach(transport)
        self.observer.emit("newtransport", transport)
        return transport

    async def create_audio_level_observer(
        self,
        *,
        max_entries: int = 1,
        threshold: int = -80,
        interval: int = 1000,
        app_data: dict[str, Any] | None = None,
    ) -> "AudioLevelObserver":
        """Report every `interval` ms the loudest producers at or above `threshold` dBov."""
        from sfu.rtp_observer import AudioLevelObserver

        self._check_open("create_audio_level_observer")
        _check_int("max_entries", max_entries, 1, 1000)
        _check_int("threshold", threshold, -127, 0)
        _check_int("interval", interval, 1, 60_000)
        observer_id = str(uuid.uuid4())
        data = {
            "rtpObserverId": observer_id,
            "maxEntries": max_entries,
            "threshold": threshold,
            "interval": interval,
        }
        await self._channel.request("router.createAudioLevelObserver", self.id, data)
        observer = AudioLevelObserver(
            observer_id,
            self._channel,
            router_id=self.id,
            get_producer=self.get_producer,
            app_data=app_data,
        )
        self._adopt(self._rtp_observers, observer)
        self.observer.emit("newrtpobserver", observer)
        return observer

    async def create_active_speaker_observer(
        self, *, interval: int = 300, app_data: dict[str, Any] | None = None
    ) -> "ActiveSpeakerObserver":
        """Report the dominant speaker among the added producers, evaluated every `interval` ms."""
        from sfu.rtp_observer import ActiveSpeakerObserver

        self._check_open("create_active_speaker_observer")
        _check_int("interval", interval, 1, 60_000)
        observer_id = str(uuid.uuid4())
        data = {"rtpObserverId": observer_id, "interval": interval}
        await self._channel.request("router.createActiveSpeakerObserver", self.id, data)
        observer = ActiveSpeakerObserver(
            observer_id,
            self._channel,
            router_id=self.id,
            get_producer=self.get_producer,
            app_data=app_data,
        )
        self._adopt(self._rtp_observers, observer)
        self.observer.emit("newrtpobserver", observer)
        return observer

    async def create_plain_transport(
        self,
        *,
        listen_info: dict[str, Any],
        rtcp_listen_info: dict[str, Any] | None = None,
        rtcp_mux: bool = True,
        comedia: bool = False,
        enable_srtp: bool = False,
        srtp_crypto_suite: str = "AES_CM_128_HMAC_SHA1_80",
        app_data: dict[str, Any] | None = None,
    ) -> "PlainTransport":
        """Create a plain RTP/RTCP transport (ffmpeg, GStreamer) without ICE or DTLS."""
        from sfu.plain_transport import PlainTransport

        self._check_open("create_plain_transport")
        data: dict[str, Any] = {
            "transportId": str(uuid.uuid4()),
            "listenInfo": listen_info,
            "rtcpMux": rtcp_mux,
            "comedia": comedia,
            "enableSrtp": enable_srtp,
            "srtpCryptoSuite": srtp_crypto_suite,
        }
        if rtcp_listen_info is not None:
            data["rtcpListenInfo"] = rtcp_listen_info
        response = await self._channel.request("router.createPlainTransport", self.id, data)
        transport = PlainTransport(
            data["transportId"], self._channel, self._links(), response, app_data
        )
        self._adopt(self._transports, transport)
        self.observer.emit("newtransport", transport)
        return transport

    async def create_pipe_transport(
        self,
        *,
        listen_info: dict[str, Any],
        enable_rtx: bool = False,
        enable_srtp: bool = False,
        app_data: dict[str, Any] | None = None,
    ) -> "PipeTransport":
        """Create a transport that joins this router to a router on another worker."""
        from sfu.pipe_transport import PipeTransport

        self._check_open("create_pipe_transport")
        data: dict[str, Any] = {
            "transportId": str(uuid.uuid4()),
            "listenInfo": listen_info,
            "enableRtx": enable_rtx,
            "enableSrtp": enable_srtp,
        }
        response = await self._channel.request("router.createPipeTransport", self.id, data)
        transport = PipeTransport(
            data["transportId"], self._channel, self._links(), response, app_data
        )
        self._adopt(self._transports, transport)
        self.observer.emit("newtransport", transport)
        return transport

    async def pipe_to_router(
        self,
        *,
        producer_id: str,
        router: "Router",
        listen_info: dict[str, Any] | None = None,
        enable_srtp: bool = False,
    ) -> PipeToRouterResult:
        """Make a producer of this router consumable in `router` (usually on another worker).

        A pair of connected pipe transports between the two routers is created once and
        reused. The producer on `router` keeps the original producer's id; closing the
        original closes it, and pausing it pauses it.
        """
        self._check_open("pipe_to_router")
        if router is self or router.id == self.id:
            raise InvalidParameterError("cannot pipe a producer to the same router")
        if router.closed:
            raise InvalidParameterError(f"router {router.id} is closed")
        producer = self.get_producer(producer_id)
        info = listen_info or {"protocol": "udp", "ip": "127.0.0.1"}
        local, remote = await self._pipe_pair(router, info, enable_srtp)
        pipe_consumer = await local.consume(producer_id=producer.id)
        try:
            pipe_producer = await remote.produce(
                id=producer.id,
                kind=pipe_consumer.kind,
                rtp_parameters=pipe_consumer.rtp_parameters,
                paused=pipe_consumer.producer_paused,
                app_data=producer.app_data,
            )
        except Exception:
            pipe_consumer.close()
            raise
        pipe_consumer.observer.once("close", pipe_producer.close)
        pipe_consumer.on("producerpause", lambda: self._mirror_pause(pipe_producer, True))
        pipe_consumer.on("producerresume", lambda: self._mirror_pause(pipe_producer, False))
        return PipeToRouterResult(pipe_consumer, pipe_producer)

    async def _pipe_pair(
        self, router: "Router", listen_info: dict[str, Any], enable_srtp: bool
    ) -> "tuple[PipeTransport, PipeTransport]":
        pending = self._pipe_pairs.get(router.id)
        if pending is not None:
            local, remote = await asyncio.shield(pending)
            if not local.closed and not remote.closed:
                return local, remote
        pending = asyncio.get_running_loop().create_future()
        self._pipe_pairs[router.id] = pending
        try:
            local = await self.create_pipe_transport(
                listen_info=listen_info, enable_srtp=enable_srtp
            )
            remote = await router.create_pipe_transport(
                listen_info=listen_info, enable_srtp=enable_srtp
            )
            local_tuple, remote_tuple = local.tuple, remote.tuple
            await local.connect(
                ip=remote_tuple["localIp"],
                port=remote_tuple["localPort"],
                srtp_parameters=remote.srtp_parameters,
            )
            await remote.connect(
                ip=local_tuple["localIp"],
                port=local_tuple["localPort"],
                srtp_parameters=local.srtp_parameters,
            )
        except Exception as error:
            del self._pipe_pairs[router.id]
            pending.set_exception(error)
            # This caller raises the error; retrieving it here stops asyncio from reporting
            # it again as never retrieved.
            pending.exception()
            raise
        local.observer.once("close", remote.close)
        remote.observer.once("close", local.close)
        pending.set_result((local, remote))
        return local, remote

    def _mirror_pause(self, producer: "Producer", paused: bool) -> None:
        """Mirror a pause of the original producer on its piped copy (a task this owns)."""
        if producer.closed:
            return
        task = asyncio.ensure_future(producer.pause() if paused else producer.resume())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterError(f"{name} must be an integer {low}..{high}, got {value!r}")
