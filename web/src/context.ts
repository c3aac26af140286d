import { inject, type InjectionKey } from 'vue';
import type { MeetingState } from './meeting';
import type { RtcService } from './rtc';

export const SERVICE_KEY: InjectionKey<RtcService> = Symbol('rtc-service');
export const STATE_KEY: InjectionKey<MeetingState> = Symbol('meeting-state');

export function useService(): RtcService {
  const service = inject(SERVICE_KEY);
  if (!service) throw new Error('RtcService is not provided; mount the component inside App');
  return service;
}

export function useMeetingState(): MeetingState {
  const state = inject(STATE_KEY);
  if (!state) throw new Error('MeetingState is not provided; mount the component inside App');
  return state;
}
