/**
 * Seed 000's `POST /api/v1/offline/reconcile` under a reconnect burst, for
 * bench/offline-sync.ts: the bodies a seed-000 client sends (`{device_id,
 * scans: [{ticket_id, scanned_at, result: 'ALLOW', scan_count}]}`, plain
 * JSON, no seq, chain or signature: seed 000 has none), built before timing
 * from the same kind of plan as the sync's; all devices upload at once, each
 * its batches one after the other; the answers checked after the clock stops,
 * and the event's rows in SQL.
 */
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import type { IssuedTicket, OfflinePlan } from './offline.ts';
import { withClient } from './postgres.ts';

export interface ReconcileUpload {
  deviceIndex: number;
  batch: number;
  scans: number;
  body: Buffer;
}

/** Every device's uploads, in time order, `batch` scans each. */
export function buildReconcileUploads(opts: {
  devices: Array<{ deviceId: string }>;
  plan: OfflinePlan;
  tickets: IssuedTicket[];
  batch: number;
}): { perDevice: ReconcileUpload[][]; buildMs: number; bytes: number } {
  const t0 = performance.now();
  let bytes = 0;
  const perDevice = opts.devices.map((d, i) => {
    const scans = opts.plan.perDevice[i]!;
    const uploads: ReconcileUpload[] = [];
    for (let from = 0, batch = 1; from < scans.length; from += opts.batch, batch++) {
      const slice = scans.slice(from, from + opts.batch);
      const body = Buffer.from(
        JSON.stringify({
          device_id: d.deviceId,
          scans: slice.map((p) => ({
            ticket_id: opts.tickets[p.ticket]!.id,
            scanned_at: new Date(p.at).toISOString(),
            result: 'ALLOW',
            scan_count: 1,
          })),
        }),
      );
      bytes += body.length;
      uploads.push({ deviceIndex: i, batch, scans: slice.length, body });
    }
    return uploads;
  });
  return { perDevice, buildMs: performance.now() - t0, bytes };
}

export interface ReconcileReply {
  statusCode: number;
  text: string;
  ms: number;
  upload: ReconcileUpload;
}

/** All devices at once, each sending its uploads one after the other (a device stops at its first failed upload). */
export async function reconcileAll(
  pool: Pool,
  devices: Array<{ token: string }>,
  perDevice: ReconcileUpload[][],
): Promise<{ wallMs: number; replies: ReconcileReply[] }> {
  const replies: ReconcileReply[] = [];
  const start = performance.now();
  await Promise.all(
    devices.map(async (d, i) => {
      const headers = { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' };
      for (const u of perDevice[i]!) {
        const s = performance.now();
        try {
          const res = await pool.request({ method: 'POST', path: '/api/v1/offline/reconcile', headers, body: u.body });
          const text = await res.body.text();
          replies.push({ statusCode: res.statusCode, text, ms: performance.now() - s, upload: u });
          if (res.statusCode !== 200) return;
        } catch (err) {
          replies.push({ statusCode: 0, text: String(err), ms: performance.now() - s, upload: u });
          return;
        }
      }
    }),
  );
  return { wallMs: performance.now() - start, replies };
}

export interface ReconcileCheck {
  ok200: number;
  reconciled: number;
  failed: number;
  conflictsAnswered: number;
  mismatches: number;
  failures: string[];
}

/** Every answer 200 and `success`, one result per scan, every scan SUCCESS (a lost first-scan-wins is SUCCESS with `conflict`). */
export function checkReconcileReplies(replies: ReconcileReply[], expectedUploads: number): ReconcileCheck {
  const out: ReconcileCheck = { ok200: 0, reconciled: 0, failed: 0, conflictsAnswered: 0, mismatches: 0, failures: [] };
  for (const r of replies) {
    if (r.statusCode !== 200) {
      if (out.failures.length < 5)
        out.failures.push(
          `device ${r.upload.deviceIndex} batch ${r.upload.batch}: ${r.statusCode} ${r.text.slice(0, 300)}`,
        );
      continue;
    }
    out.ok200++;
    const b = JSON.parse(r.text) as {
      success?: boolean;
      reconciled?: number;
      failed?: number;
      results?: Array<{ status: string; conflict?: boolean }>;
    };
    out.reconciled += b.reconciled ?? 0;
    out.failed += b.failed ?? 0;
    for (const x of b.results ?? []) if (x.conflict) out.conflictsAnswered++;
    if (
      b.success !== true ||
      b.reconciled !== r.upload.scans ||
      b.failed !== 0 ||
      b.results?.length !== r.upload.scans
    ) {
      out.mismatches++;
      if (out.failures.length < 5)
        out.failures.push(`device ${r.upload.deviceIndex} batch ${r.upload.batch}: ${r.text.slice(0, 300)}`);
    }
  }
  if (replies.length !== expectedUploads && out.failures.length < 5)
    out.failures.push(`${replies.length} replies for ${expectedUploads} uploads`);
  return out;
}

export interface ReconcileDbCheck {
  offlineScans: number;
  admitted: number;
  conflictScans: number;
  openConflicts: number;
  conflictTicketsMatchPlan: boolean;
  ticketsWithEntries: number;
}

export async function checkReconcileDatabase(
  url: string,
  eventId: string,
  doubledIds: Set<string>,
): Promise<ReconcileDbCheck> {
  return withClient(url, async (c) => {
    const s = (
      await c.query<Record<string, string>>(
        `SELECT count(*) FILTER (WHERE source = 'offline') AS offline,
         count(*) FILTER (WHERE source = 'offline' AND record_status = 'admitted') AS admitted,
         count(*) FILTER (WHERE source = 'offline' AND record_status = 'conflict') AS conflict
       FROM scans WHERE event_id = $1`,
        [eventId],
      )
    ).rows[0]!;
    const open = (
      await c.query<{ ticket_id: string }>(`SELECT ticket_id FROM conflicts WHERE event_id = $1 AND status = 'open'`, [
        eventId,
      ])
    ).rows;
    const openSet = new Set(open.map((r) => r.ticket_id));
    const t = (
      await c.query<{ n: string }>(`SELECT count(*) AS n FROM tickets WHERE event_id = $1 AND entries > 0`, [eventId])
    ).rows[0]!;
    return {
      offlineScans: Number(s.offline),
      admitted: Number(s.admitted),
      conflictScans: Number(s.conflict),
      openConflicts: open.length,
      conflictTicketsMatchPlan:
        open.length === doubledIds.size &&
        openSet.size === doubledIds.size &&
        [...doubledIds].every((id) => openSet.has(id)),
      ticketsWithEntries: Number(t.n),
    };
  });
}
