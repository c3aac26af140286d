// The browser SDK. UI code imports from here only; mediasoup-client stays behind RtcService.
export type { RtcService } from './RtcService';
export { MediasoupRtcService, type MediasoupRtcServiceOptions } from './MediasoupRtcService';
export { RtcError, type RtcErrorCode } from './errors';
export * from './types';
export { captureCamera, captureMicrophone } from './media';
export { canPublishSource } from './protocol';
