"""The 5-tuple that identifies one network path of a transport."""

from dataclasses import dataclass
from typing import Any, Literal

Protocol = Literal["udp", "tcp"]


@dataclass(frozen=True, slots=True)
class TransportTuple:
    """Local and remote address of a UDP flow or a TCP connection, hashable for lookups."""

    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    protocol: Protocol

    def to_dict(self) -> dict[str, Any]:
        """Return the mediasoup wire shape of `iceSelectedTuple`."""
        return {
            "localAddress": self.local_ip,
            "localIp": self.local_ip,
            "localPort": self.local_port,
            "remoteIp": self.remote_ip,
            "remotePort": self.remote_port,
            "protocol": self.protocol,
        }
