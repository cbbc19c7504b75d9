/**
 * The one fetch wrapper of the console. Two ways in:
 * - a cookie session (POST /auth/login): every state-changing request carries `x-csrf-token`;
 * - a bearer admin token typed into the login screen (kept in sessionStorage), for scripts'
 *   tokens and for servers without organiser accounts.
 * Errors are the server's `{error, message}` read by core's `parseApiError`.
 */
import { parseApiError, type ApiFailure, type SessionResponse, type SessionUser } from '@entrada/core';

/** Who is signed in: what /auth/login and /auth/me answer as `user`. */
export type ConsoleUser = SessionUser;

export class ApiError extends Error {
  constructor(readonly failure: ApiFailure) {
    super(failure.message);
    this.name = 'ApiError';
  }
  get status(): number {
    return this.failure.status;
  }
  get code(): string {
    return this.failure.code;
  }
}

export type Credentials = { kind: 'token'; token: string } | { kind: 'cookie'; csrf: string } | { kind: 'none' };

export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const TOKEN_KEY = 'entrada.console.token';
const CSRF_KEY = 'entrada.console.csrf';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiClient {
  private creds: Credentials = { kind: 'none' };

  constructor(
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
    private readonly store: SessionStore | null = typeof sessionStorage === 'undefined' ? null : sessionStorage,
    private readonly now: () => number = () => Date.now(),
  ) {
    const token = store?.getItem(TOKEN_KEY);
    const csrf = store?.getItem(CSRF_KEY);
    if (token) this.creds = { kind: 'token', token };
    else if (csrf) this.creds = { kind: 'cookie', csrf };
  }

  get credentials(): Credentials {
    return this.creds;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.creds.kind === 'token') headers.authorization = `Bearer ${this.creds.token}`;
    if (this.creds.kind === 'cookie' && !SAFE.has(method)) headers['x-csrf-token'] = this.creds.csrf;
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (!SAFE.has(method)) {
      // Fastify refuses an empty body with a JSON content type; POST actions without a body send `{}`.
      headers['content-type'] = 'application/json';
      init.body = '{}';
    }
    const res = await this.fetchFn(path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: a proxy's page */
    }
    if (!res.ok) throw new ApiError(parseApiError(res.status, parsed, res.headers.get('retry-after'), this.now()));
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Email and password: the server sets an httpOnly session cookie; we keep only the CSRF token. */
  async login(email: string, password: string): Promise<ConsoleUser> {
    this.creds = { kind: 'none' };
    const answer = await this.request<SessionResponse>('POST', '/api/v1/auth/login', { email, password });
    // A password login opens a session, whose answer always carries the token (null is for an admin token's /auth/me).
    const csrf = answer.csrf_token ?? '';
    this.creds = { kind: 'cookie', csrf };
    this.store?.removeItem(TOKEN_KEY);
    this.store?.setItem(CSRF_KEY, csrf);
    return answer.user;
  }

  /** A bearer admin token: checked by a harmless read before it is kept. */
  async loginWithToken(token: string): Promise<ConsoleUser> {
    this.creds = { kind: 'token', token };
    try {
      const user = await this.me();
      this.store?.setItem(TOKEN_KEY, token);
      this.store?.removeItem(CSRF_KEY);
      return user;
    } catch (err) {
      this.creds = { kind: 'none' };
      throw err;
    }
  }

  /**
   * Who is signed in. With a session or a token that the server knows as a user, `/auth/me` says;
   * a server without organiser accounts (404 there) is asked for its events to prove the token,
   * and an admin token there may do everything: shown as the owner "API token".
   */
  async me(): Promise<ConsoleUser> {
    try {
      // Read loosely: servers before organiser accounts answered other shapes here (or a 404, below).
      const answer = await this.get<SessionResponse | { user?: ConsoleUser } | ConsoleUser>('/api/v1/auth/me');
      const user = 'user' in answer && answer.user ? answer.user : (answer as ConsoleUser);
      if ('csrf_token' in answer && typeof answer.csrf_token === 'string' && this.creds.kind !== 'token') {
        this.creds = { kind: 'cookie', csrf: answer.csrf_token };
        this.store?.setItem(CSRF_KEY, answer.csrf_token);
      }
      return user;
    } catch (err) {
      if (this.creds.kind !== 'token' || !(err instanceof ApiError) || err.status !== 404) throw err;
    }
    await this.get('/api/v1/events');
    return { id: 'token', email: '', name: 'API token', role: 'owner', organisation_id: '' };
  }

  async logout(): Promise<void> {
    const was = this.creds;
    try {
      if (was.kind === 'cookie') await this.post('/api/v1/auth/logout');
    } finally {
      this.creds = { kind: 'none' };
      this.store?.removeItem(TOKEN_KEY);
      this.store?.removeItem(CSRF_KEY);
    }
  }
}

export const api = new ApiClient();

/** A failure in words for people: the server's message, or what to do when it gave none. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'You are not signed in any more. Sign in again.';
    if (err.status === 403) return 'Your role does not allow this.';
    if (err.code === 'CONFLICT') return err.message;
    if (err.status === 404 && /^(No route|Route .* not found)/.test(err.message))
      return 'This server does not offer this yet (it needs a newer Entrada).';
    return err.message;
  }
  if (err instanceof TypeError) return 'The server could not be reached. Check the connection and try again.';
  return err instanceof Error ? err.message : String(err);
}
