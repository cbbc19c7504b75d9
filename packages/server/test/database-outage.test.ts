import net from 'node:net';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { DatabaseError, type Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { createLogger, startServer, type RunningServer } from '../src/server.ts';
import {
  Client,
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  seedEvent,
  TEST_DATABASE_URL,
  TEST_SECRET,
  type SeededEvent,
} from './harness.ts';

/**
 * A TCP proxy in front of PostgreSQL that the test can cut and restore: the
 * server's connections fail as they do when the database restarts or the
 * network between them drops (refused connects, reset sockets), with nothing
 * of our own mocked.
 */
class CuttableProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly upstream: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.upstream.port, this.upstream.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and resets every open one. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    for (const s of this.sockets) s.resetAndDestroy();
    await closed;
  }
}

describePostgres('a database outage', () => {
  const lines: Array<Record<string, unknown>> = [];
  let fresh: { url: string; drop(): Promise<void> };
  let proxy: CuttableProxy;
  let db: Database;
  let server: RunningServer;
  let admin: Client;
  let device: Client;
  let ev: SeededEvent;
  let code: string;

  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    const target = new URL(fresh.url);
    proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.open();
    target.host = `127.0.0.1:${proxy.port}`;
    db = openPostgres({ connectionString: target.toString(), maxConnections: 5 });
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const adminToken = 'eat_outage_test_token';
    server = await startServer({
      config: {
        ...loadConfig({}),
        port: 0,
        host: '127.0.0.1',
        secret: TEST_SECRET,
        demo: false,
        adminToken,
        logLevel: 'info',
      },
      db,
      logger: createLogger('info', sink),
    });
    admin = new Client(server.url, adminToken);
    ev = await seedEvent(admin);
    device = new Client(server.url, (await registerDevice(admin, 'Outage')).token);
    code = (await issueTickets(admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]))[0]!.code;
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
    await proxy?.cut();
    await fresh?.drop();
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After, logs one line when it starts and one when it ends, and recovers', async () => {
    expect((await admin.get('/api/health')).status).toBe(200);
    const before = lines.length;
    await proxy.cut();

    const answers = [];
    for (let i = 0; i < 10; i++) {
      answers.push(await admin.get('/api/v1/events'));
      answers.push(await admin.post(`/api/v1/events/${ev.eventId}/zones`, { name: `Zone ${i}` }));
      answers.push(await device.post('/api/v1/scanning/scan', { code, event_id: ev.eventId, gate_id: ev.gates.main }));
    }
    for (const r of answers) {
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.body).toEqual({ error: 'DATABASE_UNAVAILABLE', message: expect.any(String), retry_after_s: 5 });
    }
    const health = await admin.get('/api/health');
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toBe('5');
    expect(health.body).toMatchObject({
      status: 'degraded',
      db: 'down',
      error: 'DATABASE_UNAVAILABLE',
      message: expect.any(String),
    });

    await proxy.open();
    expect((await admin.get('/api/health')).status).toBe(200);
    const events = await admin.get('/api/v1/events');
    expect(events.status).toBe(200);
    expect(events.body.events.map((e: { id: string }) => e.id)).toContain(ev.eventId);
    const scan = await device.post('/api/v1/scanning/scan', { code, event_id: ev.eventId, gate_id: ev.gates.main });
    expect(scan.body.result).toBe('valid');

    // 31 requests failed: one line when the outage started, one when it ended, no stack per request.
    const during = lines.slice(before);
    const notable = during.filter((l) => (l.level as number) >= 40);
    expect(notable.map((l) => [l.level, l.msg])).toEqual([
      [50, 'database unavailable: answering 503 DATABASE_UNAVAILABLE until it answers again'],
      [40, expect.stringMatching(/^database available again after an outage of \d+\.\d s$/)],
    ]);
    expect(notable[0]!.db_error).toMatch(/^(ECONNREFUSED|ECONNRESET|EPIPE)$|^57P0|^08/);
    expect(notable[1]!.outage_ms).toBeGreaterThan(0);
    expect(during.filter((l) => 'err' in l)).toEqual([]);
    // Every answer of the outage is in the access log, as a 503.
    expect(during.filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503)).toHaveLength(31);
  });
});

describePostgres('connection-class failures', () => {
  let fresh: { url: string; drop(): Promise<void> };
  let db: Database;
  let superuser: pg.Client;
  const dbName = (): string => new URL(fresh.url).pathname.slice(1);

  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    db = openPostgres({ connectionString: fresh.url, maxConnections: 2 });
    superuser = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await superuser.connect();
  });
  afterAll(async () => {
    await superuser?.query(`ALTER DATABASE ${dbName()} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await superuser?.end();
    await db?.close();
    await fresh?.drop();
  });

  const failure = async (p: Promise<unknown>): Promise<DatabaseError> => {
    const err: unknown = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseError);
    return err as DatabaseError;
  };

  it('a statement error is not an outage; its error carries only the SQLSTATE and names', async () => {
    await db.exec(`CREATE TABLE probe (id int PRIMARY KEY)`);
    await db.query(`INSERT INTO probe VALUES (1)`);
    const err = await failure(db.query(`INSERT INTO probe VALUES ($1)`, [1]));
    expect({ code: err.code, constraint: err.constraint, table: err.table, unavailable: err.unavailable }).toEqual({
      code: '23505',
      constraint: 'probe_pkey',
      table: 'probe',
      unavailable: false,
    });
    expect(Object.keys(err).sort()).toEqual(['code', 'column', 'constraint', 'name', 'table', 'unavailable']);
    expect(db.availability.available).toBe(true);
  });

  it('57P01 admin_shutdown: the backend running a statement is terminated', async () => {
    // Its failure is awaited from the start: it may come while the test awaits something else (an unhandled rejection).
    const sleeping = failure(db.query(`SELECT pg_sleep(30)`));
    await expect
      .poll(
        async () =>
          (
            await superuser.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%'`,
              [dbName()],
            )
          ).rows[0].n,
      )
      .toBe(1);
    await superuser.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [dbName()],
    );
    const err = await sleeping;
    expect(err.code).toBe('57P01');
    expect(err.unavailable).toBe(true);
    expect(db.availability.available).toBe(false);
    // The pool connects anew: the next statement answers and ends the outage.
    expect(await db.query<{ one: number }>(`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    expect(db.availability.available).toBe(true);
  });

  it('a database not accepting connections (55000 while connecting) and a closed port are outages', async () => {
    await superuser.query(`ALTER DATABASE ${dbName()} ALLOW_CONNECTIONS false`);
    await superuser.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName()]);
    // An idle connection the pool still holds may hand over its termination (57P01) first; then connecting is refused.
    const codes: Array<string | undefined> = [];
    while (codes.at(-1) !== '55000' && codes.length < 5) {
      const refused = await failure(db.query(`SELECT 1`));
      expect(refused.unavailable).toBe(true);
      codes.push(refused.code);
    }
    expect(codes.at(-1)).toBe('55000');
    expect(codes.slice(0, -1).every((c) => c === '57P01')).toBe(true);
    await superuser.query(`ALTER DATABASE ${dbName()} ALLOW_CONNECTIONS true`);
    expect(await db.query(`SELECT 1 AS one`)).toEqual([{ one: 1 }]);

    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const nowhere = openPostgres({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    try {
      const err = await failure(nowhere.transaction((tx) => tx.query(`SELECT 1`)));
      expect({ code: err.code, unavailable: err.unavailable }).toEqual({ code: 'ECONNREFUSED', unavailable: true });
    } finally {
      await nowhere.close();
    }
  });
});
