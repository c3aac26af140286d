// Local capture: getUserMedia for the microphone and camera, getDisplayMedia for the screen.
import { RtcError, mediaError } from './errors';

export const VIDEO_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30 },
};

function deviceConstraint(deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { deviceId: { exact: deviceId } } : {};
}

/** Captures one microphone track; rejects with RtcError (`media_denied`, `device_not_found`, `media_failed`). */
export async function captureMicrophone(deviceId?: string): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { ...deviceConstraint(deviceId), echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    return firstTrack(stream.getAudioTracks(), 'microphone');
  } catch (error) {
    throw mediaError(error);
  }
}

/** Captures one camera track at up to 1280x720, 30 fps. */
export async function captureCamera(deviceId?: string): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { ...VIDEO_CONSTRAINTS, ...deviceConstraint(deviceId) },
    });
    return firstTrack(stream.getVideoTracks(), 'camera');
  } catch (error) {
    throw mediaError(error);
  }
}

/** Asks the user for a screen, window or tab; the audio track is present only when the user shares audio. */
export async function captureScreen(): Promise<{ video: MediaStreamTrack; audio: MediaStreamTrack | null }> {
  if (!navigator.mediaDevices?.getDisplayMedia) {
    throw new RtcError('media_failed', 'this browser cannot share the screen (navigator.mediaDevices.getDisplayMedia is missing)');
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: true });
    const video = firstTrack(stream.getVideoTracks(), 'screen');
    return { video, audio: stream.getAudioTracks()[0] ?? null };
  } catch (error) {
    throw mediaError(error);
  }
}

function firstTrack(tracks: MediaStreamTrack[], device: string): MediaStreamTrack {
  const [track, ...rest] = tracks;
  for (const extra of rest) {
    extra.stop();
  }
  if (!track) {
    throw new RtcError('device_not_found', `the browser returned no ${device} track`);
  }
  return track;
}
