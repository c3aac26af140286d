"""PlainTransport: plain RTP/RTCP over UDP for tools such as ffmpeg and GStreamer."""

import copy
from typing import Any

from sfu.channel import Channel
from sfu.errors import InvalidParameterError, InvalidStateError
from sfu.transport import RouterLinks, Transport


class PlainTransport(Transport):
    """Events: `tuple`, `rtcptuple`, `routerclose`, `trace`."""

    def __init__(
        self,
        transport_id: str,
        channel: Channel,
        links: RouterLinks,
        state: dict[str, Any],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(transport_id, channel, links, app_data)
        self._state = state
        self._connected = False

    @property
    def tuple(self) -> dict[str, Any]:
        """Local address and, once known, the remote address of the RTP flow."""
        return copy.deepcopy(self._state["tuple"])

    @property
    def rtcp_tuple(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._state.get("rtcpTuple"))

    @property
    def srtp_parameters(self) -> dict[str, Any] | None:
        """Local `{cryptoSuite, keyBase64}` when SRTP is enabled."""
        return copy.deepcopy(self._state.get("srtpParameters"))

    async def connect(
        self,
        *,
        ip: str | None = None,
        port: int | None = None,
        rtcp_port: int | None = None,
        srtp_parameters: dict[str, Any] | None = None,
    ) -> None:
        """Set the remote address (unless comedia learns it) and the remote SRTP key."""
        self._check_open("connect")
        if self._connected:
            raise InvalidStateError(f"connect() already called on transport {self.id}")
        data: dict[str, Any] = {}
        for key, value in (
            ("ip", ip),
            ("port", port),
            ("rtcpPort", rtcp_port),
            ("srtpParameters", srtp_parameters),
        ):
            if value is not None:
                data[key] = value
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
            raise InvalidParameterError(f"port must be an integer, got {port!r}")
        response = await self._channel.request("transport.connect", self.id, data)
        self._connected = True
        self._state.update(response)

    def _on_specific_notification(self, event: str, data: Any) -> None:
        if event == "tuple":
            self._state["tuple"] = data["tuple"]
            self.emit("tuple", self.tuple)
            self.observer.emit("tuple", self.tuple)
        elif event == "rtcptuple":
            self._state["rtcpTuple"] = data["rtcpTuple"]
            self.emit("rtcptuple", self.rtcp_tuple)
            self.observer.emit("rtcptuple", self.rtcp_tuple)
