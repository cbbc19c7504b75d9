import { parseApiError } from '@entrada/core';
import { ApiError, CliError } from './errors.ts';

export const DEFAULT_URL = 'http://localhost:3000';

export interface Connection {
  url: string;
  token: string | undefined;
}

type TokenKind = 'admin' | 'device';

const TOKEN_HINTS: Record<TokenKind, string> = {
  admin: 'no admin token: pass --token or set ENTRADA_ADMIN_TOKEN (`entrada serve` prints it on start)',
  device: 'no device token: pass --token or set ENTRADA_DEVICE_TOKEN (`entrada devices register` prints one)',
};

// Node's fetch buries the socket error a few causes deep (and inside an
// AggregateError when localhost resolves to both ::1 and 127.0.0.1).
function networkCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = networkCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return networkCode(e.cause, depth + 1);
}

export function unreachableMessage(url: string, code: string | undefined): string {
  if (code === 'ECONNREFUSED') {
    return `the Entrada server is not reachable at ${url} (connection refused). Start it with \`entrada serve\` (or \`npm start\`), or point --url / ENTRADA_URL at it`;
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot resolve the host of ${url} (${code}); check --url / ENTRADA_URL`;
  return `lost the connection to the Entrada server at ${url}${code ? ` (${code})` : ''}`;
}

/** JSON over HTTP to the Entrada API, turning every failure into a one-line CliError. */
export class HttpClient {
  readonly baseUrl: string;
  private readonly token: string;

  constructor(conn: Connection, kind: TokenKind) {
    this.baseUrl = parseBaseUrl(conn.url);
    if (!conn.token) throw new CliError(TOKEN_HINTS[kind]);
    this.token = conn.token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new CliError(unreachableMessage(this.baseUrl, networkCode(err)));
    }
    const text = await res.text().catch((err: unknown) => {
      throw new CliError(unreachableMessage(this.baseUrl, networkCode(err)));
    });
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // A proxy's HTML error page, say: reported below by status.
    }
    if (!res.ok) {
      const failure = parseApiError(res.status, parsed, res.headers.get('retry-after'), Date.now());
      if (failure.code.startsWith('HTTP_')) {
        throw new ApiError(
          res.status,
          failure.code,
          `the server at ${this.baseUrl} answered ${method} ${path.split('?')[0]} with HTTP ${res.status} ${res.statusText}`.trim(),
        );
      }
      throw new ApiError(res.status, failure.code, failure.message);
    }
    if (parsed === undefined)
      throw new CliError(
        `the server at ${this.baseUrl} did not answer with JSON; is --url pointing at an Entrada server?`,
      );
    return parsed as T;
  }
}

function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${text}"`);
  return url.toString().replace(/\/+$/, '');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Catches a mistyped id before the server answers with a schema error. */
export function requireUuid(value: string, option: string, what: string): string {
  if (!UUID.test(value)) throw new CliError(`${option} must be ${what} id (a UUID such as 0b9e…-…), got "${value}"`);
  return value;
}
