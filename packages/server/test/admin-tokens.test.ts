import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashToken } from '../src/crypto/tokens.ts';
import { openPostgres } from '../src/db/postgres.ts';
import type { Database } from '../src/db/database.ts';
import {
  describeEachBackend,
  describePostgres,
  freshPostgresDatabase,
  startTestServer,
  type Client,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const REDIS_URL = process.env.REDIS_URL;
const revoke = (client: Client, id: string) => client.request('DELETE', `/api/v1/tokens/${id}`);
const newToken = (): string => `eat_env_${randomBytes(12).toString('hex')}`;

describeEachBackend('admin tokens', (backend) => {
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

  it("lists, makes and revokes the organisation's tokens, never showing a token or its digest", async () => {
    const list = await server.admin.get('/api/v1/tokens');
    expect(list.status).toBe(200);
    expect(list.body.tokens).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'ENTRADA_ADMIN_TOKEN',
        origin: 'env',
        role: 'owner',
        platform: true,
        created_at: expect.any(String),
        last_used_at: null,
        revoked_at: null,
        current: true,
      },
    ]);

    const made = await server.admin.post('/api/v1/tokens', { name: 'Box office laptop' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      name: 'Box office laptop',
      origin: 'api',
      platform: true,
      current: false,
      revoked_at: null,
    });
    expect(made.body.token).toMatch(/^eat_[A-Za-z0-9_-]{43}$/);
    const laptop = server.client(made.body.token);
    expect((await laptop.get('/api/v1/events')).status).toBe(200);

    await server.services.auth.flushLastSeen();
    const listed = await laptop.get('/api/v1/tokens');
    expect(listed.body.tokens.map((t: { name: string; current: boolean }) => [t.name, t.current])).toEqual([
      ['ENTRADA_ADMIN_TOKEN', false],
      ['Box office laptop', true],
    ]);
    expect(listed.body.tokens.every((t: { last_used_at: string | null }) => t.last_used_at !== null)).toBe(true);
    const text = JSON.stringify(listed.body);
    for (const token of [server.adminToken, made.body.token as string]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(hashToken(token).toString('hex'));
      expect(text).not.toContain(hashToken(token).toString('base64'));
    }

    const revoked = await revoke(server.admin, made.body.id);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: made.body.id, revoked_at: expect.any(String) });
    // At once on this instance (its cache is told), without waiting for the cache to expire.
    expect((await laptop.get('/api/v1/events')).status).toBe(401);
    expect((await server.admin.get('/api/v1/tokens')).body.tokens).toHaveLength(1);
    expect((await revoke(server.admin, made.body.id)).status).toBe(404);
    expect((await revoke(server.admin, crypto.randomUUID())).status).toBe(404);
    expect((await revoke(server.admin, 'not-an-id')).status).toBe(400);
    expect((await server.admin.post('/api/v1/tokens', { name: '' })).status).toBe(400);
    expect((await server.admin.post('/api/v1/tokens', { name: 'x', platform: true })).body.message).toBe(
      '(body) is not allowed (unknown field "platform")',
    );
  });

  it("keeps organisations apart and refuses to revoke an organisation's last token", async () => {
    const org = await server.admin.post('/api/v1/organisations', { name: 'Token Org' });
    const other = server.client(org.body.admin_token);
    const [initial] = (await other.get('/api/v1/tokens')).body.tokens;
    expect(initial).toMatchObject({ name: 'initial', origin: 'api', platform: false, current: true });
    const ours = (await server.admin.get('/api/v1/tokens')).body.tokens as Array<{ id: string }>;
    expect(ours.map((t) => t.id)).not.toContain(initial.id);
    // Another organisation's token is not found, whoever asks.
    expect((await revoke(other, ours[0]!.id)).status).toBe(404);
    expect((await revoke(server.admin, initial.id)).status).toBe(404);

    const last = await revoke(other, initial.id);
    expect(last.status).toBe(409);
    expect(last.body).toEqual({ error: 'CONFLICT', message: expect.stringContaining('last admin token') });
    expect((await other.get('/api/v1/tokens')).status).toBe(200);

    // A token made by an organisation token is an organisation token: no token makes a stronger one.
    const second = await other.post('/api/v1/tokens', { name: 'Second' });
    expect(second.body.platform).toBe(false);
    expect((await revoke(other, initial.id)).status).toBe(200);
    expect((await other.get('/api/v1/events')).status).toBe(401);
    const successor = server.client(second.body.token);
    expect((await revoke(successor, second.body.id)).status).toBe(409);
    expect((await successor.get('/api/v1/tokens')).body.tokens).toHaveLength(1);
  });

  it('ENTRADA_ADMIN_TOKEN replaces the previous one on restart; a revoked one is never brought back', async () => {
    const t1 = newToken();
    const t2 = newToken();
    let s = await startTestServer(tdb.db, { adminToken: t1 });
    const kept = (await s.admin.post('/api/v1/tokens', { name: 'Made by API' })).body.token as string;
    expect(s.bootstrap).toMatchObject({ adminToken: null, adminTokenSource: 'env' });
    await s.close();

    s = await startTestServer(tdb.db, { adminToken: t2 });
    try {
      expect((await s.client(t1).get('/api/v1/events')).status).toBe(401);
      expect((await s.client(t2).get('/api/v1/events')).status).toBe(200);
      // Only the previous environment token is revoked: tokens made through the API stay.
      expect((await s.client(kept).get('/api/v1/events')).status).toBe(200);
      expect(
        ((await s.admin.get('/api/v1/tokens')).body.tokens as Array<{ origin: string }>).filter(
          (t) => t.origin === 'env',
        ),
      ).toHaveLength(1);
    } finally {
      await s.close();
    }

    // An instance restarted with the old environment does not revive its token, nor revoke its successor.
    s = await startTestServer(tdb.db, { adminToken: t1 });
    try {
      expect(s.bootstrap.adminTokenSource).toBe('env-revoked');
      expect((await s.client(t1).get('/api/v1/events')).status).toBe(401);
      expect((await s.client(t2).get('/api/v1/events')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describePostgres('admin token revocation across instances', () => {
  let drop: () => Promise<void>;
  const dbs: Database[] = [];
  let a: TestServer;
  let b: TestServer;
  let skew = 0;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    dbs.push(openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url }));
    a = await startTestServer(dbs[0]!, { redisUrl: REDIS_URL });
    b = await startTestServer(dbs[1]!, { redisUrl: REDIS_URL, adminToken: a.adminToken, now: () => Date.now() + skew });
    await new Promise((r) => setTimeout(r, 200)); // let the subscribers connect
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it('a token revoked on one instance is refused by the other within its admin cache time', async () => {
    const made = (await a.admin.post('/api/v1/tokens', { name: 'Roaming' })).body;
    const onB = b.client(made.token);
    expect((await onB.get('/api/v1/events')).status).toBe(200);
    expect((await revoke(a.admin, made.id)).status).toBe(200);
    // Redis or not, B's cached copy lives at most 10 s: B's clock is moved past it.
    skew = 10_001;
    expect((await onB.get('/api/v1/events')).status).toBe(401);
    skew = 0;
  });

  (REDIS_URL ? it : it.skip)('and at once through the bus (Redis)', async () => {
    const made = (await a.admin.post('/api/v1/tokens', { name: 'Roaming too' })).body;
    const onB = b.client(made.token);
    expect((await onB.get('/api/v1/events')).status).toBe(200);
    expect((await revoke(a.admin, made.id)).status).toBe(200);
    // Well inside B's 10 s admin cache: only the Redis message can make B notice.
    const deadline = Date.now() + 1_000;
    let status = 200;
    while (Date.now() < deadline && status === 200) {
      status = (await onB.get('/api/v1/events')).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
  });
});
