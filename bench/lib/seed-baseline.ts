/**
 * The per-row reconciliation loop of the seeds, as a baseline for the offline
 * sync engine: seed 001's `syncOfflineScans` (for each scan, SELECT the ticket
 * by code, then UPDATE it on a first scan, and INSERT a device_scan_logs row)
 * inside seed 000's one transaction per upload (BEGIN … COMMIT around the
 * loop). It runs straight against PostgreSQL with the `pg` package, on its own
 * tables (seed_*) in the benchmark database, with no HTTP, no JSON and no
 * integrity checks: a baseline that flatters the seeds.
 *
 * Like the seeds, it decides "already scanned" from a plain SELECT (no row
 * lock, no scan-time order): it is first-upload-wins and can double-admit
 * under concurrency. It is measured for speed, not as a correct alternative.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { LatencyRecorder, type LatencySummary } from './latency.ts';

export async function createSeedTables(
  url: string,
  eventId: string,
  tickets: Array<{ code: string; number: string; type: string }>,
): Promise<{ loadMs: number }> {
  const t0 = performance.now();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // Seed 001's shapes (Laravel migrations), with the indexes they declare; seed_offline_tickets gets the (qrcode, event_id) index its look-up needs.
    await c.query(`
      CREATE TABLE seed_offline_tickets (
        id bigserial PRIMARY KEY, event_id text NOT NULL, qrcode text NOT NULL, log_count integer NOT NULL DEFAULT 0, sync integer NOT NULL DEFAULT 0,
        scanned_at timestamptz, device_id text, event_ticket_type text, event_ticket_admittence text, ticket_number text);
      CREATE INDEX seed_offline_tickets_qrcode ON seed_offline_tickets (qrcode, event_id);
      CREATE TABLE seed_device_scan_logs (
        id bigserial PRIMARY KEY, event_id text NOT NULL, device_id text NOT NULL, qrcode text NOT NULL, scanned_at_device timestamptz,
        synced_at timestamptz, sync_status text NOT NULL DEFAULT 'pending', sync_error text, metadata jsonb, created_at timestamptz, updated_at timestamptz);
      CREATE INDEX seed_device_scan_logs_device ON seed_device_scan_logs (event_id, device_id);
      CREATE INDEX seed_device_scan_logs_qrcode ON seed_device_scan_logs (qrcode, event_id);
      CREATE INDEX seed_device_scan_logs_status ON seed_device_scan_logs (sync_status);
      CREATE TABLE seed_sync_sessions (
        id bigserial PRIMARY KEY, event_id text NOT NULL, device_id text NOT NULL, session_token text NOT NULL UNIQUE,
        scans_uploaded integer NOT NULL DEFAULT 0, scans_successful integer NOT NULL DEFAULT 0, scans_failed integer NOT NULL DEFAULT 0,
        scans_duplicate integer NOT NULL DEFAULT 0, started_at timestamptz NOT NULL, completed_at timestamptz, status text NOT NULL DEFAULT 'in_progress',
        error_message text, created_at timestamptz, updated_at timestamptz);
      CREATE INDEX seed_sync_sessions_device ON seed_sync_sessions (event_id, device_id);`);
    for (let i = 0; i < tickets.length; i += 10_000) {
      const part = tickets.slice(i, i + 10_000);
      await c.query(
        `INSERT INTO seed_offline_tickets (event_id, qrcode, ticket_number, event_ticket_type, event_ticket_admittence)
         SELECT $1, u.code, u.number, u.type, 'general' FROM unnest($2::text[], $3::text[], $4::text[]) AS u(code, number, type)`,
        [eventId, part.map((t) => t.code), part.map((t) => t.number), part.map((t) => t.type)],
      );
    }
    await c.query('ANALYZE seed_offline_tickets, seed_device_scan_logs, seed_sync_sessions');
  } finally {
    await c.end().catch(() => undefined);
  }
  return { loadMs: performance.now() - t0 };
}

export interface SeedBaselineResult {
  scans: number;
  uploads: number;
  durationS: number;
  scansPerS: number;
  statements: number;
  statementsPerS: number;
  outcomes: { synced: number; duplicate: number; conflict: number; failed: number };
  uploadLatencyMs: LatencySummary;
  connections: number;
  /** True when the deadline stopped it before every upload ran. */
  stoppedEarly: boolean;
  /** Uploads rolled back by a deadlock (or serialization failure) and sent again: the per-row loop locks tickets in scan order. */
  deadlocks: number;
}

/**
 * Every device sends its uploads one after the other, all devices at once;
 * each upload borrows one of `connections` pooled connections for its
 * transaction. An upload that PostgreSQL aborts as a deadlock victim is rolled
 * back and sent again (what a device does after a 500), and counted. Stops
 * starting uploads at the deadline, and every worker stops at the first other
 * error.
 */
export async function runSeedBaseline(
  url: string,
  opts: {
    eventId: string;
    devices: Array<{ deviceId: string; uploads: Array<Array<{ qrcode: string; at: number }>> }>;
    connections: number;
    deadlineMs: number;
    /** Called after the last upload, before the connections close (their backends exit then: stop CPU measurements here). */
    beforeClose?: () => void;
  },
): Promise<SeedBaselineResult> {
  const pool = new pg.Pool({ connectionString: url, max: opts.connections });
  // A connection cut while checked out (the database dropped on an abort) must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  // Open the connections before timing.
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      const c = await pool.connect();
      await c.query('SELECT 1');
      return c;
    }),
  ).then((cs) => cs.forEach((c) => c.release()));
  const latency = new LatencyRecorder();
  const outcomes = { synced: 0, duplicate: 0, conflict: 0, failed: 0 };
  let scans = 0;
  let uploads = 0;
  let statements = 0;
  let stoppedEarly = false;
  let deadlocks = 0;
  let failure: unknown = null;
  const start = performance.now();
  const deadline = start + opts.deadlineMs;

  /** One upload in one transaction; false when PostgreSQL chose it as a deadlock victim (rolled back, nothing counted). */
  const upload = async (
    deviceId: string,
    batch: Array<{ qrcode: string; at: number }>,
    token: string,
  ): Promise<boolean> => {
    const c = await pool.connect();
    const t0 = performance.now();
    const counted = { synced: 0, duplicate: 0, conflict: 0, failed: 0 };
    let stmts = 0;
    try {
      await c.query('BEGIN');
      const now = new Date();
      const [session] = (
        await c.query<{ id: string }>(
          `INSERT INTO seed_sync_sessions (event_id, device_id, session_token, scans_uploaded, started_at, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'in_progress', $5, $5) RETURNING id`,
          [opts.eventId, deviceId, token, batch.length, now],
        )
      ).rows;
      stmts += 2;
      let ok = 0;
      let failed = 0;
      let dup = 0;
      for (const s of batch) {
        const scannedAt = new Date(s.at);
        const ticket = (
          await c.query<{
            id: string;
            log_count: number;
            event_ticket_type: string;
            ticket_number: string;
            scanned_at: Date | null;
            device_id: string | null;
          }>(
            `SELECT id, log_count, event_ticket_type, event_ticket_admittence, ticket_number, scanned_at, device_id
           FROM seed_offline_tickets WHERE qrcode = $1 AND event_id = $2 LIMIT 1`,
            [s.qrcode, opts.eventId],
          )
        ).rows[0];
        stmts++;
        const log = async (status: string, error: string | null): Promise<void> => {
          await c.query(
            `INSERT INTO seed_device_scan_logs (event_id, device_id, qrcode, scanned_at_device, synced_at, sync_status, sync_error, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $5)`,
            [opts.eventId, deviceId, s.qrcode, scannedAt, new Date(), status, error],
          );
          stmts++;
        };
        if (!ticket) {
          failed++;
          counted.failed++;
          await log('failed', 'Ticket not found');
          continue;
        }
        if (ticket.log_count > 0) {
          if (ticket.device_id === deviceId) {
            dup++;
            counted.duplicate++;
          } else {
            failed++;
            counted.conflict++;
            await log('conflict', `Already scanned by ${ticket.device_id}`);
          }
          continue;
        }
        await c.query(
          `UPDATE seed_offline_tickets SET log_count = 1, sync = 1, scanned_at = $2, device_id = $3 WHERE id = $1`,
          [ticket.id, scannedAt, deviceId],
        );
        stmts++;
        ok++;
        counted.synced++;
        await log('synced', null);
      }
      await c.query(
        `UPDATE seed_sync_sessions SET scans_successful = $2, scans_failed = $3, scans_duplicate = $4, completed_at = $5, status = 'completed', updated_at = $5
         WHERE id = $1`,
        [session!.id, ok, failed, dup, new Date()],
      );
      await c.query('COMMIT');
      statements += stmts + 2;
      scans += batch.length;
      uploads++;
      for (const k of Object.keys(counted) as Array<keyof typeof counted>) outcomes[k] += counted[k];
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
          // A deadlock victim is sent again (bounded: a device gives up after 20 tries).
          let tries = 0;
          while (!(await upload(d.deviceId, d.uploads[b]!, `seed-${d.deviceId}-${b + 1}-${tries}`))) {
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
    outcomes,
    uploadLatencyMs: latency.summary(),
    connections: opts.connections,
    stoppedEarly,
    deadlocks,
  };
}
