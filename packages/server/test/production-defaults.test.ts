import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { startServer } from '../src/server.ts';
import { Client, describePostgres, freshPostgresDatabase } from './harness.ts';

/** Every folder and file under `dir` (itself as `.`) with its permission bits. */
async function modes(dir: string): Promise<Map<string, { folder: boolean; mode: number }>> {
  const found = new Map([['.', { folder: true, mode: (await stat(dir)).mode & 0o777 }]]);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isDirectory() && !entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    found.set(path.relative(dir, full), { folder: entry.isDirectory(), mode: (await stat(full)).mode & 0o777 });
  }
  return found;
}

/** Folders 0700 and files 0600, all of them (the list names any that are not). */
function expectPrivate(found: Map<string, { folder: boolean; mode: number }>): void {
  const open = [...found]
    .filter(([, f]) => f.mode !== (f.folder ? 0o700 : 0o600))
    .map(([name, f]) => `${name} ${f.mode.toString(8)}`);
  expect(open).toEqual([]);
  expect(found.size).toBeGreaterThan(100);
}

describe('the embedded database on disk', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'entrada-modes-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('keeps the data folder 0700 and its files 0600, also those written while running; NODE_ENV=production means no demo', async () => {
    const dataDir = path.join(tmp, 'data');
    // A folder the operator made with the usual umask: tightened on start.
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    const adminToken = `eat_test_${randomBytes(8).toString('hex')}`;
    const config = {
      ...loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production' }),
      port: 0,
      host: '127.0.0.1',
      adminToken,
    };
    expect(config.demo).toBe(false);
    const server = await startServer({ config, logger: false });
    let closed = false;
    try {
      expect(server.bootstrap.demo).toBeNull();
      const files = await modes(dataDir);
      expect(files.get('.')?.mode).toBe(0o700);
      expect(files.get('pglite')?.mode).toBe(0o700);
      expect(files.get('secret.key')?.mode).toBe(0o600);
      expect(files.get(path.join('pglite', 'PG_VERSION'))?.mode).toBe(0o600);
      expectPrivate(files);
      const admin = new Client(server.url, adminToken);
      expect((await admin.get('/api/v1/events')).body.events).toEqual([]);
      // Tables made while running: new files.
      const ev = await admin.post('/api/v1/events', {
        name: 'On disk',
        starts_at: '2026-08-01T19:00Z',
        ends_at: '2026-08-02T02:00Z',
      });
      expect(ev.status).toBe(201);
      await server.close();
      closed = true;
      expectPrivate(await modes(dataDir));
    } finally {
      if (!closed) await server.close();
    }
  });
});

describePostgres('a server on PostgreSQL', () => {
  it('starts without the demo: no event, pairing code or staff login is made or printed', async () => {
    const fresh = await freshPostgresDatabase();
    const config = {
      ...loadConfig({
        DATABASE_URL: fresh.url,
        ENTRADA_SECRET: 'production-defaults-test',
        ENTRADA_ADMIN_TOKEN: `eat_test_${randomBytes(8).toString('hex')}`,
      }),
      port: 0,
      host: '127.0.0.1',
    };
    expect(config.demo).toBe(false);
    const server = await startServer({ config, logger: false });
    try {
      expect(server.bootstrap).toMatchObject({ demo: null, firstStart: true });
    } finally {
      await server.close();
    }
    const db = openPostgres({ connectionString: fresh.url });
    try {
      const [counts] = await db.query<{ events: number; pairing: number; staff: number; devices: number }>(
        `SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM pairing_codes) AS pairing,
                (SELECT count(*)::int FROM event_staff) AS staff, (SELECT count(*)::int FROM devices) AS devices`,
      );
      expect(counts).toEqual({ events: 0, pairing: 0, staff: 0, devices: 0 });
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
