// Checks and normalizes the payloads that the server sends, so that the service works on
// typed values. Malformed input raises RtcError('invalid_payload') naming the field.
import type { types as ms } from 'mediasoup-client';
import { RtcError } from './errors';
import { isObject } from './signaling';
import { MEDIA_SOURCES, type JoinResult, type MediaKind, type MediaSource, type Participant, type Permissions, type RemoteProducer } from './types';

export interface NewConsumerRequest {
  peerId: string;
  producerId: string;
  id: string;
  kind: MediaKind;
  rtpParameters: ms.RtpParameters;
  type: string;
  producerPaused: boolean;
  source: MediaSource;
}

export interface TransportInfo {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

function fail(field: string, value: unknown): never {
  throw new RtcError('invalid_payload', `invalid ${field}: ${JSON.stringify(value)}`);
}

function str(payload: Record<string, unknown>, field: string, prefix = ''): string {
  const value = payload[field];
  if (typeof value !== 'string') {
    fail(prefix + field, value);
  }
  return value;
}

function optionalStr(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  return typeof value === 'string' ? value : '';
}

function obj(payload: Record<string, unknown>, field: string, prefix = ''): Record<string, unknown> {
  const value = payload[field];
  if (!isObject(value)) {
    fail(prefix + field, value);
  }
  return value;
}

export function parseKind(value: unknown, field: string): MediaKind {
  if (value !== 'audio' && value !== 'video') {
    fail(field, value);
  }
  return value;
}

export function parseSource(value: unknown, field: string): MediaSource {
  if (typeof value !== 'string' || !(MEDIA_SOURCES as readonly string[]).includes(value)) {
    fail(field, value);
  }
  return value as MediaSource;
}

function parseProducer(value: unknown, field: string): RemoteProducer {
  if (!isObject(value)) {
    fail(field, value);
  }
  return {
    id: str(value, 'id', `${field}.`),
    kind: parseKind(value.kind, `${field}.kind`),
    source: parseSource(value.source, `${field}.source`),
    paused: value.paused === true,
  };
}

/** Parses a peer of the `join` response or a `peerJoined` notification. */
export function parseParticipant(value: unknown, field: string): Participant {
  if (!isObject(value)) {
    fail(field, value);
  }
  const producers = Array.isArray(value.producers) ? value.producers : [];
  return {
    id: str(value, 'id', `${field}.`),
    identity: optionalStr(value, 'identity'),
    name: optionalStr(value, 'name'),
    metadata: optionalStr(value, 'metadata'),
    producers: producers.map((producer, index) => parseProducer(producer, `${field}.producers[${index}]`)),
  };
}

export function parseJoinResult(data: unknown): JoinResult {
  if (!isObject(data)) {
    fail('join response', data);
  }
  const grants = obj(data, 'permissions');
  const permissions: Permissions = {
    canPublish: grants.canPublish !== false,
    canSubscribe: grants.canSubscribe !== false,
    canPublishData: grants.canPublishData !== false,
    canPublishSources: Array.isArray(grants.canPublishSources)
      ? grants.canPublishSources.filter((source): source is string => typeof source === 'string')
      : [],
    roomAdmin: grants.roomAdmin === true,
    hidden: grants.hidden === true,
  };
  const peers = Array.isArray(data.peers) ? data.peers : fail('peers', data.peers);
  return {
    peerId: str(data, 'peerId'),
    roomId: str(data, 'roomId'),
    identity: optionalStr(data, 'identity'),
    name: optionalStr(data, 'name'),
    permissions,
    peers: peers.map((peer, index) => parseParticipant(peer, `peers[${index}]`)),
  };
}

export function parseNewConsumer(payload: Record<string, unknown>): NewConsumerRequest {
  const appData = isObject(payload.appData) ? payload.appData : {};
  const peerId = str(payload, 'peerId');
  return {
    peerId,
    producerId: str(payload, 'producerId'),
    id: str(payload, 'id'),
    kind: parseKind(payload.kind, 'kind'),
    rtpParameters: obj(payload, 'rtpParameters') as unknown as ms.RtpParameters,
    type: optionalStr(payload, 'type'),
    producerPaused: payload.producerPaused === true,
    source: parseSource(appData.source, 'appData.source'),
  };
}

export function parseTransportInfo(data: unknown): TransportInfo {
  if (!isObject(data)) {
    fail('createWebRtcTransport response', data);
  }
  const iceCandidates = Array.isArray(data.iceCandidates) ? data.iceCandidates : fail('iceCandidates', data.iceCandidates);
  return {
    id: str(data, 'id'),
    iceParameters: obj(data, 'iceParameters') as unknown as ms.IceParameters,
    iceCandidates: iceCandidates as ms.IceCandidate[],
    dtlsParameters: obj(data, 'dtlsParameters') as unknown as ms.DtlsParameters,
  };
}

export function parseActor(value: unknown): { peerId: string; name: string } {
  if (!isObject(value)) {
    return { peerId: '', name: '' };
  }
  return { peerId: optionalStr(value, 'peerId'), name: optionalStr(value, 'name') };
}

/** Checks whether the token's grants allow publishing `source`. The server enforces the same rule. */
export function canPublishSource(permissions: Permissions | null, source: MediaSource): boolean {
  if (!permissions || !permissions.canPublish) {
    return false;
  }
  return permissions.canPublishSources.length === 0 || permissions.canPublishSources.includes(source);
}
