"""Router: a room's media hub inside one worker; owns transports and knows every producer."""

import copy
import uuid
from typing import TYPE_CHECKING, Any

from sfu import ortc
from sfu.channel import Channel
from sfu.entity import Entity
from sfu.errors import InvalidParameterError, NotFoundError
from sfu.transport import RouterLinks

if TYPE_CHECKING:
    from sfu.pipe_transport import PipeTransport
    from sfu.plain_transport import PlainTransport
    from sfu.producer import Producer
    from sfu.webrtc_server import WebRtcServer
    from sfu.webrtc_transport import WebRtcTransport


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
        self._producers: dict[str, Producer] = {}

    @property
    def rtp_capabilities(self) -> dict[str, Any]:
        """The router's RTP capabilities (a copy: callers may modify it)."""
        return copy.deepcopy(self._rtp_capabilities)

    def _children(self) -> list[dict[str, Entity]]:
        return [self._transports]

    def _request_close(self) -> None:
        self._channel.request_nowait("worker.closeRouter", None, {"routerId": self.id})

    def _after_close(self) -> None:
        self._producers.clear()

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
