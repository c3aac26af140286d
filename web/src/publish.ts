import { errorText } from './errorText';
import type { MeetingState } from './meeting';
import { canPublishSource, type RtcService } from './rtc';

/**
 * Publishes the microphone and camera chosen in the lobby. An empty device id means the
 * browser's default; null means not at all. A failure is shown in the meeting and does not
 * stop the other device.
 */
export async function publishInitialMedia(
  service: RtcService,
  state: MeetingState,
  choice: { camera: string | null; microphone: string | null },
): Promise<void> {
  const allowed = (source: 'microphone' | 'camera'): boolean => canPublishSource(service.permissions, source);

  if (choice.microphone !== null && allowed('microphone')) {
    try {
      await service.publishAudio(choice.microphone || undefined);
    } catch (error) {
      state.actionError = errorText(error);
    }
  }
  if (choice.camera !== null && allowed('camera')) {
    try {
      await service.publishVideo(choice.camera || undefined);
    } catch (error) {
      state.actionError = errorText(error);
    }
  }
}
