/**
 * Seed 000's per-row `POST /offline/reconcile` loop, as the baseline of
 * Entrada's reconcile endpoint (bench/offline-sync.ts): one transaction per
 * upload (BEGIN … COMMIT) and, for each scan, a SELECT of a scan with the same
 * ticket and scan time (its duplicate check), an INSERT of the scan and, for
 * an ALLOW, an UPDATE of the ticket's counters (GREATEST / LEAST, as the seed
 * writes them). Straight against PostgreSQL with the `pg` package, on its own
 * tables (seed0_*) in the benchmark database, with the (ticket_id, scanned_at)
 * index its duplicate check needs and no HTTP, JSON or validation: a baseline
 * that flatters the seed. Like seed 000 it stores every scan and never
 * decides who was first: it is measured for speed, not as a correct alternative.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { LatencyRecorder, type LatencySummary } from './latency.ts';

export async function createSeed0Tables(url: string, ticketIds: string[]): Promise<{ loadMs: number }> {
  const t0 = performance.now();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE seed0_tickets (id uuid PRIMARY KEY, scan_count integer, last_scanned_at timestamptz, first_scanned_at timestamptz);
      CREATE TABLE seed0_scans (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(), ticket_id uuid NOT NULL, device_id text NOT NULL, result text NOT NULL, reason text,
        scanned_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX seed0_scans_ticket_time ON seed0_scans (ticket_id, scanned_at);`);
    for (let i = 0; i < ticketIds.length; i += 10_000) {
      await c.query(`INSERT INTO seed0_tickets (id) SELECT unnest($1::uuid[])`, [ticketIds.slice(i, i + 10_000)]);
    }
    await c.query('ANALYZE seed0_tickets, seed0_scans');
  } finally {
    await c.end().catch(() => undefined);
  }
  return { loadMs: performance.now() - t0 };
}

export interface Seed0Scan {
  ticketId: string;
  at: number;
}

export interface Seed0BaselineResult {
  scans: number;
  uploads: number;
  durationS: number;
  scansPerS: number;
  statements: number;
  statementsPerS: number;
  uploadLatencyMs: LatencySummary;
  connections: number;
  stoppedEarly: boolean;
  /** Uploads rolled back as deadlock victims and sent again (the loop updates tickets in scan order). */
  deadlocks: number;
}

/** Every device sends its uploads one after the other, all devices at once, each upload on one of `connections` pooled connections. */
export async function runSeed0Baseline(
  url: string,
  opts: {
    devices: Array<{ deviceId: string; uploads: Seed0Scan[][] }>;
    connections: number;
    deadlineMs: number;
    beforeClose?: () => void;
  },
): Promise<Seed0BaselineResult> {
  const pool = new pg.Pool({ connectionString: url, max: opts.connections });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      const c = await pool.connect();
      await c.query('SELECT 1');
      return c;
    }),
  ).then((cs) => cs.forEach((c) => c.release()));
  const latency = new LatencyRecorder();
  let scans = 0;
  let uploads = 0;
  let statements = 0;
  let deadlocks = 0;
  let stoppedEarly = false;
  let failure: unknown = null;
  const start = performance.now();
  const deadline = start + opts.deadlineMs;

  const upload = async (deviceId: string, batch: Seed0Scan[]): Promise<boolean> => {
    const c = await pool.connect();
    const t0 = performance.now();
    let stmts = 0;
    try {
      await c.query('BEGIN');
      stmts++;
      for (const s of batch) {
        const at = new Date(s.at);
        const existing = await c.query(`SELECT id FROM seed0_scans WHERE ticket_id = $1 AND scanned_at = $2`, [
          s.ticketId,
          at,
        ]);
        stmts++;
        if (existing.rows.length > 0) continue;
        await c.query(
          `INSERT INTO seed0_scans (ticket_id, device_id, result, reason, scanned_at) VALUES ($1, $2, $3, $4, $5)`,
          [s.ticketId, deviceId, 'ALLOW', null, at],
        );
        await c.query(
          `UPDATE seed0_tickets SET scan_count = GREATEST(COALESCE(scan_count, 0), $1), last_scanned_at = GREATEST(COALESCE(last_scanned_at, $2), $2),
             first_scanned_at = LEAST(COALESCE(first_scanned_at, $2), $2) WHERE id = $3`,
          [1, at, s.ticketId],
        );
        stmts += 2;
      }
      await c.query('COMMIT');
      statements += stmts + 1;
      scans += batch.length;
      uploads++;
      latency.record(performance.now() - t0);
      return true;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      statements += stmts;
      const code = (err as { code?: string }).code;
      if (code === '40P01' || code === '40001') return false;
      throw err;
    } finally {
      c.release();
    }
  };

  let lastDone = start;
  await Promise.all(
    opts.devices.map(async (d) => {
      try {
        for (let b = 0; b < d.uploads.length && failure === null; b++) {
          if (performance.now() > deadline) {
            stoppedEarly = true;
            return;
          }
          let tries = 0;
          while (!(await upload(d.deviceId, d.uploads[b]!))) {
            deadlocks++;
            if (++tries >= 20) throw new Error(`upload ${b + 1} of ${d.deviceId} deadlocked 20 times`);
          }
          lastDone = performance.now();
        }
      } catch (err) {
        failure ??= err;
      }
    }),
  );
  opts.beforeClose?.();
  await pool.end().catch(() => undefined);
  if (failure !== null) throw failure instanceof Error ? failure : new Error(String(failure));
  const durationS = (lastDone - start) / 1000;
  return {
    scans,
    uploads,
    durationS,
    scansPerS: scans / durationS,
    statements,
    statementsPerS: statements / durationS,
    uploadLatencyMs: latency.summary(),
    connections: opts.connections,
    stoppedEarly,
    deadlocks,
  };
}
