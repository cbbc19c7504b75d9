import {
  describeVerdict,
  type SyncResponse,
  type SyncResultItem,
  type Verdict,
  type VerdictReason,
} from '@entrada/core';
import type { LockedTicket } from '../../store/ticket-states.ts';
import type { EventContext } from '../event-context.ts';
import type { ReconciledTicket } from './reconciliation.ts';
import type { PreparedScan, UploadPlan } from './sync-plan.ts';

/**
 * The answer of an offline upload, in words (issue 11 §4's last step): one
 * result per uploaded scan from the plan and the replay of its tickets, and
 * the summary the device log's session counts are written from. Pure: the
 * winners' device names are read by the write step beforehand.
 */

const ADMITTED = { status: 'admitted', reason: null, winner: null, ambiguous: false } as const;

export interface UploadAnswer {
  results: SyncResultItem[];
  summary: SyncResponse['summary'];
}

/** The devices whose scans won a conflict of this upload (their names go into the answer). */
export function winnerDevices(reconciled: ReadonlyMap<string, ReconciledTicket>): Set<string> {
  const out = new Set<string>();
  for (const r of reconciled.values()) {
    if (r.conflicts.length === 0) continue;
    for (const c of r.conflicts) {
      const w = c.winnerScanId ? r.winners.get(c.winnerScanId) : undefined;
      if (w) out.add(w.deviceId);
    }
  }
  return out;
}

export function answerUpload(
  ctx: Pick<EventContext, 'types' | 'gates' | 'event'>,
  prepared: readonly PreparedScan[],
  plan: UploadPlan,
  reconciled: ReadonlyMap<string, ReconciledTicket>,
  deviceNames: ReadonlyMap<string, string | undefined>,
): UploadAnswer {
  const { decided, replays, tampered } = plan;
  const verdictOf = new Map<
    string,
    { status: 'admitted' | 'conflict'; reason: VerdictReason | null; winner: string | null; ambiguous: boolean }
  >();
  for (const r of reconciled.values()) {
    for (const id of r.admitted) verdictOf.set(id, ADMITTED);
    for (const c of r.conflicts)
      verdictOf.set(c.id, {
        status: 'conflict',
        reason: c.conflictReason,
        winner: c.winnerScanId,
        ambiguous: c.ambiguous,
      });
  }
  // A winner is one of its ticket's candidates, which the replay had in hand: no need to read it back.
  const winners = new Map<string, { deviceId: string; scannedAt: number; gateId: string | null }>();
  for (const r of reconciled.values()) for (const [id, w] of r.winners) winners.set(id, w);
  const results: SyncResultItem[] = [];
  const summary = { total_uploaded: prepared.length, successful: 0, duplicates: 0, conflicts: 0, failed: 0 };
  for (const p of prepared) {
    const it = resultOf(ctx, p, decided, replays, tampered, verdictOf, winners, deviceNames, results);
    // Seed 001's arithmetic: successful + duplicates + failed = total_uploaded, a conflict counted in failed
    // (as the seed counts it) and in `conflicts`, the breakdown.
    if (it.sync_status === 'synced') summary.successful++;
    else if (it.sync_status === 'duplicate') summary.duplicates++;
    else {
      summary.failed++;
      if (it.sync_status === 'conflict') summary.conflicts++;
    }
    results.push(it);
  }
  return { results, summary };
}

function resultOf(
  ctx: Pick<EventContext, 'types' | 'gates' | 'event'>,
  p: PreparedScan,
  decided: UploadPlan['decided'],
  replays: UploadPlan['replays'],
  tampered: string | null,
  verdictOf: ReadonlyMap<
    string,
    { status: 'admitted' | 'conflict'; reason: VerdictReason | null; winner: string | null; ambiguous: boolean }
  >,
  winners: ReadonlyMap<string, { deviceId: string; scannedAt: number; gateId: string | null }>,
  deviceNames: ReadonlyMap<string, string | undefined>,
  earlier: readonly SyncResultItem[],
): SyncResultItem {
  const replay = replays.get(p.index);
  if (replay) {
    if (!replay.identical) {
      const it: SyncResultItem = {
        qrcode: p.qrcode,
        status: 409,
        message: tampered ?? 'Different content for an already received seq',
        sync_status: 'failed',
        reason: 'tampering',
      };
      if (p.seq !== null) it.seq = p.seq;
      return it;
    }
    const ticket = replay.ticket ?? null;
    const it = resultItem(
      p,
      ticket,
      ticket ? ctx.types.get(ticket.typeId) : undefined,
      200,
      'Already synced by this device',
      'duplicate',
    );
    // A repeat of a scan earlier in this upload has that scan's verdict (its row is the one stored).
    it.verdict =
      replay.firstIndex !== undefined
        ? (earlier[replay.firstIndex]?.verdict ?? replay.stored.recordStatus)
        : replay.stored.recordStatus;
    return it;
  }
  const d = decided.get(p.index)!;
  const type = d.ticket ? ctx.types.get(d.ticket.typeId) : undefined;
  let it: SyncResultItem;
  if (d.outcome.kind === 'received_online') {
    it = resultItem(p, d.ticket, type, 200, 'Already received online', 'duplicate');
    it.verdict = d.outcome.verdict;
    it.reason = 'received_online';
  } else if (d.outcome.kind === 'failed') {
    it = resultItem(p, d.ticket, type, d.outcome.status, d.outcome.message, 'failed');
    it.reason = d.row!.reason;
    it.verdict = d.row!.recordStatus;
  } else if (d.outcome.kind === 'recorded') {
    it = resultItem(p, d.ticket, type, 200, d.outcome.message, 'synced');
    it.verdict = 'rejected';
  } else {
    const v = verdictOf.get(d.row!.id);
    if (!v || v.status === 'admitted') {
      it = resultItem(p, d.ticket, type, 200, 'Synced successfully', 'synced');
      it.verdict = 'admitted';
    } else {
      const winner = v.winner ? winners.get(v.winner) : undefined;
      const verdict: Verdict = {
        result: 'duplicate',
        reason: v.reason ?? 'already_used',
        admits: false,
        previous: winner
          ? { at: winner.scannedAt, direction: 'entry', deviceId: winner.deviceId, gateId: winner.gateId }
          : undefined,
      };
      const name = winner ? deviceNames.get(winner.deviceId) : undefined;
      const message = describeVerdict(verdict, {
        timezone: ctx.event.timezone,
        now: p.scannedAt,
        gateName: (id) => ctx.gates.get(id)?.name,
      });
      it = resultItem(p, d.ticket, type, 409, winner ? `${message}${name ? ` by ${name}` : ''}` : message, 'conflict');
      it.verdict = 'conflict';
      it.reason = v.reason ?? 'conflict';
      it.ambiguous = v.ambiguous;
      if (winner) {
        it.scanned_at = new Date(winner.scannedAt).toISOString();
        it.scanned_by = winner.deviceId;
      }
    }
  }
  if (d.notice) it.message = `${it.message} (${d.notice})`;
  return it;
}

/** One scan's answer, built field by field: on Node 20 an object spread followed by more properties costs ~1 µs per property. */
function resultItem(
  p: PreparedScan,
  ticket: LockedTicket | null,
  type: { name: string; maxScans: number } | undefined,
  status: number,
  message: string,
  syncStatus: SyncResultItem['sync_status'],
): SyncResultItem {
  const it: SyncResultItem = { qrcode: p.qrcode, status, message, sync_status: syncStatus };
  if (p.seq !== null) it.seq = p.seq;
  if (ticket) {
    it.ticket_id = ticket.id;
    it.number = ticket.number;
  }
  if (type) {
    it.type = type.name;
    // Seed 001's `admittence`: the entries the ticket's type allows.
    it.admittence = type.maxScans;
  }
  return it;
}
