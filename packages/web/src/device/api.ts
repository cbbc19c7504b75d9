import { parseApiError } from '@entrada/core';

/** Small JSON calls the app makes outside the engine (pairing, staff login), with the server's `{error, message}` surfaced. */
export class RequestFailed extends Error {
  constructor(
    readonly status: number | null,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }

  get offline(): boolean {
    return this.status === null;
  }
}

export async function postJson<T>(
  path: string,
  body: unknown,
  token: string | null = null,
  timeoutMs = 8000,
): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    throw new RequestFailed(null, 'OFFLINE', 'No connection to the server. Check the network and try again.');
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: fall through with the status */
  }
  if (res.ok) return parsed as T;
  const failure = parseApiError(res.status, parsed, res.headers.get('retry-after'), Date.now());
  const wait = failure.retryAfterMs !== null ? ` Try again in ${Math.ceil(failure.retryAfterMs / 1000)} s.` : '';
  const message = failure.code.startsWith('HTTP_') ? `The server answered ${res.status}.` : failure.message;
  throw new RequestFailed(res.status, failure.code, message + wait);
}
