import { io, type Socket } from 'socket.io-client';
import { RtcError } from './errors';

/** Milliseconds to wait for a request's acknowledgement before rejecting with `timeout`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;

type AckResponse = { data?: unknown; error?: { code?: unknown; message?: unknown } };

/** Handler of a server request; resolving acks `{}`, rejecting acks `{error: {code, message}}`. */
export type ServerRequestHandler = (payload: Record<string, unknown>) => Promise<void>;

/**
 * One socket.io connection speaking the pysfu room protocol: each client request is its own
 * event emitted with an acknowledgement, which carries `{data}` or `{error: {code, message}}`.
 * It never reconnects by itself, because a new connection is a new peer on the server: the
 * owner decides when to connect again and rejoin.
 */
export class SignalingClient {
  private socket: Socket | null = null;
  private closedByClient = false;

  /** Called once when the connection drops for any reason other than close(). */
  onDisconnect: ((reason: string) => void) | null = null;

  /** Connects to `url` (an origin; the path is `/socket.io/`) with `auth: {token}`. */
  connect(url: string | undefined, token: string): Promise<void> {
    const options = {
      path: '/socket.io/',
      auth: { token },
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
    };
    const socket = url ? io(url, options) : io(options);
    this.socket = socket;

    return new Promise<void>((resolve, reject) => {
      const onConnect = (): void => {
        socket.off('connect_error', onConnectError);
        socket.on('disconnect', (reason: string) => {
          if (!this.closedByClient) {
            this.onDisconnect?.(reason);
          }
        });
        resolve();
      };
      const onConnectError = (error: Error & { data?: { code?: unknown; message?: unknown } }): void => {
        socket.off('connect', onConnect);
        socket.close();
        reject(connectError(error));
      };
      socket.once('connect', onConnect);
      socket.once('connect_error', onConnectError);
    });
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  /** Emits request `name` and resolves with the `data` of the acknowledgement. */
  async request<T>(name: string, payload: object = {}, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<T> {
    const socket = this.socket;
    if (!socket || !socket.connected) {
      throw new RtcError('connect_failed', `cannot send request "${name}": the socket is not connected`);
    }

    let response: AckResponse;
    try {
      response = (await socket.timeout(timeoutMs).emitWithAck(name, payload)) as AckResponse;
    } catch {
      throw new RtcError('timeout', `request "${name}" got no acknowledgement within ${timeoutMs} ms`);
    }

    if (response && typeof response === 'object' && response.error) {
      const code = typeof response.error.code === 'string' ? response.error.code : 'internal';
      const message = typeof response.error.message === 'string' ? response.error.message : `request "${name}" failed`;
      throw new RtcError(code, message);
    }
    if (!response || typeof response !== 'object' || !('data' in response)) {
      throw new RtcError('internal', `request "${name}" got a malformed acknowledgement: ${JSON.stringify(response)}`);
    }
    return response.data as T;
  }

  /** Listens for a plain server notification. */
  onNotification(name: string, handler: (payload: Record<string, unknown>) => void): void {
    this.socket?.on(name, (payload: unknown) => {
      handler(isObject(payload) ? payload : {});
    });
  }

  /** Listens for a server request and acknowledges it once `handler` settles. */
  onRequest(name: string, handler: ServerRequestHandler): void {
    this.socket?.on(name, (payload: unknown, ack?: (response: unknown) => void) => {
      const reply = typeof ack === 'function' ? ack : () => undefined;
      if (!isObject(payload)) {
        reply({ error: { code: 'invalid_payload', message: `${name} payload must be an object` } });
        return;
      }
      handler(payload).then(
        () => reply({}),
        (error: unknown) => {
          const code = error instanceof RtcError ? error.code : 'internal';
          const message = error instanceof Error ? error.message : String(error);
          reply({ error: { code, message } });
        },
      );
    });
  }

  /** Closes the connection without calling onDisconnect. */
  close(): void {
    this.closedByClient = true;
    this.socket?.removeAllListeners();
    this.socket?.close();
    this.socket = null;
  }
}

function connectError(error: Error & { data?: { code?: unknown; message?: unknown } }): RtcError {
  const data = error.data;
  if (data && typeof data.code === 'string') {
    const message = typeof data.message === 'string' ? data.message : error.message;
    return new RtcError(data.code, message);
  }
  return new RtcError('connect_failed', `cannot connect to the pysfu server: ${error.message}`);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
