import { onBeforeUnmount, ref, type Ref } from 'vue';
import type { DeviceKind } from './rtc';

/**
 * Lists the browser's microphones and cameras, refreshed on `devicechange` and by refresh().
 * Labels and ids are empty until the page has been granted camera or microphone access.
 */
export function useDevices(): { devices: Ref<MediaDeviceInfo[]>; refresh: () => Promise<void>; ofKind: (kind: DeviceKind) => MediaDeviceInfo[] } {
  const devices = ref<MediaDeviceInfo[]>([]);

  async function refresh(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    try {
      devices.value = await navigator.mediaDevices.enumerateDevices();
    } catch (error) {
      console.warn('[pysfu] enumerateDevices failed', error);
    }
  }

  const onDeviceChange = (): void => void refresh();
  navigator.mediaDevices?.addEventListener?.('devicechange', onDeviceChange);
  onBeforeUnmount(() => navigator.mediaDevices?.removeEventListener?.('devicechange', onDeviceChange));
  void refresh();

  const ofKind = (kind: DeviceKind): MediaDeviceInfo[] => devices.value.filter((device) => device.kind === kind && device.deviceId !== '');
  return { devices, refresh, ofKind };
}
