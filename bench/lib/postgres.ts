/**
 * PostgreSQL helpers for benchmarks: scratch databases (always dropped), the
 * server version, and a sampler of what the benchmark database's connections
 * are doing (pg_stat_activity), which tells whether a run is bound by the
 * application (connections idle, waiting for it), by the database's CPU
 * (active, no wait event) or by WAL flushes (active, waiting on WAL*).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { LatencyRecorder } from './latency.ts';

/** Where the benchmark creates its scratch databases (a superuser, or a role with CREATEDB). */
export const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createScratchDatabase(prefix: string, adminUrl = ADMIN_URL): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export async function serverVersion(adminUrl = ADMIN_URL): Promise<string> {
  return withClient(
    adminUrl,
    async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v,
  );
}

/** Settings that decide commit cost, recorded with the results. */
export async function serverSettings(adminUrl = ADMIN_URL): Promise<Record<string, string>> {
  const names = [
    'synchronous_commit',
    'fsync',
    'wal_sync_method',
    'commit_delay',
    'shared_buffers',
    'max_connections',
    'shared_preload_libraries',
    'autovacuum',
    'plan_cache_mode',
  ];
  return withClient(adminUrl, async (c) => {
    const rows = (
      await c.query<{ name: string; setting: string }>(
        `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1)`,
        [names],
      )
    ).rows;
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}

/** Flushes dirty buffers, so a phase does not pay for the writes of the one before it. */
export async function checkpoint(adminUrl = ADMIN_URL): Promise<void> {
  await withClient(adminUrl, (c) => c.query('CHECKPOINT')).catch(() => undefined);
}

export interface ActivitySummary {
  samples: number;
  /** Average number of the database's connections in each state per sample, e.g. "idle", "active (cpu)", "active: LWLock/WALWrite". */
  averageConnections: Record<string, number>;
}

/**
 * Samples pg_stat_activity for one database every `everyMs` until stopped.
 * "idle" connections are waiting for the application (ClientRead): the
 * bottleneck is upstream of PostgreSQL.
 */
export function sampleActivity(adminUrl: string, database: string, everyMs = 50): { stop(): Promise<ActivitySummary> } {
  const counts: Record<string, number> = {};
  let samples = 0;
  let running = true;
  const client = new pg.Client({ connectionString: adminUrl });
  const loop = (async () => {
    await client.connect();
    while (running) {
      const rows = (
        await client.query<{ state: string | null; wait_event_type: string | null; wait_event: string | null }>(
          `SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
          [database],
        )
      ).rows;
      samples++;
      for (const r of rows) {
        const key =
          r.state === 'active'
            ? r.wait_event
              ? `active: ${r.wait_event_type}/${r.wait_event}`
              : 'active (cpu)'
            : (r.state ?? 'unknown');
        counts[key] = (counts[key] ?? 0) + 1;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })().catch(() => undefined);
  return {
    async stop() {
      running = false;
      await loop;
      await client.end().catch(() => undefined);
      const averageConnections: Record<string, number> = {};
      for (const [k, v] of Object.entries(counts).sort((a, b) => b[1] - a[1]))
        averageConnections[k] = Math.round((v / Math.max(1, samples)) * 100) / 100;
      return { samples, averageConnections };
    },
  };
}

/**
 * Cluster-wide write counters, exact and current (unlike pg_stat_* views,
 * which backends publish with a delay): WAL position in bytes, and the next
 * transaction id (each committed write transaction takes one).
 */
export async function writeCounters(adminUrl: string): Promise<{ walBytes: number; nextXid: number }> {
  return withClient(adminUrl, async (c) => {
    const row = (
      await c.query<{ wal: string; xid: string }>(
        `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS wal, pg_snapshot_xmax(pg_current_snapshot())::text AS xid`,
      )
    ).rows[0]!;
    return { walBytes: Number(row.wal), nextXid: Number(row.xid) };
  });
}

/**
 * The latency floor of one durable commit: `n` single-row INSERTs in
 * autocommit, one after the other, from one connection (a table created and
 * dropped in `url`'s database). An online scan is one such statement, so no
 * scan can be answered faster than this.
 */
export async function singleCommitLatency(
  url: string,
  n = 2_000,
): Promise<{ count: number; p50: number; p90: number; p99: number; mean: number }> {
  return withClient(url, async (c) => {
    const table = `bench_commit_floor_${randomBytes(4).toString('hex')}`;
    await c.query(
      `CREATE TABLE ${table} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), v int NOT NULL)`,
    );
    try {
      const rec = new LatencyRecorder();
      const insert = { name: `ins_${table}`, text: `INSERT INTO ${table} (v) VALUES ($1)` };
      for (let i = 0; i < 200; i++) await c.query({ ...insert, values: [i] });
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await c.query({ ...insert, values: [i] });
        rec.record(performance.now() - t);
      }
      const s = rec.summary();
      return { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, mean: s.mean };
    } finally {
      await c.query(`DROP TABLE ${table}`);
    }
  });
}

export interface TableStats {
  table: string;
  inserts: number;
  updates: number;
  /** Updates that touched no index (HOT): the cheap kind; the others insert a new entry in every index. */
  hotUpdates: number;
  indexes: number;
  totalBytes: number;
  seqScans: number;
  idxScans: number;
  lastAutoanalyze: string | null;
  lastAutovacuum: string | null;
}

/** Write statistics of tables in `url`'s database (pg_stat_user_tables; published with up to ~1 s delay). */
export async function tableStats(url: string, tables: string[]): Promise<TableStats[]> {
  return withClient(url, async (c) => {
    const rows = (
      await c.query<{
        relname: string;
        ins: string;
        upd: string;
        hot: string;
        idx: string;
        bytes: string;
        seq_scan: string;
        idx_scan: string | null;
        last_autoanalyze: Date | null;
        last_autovacuum: Date | null;
      }>(
        `SELECT s.relname, s.n_tup_ins AS ins, s.n_tup_upd AS upd, s.n_tup_hot_upd AS hot, s.seq_scan, s.idx_scan, s.last_autoanalyze, s.last_autovacuum,
         (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid) AS idx, pg_total_relation_size(s.relid) AS bytes
       FROM pg_stat_user_tables s WHERE s.relname = ANY($1) ORDER BY s.relname`,
        [tables],
      )
    ).rows;
    return rows.map((r) => ({
      table: r.relname,
      inserts: Number(r.ins),
      updates: Number(r.upd),
      hotUpdates: Number(r.hot),
      indexes: Number(r.idx),
      totalBytes: Number(r.bytes),
      seqScans: Number(r.seq_scan),
      idxScans: Number(r.idx_scan ?? 0),
      lastAutoanalyze: r.last_autoanalyze?.toISOString() ?? null,
      lastAutovacuum: r.last_autovacuum?.toISOString() ?? null,
    }));
  });
}

export interface IndexStats {
  table: string;
  index: string;
  scans: number;
  entriesRead: number;
  sizeBytes: number;
}

/**
 * How often each index of these tables was used, and how many entries those
 * scans read (pg_stat_user_indexes): a hot lookup that reads thousands of
 * entries per use is walking an index it should only probe.
 */
export async function indexStats(url: string, tables: string[]): Promise<IndexStats[]> {
  return withClient(url, async (c) => {
    const rows = (
      await c.query<{ relname: string; indexrelname: string; idx_scan: string; idx_tup_read: string; size: string }>(
        `SELECT relname, indexrelname, idx_scan, idx_tup_read, pg_relation_size(indexrelid) AS size FROM pg_stat_user_indexes
       WHERE relname = ANY($1) ORDER BY relname, indexrelname`,
        [tables],
      )
    ).rows;
    return rows.map((r) => ({
      table: r.relname,
      index: r.indexrelname,
      scans: Number(r.idx_scan),
      entriesRead: Number(r.idx_tup_read),
      sizeBytes: Number(r.size),
    }));
  });
}

/** Migrations applied to an Entrada database (schema_migrations). */
export async function appliedMigrations(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ version: string }>(`SELECT version FROM schema_migrations ORDER BY version`)).rows.map(
      (r) => r.version,
    ),
  ).catch(() => []);
}

/** ANALYZE a whole database: fresh planner statistics, and every cached plan on its tables is replanned. */
export async function analyze(url: string): Promise<void> {
  await withClient(url, (c) => c.query('ANALYZE'));
}
