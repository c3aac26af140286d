"""WebRtcServer: shared UDP/TCP ports of one worker for many WebRtcTransports."""

import copy
from typing import TYPE_CHECKING, Any

from sfu.channel import Channel
from sfu.entity import Entity

if TYPE_CHECKING:
    from sfu.webrtc_transport import WebRtcTransport


class WebRtcServer(Entity):
    """Events: `workerclose`.

    Observer: `close`, `webrtctransporthandled`, `webrtctransportunhandled`.

    Closing it closes every WebRtcTransport using it; each emits `listenserverclose`.
    """

    def __init__(
        self,
        server_id: str,
        channel: Channel,
        listen_infos: list[dict[str, Any]],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(server_id, app_data)
        self._channel = channel
        self._listen_infos = listen_infos
        self._transports: dict[str, WebRtcTransport] = {}

    @property
    def listen_infos(self) -> list[dict[str, Any]]:
        """The bound addresses: `[{protocol, ip, port}]`."""
        return copy.deepcopy(self._listen_infos)

    def _attach(self, transport: "WebRtcTransport") -> None:
        self._transports[transport.id] = transport
        self.observer.emit("webrtctransporthandled", transport)

        def on_close() -> None:
            if self._transports.pop(transport.id, None) is not None:
                self.observer.emit("webrtctransportunhandled", transport)

        transport.observer.once("close", on_close)

    def _request_close(self) -> None:
        self._channel.request_nowait("worker.closeWebRtcServer", None, {"webRtcServerId": self.id})

    def _after_close(self) -> None:
        for transport in list(self._transports.values()):
            transport._listen_server_closed()
        self._transports.clear()

    async def dump(self) -> dict[str, Any]:
        self._check_open("dump")
        result: dict[str, Any] = await self._channel.request("webRtcServer.dump", self.id)
        return result
