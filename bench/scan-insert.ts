/**
 * How the sync stores a batch of scans: COPY (what insertOfflineScans does,
 * store/copy-text.ts) against the INSERT … SELECT FROM unnest(arrays) it used
 * before, on the real scans table (every migration applied, all its indexes).
 *
 *   node --import tsx bench/scan-insert.ts [--rounds=3] [--rows=100000]
 *   npm run bench:scan-insert
 *
 * Each round loads `rows` scans in transactions of 500 on 20 connections,
 * once each way, alternating (the table keeps growing, so neither way always
 * meets the smaller table). Rows are built before timing. Measured per way:
 * wall time, and CPU per row of this database's PostgreSQL backends and of
 * this process (which builds the COPY text or the array literals and sends
 * them). Only the scans' insert: the ticket writes are in bench:offline's
 * database floor.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { uuidv7 } from '../packages/server/src/crypto/uuidv7.ts';
import type { Sql } from '../packages/server/src/db/database.ts';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { openPostgres } from '../packages/server/src/db/postgres.ts';
import { insertOfflineScans, type OfflineScanRow } from '../packages/server/src/store/offline-scans.ts';
import { booleanArray, byteaHexArray, numberArray, textArray } from '../packages/server/src/store/pg-arrays.ts';
import { measureCpu, pidGroup } from './lib/cpu.ts';
import { postgresGroupFor } from './lib/pg-processes.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { markdownTable, saveJson, timestamp } from './lib/report.ts';
import { round } from './lib/run-control.ts';

const arg = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : fallback;
};
const ROUNDS = arg('rounds', 3);
const ROWS = arg('rows', 100_000);
const BATCH = 500;
const CONNECTIONS = 20;

type Batch = { ctx: Parameters<typeof insertOfflineScans>[1]; rows: OfflineScanRow[] };

/** The statement insertOfflineScans ran before it used COPY (kept here only to compare). */
async function insertUnnest(tx: Sql, ctx: Batch['ctx'], rows: OfflineScanRow[]): Promise<void> {
  const col = <T>(f: (r: OfflineScanRow) => T): T[] => rows.map(f);
  await tx.query(
    `INSERT INTO scans (event_id, id, seq, ticket_id, code_digest, result, reason, admits, direction, device_pk, device_id, gate_id,
       scanned_at, received_at, source, local_result, payload_hash, chain_link, integrity, clock_uncertainty_ms, flags, record_status, sync_session_id,
       client_scan_id)
     SELECT $1, u.id, u.seq, u.ticket_id, u.digest, u.result, u.reason, u.admits, u.direction, $2, $3, u.gate_id,
       to_timestamp(u.scanned_at / 1000.0), $5, 'offline', u.local_result, u.payload_hash, u.chain_link,
       $6, $7, string_to_array(u.flags, ','), u.record_status, $4, u.client_scan_id
     FROM unnest($8::uuid[], $9::bigint[], $10::uuid[], $11::bytea[], $12::text[], $13::text[], $14::boolean[], $15::text[], $16::uuid[],
         $17::float8[], $18::text[], $19::bytea[], $20::bytea[], $21::text[], $22::text[], $23::uuid[])
       AS u(id, seq, ticket_id, digest, result, reason, admits, direction, gate_id, scanned_at, local_result, payload_hash, chain_link,
         flags, record_status, client_scan_id)`,
    [
      ctx.eventId,
      ctx.devicePk,
      ctx.deviceId,
      ctx.sessionId,
      new Date(ctx.receivedAt),
      ctx.integrity,
      ctx.uncertaintyMs,
      textArray(col((r) => r.id)),
      numberArray(col((r) => r.seq)),
      textArray(col((r) => r.ticketId)),
      byteaHexArray(col((r) => r.digestHex)),
      textArray(col((r) => r.result)),
      textArray(col((r) => r.reason)),
      booleanArray(col((r) => r.admits)),
      textArray(col((r) => r.direction)),
      textArray(col((r) => r.gateId)),
      numberArray(col((r) => r.scannedAt)),
      textArray(col((r) => r.localResult)),
      byteaHexArray(col((r) => r.payloadHashHex)),
      byteaHexArray(col((r) => r.chainLinkHex)),
      textArray(col((r) => r.flags.join(','))),
      textArray(col((r) => r.recordStatus)),
      textArray(col((r) => r.clientScanId)),
    ],
    { name: 'bench_insert_unnest' },
  );
}

function buildBatches(eventId: string, gateId: string): Batch[] {
  const out: Batch[] = [];
  for (let b = 0; b < ROWS / BATCH; b++) {
    const fake = randomBytes(64 * BATCH).toString('hex');
    const rows: OfflineScanRow[] = [];
    for (let i = 0; i < BATCH; i++) {
      const k = i * 128;
      rows.push({
        id: uuidv7(),
        seq: i + 1,
        ticketId: randomUUID(),
        digestHex: fake.slice(k, k + 32),
        result: 'valid',
        reason: 'admitted_offline',
        admits: true,
        direction: 'entry',
        gateId,
        scannedAt: Date.now() - i * 1000,
        localResult: 'valid',
        payloadHashHex: fake.slice(k, k + 64),
        chainLinkHex: fake.slice(k + 64, k + 128),
        flags: [],
        implausibleTime: false,
        recordStatus: 'admitted',
        clientScanId: null,
        staffId: null,
      });
    }
    out.push({
      ctx: {
        eventId,
        devicePk: randomUUID(),
        deviceId: `bench-${b}`,
        sessionId: randomUUID(),
        receivedAt: Date.now(),
        integrity: 'chain',
        uncertaintyMs: 2_000,
      },
      rows,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const scratch = await createScratchDatabase('entrada_bench_insert');
  const db = openPostgres({ connectionString: scratch.url, maxConnections: CONNECTIONS });
  const results: Array<{
    way: string;
    round: number;
    wallMs: number;
    rowsPerS: number;
    pgUsPerRow: number;
    clientUsPerRow: number;
  }> = [];
  try {
    await migrate(db);
    const eventId = randomUUID();
    const gateId = randomUUID();
    // Open every connection before measuring, so the backends exist when their CPU is first read.
    await Promise.all(Array.from({ length: CONNECTIONS }, () => db.query('SELECT pg_sleep(0.1)')));
    for (let round_ = 1; round_ <= ROUNDS; round_++) {
      for (const way of ['copy', 'insert-unnest'] as const) {
        const batches = buildBatches(eventId, gateId);
        const cpu = measureCpu({ postgres: postgresGroupFor(scratch.name), client: pidGroup(process.pid) });
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: CONNECTIONS }, async () => {
            for (;;) {
              const b = batches[next++];
              if (!b) return;
              await db.transaction((tx) =>
                way === 'copy'
                  ? insertOfflineScans(tx, b.ctx, b.rows).then(() => undefined)
                  : insertUnnest(tx, b.ctx, b.rows),
              );
            }
          }),
        );
        const wallMs = performance.now() - t0;
        const u = cpu.stop();
        const perRow = (cores: number): number => round((cores * u.seconds * 1e6) / ROWS, 1);
        const r = {
          way,
          round: round_,
          wallMs: round(wallMs, 0),
          rowsPerS: Math.round(ROWS / (wallMs / 1000)),
          pgUsPerRow: perRow(u.groups.postgres!),
          clientUsPerRow: perRow(u.groups.client!),
        };
        results.push(r);
        console.log(
          `round ${round_} ${way}: ${ROWS} rows in ${r.wallMs} ms = ${r.rowsPerS} rows/s; CPU per row: PostgreSQL ${r.pgUsPerRow} µs, client ${r.clientUsPerRow} µs`,
        );
      }
    }
  } finally {
    await db.close();
    await scratch.drop();
  }
  const mean = (way: string, k: 'pgUsPerRow' | 'clientUsPerRow' | 'rowsPerS'): number => {
    const xs = results.filter((r) => r.way === way).map((r) => r[k]);
    return round(xs.reduce((a, b) => a + b, 0) / xs.length, 1);
  };
  console.log('');
  console.log(
    markdownTable(
      ['way', 'rows/s (mean)', 'PostgreSQL µs per row (mean)', 'client µs per row (mean)'],
      ['copy', 'insert-unnest'].map((w) => [w, mean(w, 'rowsPerS'), mean(w, 'pgUsPerRow'), mean(w, 'clientUsPerRow')]),
    ),
  );
  console.log(
    `\nresults saved to ${await saveJson(`scan-insert-${timestamp()}`, { rows: ROWS, batch: BATCH, connections: CONNECTIONS, results })}`,
  );
}

await main();
