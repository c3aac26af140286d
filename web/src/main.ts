import { createApp } from 'vue';
import App from './App.vue';
import { SERVICE_KEY, STATE_KEY } from './context';
import { i18n } from './i18n';
import { bindMeeting, createMeetingState } from './meeting';
import { MediasoupRtcService, type RemoteTrackStats, type RtcService } from './rtc';
import './styles.css';

declare global {
  interface Window {
    /** Test hook: the app's RtcService and the receiver statistics of every remote track. */
    __pysfu?: { service: RtcService; stats: () => Promise<RemoteTrackStats[]> };
  }
}

// `?simulcast=1` sends the camera as three simulcast layers (off by default).
const simulcast = new URLSearchParams(window.location.search).get('simulcast') === '1';
const service = new MediasoupRtcService({ simulcast });
const state = createMeetingState();
bindMeeting(state, service);

window.__pysfu = { service, stats: () => service.getStats() };

createApp(App).provide(SERVICE_KEY, service).provide(STATE_KEY, state).use(i18n).mount('#app');
