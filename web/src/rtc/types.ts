// Shapes shared by the RtcService interface and the socket.io room protocol.
// The field names are those of the protocol messages, so payloads pass through unchanged.

/** Kind of content a producer carries, sent as `source` in `produce` and echoed in `appData.source`. */
export type MediaSource = 'microphone' | 'camera' | 'screen' | 'screen-audio';

export const MEDIA_SOURCES: readonly MediaSource[] = ['microphone', 'camera', 'screen', 'screen-audio'];

export type MediaKind = 'audio' | 'video';

/** Grants from the access token, as returned by `join`. */
export interface Permissions {
  canPublish: boolean;
  canSubscribe: boolean;
  canPublishData: boolean;
  /** Sources this peer may publish; an empty list allows every source. */
  canPublishSources: string[];
  roomAdmin: boolean;
  hidden: boolean;
}

/** One producer of a remote peer, as listed in the `join` response. */
export interface RemoteProducer {
  id: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
}

export interface Participant {
  id: string;
  identity: string;
  name: string;
  metadata: string;
  /** Producers known to this client: from `join`, then from `newConsumer` requests. */
  producers: RemoteProducer[];
}

export interface JoinOptions {
  /** socket.io server origin, for example `http://127.0.0.1:8080`; default: the page origin. */
  url?: string;
  /** Access token (JWT) sent as `auth.token` on connect. */
  token: string;
  displayName?: string;
}

export interface JoinResult {
  peerId: string;
  roomId: string;
  identity: string;
  name: string;
  permissions: Permissions;
  peers: Participant[];
}

export interface ActorRef {
  peerId: string;
  name: string;
}

export interface ChatMessage {
  id: string;
  peerId: string;
  identity: string;
  name: string;
  text: string;
  /** Server time in milliseconds since the epoch. */
  timestamp: number;
}

export interface LocalTrack {
  source: MediaSource;
  track: MediaStreamTrack;
  producerId: string;
}

/** Receiver statistics of one remote track, read from the consumer's inbound-rtp report. */
export interface RemoteTrackStats {
  peerId: string;
  source: MediaSource;
  kind: MediaKind;
  consumerId: string;
  producerId: string;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  /** Video only; 0 for audio. */
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  jitter: number;
}

export type DeviceKind = 'audioinput' | 'videoinput';

export type ServiceState = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed';

/** Payload of every event that RtcService emits, keyed by event name. */
export interface RtcEventMap {
  'participant-joined': Participant;
  'participant-left': { peerId: string };
  'participant-updated': { peerId: string; name: string; metadata: string };
  'track-added': {
    peerId: string;
    source: MediaSource;
    kind: MediaKind;
    track: MediaStreamTrack;
    consumerId: string;
    producerId: string;
    /** True when the producer was paused at the time the consumer was created. */
    muted: boolean;
  };
  'track-removed': { peerId: string; source: MediaSource; consumerId: string };
  /** Emitted for remote tracks and for the local peer's own producers (then peerId is the local one). */
  'mute-changed': { peerId: string; source: MediaSource; muted: boolean; by?: ActorRef };
  'local-track-added': LocalTrack;
  'local-track-removed': { source: MediaSource; producerId: string };
  'chat-message': ChatMessage;
  removed: { by: ActorRef };
  reconnecting: { reason: string };
  reconnected: JoinResult;
  /** The session ended without a leaveRoom() call and will not be resumed. */
  disconnected: { reason: string };
  'state-changed': { state: ServiceState };
}

export type RtcEventName = keyof RtcEventMap;
