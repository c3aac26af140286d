"""Peer: one socket.io connection in a room, and the media objects it owns."""

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from sfu import Consumer, Producer, WebRtcTransport
from signaling.outbox import Outbox
from signaling.payloads import Direction, Source
from signaling.tokens import AccessClaims, VideoGrant

# Requests of one peer waiting for its lock, beyond which new ones are rejected.
MAX_PENDING_REQUESTS = 32
MAX_TRANSPORTS = 4
MAX_PRODUCERS = 16
CHAT_BURST = 10
CHAT_MESSAGES_PER_SECOND = 1.0


@dataclass
class TokenBucket:
    """A rate limit: `capacity` events at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token at time `now` (seconds); return False if none is left."""
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class Peer:
    """A connected client: identity and grant from its token, transports, producers, consumers.

    A peer exists from the socket.io `connect` until the connection ends; it is `joined`
    between a successful `join` and its close. Its requests run one at a time under
    `lock`. Tasks it starts (consumer setup) are owned and cancelled by `close()`.
    """

    def __init__(self, *, peer_id: str, sid: str, claims: AccessClaims, outbox: Outbox) -> None:
        self.id = peer_id
        self.sid = sid
        self.identity = claims.identity
        self.name = claims.name or claims.identity
        # A name from the token wins over the display name the client sends in `join`.
        self.name_from_token = bool(claims.name)
        self.metadata = claims.metadata
        self.grant: VideoGrant = claims.video
        self.outbox = outbox
        self.joined = False
        self.closed = False
        self.rtp_capabilities: dict[str, Any] | None = None
        self.transports: dict[str, WebRtcTransport] = {}
        self.transport_directions: dict[str, Direction] = {}
        self.producers: dict[str, Producer] = {}
        self.producer_sources: dict[str, Source] = {}
        self.consumers: dict[str, Consumer] = {}
        # Producers this peer consumes or is about to, so that no producer is consumed twice.
        self.consumed_producer_ids: set[str] = set()
        self.lock = asyncio.Lock()
        self.pending_requests = 0
        self.chat_bucket = TokenBucket(CHAT_BURST, CHAT_MESSAGES_PER_SECOND, CHAT_BURST)
        self._tasks: set[asyncio.Task[None]] = set()
        self.logger = structlog.get_logger("signaling.peer").bind(
            room=claims.video.room, peer=peer_id, identity=claims.identity
        )

    @property
    def room_id(self) -> str:
        return self.grant.room

    @property
    def hidden(self) -> bool:
        return self.grant.hidden

    @property
    def recv_transport(self) -> WebRtcTransport | None:
        """The first open receive transport: the one every consumer of this peer uses."""
        for transport_id, transport in self.transports.items():
            if self.transport_directions[transport_id] == "recv" and not transport.closed:
                return transport
        return None

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coroutine` in a task that `close()` cancels."""
        if self.closed:
            coroutine.close()
            return
        task = asyncio.create_task(coroutine, name=f"{name} for peer {self.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def notify(self, event: str, data: Any) -> None:
        if not self.closed:
            self.outbox.notify(event, data)

    def permissions(self) -> dict[str, Any]:
        return {
            "canPublish": self.grant.can_publish,
            "canSubscribe": self.grant.can_subscribe,
            "canPublishData": self.grant.can_publish_data,
            "canPublishSources": list(self.grant.can_publish_sources),
            "roomAdmin": self.grant.room_admin,
            "hidden": self.grant.hidden,
        }

    def public_info(self) -> dict[str, Any]:
        """Return the `peerJoined` payload."""
        return {
            "id": self.id,
            "identity": self.identity,
            "name": self.name,
            "metadata": self.metadata,
        }

    def info_with_producers(self) -> dict[str, Any]:
        """Return this peer's entry in the `peers` list of the `join` response."""
        return {
            **self.public_info(),
            "producers": [
                {
                    "id": producer.id,
                    "kind": producer.kind,
                    "source": self.producer_sources[producer.id],
                    "paused": producer.paused,
                }
                for producer in self.producers.values()
            ],
        }

    def add_transport(self, transport: WebRtcTransport, direction: Direction) -> None:
        self.transports[transport.id] = transport
        self.transport_directions[transport.id] = direction

    def add_producer(self, producer: Producer, source: Source) -> None:
        self.producers[producer.id] = producer
        self.producer_sources[producer.id] = source

        def forget() -> None:
            self.producers.pop(producer.id, None)
            self.producer_sources.pop(producer.id, None)

        producer.observer.on("close", forget)

    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers[consumer.id] = consumer

        def forget() -> None:
            self.consumers.pop(consumer.id, None)
            self.consumed_producer_ids.discard(consumer.producer_id)

        consumer.observer.on("close", forget)

    def close(self) -> None:
        """Close every transport (which closes producers and consumers) and cancel owned tasks.

        The outbox stays open so that a queued `removed` or `reconnect` still goes out
        before the disconnect that follows it. Closing twice does nothing.
        """
        if self.closed:
            return
        self.closed = True
        self.joined = False
        for transport in list(self.transports.values()):
            transport.close()
        self.transports.clear()
        for task in self._tasks:
            task.cancel()
        self.logger.info("peer closed")

    async def wait_closed(self) -> None:
        """Wait until the tasks cancelled by `close()` have ended."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
