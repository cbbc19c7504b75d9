/** The API client without a browser: the password path (cookie + CSRF) and the token path, against a fetch double. */
import { describe, expect, it } from 'vitest';
import { ApiClient, ApiError, errorText, type SessionStore } from '../src/api/client.ts';

type Call = { url: string; method: string; headers: Record<string, string>; body: string | undefined };

function double(routes: Record<string, (call: Call) => [number, unknown]>): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const f = (async (url: string, init: RequestInit = {}) => {
    const call: Call = {
      url,
      method: init.method ?? 'GET',
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body as string | undefined,
    };
    calls.push(call);
    const route = routes[`${call.method} ${url}`];
    const [status, body] = route
      ? route(call)
      : [404, { error: 'NOT_FOUND', message: `No route ${call.method} ${url}` }];
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { fetch: f, calls };
}

function memoryStore(): SessionStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => {
      data.set(k, v);
    },
    removeItem: (k) => {
      data.delete(k);
    },
  };
}

const user = { id: 'u1', email: 'ana@example.org', name: 'Ana', role: 'manager', organisation_id: 'o1' };

describe('console API client', () => {
  it('logs in with email and password, then sends the CSRF token on every state-changing request (never a bearer token)', async () => {
    const { fetch, calls } = double({
      'POST /api/v1/auth/login': (c) =>
        JSON.parse(c.body!).password === 'correct horse battery'
          ? [200, { user, csrf_token: 'csrf-1' }]
          : [401, { error: 'UNAUTHORIZED', message: 'Wrong email or password' }],
      'GET /api/v1/events': () => [200, { events: [] }],
      'POST /api/v1/events': () => [201, { id: 'e1' }],
      'POST /api/v1/auth/logout': () => [200, {}],
    });
    const store = memoryStore();
    const client = new ApiClient(fetch, store, () => 0);
    await expect(client.login('ana@example.org', 'nope')).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(await client.login('ana@example.org', 'correct horse battery')).toEqual(user);
    expect(store.data.get('entrada.console.csrf')).toBe('csrf-1');
    await client.get('/api/v1/events');
    await client.post('/api/v1/events', { name: 'x' });
    const [get, post] = calls.slice(-2);
    expect(get!.headers['x-csrf-token']).toBeUndefined();
    expect(post!.headers['x-csrf-token']).toBe('csrf-1');
    expect(post!.headers.authorization).toBeUndefined();
    await client.logout();
    expect(calls.at(-1)!.url).toBe('/api/v1/auth/logout');
    expect(calls.at(-1)!.headers['x-csrf-token']).toBe('csrf-1');
    expect(store.data.size).toBe(0);
    expect(client.credentials.kind).toBe('none');
  });

  it('asks /auth/me who is signed in after a reload, and keeps a refreshed CSRF token', async () => {
    const { fetch } = double({ 'GET /api/v1/auth/me': () => [200, { user, csrf_token: 'csrf-2' }] });
    const store = memoryStore();
    store.setItem('entrada.console.csrf', 'csrf-1');
    const client = new ApiClient(fetch, store, () => 0);
    expect(await client.me()).toEqual(user);
    expect(client.credentials).toEqual({ kind: 'cookie', csrf: 'csrf-2' });
  });

  it('signs in with an admin token on a server without organiser accounts: checked by reading events, shown as owner', async () => {
    const { fetch, calls } = double({
      'GET /api/v1/events': (c) =>
        c.headers.authorization === 'Bearer eat_good'
          ? [200, { events: [] }]
          : [401, { error: 'UNAUTHORIZED', message: 'Invalid token' }],
    });
    const store = memoryStore();
    const client = new ApiClient(fetch, store, () => 0);
    await expect(client.loginWithToken('eat_bad')).rejects.toBeInstanceOf(ApiError);
    expect(store.data.size).toBe(0);
    const me = await client.loginWithToken('eat_good');
    expect(me).toMatchObject({ name: 'API token', role: 'owner' });
    expect(store.data.get('entrada.console.token')).toBe('eat_good');
    expect(calls.at(-1)!.headers.authorization).toBe('Bearer eat_good');
  });

  it("uses the token's own user when /auth/me knows it", async () => {
    const { fetch } = double({ 'GET /api/v1/auth/me': () => [200, { user: { ...user, role: 'viewer' } }] });
    const client = new ApiClient(fetch, memoryStore(), () => 0);
    expect((await client.loginWithToken('eat_x')).role).toBe('viewer');
  });

  it('says failures in words', async () => {
    const { fetch } = double({
      'DELETE /api/v1/events/e1/zones/z1': () => [
        409,
        { error: 'CONFLICT', message: 'Zone Main is used by gate North' },
      ],
    });
    const client = new ApiClient(fetch, memoryStore(), () => 0);
    const conflict = await client.delete('/api/v1/events/e1/zones/z1').catch((e: unknown) => e);
    expect(errorText(conflict)).toBe('Zone Main is used by gate North');
    const missing = await client.patch('/api/v1/devices/d1', { name: 'x' }).catch((e: unknown) => e);
    expect(errorText(missing)).toBe('This server does not offer this yet (it needs a newer Entrada).');
    expect(errorText(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
  });
});
