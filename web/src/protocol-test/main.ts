// Protocol test page: drives the socket.io room protocol with mediasoup-client directly,
// without Vue or RtcService, so that a browser test can check the server against the
// documented message flow. It joins, publishes a camera and a microphone, consumes
// everything the server offers, and exposes what happened as window.__protocolTest.
//
// Query parameters:
//   token      access token; without it a dev token is fetched for `room`
//   room       room name for the dev token (default "protocol-test")
//   identity   identity for the dev token (default: random); name: display name
//   admin=1    ask the dev-token endpoint for roomAdmin
//   server     socket.io origin (default: this page's origin)
//   publish=0  join and consume only
//   media=synthetic  use a canvas and an oscillator instead of getUserMedia
import { Device, type types as ms } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';

type Phase = 'idle' | 'connecting' | 'loading' | 'joining' | 'transports' | 'publishing' | 'ready' | 'removed' | 'closed' | 'error';

interface ProtocolEvent {
  /** Milliseconds since the page started. */
  t: number;
  direction: 'in' | 'out';
  name: string;
  payload?: unknown;
}

interface ConsumerInfo {
  id: string;
  producerId: string;
  peerId: string;
  kind: string;
  source: string;
  paused: boolean;
  closed: boolean;
}

interface ProtocolTestState {
  phase: Phase;
  error: { step: string; code: string; message: string } | null;
  peerId: string | null;
  roomId: string | null;
  permissions: unknown;
  peers: unknown[];
  media: 'getUserMedia' | 'synthetic' | null;
  producers: Record<string, string>;
  consumers: ConsumerInfo[];
  transports: Record<'send' | 'recv', string>;
  chat: unknown[];
}

interface TrackStats {
  id: string;
  kind: string;
  source: string;
  peerId?: string;
  packetsReceived?: number;
  packetsLost?: number;
  bytesReceived?: number;
  framesDecoded?: number;
  frameWidth?: number;
  frameHeight?: number;
  packetsSent?: number;
  bytesSent?: number;
  framesEncoded?: number;
}

declare global {
  interface Window {
    __protocolTest?: {
      state: ProtocolTestState;
      events: ProtocolEvent[];
      stats: () => Promise<{ consumers: TrackStats[]; producers: TrackStats[] }>;
      /** Sends any request and returns the raw acknowledgement, for negative tests. */
      request: (name: string, payload?: unknown) => Promise<unknown>;
      leave: () => Promise<unknown>;
    };
  }
}

const REQUEST_TIMEOUT_MS = 10_000;
const startedAt = performance.now();
const params = new URLSearchParams(window.location.search);

const state: ProtocolTestState = {
  phase: 'idle',
  error: null,
  peerId: null,
  roomId: null,
  permissions: null,
  peers: [],
  media: null,
  producers: {},
  consumers: [],
  transports: { send: '', recv: '' },
  chat: [],
};
const events: ProtocolEvent[] = [];
const consumers = new Map<string, { consumer: ms.Consumer; info: ConsumerInfo }>();
const producers = new Map<string, ms.Producer>();
let socket: Socket | null = null;

class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function log(direction: 'in' | 'out', name: string, payload?: unknown): void {
  events.push({ t: Math.round(performance.now() - startedAt), direction, name, payload });
}

/** Sends a request and returns the acknowledgement as it arrived ({data} or {error}). */
async function rawRequest(name: string, payload: unknown = {}): Promise<unknown> {
  if (!socket) throw new StepError('not_connected', `cannot send "${name}" before connecting`);
  log('out', name, payload);
  let response: unknown;
  try {
    response = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck(name, payload);
  } catch {
    throw new StepError('timeout', `"${name}" got no acknowledgement within ${REQUEST_TIMEOUT_MS} ms`);
  }
  log('in', `${name}:ack`, response);
  return response;
}

/** Sends a request and returns its `data`; an `{error}` acknowledgement throws. */
async function request<T>(name: string, payload: unknown = {}): Promise<T> {
  const response = (await rawRequest(name, payload)) as { data?: T; error?: { code: string; message: string } };
  if (response?.error) throw new StepError(response.error.code, response.error.message);
  if (!response || !('data' in response)) throw new StepError('malformed_ack', `"${name}" acknowledgement has no data: ${JSON.stringify(response)}`);
  return response.data as T;
}

async function step<T>(name: string, phase: Phase, run: () => Promise<T>): Promise<T> {
  state.phase = phase;
  try {
    return await run();
  } catch (error) {
    const code = error instanceof StepError ? error.code : 'exception';
    const message = error instanceof Error ? error.message : String(error);
    state.error = { step: name, code, message };
    state.phase = 'error';
    throw error;
  }
}

async function obtainToken(): Promise<string> {
  const token = params.get('token');
  if (token) return token;
  const query = new URLSearchParams({
    room: params.get('room') ?? 'protocol-test',
    identity: params.get('identity') ?? `protocol-${Math.random().toString(36).slice(2, 10)}`,
    name: params.get('name') ?? 'protocol test',
  });
  if (params.get('admin') === '1') query.set('admin', '1');
  const response = await fetch(`/api/dev-token?${query.toString()}`);
  if (!response.ok) throw new StepError('dev_token_failed', `GET /api/dev-token returned HTTP ${response.status}`);
  const body = (await response.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new StepError('dev_token_failed', 'GET /api/dev-token returned no token');
  return body.token;
}

function connect(token: string): Promise<Socket> {
  const url = params.get('server') ?? window.location.origin;
  const connection = io(url, { path: '/socket.io/', auth: { token }, reconnection: false, transports: ['websocket'] });
  socket = connection;
  return new Promise((resolve, reject) => {
    connection.once('connect', () => {
      log('in', 'connect');
      resolve(connection);
    });
    connection.once('connect_error', (error: Error & { data?: { code?: string; message?: string } }) => {
      log('in', 'connect_error', error.data ?? error.message);
      reject(new StepError(error.data?.code ?? 'connect_failed', error.data?.message ?? error.message));
    });
  });
}

function bindServerMessages(connection: Socket, recvTransport: Promise<ms.Transport>): void {
  connection.on('newConsumer', async (payload: Record<string, unknown>, ack: (response: unknown) => void) => {
    log('in', 'newConsumer', payload);
    try {
      const transport = await recvTransport;
      const appData = (payload.appData ?? {}) as { source?: string; peerId?: string };
      const consumer = await transport.consume({
        id: payload.id as string,
        producerId: payload.producerId as string,
        kind: payload.kind as 'audio' | 'video',
        rtpParameters: payload.rtpParameters as ms.RtpParameters,
        appData: { ...appData },
      });
      const info: ConsumerInfo = {
        id: consumer.id,
        producerId: consumer.producerId,
        peerId: String(payload.peerId ?? appData.peerId ?? ''),
        kind: consumer.kind,
        source: String(appData.source ?? ''),
        paused: payload.producerPaused === true,
        closed: false,
      };
      consumers.set(consumer.id, { consumer, info });
      state.consumers.push(info);
      attachMedia(consumer.track, info);
      log('out', 'newConsumer:ack', {});
      ack({});
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log('out', 'newConsumer:ack', { error: message });
      ack({ error: { code: 'internal', message } });
    }
  });

  connection.on('consumerClosed', ({ consumerId }: { consumerId: string }) => {
    log('in', 'consumerClosed', { consumerId });
    const entry = consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    entry.info.closed = true;
    document.querySelector(`[data-consumer-id="${consumerId}"]`)?.remove();
  });
  for (const [name, paused] of [['consumerPaused', true], ['consumerResumed', false]] as const) {
    connection.on(name, ({ consumerId }: { consumerId: string }) => {
      log('in', name, { consumerId });
      const entry = consumers.get(consumerId);
      if (entry) entry.info.paused = paused;
    });
  }
  connection.on('chatMessage', (payload: unknown) => {
    log('in', 'chatMessage', payload);
    state.chat.push(payload);
  });
  connection.on('removed', (payload: unknown) => {
    log('in', 'removed', payload);
    state.phase = 'removed';
  });
  for (const name of ['peerJoined', 'peerLeft', 'peerUpdated', 'consumerScore', 'producerMuted', 'reconnect', 'serverShutdown']) {
    connection.on(name, (payload: unknown) => log('in', name, payload));
  }
  connection.on('disconnect', (reason: string) => {
    log('in', 'disconnect', { reason });
    if (state.phase !== 'error' && state.phase !== 'removed') state.phase = 'closed';
  });
}

async function createTransport(device: Device, direction: 'send' | 'recv'): Promise<ms.Transport> {
  const info = await request<ms.TransportOptions>('createWebRtcTransport', { direction });
  const transport = direction === 'send' ? device.createSendTransport(info) : device.createRecvTransport(info);
  state.transports[direction] = transport.id;
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
  transport.on('connectionstatechange', (connectionState) => log('in', `${direction}Transport:connectionstatechange`, connectionState));
  if (direction === 'send') {
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, source: appData.source, appData })
        .then(({ id }) => callback({ id }), errback);
    });
  }
  return transport;
}

/** Draws a moving bar on a canvas and plays a 440 Hz tone, for machines without capture devices. */
function syntheticTracks(): { audio: MediaStreamTrack; video: MediaStreamTrack } {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 480;
  const context = canvas.getContext('2d')!;
  let frame = 0;
  window.setInterval(() => {
    frame += 1;
    context.fillStyle = '#123';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = '#4ade80';
    context.fillRect((frame * 8) % canvas.width, 0, 40, canvas.height);
  }, 33);
  const video = canvas.captureStream(30).getVideoTracks()[0]!;
  const audioContext = new AudioContext();
  const oscillator = audioContext.createOscillator();
  const destination = audioContext.createMediaStreamDestination();
  oscillator.connect(destination);
  oscillator.start();
  const audio = destination.stream.getAudioTracks()[0]!;
  return { audio, video };
}

async function localTracks(): Promise<{ audio: MediaStreamTrack; video: MediaStreamTrack }> {
  if (params.get('media') !== 'synthetic') {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      state.media = 'getUserMedia';
      return { audio: stream.getAudioTracks()[0]!, video: stream.getVideoTracks()[0]! };
    } catch (error) {
      log('in', 'getUserMedia:failed', error instanceof Error ? error.message : String(error));
    }
  }
  state.media = 'synthetic';
  return syntheticTracks();
}

function attachMedia(track: MediaStreamTrack, info: ConsumerInfo): void {
  const element = document.createElement(track.kind === 'video' ? 'video' : 'audio');
  element.autoplay = true;
  element.muted = true;
  element.dataset.consumerId = info.id;
  element.dataset.peerId = info.peerId;
  element.dataset.source = info.source;
  element.srcObject = new MediaStream([track]);
  if (element instanceof HTMLVideoElement) element.playsInline = true;
  document.getElementById('media')?.append(element);
  void element.play().catch(() => undefined);
}

async function readStats(source: ms.Consumer | ms.Producer, type: 'inbound-rtp' | 'outbound-rtp'): Promise<Record<string, number>> {
  const report = await source.getStats();
  const totals: Record<string, number> = {};
  report.forEach((stat: Record<string, unknown>) => {
    if (stat.type !== type) return;
    // Simulcast producers have one outbound-rtp entry per layer: sum the counters.
    for (const field of ['packetsReceived', 'packetsLost', 'bytesReceived', 'framesDecoded', 'packetsSent', 'bytesSent', 'framesEncoded']) {
      if (typeof stat[field] === 'number') totals[field] = (totals[field] ?? 0) + (stat[field] as number);
    }
    for (const field of ['frameWidth', 'frameHeight']) {
      if (typeof stat[field] === 'number') totals[field] = Math.max(totals[field] ?? 0, stat[field] as number);
    }
  });
  return totals;
}

async function stats(): Promise<{ consumers: TrackStats[]; producers: TrackStats[] }> {
  const consumerStats = await Promise.all(
    [...consumers.values()]
      .filter(({ consumer }) => !consumer.closed)
      .map(async ({ consumer, info }) => ({ id: consumer.id, kind: info.kind, source: info.source, peerId: info.peerId, ...(await readStats(consumer, 'inbound-rtp')) })),
  );
  const producerStats = await Promise.all(
    [...producers.entries()]
      .filter(([, producer]) => !producer.closed)
      .map(async ([source, producer]) => ({ id: producer.id, kind: producer.kind, source, ...(await readStats(producer, 'outbound-rtp')) })),
  );
  return { consumers: consumerStats, producers: producerStats };
}

async function run(): Promise<void> {
  const token = await step('token', 'connecting', obtainToken);
  const connection = await step('connect', 'connecting', () => connect(token));

  let resolveRecv!: (transport: ms.Transport) => void;
  const recvTransport = new Promise<ms.Transport>((resolve) => (resolveRecv = resolve));
  bindServerMessages(connection, recvTransport);

  const device = await step('load', 'loading', async () => {
    const { rtpCapabilities } = await request<{ rtpCapabilities: ms.RtpCapabilities }>('getRouterRtpCapabilities', {});
    const loaded = await Device.factory();
    await loaded.load({ routerRtpCapabilities: rtpCapabilities });
    return loaded;
  });

  const joined = await step('join', 'joining', () =>
    request<{ peerId: string; roomId: string; permissions: { canPublish?: boolean; canSubscribe?: boolean }; peers: unknown[] }>('join', {
      rtpCapabilities: device.recvRtpCapabilities,
      displayName: params.get('name') ?? 'protocol test',
    }),
  );
  state.peerId = joined.peerId;
  state.roomId = joined.roomId;
  state.permissions = joined.permissions;
  state.peers = joined.peers;

  await step('transports', 'transports', async () => {
    if (joined.permissions.canSubscribe !== false) resolveRecv(await createTransport(device, 'recv'));
  });

  if (params.get('publish') !== '0' && joined.permissions.canPublish !== false) {
    await step('publish', 'publishing', async () => {
      const sendTransport = await createTransport(device, 'send');
      const { audio, video } = await localTracks();
      producers.set('microphone', await sendTransport.produce({ track: audio, appData: { source: 'microphone' } }));
      producers.set('camera', await sendTransport.produce({ track: video, appData: { source: 'camera' } }));
      for (const [source, producer] of producers) state.producers[source] = producer.id;
    });
  }
  state.phase = 'ready';
}

window.__protocolTest = {
  state,
  events,
  stats,
  request: rawRequest,
  leave: () => rawRequest('leave', {}),
};

const output = document.getElementById('state');
window.setInterval(() => {
  if (output) output.textContent = JSON.stringify({ state, events: events.length }, null, 2);
}, 500);

run().catch((error: unknown) => {
  console.error('[protocol-test] stopped', error);
});
