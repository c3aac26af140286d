"""WebRtcTransport: the transport a browser (mediasoup-client) talks to."""

import copy
from typing import Any

from sfu.channel import Channel
from sfu.errors import InvalidParameterError, InvalidStateError
from sfu.transport import RouterLinks, Transport


class WebRtcTransport(Transport):
    """Events: `icestatechange`, `iceselectedtuplechange`, `dtlsstatechange`,
    `sctpstatechange`, `routerclose`, `listenserverclose`, `trace`.
    """

    def __init__(
        self,
        transport_id: str,
        channel: Channel,
        links: RouterLinks,
        state: dict[str, Any],
        app_data: dict[str, Any] | None,
    ) -> None:
        super().__init__(transport_id, channel, links, app_data)
        self._ice_parameters: dict[str, Any] = state["iceParameters"]
        self._ice_candidates: list[dict[str, Any]] = state["iceCandidates"]
        self._ice_state: str = state["iceState"]
        self._ice_selected_tuple: dict[str, Any] | None = state["iceSelectedTuple"]
        self._dtls_parameters: dict[str, Any] = state["dtlsParameters"]
        self._dtls_state: str = state["dtlsState"]
        self._dtls_remote_cert: str | None = None
        self._sctp_state: str | None = None
        self._connected = False

    @property
    def ice_role(self) -> str:
        """Always `controlled`: pysfu is an ICE-lite agent."""
        return "controlled"

    @property
    def ice_parameters(self) -> dict[str, Any]:
        return copy.deepcopy(self._ice_parameters)

    @property
    def ice_candidates(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._ice_candidates)

    @property
    def ice_state(self) -> str:
        return self._ice_state

    @property
    def ice_selected_tuple(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._ice_selected_tuple)

    @property
    def dtls_parameters(self) -> dict[str, Any]:
        return copy.deepcopy(self._dtls_parameters)

    @property
    def dtls_state(self) -> str:
        return self._dtls_state

    @property
    def dtls_remote_cert(self) -> str | None:
        return self._dtls_remote_cert

    @property
    def sctp_state(self) -> str | None:
        return self._sctp_state

    def _after_close(self) -> None:
        super()._after_close()
        self._ice_state = "closed"
        self._ice_selected_tuple = None
        self._dtls_state = "closed"

    def _listen_server_closed(self) -> None:
        """Close because the WebRtcServer this transport listens on closed."""
        if self._on_forget is not None:
            self._on_forget()
        self.parent_closed("listenserverclose")

    async def connect(self, *, dtls_parameters: dict[str, Any]) -> None:
        """Give the remote DTLS role and fingerprints; allowed once."""
        self._check_open("connect")
        if self._connected:
            raise InvalidStateError(f"connect() already called on transport {self.id}")
        if not isinstance(dtls_parameters, dict):
            raise InvalidParameterError(f"dtls_parameters must be a dict, got {dtls_parameters!r}")
        response = await self._channel.request(
            "transport.connect", self.id, {"dtlsParameters": dtls_parameters}
        )
        self._connected = True
        self._dtls_parameters["role"] = response["dtlsLocalRole"]

    async def restart_ice(self) -> dict[str, Any]:
        """Generate new ICE credentials and return the new `iceParameters`."""
        self._check_open("restart_ice")
        response = await self._channel.request("transport.restartIce", self.id)
        self._ice_parameters = response["iceParameters"]
        return copy.deepcopy(self._ice_parameters)

    def _on_specific_notification(self, event: str, data: Any) -> None:
        if event == "icestatechange":
            self._ice_state = data["iceState"]
            self.emit("icestatechange", self._ice_state)
            self.observer.emit("icestatechange", self._ice_state)
        elif event == "iceselectedtuplechange":
            self._ice_selected_tuple = data["iceSelectedTuple"]
            self.emit("iceselectedtuplechange", self.ice_selected_tuple)
            self.observer.emit("iceselectedtuplechange", self.ice_selected_tuple)
        elif event == "dtlsstatechange":
            self._dtls_state = data["dtlsState"]
            if data.get("dtlsRemoteCert"):
                self._dtls_remote_cert = data["dtlsRemoteCert"]
            self.emit("dtlsstatechange", self._dtls_state)
            self.observer.emit("dtlsstatechange", self._dtls_state)
        elif event == "sctpstatechange":
            self._sctp_state = data["sctpState"]
            self.emit("sctpstatechange", self._sctp_state)
            self.observer.emit("sctpstatechange", self._sctp_state)
