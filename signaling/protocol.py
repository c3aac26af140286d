"""The socket.io room protocol: token check on connect, one event per request, cleanup.

Every request event carries one JSON object and an acknowledgement callback. The
acknowledgement is `{"data": {...}}` or `{"error": {"code", "message"}}`. One peer's
requests run one at a time, in arrival order, under the peer's lock.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import socketio
import structlog

from sfu import Consumer, Producer, SfuError, WebRtcTransport, Worker
from signaling.errors import PayloadError, RequestError, from_sfu_error
from signaling.metrics import Metrics, Snapshot, WorkerState
from signaling.outbox import Outbox
from signaling.payloads import (
    ChatRequest,
    ConnectTransportRequest,
    ConsumerRequest,
    CreateTransportRequest,
    EmptyRequest,
    JoinRequest,
    MuteRequest,
    PeerRequest,
    PreferredLayersRequest,
    ProduceRequest,
    ProducerRequest,
    TransportRequest,
)
from signaling.peer import MAX_PENDING_REQUESTS, MAX_PRODUCERS, MAX_TRANSPORTS, Peer
from signaling.room import Room, RoomRegistry
from signaling.tokens import TokenError, token_prefix, verify_token

SHUTDOWN_NOTICE_TIMEOUT = 3.0
_SHOW_LENGTH = 60


@dataclass
class Session:
    """Server-side state of one socket.io connection: its peer and the room it is in."""

    peer: Peer
    room: Room


@dataclass(frozen=True)
class ProtocolOptions:
    rtc_ip: str
    announced_address: str | None
    consumer_ack_timeout: float
    max_peers_per_room: int


Handler = Callable[[Session, Any], Awaitable[dict[str, Any]]]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW_LENGTH else text[: _SHOW_LENGTH - 3] + "..."


class RoomProtocol:
    """Socket.io event handlers of the room protocol, bound to one AsyncServer."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        registry: RoomRegistry,
        metrics: Metrics,
        *,
        keys: Mapping[str, str],
        options: ProtocolOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sio = sio
        self._registry = registry
        self._metrics = metrics
        self._keys = keys
        self._options = options
        self._clock = clock
        self.sessions: dict[str, Session] = {}
        self._logger = structlog.get_logger("signaling.protocol")

        self._requests: dict[str, tuple[Callable[[Any], Any], Handler]] = {
            "getRouterRtpCapabilities": (EmptyRequest.parse, self._get_router_rtp_capabilities),
            "join": (JoinRequest.parse, self._join),
            "createWebRtcTransport": (CreateTransportRequest.parse, self._create_transport),
            "connectWebRtcTransport": (ConnectTransportRequest.parse, self._connect_transport),
            "restartIce": (TransportRequest.parse, self._restart_ice),
            "produce": (ProduceRequest.parse, self._produce),
            "closeProducer": (ProducerRequest.parse, self._close_producer),
            "pauseProducer": (ProducerRequest.parse, self._pause_producer),
            "resumeProducer": (ProducerRequest.parse, self._resume_producer),
            "pauseConsumer": (ConsumerRequest.parse, self._pause_consumer),
            "resumeConsumer": (ConsumerRequest.parse, self._resume_consumer),
            "setConsumerPreferredLayers": (
                PreferredLayersRequest.parse,
                self._set_preferred_layers,
            ),
            "chatMessage": (ChatRequest.parse, self._chat_message),
            "muteParticipant": (MuteRequest.parse, self._mute_participant),
            "removeParticipant": (PeerRequest.parse, self._remove_participant),
            "leave": (EmptyRequest.parse, self._leave),
            "getStats": (EmptyRequest.parse, self._get_stats),
        }

        sio.on("connect", self._on_connect)
        sio.on("disconnect", self._on_disconnect)
        for name in self._requests:
            sio.on(name, self._event_handler(name))
        sio.on("*", self._on_unknown_event)

    @property
    def request_names(self) -> list[str]:
        return list(self._requests)

    # Connection lifecycle

    async def _on_connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        # python-socketio calls the handler again without `auth` when it raises TypeError,
        # so every unexpected error becomes a rejected connection here.
        self._metrics.join_attempts.inc()
        try:
            await self._accept(sid, auth)
        except RequestError as error:
            self._reject_connection(error.code, error.message, auth)
        except TokenError as error:
            self._reject_connection(error.code, error.message, auth)
        except Exception:
            self._logger.exception("connect handler failed", sid=sid)
            self._reject_connection("internal", "the server failed to set up the connection", auth)

    def _reject_connection(self, code: str, message: str, auth: Any) -> None:
        self._metrics.join_failures.labels(code).inc()
        token = auth.get("token") if isinstance(auth, dict) else None
        self._logger.info(
            "connection rejected", code=code, reason=message, token=token_prefix(token)
        )
        raise socketio.exceptions.ConnectionRefusedError(
            message, {"code": code, "message": message}
        )

    async def _accept(self, sid: str, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        claims = verify_token(token, self._keys, self._clock())
        room = await self._registry.get_or_create(claims.video.room)
        if len(room.peers) >= self._options.max_peers_per_room:
            raise TokenError(
                "room_denied",
                f"room {claims.video.room!r} is full "
                f"({self._options.max_peers_per_room} connections)",
            )
        holder: list[Peer] = []
        outbox = Outbox(
            self._sio,
            sid,
            on_overflow=lambda: self._drop_slow_peer(holder[0]),
            backlog=lambda: self._engine_backlog(sid),
        )
        peer = Peer(peer_id=str(uuid.uuid4()), sid=sid, claims=claims, outbox=outbox)
        holder.append(peer)
        room.peers[peer.id] = peer
        self.sessions[sid] = Session(peer, room)
        peer.logger.info("peer connected", sid=sid, api_key=claims.api_key)

    def _engine_backlog(self, sid: str) -> int:
        """Return the packets queued for `sid` in the engine.io socket, not yet sent.

        NOTE: this reads internals of python-socketio 5.18 and python-engineio 4.15
        (`manager.eio_sid_from_sid`, `AsyncSocket.queue`) and returns 0 if they change.
        """
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        socket = self._sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        queue = getattr(socket, "queue", None)
        return queue.qsize() if isinstance(queue, asyncio.Queue) else 0

    def _drop_slow_peer(self, peer: Peer) -> None:
        session = self.sessions.get(peer.sid)
        if session is not None:
            self._remove(session)

    def _remove(self, session: Session) -> None:
        session.room.remove_peer(session.peer)
        self._registry.release(session.room)

    async def _on_disconnect(self, sid: str, *reason: Any) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.peer.logger.info("peer disconnected", reason=str(reason[0]) if reason else "")
        self._remove(session)
        await session.peer.wait_closed()
        await session.peer.outbox.close()

    def begin_shutdown(self) -> None:
        """Queue `serverShutdown` and a disconnect for every client (once per client)."""
        for session in self.sessions.values():
            outbox = session.peer.outbox
            if not outbox.closing:
                outbox.notify("serverShutdown", {})
                outbox.disconnect()

    async def notify_shutdown(self) -> None:
        """Send `serverShutdown` to every client, disconnect them, and wait briefly."""
        self.begin_shutdown()
        sessions = list(self.sessions.values())
        if sessions:
            await asyncio.gather(
                *(s.peer.outbox.wait_sent(SHUTDOWN_NOTICE_TIMEOUT) for s in sessions)
            )
        self._logger.info("shutdown notice sent to clients", count=len(sessions))

    async def close(self) -> None:
        """Close every peer still connected and stop their outboxes (server cleanup)."""
        sessions = list(self.sessions.values())
        self.sessions.clear()
        for session in sessions:
            self._remove(session)
        for session in sessions:
            await session.peer.wait_closed()
            await session.peer.outbox.close()

    def snapshot(self, workers: list[Worker]) -> Snapshot:
        """Count rooms, peers, producers and consumers for /metrics."""
        snapshot = Snapshot(rooms=len(self._registry.rooms), connections=len(self.sessions))
        for session in self.sessions.values():
            peer = session.peer
            if peer.joined:
                snapshot.peers += 1
            snapshot.producers.update(producer.kind for producer in peer.producers.values())
            snapshot.consumers.update(consumer.kind for consumer in peer.consumers.values())
        for worker in workers:
            peers, routers = self._registry.load(worker)
            snapshot.workers.append(WorkerState(pid=worker.pid, routers=routers, peers=peers))
        return snapshot

    # Request dispatch

    def _event_handler(self, name: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def handle(sid: str, *args: Any) -> dict[str, Any]:
            answer = await self._handle(name, sid, args)
            result = "ok" if "data" in answer else answer["error"]["code"]
            self._metrics.requests.labels(name, result).inc()
            if name == "join" and result == "ok":
                self._metrics.join_successes.inc()
            elif name == "join":
                self._metrics.join_failures.labels(result).inc()
            return answer

        return handle

    async def _on_unknown_event(self, event: Any, sid: str, *args: Any) -> dict[str, Any]:
        self._metrics.requests.labels("unknown", "unsupported").inc()
        return RequestError("unsupported", f"unknown request {_show(event)}").answer()

    async def _handle(self, name: str, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is None:
            return RequestError("not_joined", "this connection has no session").answer()
        peer = session.peer
        if peer.pending_requests >= MAX_PENDING_REQUESTS:
            return RequestError(
                "rate_limited",
                f"{MAX_PENDING_REQUESTS} requests are already waiting; wait for their answers",
            ).answer()
        peer.pending_requests += 1
        try:
            async with peer.lock:
                return await self._run(name, session, args)
        finally:
            peer.pending_requests -= 1

    async def _run(self, name: str, session: Session, args: tuple[Any, ...]) -> dict[str, Any]:
        parse, handler = self._requests[name]
        peer = session.peer
        try:
            if peer.closed:
                raise RequestError("not_joined", "this peer has left the room")
            if len(args) != 1:
                raise PayloadError(f"invalid payload: {len(args)} arguments (expected one object)")
            request = parse(args[0])
            return {"data": await handler(session, request)}
        except RequestError as error:
            peer.logger.debug("request failed", request=name, code=error.code, reason=error.message)
            return error.answer()
        except SfuError as error:
            mapped = from_sfu_error(error)
            if mapped is None:
                peer.logger.error(
                    "request failed in the media worker", request=name, error=str(error)
                )
                mapped = RequestError("internal", f"{name} failed in the media worker: {error}")
            return mapped.answer()
        except Exception:
            peer.logger.exception("request handler failed", request=name)
            return RequestError("internal", f"{name} failed inside the server").answer()

    # Lookups shared by the handlers

    @staticmethod
    def _require_joined(peer: Peer) -> None:
        if not peer.joined:
            raise RequestError("not_joined", "join the room first")

    @staticmethod
    def _transport(peer: Peer, transport_id: str) -> WebRtcTransport:
        transport = peer.transports.get(transport_id)
        if transport is None or transport.closed:
            raise RequestError("not_found", f"transport {transport_id!r} not found")
        return transport

    @staticmethod
    def _producer(peer: Peer, producer_id: str) -> Producer:
        producer = peer.producers.get(producer_id)
        if producer is None or producer.closed:
            raise RequestError("not_found", f"producer {producer_id!r} not found")
        return producer

    @staticmethod
    def _consumer(peer: Peer, consumer_id: str) -> Consumer:
        consumer = peer.consumers.get(consumer_id)
        if consumer is None or consumer.closed:
            raise RequestError("not_found", f"consumer {consumer_id!r} not found")
        return consumer

    @staticmethod
    def _other_peer(session: Session, peer_id: str) -> Peer:
        target = session.room.peers.get(peer_id)
        if target is None or not target.joined:
            raise RequestError("not_found", f"peer {peer_id!r} not found in this room")
        return target

    @staticmethod
    def _by(peer: Peer) -> dict[str, Any]:
        return {"peerId": peer.id, "name": peer.name}

    # Handlers

    async def _get_router_rtp_capabilities(
        self, session: Session, request: EmptyRequest
    ) -> dict[str, Any]:
        return {"rtpCapabilities": session.room.router.rtp_capabilities}

    async def _join(self, session: Session, request: JoinRequest) -> dict[str, Any]:
        peer, room = session.peer, session.room
        if peer.joined:
            raise RequestError("already_joined", f"already joined room {room.id!r}")
        if request.display_name and not peer.name_from_token:
            peer.name = request.display_name
        peer.rtp_capabilities = request.rtp_capabilities
        peer.joined = True
        peer.logger.info("peer joined", name=peer.name, hidden=peer.hidden)
        others = [other.info_with_producers() for other in room.visible_peers(exclude=peer)]
        if not peer.hidden:
            room.broadcast("peerJoined", peer.public_info(), exclude=peer)
        # The consumer tasks wait for this peer's lock, so newConsumer follows this response.
        room.consume_existing(peer, self._options.consumer_ack_timeout)
        return {
            "peerId": peer.id,
            "roomId": room.id,
            "identity": peer.identity,
            "name": peer.name,
            "permissions": peer.permissions(),
            "peers": others,
        }

    def _listen_infos(self, force_tcp: bool) -> list[dict[str, Any]]:
        infos = []
        for protocol in ("tcp",) if force_tcp else ("udp", "tcp"):
            info: dict[str, Any] = {"protocol": protocol, "ip": self._options.rtc_ip}
            if self._options.announced_address:
                info["announcedAddress"] = self._options.announced_address
            infos.append(info)
        return infos

    async def _create_transport(
        self, session: Session, request: CreateTransportRequest
    ) -> dict[str, Any]:
        peer, room = session.peer, session.room
        if request.direction == "send" and not peer.grant.can_publish:
            raise RequestError("forbidden", "the token does not grant canPublish")
        if len(peer.transports) >= MAX_TRANSPORTS:
            raise RequestError("forbidden", f"a peer may open at most {MAX_TRANSPORTS} transports")
        transport = await room.router.create_webrtc_transport(
            listen_infos=self._listen_infos(request.force_tcp),
            enable_udp=not request.force_tcp,
            enable_tcp=True,
            prefer_udp=True,
            app_data={"peerId": peer.id, "direction": request.direction},
        )
        if peer.closed:
            transport.close()
            raise RequestError("not_joined", "this peer has left the room")
        first_recv = request.direction == "recv" and peer.recv_transport is None
        peer.add_transport(transport, request.direction)
        _log_transport_failures(peer, transport)
        if first_recv and peer.joined:
            room.consume_existing(peer, self._options.consumer_ack_timeout)
        return {
            "id": transport.id,
            "iceParameters": transport.ice_parameters,
            "iceCandidates": transport.ice_candidates,
            "dtlsParameters": transport.dtls_parameters,
        }

    async def _connect_transport(
        self, session: Session, request: ConnectTransportRequest
    ) -> dict[str, Any]:
        transport = self._transport(session.peer, request.transport_id)
        await transport.connect(dtls_parameters=request.dtls_parameters)
        return {}

    async def _restart_ice(self, session: Session, request: TransportRequest) -> dict[str, Any]:
        transport = self._transport(session.peer, request.transport_id)
        return {"iceParameters": await transport.restart_ice()}

    async def _produce(self, session: Session, request: ProduceRequest) -> dict[str, Any]:
        peer, room = session.peer, session.room
        self._check_may_publish(peer, request)
        transport = self._transport(peer, request.transport_id)
        if peer.transport_directions[transport.id] != "send":
            raise PayloadError(
                f"invalid transportId: {request.transport_id!r} (expected a send transport)"
            )
        if len(peer.producers) >= MAX_PRODUCERS:
            raise RequestError("forbidden", f"a peer may open at most {MAX_PRODUCERS} producers")

        producer = await transport.produce(
            kind=request.kind,
            rtp_parameters=request.rtp_parameters,
            app_data={**request.app_data, "source": request.source, "peerId": peer.id},
        )
        if peer.closed:
            producer.close()
            raise RequestError("not_joined", "this peer has left the room")
        peer.add_producer(producer, request.source)
        peer.logger.info(
            "producer created", producer=producer.id, kind=producer.kind, source=request.source
        )
        room.consume_new(peer, producer, self._options.consumer_ack_timeout)
        return {"id": producer.id}

    def _check_may_publish(self, peer: Peer, request: ProduceRequest) -> None:
        self._require_joined(peer)
        if not peer.grant.can_publish:
            raise RequestError("forbidden", "the token does not grant canPublish")
        if peer.hidden:
            raise RequestError("forbidden", "hidden peers cannot publish")
        sources = peer.grant.can_publish_sources
        if sources and request.source not in sources:
            raise RequestError(
                "forbidden",
                f"the token does not allow publishing source {request.source!r} "
                f"(allowed: {', '.join(sources)})",
            )

    async def _close_producer(self, session: Session, request: ProducerRequest) -> dict[str, Any]:
        self._require_joined(session.peer)
        self._producer(session.peer, request.producer_id).close()
        return {}

    async def _pause_producer(self, session: Session, request: ProducerRequest) -> dict[str, Any]:
        self._require_joined(session.peer)
        await self._producer(session.peer, request.producer_id).pause()
        return {}

    async def _resume_producer(self, session: Session, request: ProducerRequest) -> dict[str, Any]:
        self._require_joined(session.peer)
        await self._producer(session.peer, request.producer_id).resume()
        return {}

    async def _pause_consumer(self, session: Session, request: ConsumerRequest) -> dict[str, Any]:
        self._require_joined(session.peer)
        await self._consumer(session.peer, request.consumer_id).pause()
        return {}

    async def _resume_consumer(self, session: Session, request: ConsumerRequest) -> dict[str, Any]:
        self._require_joined(session.peer)
        await self._consumer(session.peer, request.consumer_id).resume()
        return {}

    async def _set_preferred_layers(
        self, session: Session, request: PreferredLayersRequest
    ) -> dict[str, Any]:
        self._require_joined(session.peer)
        consumer = self._consumer(session.peer, request.consumer_id)
        await consumer.set_preferred_layers(
            spatial_layer=request.spatial_layer, temporal_layer=request.temporal_layer
        )
        return {}

    async def _chat_message(self, session: Session, request: ChatRequest) -> dict[str, Any]:
        peer, room = session.peer, session.room
        self._require_joined(peer)
        if not peer.grant.can_publish_data:
            raise RequestError("forbidden", "the token does not grant canPublishData")
        if not peer.chat_bucket.take(asyncio.get_running_loop().time()):
            raise RequestError("rate_limited", "too many chat messages; wait a second")
        message = {
            "id": str(uuid.uuid4()),
            "peerId": peer.id,
            "identity": peer.identity,
            "name": peer.name,
            "text": request.text,
            "timestamp": int(self._clock() * 1000),
        }
        room.broadcast("chatMessage", message)
        return {"id": message["id"], "timestamp": message["timestamp"]}

    def _require_admin(self, peer: Peer) -> None:
        self._require_joined(peer)
        if not peer.grant.room_admin:
            raise RequestError("forbidden", "the token does not grant roomAdmin")

    async def _mute_participant(self, session: Session, request: MuteRequest) -> dict[str, Any]:
        peer = session.peer
        self._require_admin(peer)
        target = self._other_peer(session, request.peer_id)
        producer = self._producer(target, request.producer_id)
        await producer.pause()
        target.notify("producerMuted", {"producerId": producer.id, "by": self._by(peer)})
        peer.logger.info("producer muted by admin", target=target.id, producer=producer.id)
        return {}

    async def _remove_participant(self, session: Session, request: PeerRequest) -> dict[str, Any]:
        peer = session.peer
        self._require_admin(peer)
        target = self._other_peer(session, request.peer_id)
        target.notify("removed", {"by": self._by(peer)})
        target.outbox.disconnect()
        session.room.remove_peer(target)
        peer.logger.info("peer removed by admin", target=target.id)
        return {}

    async def _leave(self, session: Session, request: EmptyRequest) -> dict[str, Any]:
        # The acknowledgement is queued before the disconnect, which the outbox task runs later.
        session.peer.outbox.disconnect()
        self._remove(session)
        return {}

    async def _get_stats(self, session: Session, request: EmptyRequest) -> dict[str, Any]:
        peer = session.peer
        transports = [
            {
                "id": transport.id,
                "direction": peer.transport_directions[transport.id],
                "stats": await _stats_of(transport),
            }
            for transport in list(peer.transports.values())
        ]
        producers = [
            {
                "id": producer.id,
                "kind": producer.kind,
                "source": peer.producer_sources.get(producer.id),
                "paused": producer.paused,
                "stats": await _stats_of(producer),
            }
            for producer in list(peer.producers.values())
        ]
        consumers = [
            {
                "id": consumer.id,
                "producerId": consumer.producer_id,
                "kind": consumer.kind,
                "paused": consumer.paused,
                "producerPaused": consumer.producer_paused,
                "stats": await _stats_of(consumer),
            }
            for consumer in list(peer.consumers.values())
        ]
        return {"transports": transports, "producers": producers, "consumers": consumers}


async def _stats_of(entity: WebRtcTransport | Producer | Consumer) -> list[dict[str, Any]]:
    """Return the worker's statistics of an object, or [] if it closed in the meantime."""
    try:
        return await entity.get_stats()
    except SfuError:
        return []


def _log_transport_failures(peer: Peer, transport: WebRtcTransport) -> None:
    def dtls_state_changed(state: str) -> None:
        if state == "failed":
            peer.logger.warning("DTLS failed", transport=transport.id)

    def ice_state_changed(state: str) -> None:
        if state == "disconnected":
            peer.logger.info("ICE disconnected", transport=transport.id)

    transport.on("dtlsstatechange", dtls_state_changed)
    transport.on("icestatechange", ice_state_changed)
