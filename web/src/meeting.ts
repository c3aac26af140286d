// Reactive meeting state for the pages, fed by RtcService events. MediaStreamTrack objects
// are stored with markRaw: a Vue proxy around one is rejected by `video.srcObject`.
import { markRaw, reactive } from 'vue';
import type { ActorRef, ChatMessage, MediaKind, MediaSource, Permissions, RemoteProducer, RtcService } from './rtc';

export interface RemoteTrackView {
  consumerId: string;
  producerId: string;
  peerId: string;
  source: MediaSource;
  kind: MediaKind;
  track: MediaStreamTrack;
  muted: boolean;
}

export interface MemberView {
  id: string;
  identity: string;
  name: string;
  producers: RemoteProducer[];
}

export type View = 'lobby' | 'meeting' | 'ended';

export type EndReason = { kind: 'removed'; by: ActorRef } | { kind: 'disconnected'; reason: string };

export interface MeetingState {
  view: View;
  endReason: EndReason | null;
  roomId: string;
  selfPeerId: string;
  selfName: string;
  permissions: Permissions | null;
  members: Record<string, MemberView>;
  tracks: Record<string, RemoteTrackView>;
  localTracks: Partial<Record<MediaSource, MediaStreamTrack>>;
  microphoneMuted: boolean;
  reconnecting: boolean;
  mutedBy: ActorRef | null;
  /** Localized text of the last failed user action (publish, mute, chat), shown until dismissed. */
  actionError: string;
  chat: ChatMessage[];
}

const MAX_CHAT_MESSAGES = 500;

export function createMeetingState(): MeetingState {
  return reactive<MeetingState>({
    view: 'lobby',
    endReason: null,
    roomId: '',
    selfPeerId: '',
    selfName: '',
    permissions: null,
    members: {},
    tracks: {},
    localTracks: {},
    microphoneMuted: false,
    reconnecting: false,
    mutedBy: null,
    actionError: '',
    chat: [],
  }) as MeetingState;
}

/** Clears everything of the last meeting, keeping the view. */
export function resetMeeting(state: MeetingState): void {
  state.endReason = null;
  state.roomId = '';
  state.selfPeerId = '';
  state.permissions = null;
  state.members = {};
  state.tracks = {};
  state.localTracks = {};
  state.microphoneMuted = false;
  state.reconnecting = false;
  state.mutedBy = null;
  state.actionError = '';
  state.chat = [];
}

/** Copies the participant list, with producer ids and pause flags, from the service. */
function syncMembers(state: MeetingState, service: RtcService): void {
  const members: Record<string, MemberView> = {};
  for (const participant of service.getParticipants()) {
    members[participant.id] = {
      id: participant.id,
      identity: participant.identity,
      name: participant.name,
      producers: participant.producers,
    };
  }
  state.members = members;
}

/** Subscribes `state` to the service's events; returns a function that unsubscribes. */
export function bindMeeting(state: MeetingState, service: RtcService): () => void {
  const unsubscribe = [
    service.on('participant-joined', () => syncMembers(state, service)),
    service.on('participant-left', () => syncMembers(state, service)),
    service.on('participant-updated', () => syncMembers(state, service)),
    service.on('track-added', (event) => {
      state.tracks[event.consumerId] = {
        consumerId: event.consumerId,
        producerId: event.producerId,
        peerId: event.peerId,
        source: event.source,
        kind: event.kind,
        track: markRaw(event.track),
        muted: event.muted,
      };
      syncMembers(state, service);
    }),
    service.on('track-removed', (event) => {
      delete state.tracks[event.consumerId];
      syncMembers(state, service);
    }),
    service.on('mute-changed', (event) => {
      if (event.peerId === service.peerId || event.peerId === '') {
        if (event.source === 'microphone') state.microphoneMuted = event.muted;
        if (event.by && event.muted) state.mutedBy = event.by;
        return;
      }
      for (const track of Object.values(state.tracks)) {
        if (track.peerId === event.peerId && track.source === event.source) track.muted = event.muted;
      }
      syncMembers(state, service);
    }),
    service.on('local-track-added', (event) => {
      state.localTracks[event.source] = markRaw(event.track);
    }),
    service.on('local-track-removed', (event) => {
      delete state.localTracks[event.source];
    }),
    service.on('chat-message', (message) => {
      state.chat.push(message);
      if (state.chat.length > MAX_CHAT_MESSAGES) state.chat.splice(0, state.chat.length - MAX_CHAT_MESSAGES);
    }),
    service.on('reconnecting', () => {
      state.reconnecting = true;
    }),
    service.on('reconnected', (result) => {
      state.reconnecting = false;
      state.selfPeerId = result.peerId;
      state.permissions = result.permissions;
      syncMembers(state, service);
    }),
    service.on('removed', ({ by }) => {
      state.reconnecting = false;
      state.endReason = { kind: 'removed', by };
      state.view = 'ended';
    }),
    service.on('disconnected', ({ reason }) => {
      state.reconnecting = false;
      state.endReason = { kind: 'disconnected', reason };
      state.view = 'ended';
    }),
  ];
  return () => {
    for (const off of unsubscribe) off();
  };
}

/** Marks the meeting as joined; call after joinRoom() resolves. */
export function enterMeeting(state: MeetingState, service: RtcService, selfName: string, roomId: string): void {
  state.selfPeerId = service.peerId ?? '';
  state.selfName = selfName;
  state.roomId = roomId;
  state.permissions = service.permissions;
  state.microphoneMuted = service.isMicrophoneMuted();
  syncMembers(state, service);
  state.view = 'meeting';
}
