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

/**
 * The browser client of a pysfu room. UI code talks to this interface only and never to
 * mediasoup-client or socket.io. Every method that talks to the server rejects with an
 * `RtcError` whose `code` is a protocol error code (see errors.ts).
 */
export interface RtcService {
  readonly state: ServiceState;
  /** The local peer id while joined, else null. A rejoin after a reconnect assigns a new one. */
  readonly peerId: string | null;
  readonly permissions: Permissions | null;

  /** Connects with the token, loads the device, joins and starts receiving. */
  joinRoom(options: JoinOptions): Promise<JoinResult>;
  /** Sends `leave`, closes transports and stops local tracks. Safe to call twice. */
  leaveRoom(): Promise<void>;

  /** Captures a microphone (getUserMedia) and produces it as `microphone`. */
  publishAudio(deviceId?: string): Promise<LocalTrack>;
  /** Captures a camera and produces it as `camera`. */
  publishVideo(deviceId?: string): Promise<LocalTrack>;
  /** Captures the screen (getDisplayMedia); produces `screen`, plus `screen-audio` when the browser shares audio. */
  publishScreen(): Promise<LocalTrack[]>;
  /** Closes the producer of `source` (`closeProducer`) and stops its track. Does nothing when not published. */
  unpublish(source: MediaSource): Promise<void>;

  /** Pauses (true) or resumes (false) the microphone producer, locally and on the server. */
  setMicrophoneMuted(muted: boolean): Promise<void>;
  /**
   * Turns the camera off by closing its producer and stopping the capture (so the camera
   * light goes off and others see the track removed), and on by capturing and producing anew.
   */
  setCameraEnabled(enabled: boolean): Promise<void>;

  /** Host control: the server pauses that producer of another peer (requires roomAdmin). */
  muteParticipant(peerId: string, producerId: string): Promise<void>;
  /** Host control: the server removes that peer from the room (requires roomAdmin). */
  removeParticipant(peerId: string): Promise<void>;

  /** Sends a chat message; it comes back to every peer, the sender included, as `chat-message`. */
  sendChat(text: string): Promise<{ id: string; timestamp: number }>;

  /**
   * Switches the microphone or camera to another device. A published track is replaced in
   * place (`replaceTrack`, no new producer); otherwise the choice is kept for the next publish.
   */
  switchDevice(kind: DeviceKind, deviceId: string): Promise<void>;

  getParticipants(): Participant[];
  getLocalTrack(source: MediaSource): MediaStreamTrack | null;
  isMicrophoneMuted(): boolean;
  /** Reads `consumer.getStats()` for every remote track. */
  getStats(): Promise<RemoteTrackStats[]>;

  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof RtcEventMap>(event: K, listener: (payload: RtcEventMap[K]) => void): () => void;
  off<K extends keyof RtcEventMap>(event: K, listener: (payload: RtcEventMap[K]) => void): void;
}
