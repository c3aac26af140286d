import { Device, type types as ms } from 'mediasoup-client';
import { TypedEmitter } from './emitter';
import { CONNECT_REFUSAL_CODES, RtcError } from './errors';
import { captureCamera, captureMicrophone, captureScreen } from './media';
import {
  canPublishSource,
  parseActor,
  parseJoinResult,
  parseNewConsumer,
  parseParticipant,
  parseTransportInfo,
  type NewConsumerRequest,
} from './protocol';
import type { RtcService } from './RtcService';
import { SignalingClient } from './signaling';
import type {
  DeviceKind,
  JoinOptions,
  JoinResult,
  LocalTrack,
  MediaSource,
  Participant,
  Permissions,
  RemoteTrackStats,
  RtcEventMap,
  ServiceState,
} from './types';

export interface MediasoupRtcServiceOptions {
  /** Send the camera as three simulcast layers (default false: one encoding). */
  simulcast?: boolean;
  /** Delays in milliseconds before each rejoin attempt after a lost connection. */
  reconnectDelaysMs?: number[];
}

interface RemoteConsumer {
  consumer: ms.Consumer;
  peerId: string;
  source: MediaSource;
  producerId: string;
}

interface LocalProducer {
  producer: ms.Producer;
  track: MediaStreamTrack;
}

// About 31 s of attempts in all: enough for the server to replace a crashed worker.
const DEFAULT_RECONNECT_DELAYS_MS = [0, 500, 1000, 2000, 4000, 8000, 8000, 8000];
const CAMERA_SIMULCAST_ENCODINGS: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
const JOIN_TIMEOUT_MS = 15_000;
const LEAVE_TIMEOUT_MS = 3_000;

class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A session that ends before its recv transport exists rejects this promise, often with no one waiting on it.
    this.promise.catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * RtcService on mediasoup-client's Device and a socket.io connection.
 *
 * One "session" is one socket.io connection with its Device, transports, producers and
 * consumers. A reconnect ends the session and starts another with the same token. The
 * local capture tracks outlive sessions, because producers use `stopTracks: false`, and
 * are produced again after the rejoin. Handlers of an old session check `generation` and
 * do nothing once it has ended.
 */
export class MediasoupRtcService extends TypedEmitter<RtcEventMap> implements RtcService {
  private readonly simulcast: boolean;
  private readonly reconnectDelaysMs: number[];

  private _state: ServiceState = 'idle';
  private joinOptions: JoinOptions | null = null;
  private joinResult: JoinResult | null = null;
  private generation = 0;

  private signaling: SignalingClient | null = null;
  private device: Device | null = null;
  private sendTransport: ms.Transport | null = null;
  private sendTransportPromise: Promise<ms.Transport> | null = null;
  private recvTransport: ms.Transport | null = null;
  private recvTransportReady = new Deferred<ms.Transport>();

  private readonly participants = new Map<string, Participant>();
  private readonly consumers = new Map<string, RemoteConsumer>();
  private readonly producers = new Map<MediaSource, LocalProducer>();
  /** Capture tracks that should be published, kept across a reconnect. */
  private readonly localTracks = new Map<MediaSource, MediaStreamTrack>();
  private microphoneMuted = false;
  private readonly preferredDevices: Partial<Record<DeviceKind, string>> = {};
  private operationChain: Promise<unknown> = Promise.resolve();

  constructor(options: MediasoupRtcServiceOptions = {}) {
    super();
    this.simulcast = options.simulcast ?? false;
    this.reconnectDelaysMs = options.reconnectDelaysMs ?? DEFAULT_RECONNECT_DELAYS_MS;
  }

  get state(): ServiceState {
    return this._state;
  }

  get peerId(): string | null {
    return this.joinResult?.peerId ?? null;
  }

  get permissions(): Permissions | null {
    return this.joinResult?.permissions ?? null;
  }

  // ---- joining and leaving -------------------------------------------------------------

  async joinRoom(options: JoinOptions): Promise<JoinResult> {
    if (this._state !== 'idle' && this._state !== 'closed') {
      throw new RtcError('invalid_state', `joinRoom() called in state "${this._state}". Call leaveRoom() first.`);
    }
    this.joinOptions = options;
    this.participants.clear();
    this.microphoneMuted = false;
    this.setState('connecting');
    try {
      const result = await this.startSession();
      this.setState('joined');
      return result;
    } catch (error) {
      this.endSession();
      this.stopLocalTracks();
      this.setState('closed');
      throw error;
    }
  }

  async leaveRoom(): Promise<void> {
    if (this._state === 'idle' || this._state === 'closed') {
      return;
    }
    const signaling = this.signaling;
    const wasJoined = this._state === 'joined';
    this.setState('closed');
    if (wasJoined && signaling?.connected) {
      try {
        await signaling.request('leave', {}, LEAVE_TIMEOUT_MS);
      } catch (error) {
        console.warn('[pysfu] leave request failed, closing the connection anyway', error);
      }
    }
    this.endSession();
    this.stopLocalTracks();
  }

  /**
   * Connects, loads a new Device, joins and creates the recv transport, once per session.
   * On a rejoin the difference between the kept peer list and the new one is announced
   * before any track of the new session.
   */
  private async startSession(rejoin = false): Promise<JoinResult> {
    const options = this.joinOptions;
    if (!options) {
      throw new RtcError('invalid_state', 'no join options');
    }
    const generation = ++this.generation;
    const signaling = new SignalingClient();
    this.signaling = signaling;
    this.recvTransportReady = new Deferred<ms.Transport>();

    await signaling.connect(options.url, options.token);
    this.assertCurrent(generation);
    this.bindServerMessages(signaling, generation);
    signaling.onDisconnect = (reason) => {
      if (generation === this.generation) {
        void this.reconnect(`socket_${reason.replace(/ /g, '_')}`);
      }
    };

    const { rtpCapabilities } = await signaling.request<{ rtpCapabilities: ms.RtpCapabilities }>('getRouterRtpCapabilities', {});
    // A Device loads once, and a rejoin may land on a router with other capabilities.
    const device = await Device.factory();
    await device.load({ routerRtpCapabilities: rtpCapabilities });
    this.assertCurrent(generation);
    this.device = device;

    const joinPayload: Record<string, unknown> = { rtpCapabilities: device.recvRtpCapabilities };
    if (options.displayName) {
      joinPayload.displayName = options.displayName;
    }
    const result = parseJoinResult(await signaling.request('join', joinPayload, JOIN_TIMEOUT_MS));
    this.assertCurrent(generation);
    this.joinResult = result;
    const previousPeers = new Map(this.participants);
    this.applyPeerList(result.peers);
    if (rejoin) {
      this.announcePeerChanges(previousPeers);
    }

    if (result.permissions.canSubscribe) {
      const transport = await this.createTransport('recv', generation);
      this.recvTransport = transport;
      this.recvTransportReady.resolve(transport);
    }
    return result;
  }

  /** Closes the current session's socket, transports and consumers, keeping the local tracks. */
  private endSession(): void {
    this.generation += 1;
    this.signaling?.close();
    this.signaling = null;
    this.recvTransportReady.reject(new RtcError('invalid_state', 'the session ended'));

    for (const [consumerId, entry] of this.consumers) {
      entry.consumer.close();
      this.emit('track-removed', { peerId: entry.peerId, source: entry.source, consumerId });
    }
    this.consumers.clear();
    this.producers.clear();

    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = null;
    this.sendTransportPromise = null;
    this.recvTransport = null;
    this.device = null;
  }

  private stopLocalTracks(): void {
    for (const track of this.localTracks.values()) {
      track.stop();
    }
    this.localTracks.clear();
  }

  private assertCurrent(generation: number): void {
    if (generation !== this.generation) {
      throw new RtcError('invalid_state', 'the session ended while a request was in flight');
    }
  }

  // A method, so that TypeScript does not narrow `_state` across the awaits of reconnect().
  private isReconnecting(): boolean {
    return this._state === 'reconnecting';
  }

  private setState(state: ServiceState): void {
    if (this._state !== state) {
      this._state = state;
      this.emit('state-changed', { state });
    }
  }

  // ---- reconnecting --------------------------------------------------------------------

  /**
   * Ends the current session and rejoins with the same token, then produces the local
   * tracks again. Called for the server's `reconnect` notification, `serverShutdown`, a
   * dropped socket, and a transport whose ICE restart failed.
   */
  private async reconnect(reason: string): Promise<void> {
    if (this._state !== 'joined') {
      return;
    }
    this.setState('reconnecting');
    this.emit('reconnecting', { reason });
    this.endSession();

    let lastError: unknown = null;
    for (const delay of this.reconnectDelaysMs) {
      await sleep(delay);
      if (!this.isReconnecting()) {
        return;
      }
      try {
        const result = await this.startSession(true);
        if (!this.isReconnecting()) {
          this.endSession();
          return;
        }
        await this.serialize(() => this.republishLocalTracks());
        this.setState('joined');
        this.emit('reconnected', result);
        return;
      } catch (error) {
        lastError = error;
        console.warn('[pysfu] rejoin attempt failed', error);
        this.endSession();
        if (error instanceof RtcError && (CONNECT_REFUSAL_CODES.includes(error.code) || error.code === 'forbidden')) {
          break;
        }
      }
    }

    if (!this.isReconnecting()) {
      return;
    }
    this.stopLocalTracks();
    this.setState('closed');
    const code = lastError instanceof RtcError ? lastError.code : 'reconnect_failed';
    this.emit('disconnected', { reason: code });
  }

  /** Emits participant-left / participant-joined for the difference between two peer lists. */
  private announcePeerChanges(previous: Map<string, Participant>): void {
    for (const [peerId] of previous) {
      if (!this.participants.has(peerId)) {
        this.emit('participant-left', { peerId });
      }
    }
    for (const [peerId, participant] of this.participants) {
      if (!previous.has(peerId)) {
        this.emit('participant-joined', participant);
      }
    }
  }

  /** Produces the kept capture tracks on the new session. A track that fails is stopped and dropped. */
  private async republishLocalTracks(): Promise<void> {
    const tracks = [...this.localTracks];
    this.localTracks.clear();
    for (const [source, track] of tracks) {
      if (track.readyState === 'live' && canPublishSource(this.permissions, source)) {
        try {
          await this.produceTrack(source, track);
          continue;
        } catch (error) {
          console.warn(`[pysfu] producing ${source} again after the rejoin failed`, error);
        }
      }
      track.stop();
      this.emit('local-track-removed', { source, producerId: '' });
    }
  }

  // ---- server messages -----------------------------------------------------------------

  private bindServerMessages(signaling: SignalingClient, generation: number): void {
    const current = (): boolean => generation === this.generation;

    signaling.onRequest('newConsumer', async (payload) => {
      if (!current()) {
        throw new RtcError('invalid_state', 'this session has ended');
      }
      await this.handleNewConsumer(parseNewConsumer(payload), generation);
    });

    signaling.onNotification('peerJoined', (payload) => {
      if (!current()) return;
      const participant = parseParticipant(payload, 'peerJoined');
      if (participant.id === this.peerId || this.participants.has(participant.id)) return;
      this.participants.set(participant.id, participant);
      this.emit('participant-joined', participant);
    });

    signaling.onNotification('peerLeft', (payload) => {
      if (!current() || typeof payload.peerId !== 'string') return;
      this.forgetParticipant(payload.peerId);
    });

    signaling.onNotification('peerUpdated', (payload) => {
      if (!current() || typeof payload.id !== 'string') return;
      const participant = this.participants.get(payload.id);
      if (!participant) return;
      if (typeof payload.name === 'string') participant.name = payload.name;
      if (typeof payload.metadata === 'string') participant.metadata = payload.metadata;
      this.emit('participant-updated', { peerId: participant.id, name: participant.name, metadata: participant.metadata });
    });

    signaling.onNotification('consumerClosed', (payload) => {
      if (!current() || typeof payload.consumerId !== 'string') return;
      this.closeConsumer(payload.consumerId);
    });

    signaling.onNotification('consumerPaused', (payload) => {
      if (current() && typeof payload.consumerId === 'string') this.setRemotePaused(payload.consumerId, true);
    });

    signaling.onNotification('consumerResumed', (payload) => {
      if (current() && typeof payload.consumerId === 'string') this.setRemotePaused(payload.consumerId, false);
    });

    signaling.onNotification('producerMuted', (payload) => {
      if (current() && typeof payload.producerId === 'string') this.handleProducerMuted(payload.producerId, parseActor(payload.by));
    });

    signaling.onNotification('chatMessage', (payload) => {
      if (!current()) return;
      this.emit('chat-message', {
        id: String(payload.id ?? ''),
        peerId: String(payload.peerId ?? ''),
        identity: String(payload.identity ?? ''),
        name: String(payload.name ?? ''),
        text: String(payload.text ?? ''),
        timestamp: typeof payload.timestamp === 'number' ? payload.timestamp : Date.now(),
      });
    });

    signaling.onNotification('removed', (payload) => {
      if (!current()) return;
      this.setState('closed');
      this.endSession();
      this.stopLocalTracks();
      this.emit('removed', { by: parseActor(payload.by) });
    });

    signaling.onNotification('reconnect', (payload) => {
      if (!current()) return;
      void this.reconnect(typeof payload.reason === 'string' ? payload.reason : 'server_requested');
    });

    signaling.onNotification('serverShutdown', () => {
      if (current()) void this.reconnect('server_shutdown');
    });
  }

  private async handleNewConsumer(request: NewConsumerRequest, generation: number): Promise<void> {
    // The server may send this before the createWebRtcTransport acknowledgement arrives.
    const transport = await this.recvTransportReady.promise;
    this.assertCurrent(generation);

    const group = request.source === 'screen' || request.source === 'screen-audio' ? 'screen' : 'user';
    const consumer = await transport.consume({
      id: request.id,
      producerId: request.producerId,
      kind: request.kind,
      rtpParameters: request.rtpParameters,
      // Tracks of one stream id are played in sync (lip sync for microphone and camera).
      streamId: `${request.peerId}-${group}`,
      appData: { peerId: request.peerId, source: request.source },
    });
    if (generation !== this.generation) {
      consumer.close();
      this.assertCurrent(generation);
    }

    this.consumers.set(consumer.id, { consumer, peerId: request.peerId, source: request.source, producerId: request.producerId });
    consumer.on('transportclose', () => this.consumers.delete(consumer.id));

    let participant = this.participants.get(request.peerId);
    if (!participant) {
      // A producer of a peer that was not announced (its peerJoined is late or it is hidden).
      participant = { id: request.peerId, identity: '', name: '', metadata: '', producers: [] };
      this.participants.set(participant.id, participant);
      this.emit('participant-joined', participant);
    }
    participant.producers = participant.producers.filter((producer) => producer.id !== request.producerId);
    participant.producers.push({ id: request.producerId, kind: request.kind, source: request.source, paused: request.producerPaused });

    this.emit('track-added', {
      peerId: request.peerId,
      source: request.source,
      kind: request.kind,
      track: consumer.track,
      consumerId: consumer.id,
      producerId: request.producerId,
      muted: request.producerPaused,
    });
  }

  private closeConsumer(consumerId: string): void {
    const entry = this.consumers.get(consumerId);
    if (!entry) return;
    this.consumers.delete(consumerId);
    entry.consumer.close();
    const participant = this.participants.get(entry.peerId);
    if (participant) {
      participant.producers = participant.producers.filter((producer) => producer.id !== entry.producerId);
    }
    this.emit('track-removed', { peerId: entry.peerId, source: entry.source, consumerId });
  }

  private setRemotePaused(consumerId: string, paused: boolean): void {
    const entry = this.consumers.get(consumerId);
    if (!entry) return;
    const producer = this.participants.get(entry.peerId)?.producers.find((item) => item.id === entry.producerId);
    if (producer) producer.paused = paused;
    this.emit('mute-changed', { peerId: entry.peerId, source: entry.source, muted: paused });
  }

  private forgetParticipant(peerId: string): void {
    for (const [consumerId, entry] of this.consumers) {
      if (entry.peerId === peerId) this.closeConsumer(consumerId);
    }
    if (this.participants.delete(peerId)) {
      this.emit('participant-left', { peerId });
    }
  }

  private applyPeerList(peers: Participant[]): void {
    this.participants.clear();
    for (const peer of peers) {
      if (peer.id !== this.peerId) this.participants.set(peer.id, peer);
    }
  }

  /** Pauses the local producer that a host paused on the server, so the UI shows it muted. */
  private handleProducerMuted(producerId: string, by: { peerId: string; name: string }): void {
    for (const [source, entry] of this.producers) {
      if (entry.producer.id !== producerId) continue;
      entry.producer.pause();
      if (source === 'microphone') this.microphoneMuted = true;
      this.emit('mute-changed', { peerId: this.peerId ?? '', source, muted: true, by });
    }
  }

  // ---- transports ----------------------------------------------------------------------

  private async createTransport(direction: 'send' | 'recv', generation: number): Promise<ms.Transport> {
    const signaling = this.signaling;
    const device = this.device;
    if (!signaling || !device) {
      throw new RtcError('invalid_state', 'not connected');
    }
    const info = parseTransportInfo(await signaling.request('createWebRtcTransport', { direction }));
    this.assertCurrent(generation);
    const transport = direction === 'send' ? device.createSendTransport(info) : device.createRecvTransport(info);

    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });

    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        signaling
          .request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, source: appData.source, appData })
          .then(({ id }) => callback({ id }), errback);
      });
    }

    let iceRestarted = false;
    transport.on('connectionstatechange', (state) => {
      if (state !== 'failed' || generation !== this.generation) return;
      if (iceRestarted) {
        void this.reconnect('ice_failed');
        return;
      }
      iceRestarted = true;
      signaling
        .request<{ iceParameters: ms.IceParameters }>('restartIce', { transportId: transport.id })
        .then(({ iceParameters }) => transport.restartIce({ iceParameters }))
        .catch(() => this.reconnect('ice_failed'));
    });
    return transport;
  }

  private ensureSendTransport(): Promise<ms.Transport> {
    if (!this.sendTransportPromise) {
      const generation = this.generation;
      this.sendTransportPromise = this.createTransport('send', generation).then(
        (transport) => {
          this.sendTransport = transport;
          return transport;
        },
        (error: unknown) => {
          this.sendTransportPromise = null;
          throw error;
        },
      );
    }
    return this.sendTransportPromise;
  }

  // ---- publishing ----------------------------------------------------------------------

  /** Runs publishing operations one at a time so that two clicks cannot produce one source twice. */
  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.operationChain.then(operation, operation);
    this.operationChain = result.catch(() => undefined);
    return result;
  }

  private assertJoined(operation: string): void {
    if (this._state !== 'joined') {
      throw new RtcError('invalid_state', `${operation} needs a joined room, but the service is "${this._state}"`);
    }
  }

  private assertMayPublish(source: MediaSource): void {
    this.assertJoined(`publishing ${source}`);
    if (!canPublishSource(this.permissions, source)) {
      throw new RtcError('forbidden', `the access token does not allow publishing "${source}"`);
    }
  }

  /** Produces `track` as `source`. The service owns the track from here on. */
  private async produceTrack(source: MediaSource, track: MediaStreamTrack): Promise<LocalTrack> {
    const transport = await this.ensureSendTransport();
    const options: ms.ProducerOptions = { track, stopTracks: false, appData: { source } };
    if (source === 'camera' && this.simulcast) {
      options.encodings = CAMERA_SIMULCAST_ENCODINGS;
    }
    if (source === 'microphone') {
      options.codecOptions = { opusDtx: true, opusFec: true };
    }
    const producer = await transport.produce(options);

    this.producers.set(source, { producer, track });
    this.localTracks.set(source, track);
    producer.on('trackended', () => {
      // The device was unplugged or the user stopped sharing from the browser's own UI.
      void this.unpublish(source);
    });

    if (source === 'microphone' && this.microphoneMuted) {
      producer.pause();
      try {
        await this.signaling?.request('pauseProducer', { producerId: producer.id });
      } catch (error) {
        // A muted microphone must not stay live on the server: give up on this producer.
        this.producers.delete(source);
        this.localTracks.delete(source);
        producer.close();
        throw error;
      }
    }
    const local = { source, track, producerId: producer.id };
    this.emit('local-track-added', local);
    return local;
  }

  private async captureAndProduce(source: MediaSource, capture: () => Promise<MediaStreamTrack>): Promise<LocalTrack> {
    this.assertMayPublish(source);
    const existing = this.producers.get(source);
    if (existing) {
      return { source, track: existing.track, producerId: existing.producer.id };
    }
    const track = await capture();
    try {
      this.assertJoined(`publishing ${source}`);
      return await this.produceTrack(source, track);
    } catch (error) {
      track.stop();
      this.producers.delete(source);
      this.localTracks.delete(source);
      throw error;
    }
  }

  publishAudio(deviceId?: string): Promise<LocalTrack> {
    return this.serialize(() => {
      if (deviceId) this.preferredDevices.audioinput = deviceId;
      return this.captureAndProduce('microphone', () => captureMicrophone(this.preferredDevices.audioinput));
    });
  }

  publishVideo(deviceId?: string): Promise<LocalTrack> {
    return this.serialize(() => {
      if (deviceId) this.preferredDevices.videoinput = deviceId;
      return this.captureAndProduce('camera', () => captureCamera(this.preferredDevices.videoinput));
    });
  }

  publishScreen(): Promise<LocalTrack[]> {
    return this.serialize(async () => {
      this.assertMayPublish('screen');
      const existing = this.producers.get('screen');
      if (existing) {
        return [{ source: 'screen' as const, track: existing.track, producerId: existing.producer.id }];
      }
      const { video, audio } = await captureScreen();
      const published: LocalTrack[] = [];
      try {
        this.assertJoined('publishing screen');
        published.push(await this.produceTrack('screen', video));
      } catch (error) {
        video.stop();
        audio?.stop();
        throw error;
      }
      if (audio && canPublishSource(this.permissions, 'screen-audio')) {
        try {
          published.push(await this.produceTrack('screen-audio', audio));
        } catch (error) {
          // The screen is shared without its sound rather than not at all.
          console.warn('[pysfu] producing screen-audio failed', error);
          audio.stop();
        }
      } else {
        audio?.stop();
      }
      return published;
    });
  }

  unpublish(source: MediaSource): Promise<void> {
    return this.serialize(async () => {
      await this.closeLocalProducer(source);
      if (source === 'screen') {
        await this.closeLocalProducer('screen-audio');
      }
    });
  }

  private async closeLocalProducer(source: MediaSource): Promise<void> {
    const entry = this.producers.get(source);
    const track = entry?.track ?? this.localTracks.get(source);
    this.producers.delete(source);
    this.localTracks.delete(source);
    track?.stop();
    if (!entry) {
      if (track) this.emit('local-track-removed', { source, producerId: '' });
      return;
    }
    entry.producer.close();
    this.emit('local-track-removed', { source, producerId: entry.producer.id });
    if (this._state === 'joined' && this.signaling) {
      try {
        await this.signaling.request('closeProducer', { producerId: entry.producer.id });
      } catch (error) {
        // not_found means the server already closed it (for example with its transport).
        if (!(error instanceof RtcError && error.code === 'not_found')) throw error;
      }
    }
  }

  setMicrophoneMuted(muted: boolean): Promise<void> {
    return this.serialize(async () => {
      this.microphoneMuted = muted;
      const entry = this.producers.get('microphone');
      if (entry) {
        if (muted) {
          entry.producer.pause();
        } else {
          entry.producer.resume();
        }
        if (this._state === 'joined' && this.signaling) {
          await this.signaling.request(muted ? 'pauseProducer' : 'resumeProducer', { producerId: entry.producer.id });
        }
      } else {
        // Not produced (for example while reconnecting): apply to the track and to the next produce.
        const track = this.localTracks.get('microphone');
        if (track) track.enabled = !muted;
      }
      this.emit('mute-changed', { peerId: this.peerId ?? '', source: 'microphone', muted });
    });
  }

  async setCameraEnabled(enabled: boolean): Promise<void> {
    if (enabled) {
      await this.publishVideo();
    } else {
      await this.unpublish('camera');
    }
  }

  switchDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    return this.serialize(async () => {
      this.preferredDevices[kind] = deviceId;
      const source: MediaSource = kind === 'audioinput' ? 'microphone' : 'camera';
      const entry = this.producers.get(source);
      const capture = (): Promise<MediaStreamTrack> => (source === 'microphone' ? captureMicrophone(deviceId) : captureCamera(deviceId));
      if (!entry) {
        // While reconnecting the track waits in localTracks to be produced again: swap it there.
        const waiting = this.localTracks.get(source);
        if (waiting) {
          const track = await capture();
          track.enabled = waiting.enabled;
          waiting.stop();
          this.localTracks.set(source, track);
          this.emit('local-track-added', { source, track, producerId: '' });
        }
        return;
      }
      const track = await capture();
      try {
        await entry.producer.replaceTrack({ track });
      } catch (error) {
        track.stop();
        throw error;
      }
      entry.track.stop();
      entry.track = track;
      this.localTracks.set(source, track);
      this.emit('local-track-added', { source, track, producerId: entry.producer.id });
    });
  }

  // ---- host controls and chat ----------------------------------------------------------

  async muteParticipant(peerId: string, producerId: string): Promise<void> {
    this.assertJoined('muteParticipant');
    await this.signaling!.request('muteParticipant', { peerId, producerId });
  }

  async removeParticipant(peerId: string): Promise<void> {
    this.assertJoined('removeParticipant');
    await this.signaling!.request('removeParticipant', { peerId });
  }

  async sendChat(text: string): Promise<{ id: string; timestamp: number }> {
    this.assertJoined('sendChat');
    return this.signaling!.request<{ id: string; timestamp: number }>('chatMessage', { text });
  }

  // ---- queries -------------------------------------------------------------------------

  getParticipants(): Participant[] {
    return [...this.participants.values()].map((participant) => ({ ...participant, producers: [...participant.producers] }));
  }

  getLocalTrack(source: MediaSource): MediaStreamTrack | null {
    return this.localTracks.get(source) ?? null;
  }

  isMicrophoneMuted(): boolean {
    return this.microphoneMuted;
  }

  async getStats(): Promise<RemoteTrackStats[]> {
    const entries = [...this.consumers.values()];
    const results = await Promise.all(
      entries.map(async (entry) => {
        const report = await entry.consumer.getStats();
        let inbound: Record<string, unknown> = {};
        report.forEach((stat: Record<string, unknown>) => {
          if (stat.type === 'inbound-rtp') inbound = stat;
        });
        const number = (field: string): number => (typeof inbound[field] === 'number' ? (inbound[field] as number) : 0);
        return {
          peerId: entry.peerId,
          source: entry.source,
          kind: entry.consumer.kind,
          consumerId: entry.consumer.id,
          producerId: entry.producerId,
          packetsReceived: number('packetsReceived'),
          packetsLost: number('packetsLost'),
          bytesReceived: number('bytesReceived'),
          framesDecoded: number('framesDecoded'),
          frameWidth: number('frameWidth'),
          frameHeight: number('frameHeight'),
          jitter: number('jitter'),
        };
      }),
    );
    return results;
  }
}
