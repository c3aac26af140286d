import { RtcError } from './rtc';

export interface DevTokenRequest {
  room: string;
  identity: string;
  name: string;
  admin: boolean;
}

/**
 * Gets a token from `GET /api/dev-token`, which the server offers only in development mode
 * (no API key configured). Otherwise it returns 404.
 */
export async function fetchDevToken(request: DevTokenRequest): Promise<{ token: string; url?: string }> {
  const query = new URLSearchParams({ room: request.room, identity: request.identity, name: request.name });
  if (request.admin) query.set('admin', '1');
  let response: Response;
  try {
    response = await fetch(`/api/dev-token?${query.toString()}`, { headers: { Accept: 'application/json' } });
  } catch (error) {
    throw new RtcError('dev_token_failed', error instanceof Error ? error.message : String(error));
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    // The server explains a rejected query (for example an invalid room name) in {error: {message}}.
    const detail = (body as { error?: { message?: unknown } } | null)?.error?.message;
    const suffix = typeof detail === 'string' ? `: ${detail}` : '';
    throw new RtcError('dev_token_failed', `GET /api/dev-token returned HTTP ${response.status}${suffix}`);
  }
  if (!body || typeof body !== 'object' || typeof (body as { token?: unknown }).token !== 'string') {
    throw new RtcError('dev_token_failed', 'GET /api/dev-token returned no "token" string');
  }
  const { token, url } = body as { token: string; url?: unknown };
  return { token, url: typeof url === 'string' ? url : undefined };
}

/** Returns a per-tab identity, so that two tabs of one browser join as two participants. */
export function tabIdentity(): string {
  const key = 'pysfu.identity';
  try {
    const existing = window.sessionStorage.getItem(key);
    if (existing) return existing;
    const identity = `guest-${crypto.randomUUID().slice(0, 8)}`;
    window.sessionStorage.setItem(key, identity);
    return identity;
  } catch {
    return `guest-${Math.random().toString(36).slice(2, 10)}`;
  }
}
