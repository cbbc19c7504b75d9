/**
 * The database floor of the offline sync: the cost of only the writes that
 * any design storing every scan as a row and updating every admitted ticket
 * must make, with the server's logic removed. Per transaction of `batch`
 * scans: BEGIN, the sync's batch insert of the scans, the sync's
 * compare-and-set of the same number of tickets' scan states, COMMIT; run by
 * `connections` concurrent connections straight from this process with `pg`
 * (no HTTP, no JSON, no hashing, no signature, no reads under lock).
 *
 * The statements are the server's own store functions (packages/server/src/
 * store/offline.ts, imported, so the SQL is never copied here):
 * `insertOfflineScans` and `compareAndSetTicketStates`. Every row is built
 * before timing: UUIDv7 scan ids, fake 32-byte payload hashes and chain links,
 * the tickets' real ids and code digests. The tickets' versions are read
 * once before timing and passed as the expected versions, so every
 * compare-and-set writes its row. Each transaction gets its own slice of the
 * event's tickets (a seeded shuffle, as devices scan tickets in no particular
 * order), so concurrent transactions never wait on each other's row locks;
 * every simulated device has its own fake device_pk and contiguous seqs, and
 * every transaction a random sync_session_id (a plain uuid column, no foreign
 * key). The queue runs batch-major (every device's first upload, then every
 * device's second...), so the transactions in flight belong to different
 * devices, as in the sync.
 *
 * It writes into the benchmark event's own tables (same sizes, same
 * indexes): afterwards the event holds a second, synthetic scan per ticket
 * and every ticket one more entry. Run it after anything that checks the
 * event's data.
 *
 * After a sync every ticket has already been admitted once: the floor's
 * update is each ticket's second, on a page whose rows the first admissions
 * grew (tickets' fillfactor 40 leaves room for about one new version per
 * row), so fewer of its updates are HOT than the sync's, and the rest add an
 * entry to every ticket index. That makes the floor pessimistic; the result
 * carries its HOT share (pg_stat_user_tables) to compare.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { TicketScanState } from '@entrada/core';
import { uuidv7 } from '../../packages/server/src/crypto/uuidv7.ts';
import type { Sql } from '../../packages/server/src/db/database.ts';
import { insertOfflineScans, type OfflineScanRow } from '../../packages/server/src/store/offline-scans.ts';
import { compareAndSetTicketStates } from '../../packages/server/src/store/ticket-states.ts';
import { measureCpu, type CpuUsage, type ProcessGroup } from './cpu.ts';
import { LatencyRecorder, type LatencySummary } from './latency.ts';
import { prng } from './offline.ts';
import { tableStats, writeCounters } from './postgres.ts';

interface FloorTransaction {
  ctx: Parameters<typeof insertOfflineScans>[1];
  rows: OfflineScanRow[];
  writes: Array<{ ticketId: string; expectedVersion: number; state: TicketScanState }>;
}

export interface SyncFloorPlan {
  url: string;
  eventId: string;
  scans: number;
  devices: number;
  batch: number;
  /** In the order the workers take them (batch-major). */
  transactions: FloorTransaction[];
  /** Reading the tickets and building every row. */
  precomputeMs: number;
}

/**
 * Reads the event's tickets (one SELECT: id, version, entries, digest) and
 * builds every transaction's rows: `devices` devices × `perDevice` scans in
 * transactions of `batch`, each scan a distinct ticket.
 */
export async function prepareSyncFloor(
  url: string,
  opts: {
    eventId: string;
    devices: number;
    perDevice: number;
    batch: number;
    gateIds: string[];
    windowStart: number;
    windowMs: number;
    seed?: number;
  },
): Promise<SyncFloorPlan> {
  const t0 = performance.now();
  const total = opts.devices * opts.perDevice;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  let tickets: Array<{ id: string; version: number; entries: number; digest: string }>;
  try {
    // Untimed: the tickets go back to "never scanned" and VACUUM frees their pages, so the floor's updates
    // find the same room for in-place (HOT) versions as the sync's first updates did. Without this every
    // floor update was a ticket's second one, and a fifth to a third of them were not HOT.
    await c.query(
      `UPDATE tickets SET entries = 0, first_at = NULL, first_device_id = NULL, first_gate_id = NULL, last_at = NULL,
      last_direction = NULL, last_device_id = NULL, last_gate_id = NULL WHERE event_id = $1`,
      [opts.eventId],
    );
    await c.query('VACUUM tickets');
    tickets = (
      await c.query<{ id: string; version: number; entries: number; digest: string }>(
        `SELECT id, version, entries, encode(code_digest, 'hex') AS digest FROM tickets WHERE event_id = $1 ORDER BY serial`,
        [opts.eventId],
      )
    ).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
  if (tickets.length < total)
    throw new Error(`database floor: ${total} scans need as many distinct tickets, the event has ${tickets.length}`);
  const rnd = prng(opts.seed ?? 4_242);
  for (let i = tickets.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [tickets[i], tickets[j]] = [tickets[j]!, tickets[i]!];
  }

  const uploadsPerDevice = Math.ceil(opts.perDevice / opts.batch);
  const devices = Array.from({ length: opts.devices }, (_, d) => ({
    devicePk: randomUUID(),
    deviceId: `bench-floor-${String(d + 1).padStart(3, '0')}`,
    gateId: opts.gateIds[d % opts.gateIds.length] ?? null,
  }));
  const receivedAt = Date.now();
  const transactions: FloorTransaction[] = [];
  let next = 0;
  for (let u = 0; u < uploadsPerDevice; u++) {
    for (let d = 0; d < opts.devices; d++) {
      const dev = devices[d]!;
      const fromSeq = u * opts.batch + 1;
      const toSeq = Math.min((u + 1) * opts.batch, opts.perDevice);
      const rows: OfflineScanRow[] = [];
      const writes: FloorTransaction['writes'] = [];
      // Fake payload hashes and chain links, 32 bytes each (64 hex digits): one random draw per transaction.
      const fake = randomBytes(64 * (toSeq - fromSeq + 1)).toString('hex');
      for (let seq = fromSeq; seq <= toSeq; seq++) {
        const k = (seq - fromSeq) * 128;
        const t = tickets[next++]!;
        const at = Math.floor(opts.windowStart + rnd() * opts.windowMs);
        rows.push({
          id: uuidv7(),
          seq,
          ticketId: t.id,
          digestHex: t.digest,
          result: 'valid',
          reason: 'admitted_offline',
          admits: true,
          direction: 'entry',
          gateId: dev.gateId,
          scannedAt: at,
          localResult: 'valid',
          payloadHashHex: fake.slice(k, k + 64),
          chainLinkHex: fake.slice(k + 64, k + 128),
          flags: [],
          implausibleTime: false,
          recordStatus: 'admitted',
          clientScanId: null,
          staffId: null,
        });
        const admission = { at, direction: 'entry' as const, deviceId: dev.deviceId, gateId: dev.gateId };
        writes.push({
          ticketId: t.id,
          expectedVersion: t.version,
          state: { entries: t.entries + 1, first: admission, last: admission },
        });
      }
      transactions.push({
        ctx: {
          eventId: opts.eventId,
          devicePk: dev.devicePk,
          deviceId: dev.deviceId,
          sessionId: randomUUID(),
          receivedAt,
          integrity: 'chain',
          uncertaintyMs: 2_000,
        },
        rows,
        writes,
      });
    }
  }
  return {
    url,
    eventId: opts.eventId,
    scans: total,
    devices: opts.devices,
    batch: opts.batch,
    transactions,
    precomputeMs: performance.now() - t0,
  };
}

export interface SyncFloorResult {
  scans: number;
  transactions: number;
  batch: number;
  devices: number;
  connections: number;
  wallMs: number;
  scansPerS: number;
  /** BEGIN to COMMIT, per transaction. */
  transactionLatencyMs: LatencySummary;
  /** Rows the insert reported and tickets the compare-and-set wrote: both must equal `scans`. */
  inserted: number;
  ticketsWritten: number;
  complete: boolean;
  precomputeMs: number;
  cpu: CpuUsage;
  /** CPU per scan of each measured group, in µs. */
  cpuUsPerScan: Record<string, number>;
  walBytes: number;
  walBytesPerScan: number;
  /** Transaction ids taken during the run (cluster-wide). */
  writeTransactions: number;
  /**
   * `tickets` updates and HOT updates in pg_stat_user_tables across the run (read before and after, the floor's backends
   * closed): approximate, as statistics that other backends of the database publish late land in the difference.
   */
  ticketUpdates: { updates: number; hot: number } | null;
}

function sqlOf(c: pg.ClientBase): Sql {
  return {
    async query<R>(text: string, params?: readonly unknown[], options?: { name?: string }): Promise<R[]> {
      const r = await c.query({ text, values: params as unknown[] | undefined, name: options?.name });
      return r.rows as R[];
    },
    async exec(text: string): Promise<void> {
      await c.query(text);
    },
    async copyRows(table: string, columns: readonly string[], rows: string | Uint8Array): Promise<void> {
      await pipeline(Readable.from([rows]), c.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)));
    },
  };
}

/**
 * Runs the prepared transactions on `connections` connections (opened before
 * timing), each connection taking the next transaction as soon as its last
 * one committed. Wall time from the first BEGIN to the last COMMIT; CPU of
 * `cpuGroups` over the same span (stopped before the connections close, as
 * the backends' time is lost when they exit).
 */
export async function runSyncFloor(
  plan: SyncFloorPlan,
  opts: {
    adminUrl: string;
    connections: number;
    cpuGroups: Record<string, ProcessGroup>;
  },
): Promise<SyncFloorResult> {
  const clients: pg.Client[] = [];
  let ticketUpdates: SyncFloorResult['ticketUpdates'] = null;
  let cpu: CpuUsage;
  let wallMs: number;
  let writes: { walBytes: number; writeTransactions: number };
  const latency = new LatencyRecorder();
  let inserted = 0;
  let ticketsWritten = 0;
  try {
    for (let i = 0; i < opts.connections; i++) {
      const c = new pg.Client({ connectionString: plan.url });
      // A connection cut while in use (the database dropped on an abort) must not crash the process.
      c.on('error', () => undefined);
      clients.push(c);
    }
    await Promise.all(
      clients.map(async (c) => {
        await c.connect();
        await c.query('SELECT 1');
      }),
    );
    const statsBefore = (await tableStats(plan.url, ['tickets'])).find((x) => x.table === 'tickets');
    const countersBefore = await writeCounters(opts.adminUrl);

    let next = 0;
    let failure: unknown = null;
    const m = measureCpu(opts.cpuGroups);
    const start = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        const tx = sqlOf(c);
        while (failure === null && next < plan.transactions.length) {
          const t = plan.transactions[next++]!;
          const t0 = performance.now();
          try {
            await c.query('BEGIN');
            const ins = await insertOfflineScans(tx, t.ctx, t.rows);
            const written = await compareAndSetTicketStates(tx, plan.eventId, t.writes);
            await c.query('COMMIT');
            inserted += ins.size;
            ticketsWritten += written.size;
            latency.record(performance.now() - t0);
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            failure ??= err;
          }
        }
      }),
    );
    wallMs = performance.now() - start;
    cpu = m.stop();
    if (failure !== null) throw failure instanceof Error ? failure : new Error(String(failure));
    const countersAfter = await writeCounters(opts.adminUrl);
    writes = {
      walBytes: countersAfter.walBytes - countersBefore.walBytes,
      writeTransactions: countersAfter.nextXid - countersBefore.nextXid,
    };
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    // The backends publish their statistics as they exit.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const statsAfter = (await tableStats(plan.url, ['tickets'])).find((x) => x.table === 'tickets');
    if (statsBefore && statsAfter)
      ticketUpdates = {
        updates: statsAfter.updates - statsBefore.updates,
        hot: statsAfter.hotUpdates - statsBefore.hotUpdates,
      };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  const cpuUsPerScan = Object.fromEntries(
    Object.entries(cpu.groups).map(([k, v]) => [k, Math.round(((v * cpu.seconds * 1e6) / plan.scans) * 10) / 10]),
  );
  return {
    scans: plan.scans,
    transactions: plan.transactions.length,
    batch: plan.batch,
    devices: plan.devices,
    connections: opts.connections,
    wallMs,
    scansPerS: plan.scans / (wallMs / 1000),
    transactionLatencyMs: latency.summary(),
    inserted,
    ticketsWritten,
    complete: inserted === plan.scans && ticketsWritten === plan.scans,
    precomputeMs: plan.precomputeMs,
    cpu,
    cpuUsPerScan,
    walBytes: writes.walBytes,
    walBytesPerScan: Math.round(writes.walBytes / plan.scans),
    writeTransactions: writes.writeTransactions,
    ticketUpdates,
  };
}
