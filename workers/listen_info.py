"""Validation of `listenInfo` objects and binding of the sockets they describe."""

import ipaddress
import random
import socket
from dataclasses import dataclass
from typing import Any, Literal

from workers.errors import InvalidParameterError

# Receive and send buffers asked of the kernel. The default UDP receive buffer holds only
# about 90 datagrams of 1200 bytes; the kernel caps the request at net.core.rmem_max.
DEFAULT_SOCKET_BUFFER_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ListenInfo:
    """One address to listen on, as mediasoup's `TransportListenInfo` describes it."""

    protocol: Literal["udp", "tcp"]
    ip: str
    announced_address: str | None
    port: int
    port_range: tuple[int, int] | None
    send_buffer_size: int | None
    recv_buffer_size: int | None

    @classmethod
    def parse(cls, value: Any, *, field: str = "listenInfo") -> "ListenInfo":
        """Validate one listenInfo dict; raise InvalidParameterError naming the bad field."""
        if not isinstance(value, dict):
            raise InvalidParameterError(f"{field} must be an object, got {value!r}")
        protocol = value.get("protocol", "udp")
        if protocol not in ("udp", "tcp"):
            raise InvalidParameterError(
                f"{field}.protocol must be 'udp' or 'tcp', got {protocol!r}"
            )
        ip = value.get("ip")
        try:
            ipaddress.ip_address(ip)  # type: ignore[arg-type]
        except ValueError:
            raise InvalidParameterError(f"{field}.ip must be an IP address, got {ip!r}") from None
        announced = value.get("announcedAddress", value.get("announcedIp"))
        if announced is not None and (not isinstance(announced, str) or not announced):
            raise InvalidParameterError(
                f"{field}.announcedAddress must be a non-empty string, got {announced!r}"
            )
        port = value.get("port", 0)
        if not _is_int(port) or not 0 <= port <= 65535:
            raise InvalidParameterError(f"{field}.port must be an integer 0..65535, got {port!r}")
        port_range = _parse_port_range(value.get("portRange"), field)
        buffers = {}
        for key in ("sendBufferSize", "recvBufferSize"):
            size = value.get(key)
            if size is not None and (not _is_int(size) or size <= 0):
                raise InvalidParameterError(
                    f"{field}.{key} must be a positive integer, got {size!r}"
                )
            buffers[key] = size
        return cls(
            protocol=protocol,
            ip=str(ipaddress.ip_address(ip)),  # type: ignore[arg-type]
            announced_address=announced,
            port=port,
            port_range=port_range,
            send_buffer_size=buffers["sendBufferSize"],
            recv_buffer_size=buffers["recvBufferSize"],
        )

    @property
    def candidate_address(self) -> str:
        return self.announced_address or self.ip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_port_range(value: Any, field: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameterError(f"{field}.portRange must be an object, got {value!r}")
    low, high = value.get("min"), value.get("max")
    if not (isinstance(low, int) and isinstance(high, int)) or isinstance(low, bool):
        raise InvalidParameterError(
            f"{field}.portRange min and max must be integers, got {value!r}"
        )
    if not 1 <= low <= high <= 65535:
        raise InvalidParameterError(
            f"{field}.portRange must have integers 1 <= min <= max <= 65535, got {value!r}"
        )
    return (low, high)


def bind_socket(info: ListenInfo, default_range: tuple[int, int]) -> socket.socket:
    """Bind a UDP socket or a listening TCP socket for `info`.

    A fixed port is bound as given. Otherwise ports of the range are tried in random order,
    so workers sharing a range rarely collide; raise InvalidParameterError when none is free.
    """
    family = socket.AF_INET6 if ":" in info.ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if info.protocol == "udp" else socket.SOCK_STREAM
    if info.port:
        candidates: list[int] = [info.port]
    else:
        low, high = info.port_range or default_range
        candidates = random.sample(range(low, high + 1), min(high - low + 1, 200))
    last_error: OSError | None = None
    for port in candidates:
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _set_buffers(sock, info)
            sock.bind((info.ip, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
            sock.setblocking(False)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise InvalidParameterError(
        f"no free {info.protocol} port for {info.ip} "
        f"(port {info.port or 'from range'}): {last_error}"
    )


def _set_buffers(sock: socket.socket, info: ListenInfo) -> None:
    recv_size = info.recv_buffer_size or DEFAULT_SOCKET_BUFFER_SIZE
    send_size = info.send_buffer_size or DEFAULT_SOCKET_BUFFER_SIZE
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_size)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_size)
