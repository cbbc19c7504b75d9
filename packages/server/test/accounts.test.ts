import { ROLES, roleAtLeast, type Role } from '@entrada/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import {
  describeEachBackend,
  describePostgres,
  freshPostgresDatabase,
  REQUIRE_SERVICES,
  startTestServer,
  type Client,
  type Reply,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const GOOD = 'correct horse battery staple';
const HOUR = 3_600_000;

interface Session {
  cookie: string;
  csrf: string;
}

// Sessions (cookies, CSRF, per-address limits behind a trusted proxy) go over real HTTP.
function login(
  server: TestServer,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return server.httpClient(null).request('POST', '/api/v1/auth/login', { email, password }, headers);
}

function sessionOf(r: Reply): Session {
  expect(r.status).toBe(200);
  return { cookie: r.headers.get('set-cookie')!.split(';')[0]!, csrf: r.body.csrf_token };
}

/** Requests with the session cookie; `csrf` false leaves the x-csrf-token header out. */
function withCookie(
  server: TestServer,
  s: Session,
  method: string,
  path: string,
  body?: unknown,
  opts: { csrf?: string | false; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const csrf = opts.csrf === undefined ? s.csrf : opts.csrf;
  return server.httpClient(null).request(method, path, body, {
    cookie: s.cookie,
    ...(csrf === false ? {} : { 'x-csrf-token': csrf }),
    ...opts.headers,
  });
}

async function addUser(
  server: TestServer,
  body: { email: string; name?: string; role: Role; password?: string },
): Promise<string> {
  const r = await server.admin.post('/api/v1/users', { name: body.email.split('@')[0], password: GOOD, ...body });
  if (r.status !== 201) throw new Error(`user failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** An event running at `now` (the server's clock). */
const event = (now: number) => ({
  name: 'Cookie event',
  starts_at: new Date(now - HOUR).toISOString(),
  ends_at: new Date(now + HOUR).toISOString(),
  timezone: 'UTC',
});

describeEachBackend('organiser accounts and sessions', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let clock = Date.now();

  beforeAll(async () => {
    tdb = await backend.open();
    // Client addresses from X-Forwarded-For, so the limits per address can be shown from one test.
    server = await startTestServer(tdb.db, { now: () => clock, config: { trustProxy: true } });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('logs in, answers who is logged in with the CSRF token, and logs out', async () => {
    const id = await addUser(server, { email: 'Ann@Example.com', name: 'Ann', role: 'manager' });
    const r = await login(server, 'ann@example.COM', GOOD);
    const user = {
      id,
      email: 'Ann@Example.com',
      name: 'Ann',
      role: 'manager',
      organisation_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    };
    expect(r.body).toEqual({ user, csrf_token: expect.any(String) });
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^entrada_session=ess_[\w-]+; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    // Over plain HTTP the cookie is not Secure; behind a proxy that says HTTPS it is.
    const overHttps = await login(server, 'ann@example.com', GOOD, { 'x-forwarded-proto': 'https' });
    expect(overHttps.headers.get('set-cookie')).toMatch(/; Secure$/);

    const s = sessionOf(r);
    const me = await withCookie(server, s, 'GET', '/api/v1/auth/me', undefined, { csrf: false });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user, csrf_token: s.csrf, credential: 'session' });
    // The session acts as its user: a manager may read and make events.
    expect((await withCookie(server, s, 'POST', '/api/v1/events', event(clock))).status).toBe(201);

    const out = await withCookie(server, s, 'POST', '/api/v1/auth/logout', {});
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^entrada_session=; Path=\/; Max-Age=0/);
    const after = await withCookie(server, s, 'GET', '/api/v1/auth/me', undefined, { csrf: false });
    expect(after.status).toBe(401);
    // An admin token is not a session.
    // An admin token is described as one (no session, no CSRF token), with its role.
    expect((await server.admin.get('/api/v1/auth/me')).body).toMatchObject({
      user: { name: 'API token', role: 'owner' },
      csrf_token: null,
      credential: 'token',
    });
    expect((await server.admin.post('/api/v1/auth/logout')).status).toBe(401);
    // The email is one account per installation whatever its case.
    expect(
      (
        await server.admin.post('/api/v1/users', {
          email: 'ANN@example.com',
          name: 'Ann 2',
          role: 'viewer',
          password: GOOD,
        })
      ).body.error,
    ).toBe('CONFLICT');
  });

  it('answers a wrong password and an unknown email alike, and logs the attempt without the password', async () => {
    await addUser(server, { email: 'bob@example.com', role: 'viewer' });
    const wrong = await login(server, 'bob@example.com', 'not-the-password-xyz', { 'x-forwarded-for': '10.9.9.9' });
    const unknown = await login(server, 'nobody@example.com', 'not-the-password-xyz', {
      'x-forwarded-for': '10.9.9.9',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'UNAUTHORIZED', message: 'Wrong email or password' });
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const logs = await tdb.db.query<Record<string, unknown>>(
      `SELECT * FROM login_logs WHERE ip_address = '10.9.9.9' ORDER BY created_at`,
    );
    expect(logs.map((l) => [l.identifier, l.success, l.message])).toEqual([
      ['user:bob@example.com', false, 'wrong password'],
      ['user:nobody@example.com', false, 'unknown email'],
    ]);
    expect(JSON.stringify(logs)).not.toContain('not-the-password-xyz');
  });

  it('limits failed logins per account and address with Retry-After, never the right password from another address', async () => {
    await addUser(server, { email: 'carol@example.com', role: 'viewer' });
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 5; i++)
      expect((await login(server, 'carol@example.com', `wrong-guess-${i}-abc`, from('10.1.1.1'))).status).toBe(401);
    const limited = await login(server, 'carol@example.com', GOOD, from('10.1.1.1'));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Carol, elsewhere, is not locked out by someone guessing her password.
    expect((await login(server, 'carol@example.com', GOOD, from('10.1.1.2'))).status).toBe(200);

    // One address guessing many accounts.
    for (let i = 0; i < 20; i++)
      expect((await login(server, `guess${i}@example.com`, 'wrong-guess-abc', from('10.2.2.2'))).status).toBe(401);
    const flooded = await login(server, 'carol@example.com', GOOD, from('10.2.2.2'));
    expect(flooded.status).toBe(429);
    expect(flooded.headers.get('retry-after')).not.toBeNull();

    // After the window, the first address may log in again.
    clock += 15 * 60_000 + 1000;
    expect((await login(server, 'carol@example.com', GOOD, from('10.1.1.1'))).status).toBe(200);
  });

  it("needs the session's x-csrf-token on every state-changing request made with the cookie; a bearer token needs none", async () => {
    await addUser(server, { email: 'dan@example.com', role: 'manager' });
    const s = sessionOf(await login(server, 'dan@example.com', GOOD));
    const none = await withCookie(server, s, 'POST', '/api/v1/events', event(clock), { csrf: false });
    expect(none.status).toBe(403);
    expect(none.body.error).toBe('CSRF_TOKEN_INVALID');
    const wrong = await withCookie(server, s, 'POST', '/api/v1/events', event(clock), {
      csrf: s.csrf.slice(0, -2) + 'xx',
    });
    expect(wrong.body.error).toBe('CSRF_TOKEN_INVALID');
    // A cross-site form post carries the cookie but cannot set the header.
    const form = await withCookie(server, s, 'POST', '/api/v1/events', 'name=Evil', {
      csrf: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(403);
    expect(form.body.error).toBe('CSRF_TOKEN_INVALID');
    expect((await withCookie(server, s, 'POST', '/api/v1/events', event(clock))).status).toBe(201);
    // Reads need no header; a bearer token needs none at all.
    expect((await withCookie(server, s, 'GET', '/api/v1/events', undefined, { csrf: false })).status).toBe(200);
    expect((await server.admin.post('/api/v1/events', event(clock))).status).toBe(201);
    // Nothing was made by the refused requests.
    const names = (await server.admin.get('/api/v1/events')).body.events.map((e: { name: string }) => e.name);
    expect(names).not.toContain('Evil');
  });

  it('ends a session after 12 hours without use and 7 days after login, whatever the use', async () => {
    await addUser(server, { email: 'erin@example.com', role: 'viewer' });
    const me = (s: Session) => withCookie(server, s, 'GET', '/api/v1/auth/me', undefined, { csrf: false });
    const idle = sessionOf(await login(server, 'erin@example.com', GOOD));
    clock += 11 * HOUR;
    expect((await me(idle)).status).toBe(200);
    clock += 11 * HOUR;
    expect((await me(idle)).status).toBe(200);
    clock += 12 * HOUR + 1000;
    const expired = await me(idle);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toMatch(/12 hours/);

    const busy = sessionOf(await login(server, 'erin@example.com', GOOD));
    for (let h = 11; h < 7 * 24; h += 11) {
      clock += 11 * HOUR;
      expect((await me(busy)).status).toBe(200);
    }
    clock += 11 * HOUR;
    const old = await me(busy);
    expect(old.status).toBe(401);
    expect(old.body.message).toMatch(/7 days/);
  });

  it('refuses short and common passwords naming the rule, and lets users change their own', async () => {
    const short = await server.admin.post('/api/v1/users', {
      email: 'fay@example.com',
      name: 'Fay',
      role: 'viewer',
      password: 'short1',
    });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 10 characters/);
    for (const common of ['1234567890', 'Password123', 'qwertyuiop']) {
      const r = await server.admin.post('/api/v1/users', {
        email: 'fay@example.com',
        name: 'Fay',
        role: 'viewer',
        password: common,
      });
      expect({ common, status: r.status, message: r.body.message }).toEqual({
        common,
        status: 400,
        message: expect.stringMatching(/common passwords/),
      });
    }
    await addUser(server, { email: 'fay@example.com', role: 'viewer' });
    const s = sessionOf(await login(server, 'fay@example.com', GOOD));
    const other = sessionOf(await login(server, 'fay@example.com', GOOD));
    const change = (current: string, next: string) =>
      withCookie(server, s, 'POST', '/api/v1/auth/password', { current_password: current, new_password: next });
    expect((await change('not my password!', 'another good passphrase')).status).toBe(403);
    const weak = await change(GOOD, 'password123');
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/new_password is on the list of common passwords/);
    expect((await change(GOOD, 'another good passphrase')).status).toBe(204);
    // This session goes on, the user's others end; the new password logs in, the old one does not.
    expect((await withCookie(server, s, 'GET', '/api/v1/auth/me', undefined, { csrf: false })).status).toBe(200);
    expect((await withCookie(server, other, 'GET', '/api/v1/auth/me', undefined, { csrf: false })).status).toBe(401);
    expect((await login(server, 'fay@example.com', GOOD)).status).toBe(401);
    expect((await login(server, 'fay@example.com', 'another good passphrase')).status).toBe(200);
  });

  it('manages users: owners only, the last active owner kept, a deactivated user logged out at once', async () => {
    const owner = await addUser(server, { email: 'gus@example.com', role: 'owner' });
    const manager = sessionOf(await login(server, 'dan@example.com', GOOD));
    const refused = await withCookie(server, manager, 'GET', '/api/v1/users');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error: 'FORBIDDEN',
      message: expect.stringContaining('needs the owner role'),
      role_needed: 'owner',
    });

    const o = sessionOf(await login(server, 'gus@example.com', GOOD));
    const listed = await withCookie(server, o, 'GET', '/api/v1/users');
    expect(listed.body.users.map((u: { email: string }) => u.email)).toContain('gus@example.com');
    expect(JSON.stringify(listed.body)).not.toMatch(/scrypt|password/);
    expect((await withCookie(server, o, 'PATCH', `/api/v1/users/${owner}`, { role: 'manager' })).status).toBe(409);
    expect((await withCookie(server, o, 'PATCH', `/api/v1/users/${owner}`, { active: false })).status).toBe(409);
    expect((await withCookie(server, o, 'PATCH', `/api/v1/users/${owner}`, {})).status).toBe(400);

    const hal = await addUser(server, { email: 'hal@example.com', role: 'supervisor' });
    const h = sessionOf(await login(server, 'hal@example.com', GOOD));
    const renamed = await withCookie(server, o, 'PATCH', `/api/v1/users/${hal}`, { name: 'Hal 9000', role: 'manager' });
    expect(renamed.body).toMatchObject({ id: hal, name: 'Hal 9000', role: 'manager', active: true });
    expect((await withCookie(server, h, 'GET', '/api/v1/auth/me', undefined, { csrf: false })).body.user.role).toBe(
      'manager',
    );
    expect((await withCookie(server, o, 'PATCH', `/api/v1/users/${hal}`, { active: false })).body.active).toBe(false);
    expect((await withCookie(server, h, 'GET', '/api/v1/auth/me', undefined, { csrf: false })).status).toBe(401);
    expect((await login(server, 'hal@example.com', GOOD)).status).toBe(401);
  });

  it('keeps organisations apart', async () => {
    const made = await server.admin.post('/api/v1/organisations', { name: 'Other org' });
    expect(made.status).toBe(201);
    const other = server.client(made.body.admin_token);
    const theirs = await other.post('/api/v1/users', {
      email: 'ivy@other.example',
      name: 'Ivy',
      role: 'owner',
      password: GOOD,
    });
    expect(theirs.status).toBe(201);
    const ours = (await server.admin.get('/api/v1/users')).body.users;
    expect(ours.map((u: { email: string }) => u.email)).not.toContain('ivy@other.example');
    expect((await other.get('/api/v1/users')).body.users.map((u: { email: string }) => u.email)).toEqual([
      'ivy@other.example',
    ]);
    const ourUser = ours[0].id as string;
    expect((await other.request('PATCH', `/api/v1/users/${ourUser}`, { active: false })).status).toBe(404);
    expect((await other.post(`/api/v1/users/${ourUser}/password`, { password: 'taken over password' })).status).toBe(
      404,
    );
    // Ivy's session sees her organisation only.
    const ivy = sessionOf(await login(server, 'ivy@other.example', GOOD));
    expect(
      (await withCookie(server, ivy, 'GET', '/api/v1/auth/me', undefined, { csrf: false })).body.user.organisation_id,
    ).toBe(made.body.id);
    expect((await withCookie(server, ivy, 'GET', '/api/v1/events', undefined, { csrf: false })).body.events).toEqual(
      [],
    );
  });
});

describeEachBackend('the first owner from the environment', (backend) => {
  it('is made on start when the organisation has no user, once; a weak ENTRADA_OWNER_PASSWORD stops the start naming the rule', async () => {
    const tdb = await backend.open();
    try {
      const weak = startTestServer(tdb.db, { config: { owner: { email: 'ops@example.com', password: 'short' } } });
      await expect(weak).rejects.toThrow(
        'ENTRADA_OWNER_PASSWORD: is too short: a password needs at least 10 characters',
      );
      const owner = { email: 'ops@example.com', password: 'the operator passphrase' };
      const first = await startTestServer(tdb.db, { config: { owner } });
      expect(first.bootstrap.owner).toEqual({ email: 'ops@example.com', password: null, source: 'env' });
      expect((await login(first, owner.email, owner.password)).body.user).toMatchObject({ role: 'owner' });
      await first.close();
      // The organisation has a user now: another start makes none, whatever the environment says.
      const again = await startTestServer(tdb.db, {
        adminToken: first.adminToken,
        config: { owner: { email: 'other@example.com', password: 'another passphrase' } },
      });
      expect(again.bootstrap.owner).toBeNull();
      expect((await again.admin.get('/api/v1/users')).body.users.map((u: { email: string }) => u.email)).toEqual([
        'ops@example.com',
      ]);
      await again.close();
    } finally {
      await tdb.drop();
    }
  });
});

describeEachBackend('roles on every organiser route (from the OpenAPI document)', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it("answers 403 below each route's declared role and never 403 at or above it", async () => {
    const tokens = {} as Record<Role, Client>;
    for (const role of ROLES) {
      const r = await server.admin.post('/api/v1/tokens', { name: `${role} token`, role });
      expect(r.body.role).toBe(role);
      tokens[role] = server.client(r.body.token);
    }
    // Routes about the signed-in person (`/users/me/…`) need a person, not a token: one user per role, signed in.
    const people = {} as Record<Role, Session>;
    for (const role of ROLES) {
      await addUser(server, { email: `${role}@roles.example.com`, role });
      people[role] = sessionOf(await login(server, `${role}@roles.example.com`, GOOD));
    }
    const doc = (await server.client(null).get('/docs/json')).body as {
      paths: Record<string, Record<string, { 'x-entrada-auth'?: string; 'x-entrada-role'?: Role }>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    const organiser = routes.filter(
      (r) => r.op['x-entrada-auth'] === 'admin' || r.op['x-entrada-auth'] === 'admin-or-device',
    );
    // Every API route says who may call it, and every organiser route its role.
    for (const r of routes.filter((x) => x.path.startsWith('/api/')))
      expect(r.op['x-entrada-auth'], `${r.method} ${r.path}`).toBeDefined();
    for (const r of organiser) expect(ROLES, `${r.method} ${r.path}`).toContain(r.op['x-entrada-role']);
    expect(organiser.length).toBeGreaterThan(35);

    const rows: string[] = [];
    for (const { path, method, op } of organiser) {
      const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const needed = op['x-entrada-role']!;
      for (const role of ROLES) {
        const body = method === 'get' ? undefined : {};
        const r = path.startsWith('/api/v1/users/me/')
          ? await withCookie(server, people[role], method.toUpperCase(), url, body)
          : await tokens[role].request(method.toUpperCase(), url, body);
        const allowed = roleAtLeast(role, needed);
        const got = r.status === 403 ? `403 ${r.body.error}` : 'not 403';
        rows.push(`${method.toUpperCase()} ${path} as ${role}: ${got}`);
        expect(`${method.toUpperCase()} ${path} as ${role}: ${got}`).toBe(
          `${method.toUpperCase()} ${path} as ${role}: ${allowed ? 'not 403' : '403 FORBIDDEN'}`,
        );
      }
    }
    expect(rows.length).toBe(organiser.length * ROLES.length);
  });

  it('declares the roles of the issue for the routes that exist', async () => {
    const doc = (await server.client(null).get('/docs/json')).body as {
      paths: Record<string, Record<string, { 'x-entrada-role'?: Role }>>;
    };
    const role = (method: string, path: string): Role | undefined => doc.paths[path]?.[method]?.['x-entrada-role'];
    expect(role('post', '/api/v1/users')).toBe('owner');
    expect(role('post', '/api/v1/tokens')).toBe('owner');
    expect(role('post', '/api/v1/events')).toBe('manager');
    expect(role('post', '/api/v1/events/{eventId}/tickets')).toBe('manager');
    expect(role('post', '/api/v1/events/{eventId}/ticket-imports/{importId}/commit')).toBe('manager');
    expect(role('post', '/api/v1/devices')).toBe('manager');
    expect(role('post', '/api/v1/events/{eventId}/staff')).toBe('manager');
    expect(role('post', '/api/v1/tickets/{ticketId}/cancel')).toBe('supervisor');
    expect(role('post', '/api/v1/tickets/{ticketId}/block')).toBe('supervisor');
    expect(role('post', '/api/v1/devices/{deviceId}/suspend')).toBe('supervisor');
    expect(role('post', '/api/v1/devices/pairing-codes')).toBe('supervisor');
    expect(role('post', '/api/v1/conflicts/{id}/resolve')).toBe('supervisor');
    expect(role('post', '/api/v1/offline/import')).toBe('supervisor');
    expect(role('get', '/api/v1/events')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/live')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/devices/health')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/devices/{deviceId}/history')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/alerts')).toBe('viewer');
    expect(role('post', '/api/v1/alerts/{id}/acknowledge')).toBe('supervisor');
    expect(role('get', '/api/v1/events/{eventId}/scans')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/scans.csv')).toBe('viewer');
    expect(role('get', '/api/v1/events/{eventId}/conflicts')).toBe('viewer');
    expect(role('post', '/api/v1/events/{eventId}/conflicts/resolve')).toBe('supervisor');
  });
});

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL && REQUIRE_SERVICES)
  throw new Error('ENTRADA_REQUIRE_SERVICES=1 but REDIS_URL is not set: Redis tests would be skipped');

/** A user deactivated through one API instance is logged out on another that had the session cached. */
function deactivationSuite(redisUrl: string | undefined): void {
  let drop: () => Promise<void>;
  const dbs: Database[] = [];
  let a: TestServer;
  let b: TestServer;
  let clock = Date.now();

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    dbs.push(openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url }));
    a = await startTestServer(dbs[0]!, { redisUrl, now: () => clock });
    b = await startTestServer(dbs[1]!, { redisUrl, adminToken: a.adminToken, now: () => clock });
    if (redisUrl) await new Promise((r) => setTimeout(r, 200)); // let the subscribers connect
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it(redisUrl ? 'at once' : 'within the session cache time (5 s)', async () => {
    const id = await addUser(a, { email: 'jo@example.com', role: 'manager' });
    const s = sessionOf(await login(a, 'jo@example.com', GOOD));
    const onB = () => withCookie(b, s, 'GET', '/api/v1/events', undefined, { csrf: false });
    expect((await onB()).status).toBe(200); // B now holds the session in its cache
    expect((await a.admin.request('PATCH', `/api/v1/users/${id}`, { active: false })).status).toBe(200);
    if (!redisUrl) clock += 5_000;
    expect((await onB()).status).toBe(401);
    expect((await withCookie(a, s, 'GET', '/api/v1/events', undefined, { csrf: false })).status).toBe(401);
  });
}

describePostgres('deactivation across instances, with Redis', () => {
  if (REDIS_URL) deactivationSuite(REDIS_URL);
  else it.skip('needs REDIS_URL', () => undefined);
});
describePostgres('deactivation across instances, without Redis', () => deactivationSuite(undefined));
