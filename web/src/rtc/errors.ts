/**
 * Error codes that an RtcService call can reject with. The first groups come from the
 * server (connect refusal and request errors); the rest are raised in the browser.
 */
export type RtcErrorCode =
  // connect refusal (`connect_error` with `err.data.code`)
  | 'token_missing'
  | 'token_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'room_denied'
  // request errors (`{error: {code, message}}` in an ack)
  | 'invalid_payload'
  | 'not_joined'
  | 'already_joined'
  | 'not_found'
  | 'forbidden'
  | 'unsupported'
  | 'payload_too_large'
  | 'rate_limited'
  | 'internal'
  // raised by the client
  | 'connect_failed'
  | 'timeout'
  | 'invalid_state'
  | 'media_denied'
  | 'device_not_found'
  | 'media_failed';

export const CONNECT_REFUSAL_CODES: readonly string[] = [
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_not_yet_valid',
  'room_denied',
];

/** An error with a protocol error code; `message` is the server's or the browser's text. */
export class RtcError extends Error {
  readonly code: RtcErrorCode | string;

  constructor(code: RtcErrorCode | string, message: string) {
    super(message);
    this.name = 'RtcError';
    this.code = code;
  }
}

/** Converts a getUserMedia / getDisplayMedia rejection to an RtcError. */
export function mediaError(error: unknown): RtcError {
  if (error instanceof RtcError) {
    return error;
  }
  const name = error instanceof DOMException ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return new RtcError('media_denied', message);
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return new RtcError('device_not_found', message);
  }
  return new RtcError('media_failed', message);
}
