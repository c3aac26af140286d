"""Rooms: one router per room on a worker, its peers, and consumer setup between them."""

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from sfu import Consumer, Producer, Router, SfuError, Worker
from signaling.errors import RequestError
from signaling.outbox import OutboxClosedError
from signaling.peer import Peer

# Codecs of every room's router, as in the mediasoup demo except for VP9 profile 0, the
# profile that Chrome, Firefox and Safari all send. The most widely supported H.264
# profile comes first, because mediasoup-client picks the first H.264 entry that matches.
MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {
        "kind": "video",
        "mimeType": "video/VP8",
        "clockRate": 90000,
        "parameters": {"x-google-start-bitrate": 1000},
    },
    {
        "kind": "video",
        "mimeType": "video/VP9",
        "clockRate": 90000,
        "parameters": {"profile-id": 0, "x-google-start-bitrate": 1000},
    },
    {
        "kind": "video",
        "mimeType": "video/H264",
        "clockRate": 90000,
        "parameters": {
            "packetization-mode": 1,
            "profile-level-id": "42e01f",
            "level-asymmetry-allowed": 1,
            "x-google-start-bitrate": 1000,
        },
    },
    {
        "kind": "video",
        "mimeType": "video/H264",
        "clockRate": 90000,
        "parameters": {
            "packetization-mode": 1,
            "profile-level-id": "4d0032",
            "level-asymmetry-allowed": 1,
            "x-google-start-bitrate": 1000,
        },
    },
]


class Room:
    """A room: its router, the worker that hosts it, and its peers by id."""

    def __init__(
        self,
        room_id: str,
        router: Router,
        worker: Worker,
        on_ack_timeout: Callable[[], None] = lambda: None,
    ) -> None:
        self.id = room_id
        self.router = router
        self.worker = worker
        self.peers: dict[str, Peer] = {}
        self.closed = False
        # Called when a client does not acknowledge newConsumer in time (a metrics hook).
        self.on_ack_timeout = on_ack_timeout
        self.logger = structlog.get_logger("signaling.room").bind(
            room=room_id, worker=worker.pid, router=router.id
        )

    def joined_peers(self, exclude: Peer | None = None) -> list[Peer]:
        return [peer for peer in self.peers.values() if peer.joined and peer is not exclude]

    def visible_peers(self, exclude: Peer | None = None) -> list[Peer]:
        """Joined peers that others may see: hidden peers are left out."""
        return [peer for peer in self.joined_peers(exclude) if not peer.hidden]

    def broadcast(self, event: str, data: Any, exclude: Peer | None = None) -> None:
        for peer in self.joined_peers(exclude):
            peer.notify(event, data)

    def consume_existing(self, peer: Peer, ack_timeout: float) -> None:
        """Start consumers for `peer` of every producer of the other joined peers."""
        for owner in self.joined_peers(exclude=peer):
            for producer in list(owner.producers.values()):
                self._start_consumer(peer, owner, producer, ack_timeout)

    def consume_new(self, owner: Peer, producer: Producer, ack_timeout: float) -> None:
        """Start consumers of a new producer for every other joined peer."""
        for peer in self.joined_peers(exclude=owner):
            self._start_consumer(peer, owner, producer, ack_timeout)

    def _start_consumer(
        self, peer: Peer, owner: Peer, producer: Producer, ack_timeout: float
    ) -> None:
        if producer.id in peer.consumed_producer_ids:
            return
        peer.spawn(self._consume(peer, owner, producer, ack_timeout), f"consume {producer.id}")

    async def _consume(
        self, peer: Peer, owner: Peer, producer: Producer, ack_timeout: float
    ) -> None:
        """Create a paused consumer, send `newConsumer`, and resume it after the ack.

        The consumer is created under the peer's lock, so that it never interleaves with
        the peer's own requests. The acknowledgement is awaited outside the lock, because
        the client sends `connectWebRtcTransport` before it acknowledges.
        """
        async with peer.lock:
            consumer = await self._create_consumer(peer, owner, producer)
        if consumer is None:
            return
        payload = {
            "peerId": owner.id,
            "producerId": producer.id,
            "id": consumer.id,
            "kind": consumer.kind,
            "rtpParameters": consumer.rtp_parameters,
            "type": consumer.type,
            "producerPaused": consumer.producer_paused,
            "appData": dict(producer.app_data),
        }
        try:
            ack = await asyncio.wait_for(peer.outbox.request("newConsumer", payload), ack_timeout)
        except TimeoutError:
            peer.logger.warning(
                "client did not acknowledge newConsumer, closing the consumer",
                consumer=consumer.id,
                timeout=ack_timeout,
            )
            self.on_ack_timeout()
            self._close_consumer(peer, consumer)
            return
        except OutboxClosedError:
            consumer.close()
            return
        if consumer.closed:
            return
        if ack and isinstance(ack[0], dict) and "error" in ack[0]:
            peer.logger.info("client rejected newConsumer", consumer=consumer.id, ack=ack[0])
            self._close_consumer(peer, consumer)
            return
        try:
            await consumer.resume()
        except SfuError as error:
            peer.logger.warning("cannot resume consumer", consumer=consumer.id, error=str(error))

    async def _create_consumer(
        self, peer: Peer, owner: Peer, producer: Producer
    ) -> Consumer | None:
        transport = peer.recv_transport
        capabilities = peer.rtp_capabilities
        if (
            peer.closed
            or not peer.joined
            or not peer.grant.can_subscribe
            or transport is None
            or capabilities is None
            or producer.closed
            or producer.id in peer.consumed_producer_ids
        ):
            return None
        if not self.router.can_consume(producer_id=producer.id, rtp_capabilities=capabilities):
            peer.logger.info(
                "peer cannot receive the producer's codec", producer=producer.id, kind=producer.kind
            )
            return None
        peer.consumed_producer_ids.add(producer.id)
        try:
            consumer = await transport.consume(
                producer_id=producer.id,
                rtp_capabilities=capabilities,
                paused=True,
                enable_rtx=True,
                ignore_dtx=True,
                app_data={"peerId": owner.id},
            )
        except SfuError as error:
            peer.consumed_producer_ids.discard(producer.id)
            peer.logger.warning("cannot consume", producer=producer.id, error=str(error))
            return None
        if peer.closed:
            consumer.close()
            return None
        peer.add_consumer(consumer)
        _forward_consumer_events(peer, consumer)
        return consumer

    def _close_consumer(self, peer: Peer, consumer: Consumer) -> None:
        if not consumer.closed:
            consumer.close()
            peer.notify("consumerClosed", {"consumerId": consumer.id})

    def remove_peer(self, peer: Peer) -> None:
        """Take `peer` out of the room, tell the others, and close it."""
        if self.peers.pop(peer.id, None) is None:
            peer.close()
            return
        was_visible = peer.joined and not peer.hidden
        peer.close()
        if was_visible:
            self.broadcast("peerLeft", {"peerId": peer.id})

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for peer in list(self.peers.values()):
            peer.close()
        self.router.close()
        self.logger.info("room closed")


def _forward_consumer_events(peer: Peer, consumer: Consumer) -> None:
    """Turn a consumer's events into notifications to the peer that receives it."""
    consumer_id = consumer.id

    def producer_closed() -> None:
        peer.notify("consumerClosed", {"consumerId": consumer_id})

    def producer_paused() -> None:
        peer.notify("consumerPaused", {"consumerId": consumer_id})

    def producer_resumed() -> None:
        peer.notify("consumerResumed", {"consumerId": consumer_id})

    def score(value: Any) -> None:
        peer.notify("consumerScore", {"consumerId": consumer_id, "score": value})

    consumer.on("producerclose", producer_closed)
    consumer.on("producerpause", producer_paused)
    consumer.on("producerresume", producer_resumed)
    consumer.on("score", score)


class RoomRegistry:
    """The rooms of this server by id; creates each room's router on the least-loaded worker."""

    def __init__(
        self,
        workers: Callable[[], list[Worker]],
        on_ack_timeout: Callable[[], None] = lambda: None,
    ) -> None:
        self._workers = workers
        self._on_ack_timeout = on_ack_timeout
        self.rooms: dict[str, Room] = {}
        self._creating: dict[str, asyncio.Future[Room]] = {}
        self._logger = structlog.get_logger("signaling.rooms")

    def load(self, worker: Worker) -> tuple[int, int]:
        """Return (peers, routers) of the rooms on `worker`."""
        rooms = [room for room in self.rooms.values() if room.worker is worker]
        return sum(len(room.peers) for room in rooms), len(rooms)

    def pick_worker(self) -> Worker:
        """Return the live worker with the fewest peers, then the fewest routers."""
        workers = [worker for worker in self._workers() if not worker.closed]
        if not workers:
            raise RequestError("internal", "no media worker is running; try again shortly")
        return min(workers, key=self.load)

    async def get_or_create(self, room_id: str) -> Room:
        """Return the open room `room_id`, creating its router if it does not exist."""
        while True:
            room = self.rooms.get(room_id)
            if room is not None and not room.closed:
                return room
            pending = self._creating.get(room_id)
            if pending is None:
                return await self._create(room_id)
            room = await asyncio.shield(pending)
            # The room may have emptied and closed while this caller waited.
            if not room.closed:
                return room

    async def _create(self, room_id: str) -> Room:
        future: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
        self._creating[room_id] = future
        try:
            worker = self.pick_worker()
            router = await worker.create_router(
                media_codecs=MEDIA_CODECS, app_data={"room": room_id}
            )
            room = Room(room_id, router, worker, self._on_ack_timeout)
            self.rooms[room_id] = room
            room.logger.info("room created")
            future.set_result(room)
            return room
        except BaseException as error:
            future.set_exception(error)
            # Mark the exception retrieved: callers waiting on the future get it too.
            future.exception()
            raise
        finally:
            del self._creating[room_id]

    def release(self, room: Room) -> None:
        """Close `room` once it has no peers left."""
        if room.peers or room.closed:
            return
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]
        room.close()

    def drop_worker(self, worker: Worker, reason: str) -> list[Peer]:
        """Forget the rooms of a dead worker; tell their peers to reconnect and return them."""
        peers: list[Peer] = []
        for room in [room for room in self.rooms.values() if room.worker is worker]:
            del self.rooms[room.id]
            room_peers = list(room.peers.values())
            for peer in room_peers:
                peer.notify("reconnect", {"reason": reason})
                peer.outbox.disconnect()
            room.peers.clear()
            room.close()
            for peer in room_peers:
                peer.close()
            peers.extend(room_peers)
            self._logger.warning(
                "room dropped with its worker",
                room=room.id,
                worker=worker.pid,
                peers=len(room_peers),
            )
        return peers

    def close(self) -> None:
        for room in list(self.rooms.values()):
            room.close()
        self.rooms.clear()
