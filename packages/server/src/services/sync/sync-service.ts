import {
  describeVerdict, MAX_SYNC_SCANS, readScannedCode, signedCodeText, unmatchedCode,
  type CodeRefusal, type EventCode,
  type Direction, type SyncBody, type SyncResponse, type SyncResultItem, type TicketScanState, type Verdict, type VerdictReason,
} from '@entrada/core';
import { pgConstraint, pgErrorCode, PG_DEADLOCK, PG_UNIQUE_VIOLATION, type Database, type Sql } from '../../db/database.ts';
import { nodeVerifier } from '../../crypto/ed25519-node.ts';
import { uuidv7 } from '../../crypto/uuidv7.ts';
import { DomainError, notFound } from '../errors.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import type { TicketRecord } from '../../store/tickets.ts';
import {
  applyReconciliation, attachOfflineCopies, candidateScans, compareAndSetTicketStates, insertOfflineScans, lockDeviceLog, lockTicketsById,
  openQuarantineConflicts, openSyncSession, saveDeviceLog, scansByScanId, storedScansBySeq,
  type LockedTicket, type OfflineCopy, type OfflineScanRow, type ScanIdHolder, type StoredOfflineScan,
} from '../../store/offline.ts';
import type { Bus, LiveScan } from '../bus.ts';
import type { EventContext, EventContexts } from '../event-context.ts';
import type { DeviceDirectory } from '../device-directory.ts';
import { assertDeviceEvent } from '../device-service.ts';
import type { TicketCache } from '../ticket-cache.ts';
import type { TableStats } from '../table-stats.ts';
import { payloadHash, verifyChain } from './integrity.ts';
import { reconcileTicket, type CandidateScan, type RecordStatus, type TicketReconciliation } from './reconcile.ts';
import { advanceMarks, type SeqMarks } from './seq-ranges.ts';

/** Clock uncertainty of an offline scan: a base for ordinary drift, plus a tenth of the skew observed at upload. */
const BASE_CLOCK_UNCERTAINTY_MS = 2_000;
const FUTURE_TOLERANCE_MS = 60_000;
const SKEW_FLAG_MS = 60_000;
const DAY_MS = 86_400_000;
/**
 * Beyond this a scan's time cannot be trusted to order it (its device clock
 * was off by more than a day at upload, or the time lies more than a day
 * outside the event): it is stored and flagged `implausible_time`, with an
 * unbounded clock uncertainty, so every decision involving it is ambiguous.
 */
const IMPLAUSIBLE_MS = DAY_MS;
/** Two uploads whose compare-and-set and locked tickets cross can deadlock; PostgreSQL aborts one, which is run again. */
const DEADLOCK_ATTEMPTS = 3;

const ADMITTED = { status: 'admitted', reason: null, winner: null, ambiguous: false } as const;

type Outcome =
  | { kind: 'failed'; status: number; message: string }
  /** An offline copy of a scan the server already received online (its online attempt timed out on the device). */
  | { kind: 'received_online'; verdict: string }
  | { kind: 'recorded'; message: string }
  | { kind: 'candidate' };

interface Prepared {
  index: number;
  qrcode: string;
  seq: number;
  scannedAt: number;
  direction: Direction;
  gateId: string | null;
  localResult: string | null;
  scanId: string | null;
  hash: Buffer;
  hashHex: string;
  digestHex: string | null;
  /** Why the code cannot be a ticket of this event, found without the database (core's classifier). */
  codeProblem: CodeRefusal | null;
  /** A code of this event as core's classifier read it: what decides when its look-up misses. */
  eventCode: EventCode | null;
  /** Spelled like a signed code and keyed by that spelling, not decoded yet (see resolveCodes). */
  unparsed: boolean;
  flags: string[];
  /** Flagged implausible_time: no bounded clock uncertainty. */
  implausibleTime: boolean;
}

/** An upload worked out before its transaction (see SyncService.begin). */
interface Begun {
  req: SyncRequest; ctx: EventContext; receivedAt: number; offset: number | null; uncertaintyMs: number; prepared: Prepared[];
  quarantineFrom: number | null;
}

/** What an upload's transaction stored and decided. */
interface Applied {
  sessionId: string; marks: SeqMarks; results: SyncResultItem[]; summary: SyncResponse['summary'];
  reconciled: Map<string, ReconciledTicket>; digestById: Map<string, string>;
  /** LIVE (branch live, issue 13): the scans this upload stored, for the organisers' live stream. The sync branch publishes its own; keep one. */
  live?: LiveScan[];
}

/** A new scan's fate: its row (none when an online row already is this scan), outcome, ticket, and a note for its answer. */
interface Decided { row: OfflineScanRow | null; outcome: Outcome; ticket: LockedTicket | null; notice: string | null }

/**
 * What a new scan's scan_id (the id of its timed-out online attempt) links it to:
 * `claim`, an id nobody holds, kept in client_scan_id; `online`, this device's
 * online row of the same code, which this scan is the offline copy of;
 * `reused`, an id another scan holds (another seq, another device, another
 * code, or an earlier scan of this upload), ignored and flagged.
 */
type ScanIdLink = { kind: 'claim' } | { kind: 'online' | 'reused'; holder: ScanIdHolder };

const NO_LINKS: ReadonlyMap<number, ScanIdLink> = new Map();

/**
 * Links the new scans' scan_ids, lowest seq first (so the outcome does not
 * depend on the order of the upload). One id is one physical scan: the first
 * scan to carry a free id keeps it, every later one is told it repeats it —
 * instead of the unique key failing the whole upload, on every retry.
 */
function linkScanIds(fresh: readonly Prepared[], holders: ReadonlyMap<string, ScanIdHolder>, devicePk: string, integrityFailed: boolean): Map<number, ScanIdLink> {
  const out = new Map<number, ScanIdLink>();
  const claimed = new Map<string, ScanIdHolder>();
  for (const p of fresh.filter((x) => x.scanId !== null).sort((x, y) => x.seq - y.seq)) {
    const id = p.scanId!;
    const holder = claimed.get(id) ?? holders.get(id);
    if (!holder) {
      out.set(p.index, { kind: 'claim' });
      claimed.set(id, { id, devicePk, online: false, seq: p.seq, digestHex: p.digestHex, recordStatus: 'rejected' });
      continue;
    }
    // A failed upload's content cannot be trusted to be that attempt's copy: stored apart, as before.
    const copyOfOnline = !integrityFailed && holder.online && holder.devicePk === devicePk && holder.seq === null && holder.digestHex === p.digestHex;
    out.set(p.index, { kind: copyOfOnline ? 'online' : 'reused', holder });
    // A second copy in this upload repeats the first one's seq.
    if (copyOfOnline) claimed.set(id, { ...holder, seq: p.seq });
  }
  return out;
}

export interface SyncRequest {
  device: DeviceRecord;
  body: SyncBody;
  /** Links of a chain already verified over a whole imported log (one signature for all its chunks). */
  verifiedLinks?: Map<number, Buffer> | undefined;
  /** Why the whole imported log failed verification: its scans are stored as failed. */
  integrityFailure?: string | undefined;
}

/**
 * Offline sync: stores every uploaded scan (whatever its verdict), idempotent
 * per (device, seq), detects gaps and tampering, verifies the device's hash
 * chain with one signature per upload, and reconciles the admissions of every
 * ticket it touches by replaying them in scan-time order. One transaction and
 * a constant number of statements per upload, whatever its size.
 */
export class SyncService {
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly devices: DeviceDirectory,
    private readonly bus: Bus,
    private readonly tickets: TicketCache,
    private readonly now: () => number = Date.now,
    /** false only in the race control experiment: reconcile without the tickets' row locks. */
    private readonly lockTickets: boolean = true,
    private readonly stats?: TableStats,
  ) {}

  async sync(req: SyncRequest): Promise<SyncResponse> {
    return (await this.syncAll([req]))[0]!;
  }

  /**
   * Uploads of one device in one transaction: all stored, or none (an
   * imported log's chunks; a failure in the last chunk must not leave the
   * first ones applied).
   */
  async syncAll(reqs: readonly SyncRequest[]): Promise<SyncResponse[]> {
    const begun: Begun[] = [];
    for (const req of reqs) begun.push(await this.begin(req));
    const applied = await this.inTransaction(async (tx) => {
      const out: Applied[] = [];
      for (const b of begun) out.push(await this.apply(tx, b));
      return out;
    });
    return begun.map((b, i) => this.finish(b, applied[i]!));
  }

  /** Everything decided before the transaction: the checks that need no database, the event, and each scan's hash, flags and code. */
  private async begin(req: SyncRequest): Promise<Begun> {
    const { device, body } = req;
    if (body.device_id !== device.deviceId) throw new DomainError('FORBIDDEN', 'device_id does not match the device token');
    if (body.scans.length > MAX_SYNC_SCANS) {
      throw new DomainError('PAYLOAD_TOO_LARGE', `At most ${MAX_SYNC_SCANS} scans per upload; split the batch (nothing was applied)`);
    }
    const ctx = await this.contexts.get(body.event_id);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, ctx.event.id);

    const receivedAt = this.now();
    const offset = body.device_time === undefined ? null : body.device_time - receivedAt;
    const clockImplausible = offset !== null && Math.abs(offset) > IMPLAUSIBLE_MS;
    // Bounded (a day's offset gives 2.4 h); an implausible scan's uncertainty is unbounded instead (see IMPLAUSIBLE_MS).
    const uncertaintyMs = BASE_CLOCK_UNCERTAINTY_MS + Math.round(Math.min(Math.abs(offset ?? 0), IMPLAUSIBLE_MS) / 10);
    let gates = ctx;
    if (body.scans.some((s) => s.gate_id && !ctx.gates.has(s.gate_id))) gates = (await this.contexts.refresh(ctx.event.id)) ?? ctx;
    const prepared = body.scans.map((s, index) => this.prepare(ctx, gates, device, s, index, receivedAt, offset, clockImplausible));
    const quarantineFrom = device.status === 'revoked' ? device.statusChangedAt : null;
    return { req, ctx, receivedAt, offset, uncertaintyMs, prepared, quarantineFrom };
  }

  /** One upload's statements (a constant number, whatever its size). Run again as a whole when its transaction is retried. */
  private async apply(tx: Sql, b: Begun): Promise<Applied> {
    const { req, ctx, receivedAt, offset, uncertaintyMs, prepared, quarantineFrom } = b;
    const { device, body } = req;
    const digestById = new Map<string, string>();
    const sessionId = await openSyncSession(tx, { eventId: ctx.event.id, devicePk: device.pk, token: body.session_token, at: receivedAt });
    const log = await lockDeviceLog(tx, ctx.event.id, device.pk);
    // The batch's seqs already stored, and its chain neighbours. Under the device log's lock no seq above
    // the log's last_seq is stored (every seq'd insert advances it in the same transaction), so a fresh
    // upload only reads the link before it.
    const sorted = [...prepared].sort((x, y) => x.seq - y.seq);
    const neighbours = sorted.length > 0 ? [sorted[0]!.seq - 1, sorted.at(-1)!.seq + 1] : [];
    const maybeStored = [...prepared.map((p) => p.seq), ...neighbours].filter((seq) => seq >= 1 && seq <= log.lastSeq);
    const stored = await storedScansBySeq(tx, ctx.event.id, device.pk, [...new Set(maybeStored)]);
    // Cached copies (one read for the misses, no lock): whether a code is a ticket of the event never changes,
    // and the admission state is written below with a compare-and-set on the version these copies have.
    const ticketByDigest = await this.resolveCodes(ctx, prepared, tx);
    // The scans already holding the upload's scan_ids (a timed-out online attempt, or a scan that reused an id).
    const scanIds = prepared.flatMap((p) => (p.scanId ? [p.scanId] : []));
    const holders = await scansByScanId(tx, ctx.event.id, scanIds);

    // Re-uploads: same content is a replay (answered with its outcome), other content is tampering.
    const fresh: Prepared[] = [];
    const replays = new Map<number, { stored: StoredOfflineScan; identical: boolean }>();
    const seen = new Map<number, Prepared>();
    let tampered: string | null = null;
    for (const p of prepared) {
      const before = stored.get(p.seq) ?? (seen.has(p.seq) ? null : undefined);
      if (before === undefined) {
        fresh.push(p);
        seen.set(p.seq, p);
        continue;
      }
      if (before === null) {
        // The same seq twice in one upload: the first one counts, a different second one is tampering.
        const first = seen.get(p.seq)!;
        const identical = first.hash.equals(p.hash);
        if (!identical) tampered = `seq ${p.seq} appears twice in one upload with different content`;
        replays.set(p.index, { stored: { id: '', seq: p.seq, ticketId: null, payloadHashHex: first.hashHex, chainLinkHex: null, result: '', recordStatus: 'rejected', conflictReason: null, winnerScanId: null, scannedAt: first.scannedAt }, identical });
        continue;
      }
      const identical = before.payloadHashHex === p.hashHex;
      if (!identical) tampered = `seq ${p.seq} was already received with different content; the original is kept`;
      replays.set(p.index, { stored: before, identical });
    }

    // Integrity: one signature per upload for devices with a registered key.
    let integrity: 'chain' | 'unsigned' | 'failed' = 'unsigned';
    let integrityProblem: string | null = null;
    const links = new Map<number, Buffer>();
    if (req.integrityFailure && fresh.length > 0) {
      integrity = 'failed';
      integrityProblem = req.integrityFailure;
    } else if (req.verifiedLinks && fresh.length > 0) {
      integrity = 'chain';
      for (const [seq, link] of req.verifiedLinks) links.set(seq, link);
    } else if (device.publicKey && fresh.length > 0) {
      const run = sorted.filter((p, i, arr) => i === 0 || p.seq !== arr[i - 1]!.seq);
      const before = stored.get(run[0]!.seq - 1);
      const after = stored.get(run.at(-1)!.seq + 1);
      const check = verifyChain({
        eventId: ctx.event.id, deviceId: device.deviceId, publicKey: device.publicKey, hashes: run.map((p) => p.hash), seqs: run.map((p) => p.seq),
        prevLinkHex: body.integrity?.prev_link, headSignature: body.integrity?.head_signature,
        storedBefore: before?.chainLinkHex ? Buffer.from(before.chainLinkHex, 'hex') : null,
        storedAfter: after?.chainLinkHex && after.payloadHashHex ? { hash: Buffer.from(after.payloadHashHex, 'hex'), link: Buffer.from(after.chainLinkHex, 'hex') } : null,
      });
      if (check.ok) {
        integrity = 'chain';
        run.forEach((p, i) => links.set(p.seq, check.links[i]!));
      } else {
        integrity = 'failed';
        integrityProblem = check.reason;
      }
    }

    // Decide what each new scan is before the database sees it.
    const idLinks = scanIds.length > 0 ? linkScanIds(fresh, holders, device.pk, integrityProblem !== null) : NO_LINKS;
    const decided = new Map<number, Decided>();
    const rows: OfflineScanRow[] = [];
    const copies: OfflineCopy[] = [];
    let reused = 0;
    for (const p of fresh) {
      const ticket = p.digestHex ? ticketByDigest.get(p.digestHex) ?? null : null;
      const link = p.scanId ? idLinks.get(p.index) : undefined;
      const chainLinkHex = links.get(p.seq)?.toString('hex') ?? null;
      if (link?.kind === 'online') {
        // The offline copy of a scan received online (its answer never reached the device): one physical scan, one row.
        // The online row takes the copy's seq, hash and chain link, so replays and the chain find it.
        copies.push({ scanId: link.holder.id, seq: p.seq, payloadHashHex: p.hashHex, chainLinkHex, localResult: p.localResult });
        decided.set(p.index, { row: null, outcome: { kind: 'received_online', verdict: link.holder.recordStatus }, ticket, notice: null });
        continue;
      }
      const { outcome, result, reason, admits, recordStatus } = this.classify(ctx, p, ticket, integrityProblem, quarantineFrom);
      let notice: string | null = null;
      // The scan holding the id this one repeats. (A failed upload's scans are stored apart anyway, flagged for the integrity failure.)
      const h = link?.kind === 'reused' && integrityProblem === null ? link.holder : null;
      if (h) {
        reused++;
        const whose = h.devicePk !== device.pk ? 'belongs to another device\'s scan' : h.seq !== null ? `repeats seq ${h.seq}'s` : 'is an online scan\'s of another code';
        notice = `its scan_id ${whose}: ignored`;
      }
      const row: OfflineScanRow = {
        id: uuidv7(), seq: p.seq, ticketId: ticket?.id ?? null, digestHex: p.digestHex, result, reason, admits,
        direction: p.direction, gateId: p.gateId, scannedAt: p.scannedAt, localResult: p.localResult, payloadHashHex: p.hashHex,
        chainLinkHex, flags: h ? [...p.flags, 'scan_id_reused'] : p.flags, implausibleTime: p.implausibleTime, recordStatus,
        // Only a scan_id nobody holds is kept: one id, one physical scan (scans_physical_scan).
        clientScanId: link?.kind === 'claim' ? p.scanId : null,
      };
      rows.push(row);
      decided.set(p.index, { row, outcome, ticket, notice });
    }
    const inserted = await insertOfflineScans(tx, { eventId: ctx.event.id, devicePk: device.pk, deviceId: device.deviceId, sessionId, receivedAt, integrity, uncertaintyMs }, rows);
    if (copies.length > 0) for (const seq of await attachOfflineCopies(tx, ctx.event.id, sessionId, copies)) inserted.add(seq);
    // A revoked device's admissions (arriving through an import) go to the organisers' review inbox.
    await openQuarantineConflicts(tx, ctx.event.id, rows.filter((r) => r.recordStatus === 'quarantined' && r.admits && r.ticketId && inserted.has(r.seq))
      .map((r) => ({ ticketId: r.ticketId!, scanId: r.id })), receivedAt);

    // Reconcile every ticket a new candidate admission touches.
    const newCandidates = new Map<string, CandidateScan[]>();
    for (const r of rows) {
      if (r.recordStatus !== 'admitted' || !r.ticketId || !inserted.has(r.seq)) continue;
      const c: CandidateScan = {
        id: r.id, ticketId: r.ticketId, deviceId: device.deviceId, seq: r.seq, at: r.scannedAt, direction: r.direction, gateId: r.gateId,
        forced: false, uncertaintyMs: r.implausibleTime ? Infinity : uncertaintyMs, recordStatus: 'admitted', conflictReason: null, winnerScanId: null, ambiguous: false,
      };
      const list = newCandidates.get(r.ticketId);
      if (list) list.push(c);
      else newCandidates.set(r.ticketId, [c]);
    }
    const ticketById = new Map<string, LockedTicket>();
    for (const [hex, t] of ticketByDigest) {
      ticketById.set(t.id, t);
      digestById.set(t.id, hex);
    }
    const reconciled = await reconcileNewCandidates(tx, ctx, newCandidates, ticketById, new Set(rows.map((r) => r.id)), receivedAt, this.lockTickets);

    const marks = advanceMarks(log, inserted);
    let implausible = 0;
    for (const r of rows) if (r.implausibleTime) implausible++;
    const skewed = offset !== null && Math.abs(offset) > SKEW_FLAG_MS;
    const flags: string[] = [];
    if (tampered) flags.push('tampering');
    if (integrityProblem) flags.push('integrity');
    if (reused > 0) flags.push('scan_id_reused');
    if (implausible > 0) flags.push('implausible_time');
    if (skewed) flags.push('clock_skew');
    const flagReason = tampered ?? integrityProblem ?? (reused > 0 ? `${reused} scan(s) carried a scan_id that another scan holds` : null)
      ?? (skewed ? `device clock off by ${describeOffset(offset!)}` : null)
      ?? (implausible > 0 ? `${implausible} scan(s) timed more than a day outside the event` : null);

    const results = await this.results(tx, ctx, prepared, decided, replays, reconciled, tampered);
    const count = (st: SyncResultItem['sync_status']): number => results.filter((r) => r.sync_status === st).length;
    const summary = { total_uploaded: prepared.length, successful: count('synced'), duplicates: count('duplicate'), conflicts: count('conflict'), failed: count('failed') };
    await saveDeviceLog(tx, ctx.event.id, device.pk, {
      ...marks, addReceived: inserted.size, addImplausible: implausible, flags, flagReason, clockOffsetMs: offset ?? log.clockOffsetMs ?? 0, at: receivedAt,
      success: true, sessionId, reportedLastSeq: body.device_last_seq ?? null,
    }, { uploaded: summary.total_uploaded, successful: summary.successful, failed: summary.failed, duplicates: summary.duplicates, conflicts: summary.conflicts });
    // LIVE (branch live, issue 13): what the live stream shows of each stored scan; the sync branch publishes its own — keep one.
    const live: LiveScan[] = rows.filter((r) => inserted.has(r.seq)).map((r) => ({
      scanId: r.id, at: r.scannedAt, receivedAt, gateId: r.gateId, deviceId: device.deviceId, staffId: null, direction: r.direction,
      verdict: r.result, reason: r.reason, offline: true, ticketId: r.ticketId,
    }));
    return { sessionId, marks, results, summary, reconciled, digestById, live };
  }

  /** After the commit: this instance's ticket cache, the other instances, and the answer. */
  private finish(b: Begun, a: Applied): SyncResponse {
    this.remember(b.ctx, a.digestById, a.reconciled);
    this.publish(b.ctx, a.reconciled);
    // LIVE (branch live, issue 13): one message per upload after the commit; the sync branch publishes its own — keep one.
    if (a.live && a.live.length > 0) this.bus.publish({ type: 'scans_recorded', eventId: b.ctx.event.id, scans: a.live });
    this.stats?.recordWrites('scans', a.summary.total_uploaded - a.summary.duplicates);
    return {
      status: 200,
      message: 'Sync completed',
      summary: a.summary,
      results: a.results,
      sync_session_id: a.sessionId,
      synced_at: new Date(b.receivedAt).toISOString(),
      server_time: b.receivedAt,
      acked_through: a.marks.ackedThrough,
      last_seq: a.marks.lastSeq,
      missing: a.marks.missing,
      clock_offset_ms: b.offset,
    };
  }

  private prepare(
    ctx: EventContext, gates: EventContext, device: DeviceRecord, s: SyncBody['scans'][number], index: number, receivedAt: number, offset: number | null,
    clockImplausible: boolean,
  ): Prepared {
    const direction = s.direction ?? 'entry';
    const gateId = s.gate_id ?? null;
    const localResult = s.local_result === undefined ? 'valid' : s.local_result;
    const scanId = s.scan_id ?? null;
    const hash = payloadHash(ctx.event.id, device.deviceId, { seq: s.seq, qrcode: s.qrcode, scannedAt: s.scanned_at, direction, gateId, localResult, scanId });
    const flags: string[] = [];
    const serverTime = s.scanned_at - (offset ?? 0);
    if (serverTime > receivedAt + FUTURE_TOLERANCE_MS) flags.push('future');
    if (serverTime < ctx.event.startsAt - DAY_MS || serverTime > ctx.event.endsAt + DAY_MS) flags.push('outside_event');
    if (offset !== null && Math.abs(offset) > SKEW_FLAG_MS) flags.push('clock_skew');
    // Ordering uses the device's time as recorded: a clock a day off, or a time a day outside the event, cannot be trusted to order it.
    const implausibleTime = clockImplausible || s.scanned_at < ctx.event.startsAt - IMPLAUSIBLE_MS || s.scanned_at > ctx.event.endsAt + IMPLAUSIBLE_MS;
    if (implausibleTime) flags.push('implausible_time');
    const knownGate = gateId !== null && gates.gates.has(gateId);
    if (gateId && !knownGate) flags.push('unknown_gate');
    const p: Prepared = {
      index, qrcode: s.qrcode, seq: s.seq, scannedAt: s.scanned_at, direction, gateId: knownGate ? gateId : null, localResult, scanId,
      hash, hashHex: hash.toString('hex'), flags, implausibleTime, digestHex: null, eventCode: null, codeProblem: null, unparsed: false,
    };
    // Decoding a signed code (base32, frame) was ~4% of the server's CPU on a sync burst; its keyed digest alone
    // finds its ticket. Whatever that does not settle is parsed after the lookup.
    const signedText = signedCodeText(s.qrcode);
    if (signedText !== null) {
      p.digestHex = ctx.digest(signedText).toString('hex');
      p.unparsed = true;
    } else {
      this.parseCode(ctx, p);
    }
    return p;
  }

  /** Core's classifier (as the online scan and the scanners): no query, and the ticket then looked up by digest. */
  private parseCode(ctx: EventContext, p: Prepared): void {
    p.unparsed = false;
    p.digestHex = null;
    const code = readScannedCode(p.qrcode, ctx.codeScope, nodeVerifier);
    if (code.kind === 'unreadable' || code.kind === 'other_event') {
      p.codeProblem = code.refusal;
    } else {
      p.eventCode = code;
      p.digestHex = ctx.digest(code.text).toString('hex');
    }
  }

  /**
   * The tickets of the upload's codes: one cached lookup by digest, then, for
   * the codes keyed by their signed spelling that did not turn out to be a
   * signed ticket's (unknown, another event's, forged, or an imported code
   * that merely starts with "EN"), the full parse and one more lookup for the
   * digests that changed. A digest that matches a signed ticket's is that
   * ticket's code: the parse would have given the same text and this event.
   */
  private async resolveCodes(ctx: EventContext, prepared: Prepared[], tx: Sql): Promise<Map<string, TicketRecord>> {
    const digests = new Set(prepared.flatMap((p) => (p.digestHex ? [p.digestHex] : [])));
    const found = await this.tickets.findMany(ctx.event.id, [...digests], tx);
    const unsettled = prepared.filter((p) => p.unparsed && found.get(p.digestHex!)?.codeKind !== 'signed');
    if (unsettled.length === 0) return found;
    for (const p of unsettled) this.parseCode(ctx, p);
    const more = [...new Set(unsettled.flatMap((p) => (p.digestHex && !digests.has(p.digestHex) ? [p.digestHex] : [])))];
    if (more.length > 0) for (const [hex, t] of await this.tickets.findMany(ctx.event.id, more, tx)) found.set(hex, t);
    return found;
  }

  private classify(ctx: EventContext, p: Prepared, ticket: LockedTicket | null, integrityProblem: string | null, quarantineFrom: number | null): Classified {
    const local = p.localResult ?? 'valid';
    const admits = local === 'valid';
    if (integrityProblem) return failedScan(admits, 422, `Integrity check failed: ${integrityProblem}`, local);
    // A code the classifier refused, or one of this event whose look-up missed (a genuine code with no ticket, or a forged one).
    // (A code still keyed by its signed spelling has a ticket here: resolveCodes classified the others.)
    const refusal = p.codeProblem ?? (ticket ? null : p.eventCode ? unmatchedCode(p.eventCode, ctx.codeScope, nodeVerifier) : NOT_FOUND);
    if (refusal) return failedScan(admits, REFUSAL_STATUS[refusal.reason], REFUSAL_MESSAGE[refusal.reason], refusal.result, refusal.reason);
    if (quarantineFrom !== null && p.scannedAt >= quarantineFrom) {
      return { outcome: { kind: 'failed', status: 403, message: 'Device revoked: scan quarantined for review' }, result: local, reason: 'quarantined', admits, recordStatus: 'quarantined' };
    }
    if (!admits) return { outcome: { kind: 'recorded', message: `Recorded (refused at the gate: ${local})` }, result: local, reason: 'refused_offline', admits, recordStatus: 'rejected' };
    // Provisionally admitted; the replay decides the admission of record.
    return { outcome: { kind: 'candidate' }, result: local, reason: 'admitted_offline', admits, recordStatus: 'admitted' };
  }

  private async results(
    tx: Sql, ctx: EventContext, prepared: Prepared[],
    decided: Map<number, Decided>,
    replays: Map<number, { stored: StoredOfflineScan; identical: boolean }>,
    reconciled: Map<string, ReconciledTicket>,
    tampered: string | null,
  ): Promise<SyncResultItem[]> {
    const verdictOf = new Map<string, { status: 'admitted' | 'conflict'; reason: VerdictReason | null; winner: string | null; ambiguous: boolean }>();
    for (const r of reconciled.values()) {
      for (const id of r.admitted) verdictOf.set(id, ADMITTED);
      for (const c of r.conflicts) verdictOf.set(c.id, { status: 'conflict', reason: c.conflictReason, winner: c.winnerScanId, ambiguous: c.ambiguous });
    }
    // A winner is one of its ticket's candidates, which the replay had in hand: no need to read it back.
    const winners = new Map<string, { deviceId: string; scannedAt: number; gateId: string | null }>();
    for (const r of reconciled.values()) for (const [id, w] of r.winners) winners.set(id, w);
    const items: SyncResultItem[] = [];
    for (const p of prepared) {
      const replay = replays.get(p.index);
      if (replay) {
        items.push(replay.identical
          ? { qrcode: p.qrcode, seq: p.seq, status: 200, message: 'Already synced by this device', sync_status: 'duplicate', verdict: replay.stored.recordStatus }
          : { qrcode: p.qrcode, seq: p.seq, status: 409, message: tampered ?? 'Different content for an already received seq', sync_status: 'failed', reason: 'tampering' });
        continue;
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
          const verdict: Verdict = { result: 'duplicate', reason: v.reason ?? 'already_used', admits: false,
            previous: winner ? { at: winner.scannedAt, direction: 'entry', deviceId: winner.deviceId, gateId: winner.gateId } : undefined };
          const name = winner ? await this.devices.name(ctx.event.organisationId, winner.deviceId, tx) : undefined;
          const message = describeVerdict(verdict, { timezone: ctx.event.timezone, now: p.scannedAt, gateName: (id) => ctx.gates.get(id)?.name });
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
      items.push(it);
    }
    return items;
  }

  /**
   * Runs the upload's transaction, again when it lost a race that a second
   * run settles: a deadlock between two uploads whose compare-and-set and
   * locked tickets cross (PostgreSQL aborts one), or an online request of a
   * scan in the upload (same scan_id) that committed between the lookup and
   * the insert (the next run finds its row). Nothing of a failed run is
   * applied. scans_device_seq cannot be violated under the device log's lock:
   * if it is, that invariant broke (a 500, not a retry).
   */
  private async inTransaction<T>(run: (tx: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(run);
      } catch (err) {
        const code = pgErrorCode(err);
        if (code === PG_DEADLOCK && attempt < DEADLOCK_ATTEMPTS) continue;
        if (code === PG_UNIQUE_VIOLATION && pgConstraint(err) === 'scans_physical_scan') {
          if (attempt < DEADLOCK_ATTEMPTS) continue;
          throw new DomainError('UNAVAILABLE', 'A scan in this upload is being received online right now; nothing was applied, retry the upload', undefined, { 'retry-after': '1' });
        }
        throw err;
      }
    }
  }

  /** This instance's cached copies of the tickets it wrote by compare-and-set become the rows it wrote (after the commit). */
  private remember(ctx: EventContext, digestById: ReadonlyMap<string, string>, reconciled: Map<string, ReconciledTicket>): void {
    for (const r of reconciled.values()) {
      const digestHex = digestById.get(r.ticketId);
      if (r.version === undefined || r.casFrom === undefined || !digestHex) continue;
      this.tickets.advance(ctx.event.id, digestHex, r.casFrom, r.state, r.version);
    }
  }

  /** One message per upload, not one per ticket (with Redis, one PUBLISH instead of hundreds). */
  private publish(ctx: EventContext, reconciled: Map<string, ReconciledTicket>): void {
    const ticketIds: string[] = [];
    const versions: number[] = [];
    for (const r of reconciled.values()) {
      if (r.version === undefined) continue;
      ticketIds.push(r.ticketId);
      versions.push(r.version);
    }
    if (ticketIds.length > 0) this.bus.publish({ type: 'tickets_changed', eventId: ctx.event.id, ticketIds, versions });
  }
}

interface Classified { outcome: Outcome; result: string; reason: string; admits: boolean; recordStatus: RecordStatus }

/** A clock offset in words: seconds up to an hour, then hours up to two days, then days. */
function describeOffset(offsetMs: number): string {
  const a = Math.abs(offsetMs);
  const size = a < 3_600_000 ? `${Math.round(a / 1000)} s` : a < 2 * DAY_MS ? `${Math.round(a / 3_600_000)} h` : `${Math.round(a / DAY_MS)} days`;
  return `${size} (${offsetMs < 0 ? 'behind' : 'ahead'})`;
}

/** How the upload's answer words a code the classifier refused. */
const REFUSAL_STATUS: Record<CodeRefusal['reason'], number> = { malformed_code: 400, wrong_event: 422, unknown_code: 404, bad_signature: 404, unknown_key: 404 };
const REFUSAL_MESSAGE: Record<CodeRefusal['reason'], string> = {
  malformed_code: 'Invalid ticket — unreadable code', wrong_event: 'Ticket is for another event', unknown_code: 'Ticket not found',
  bad_signature: 'Invalid ticket — forged or damaged code', unknown_key: 'Invalid ticket — forged or damaged code',
};
const NOT_FOUND: CodeRefusal = { result: 'invalid_token', reason: 'unknown_code' };

/**
 * A scan stored as failed. A module function rather than a closure in
 * classify: the server runs under tsx, whose esbuild output names every
 * closure it creates (a defineProperty per scan, ~1% of a sync burst's CPU).
 */
function failedScan(admits: boolean, status: number, message: string, result: string, reason = 'failed'): Classified {
  return { outcome: { kind: 'failed', status, message }, result, reason, admits, recordStatus: 'failed' };
}

/** A ticket's replay, with the new version written when its row changed. */
export type ReconciledTicket = TicketReconciliation & {
  version?: number;
  /** Written by compare-and-set from this version (the cached copy's). */
  casFrom?: number;
};

/**
 * Reconciles the tickets an upload added candidate admissions to. The usual
 * case, a ticket nobody has admitted yet (version 0, so no candidate stored by
 * another transaction), is replayed from this upload's candidates alone and
 * written with a compare-and-set on version 0, without reading or locking the
 * row first. A ticket whose copy is older than the row, or that someone
 * admitted already, is reconciled under its row lock from all its stored
 * candidates (this transaction's included). Every upload that stores a
 * candidate bumps the ticket's version, so of two uploads racing on one
 * ticket the second one's compare-and-set fails and it replays both.
 */
export async function reconcileNewCandidates(
  tx: Sql, ctx: EventContext, newCandidates: ReadonlyMap<string, CandidateScan[]>, known: ReadonlyMap<string, LockedTicket>,
  newScanIds: Set<string>, at: number, guard: boolean,
): Promise<Map<string, ReconciledTicket>> {
  const out = new Map<string, ReconciledTicket>();
  const fast: ReconciledTicket[] = [];
  const slow: string[] = [];
  for (const [ticketId, scans] of newCandidates) {
    const ticket = known.get(ticketId);
    const type = ticket ? ctx.types.get(ticket.typeId) : undefined;
    if (!ticket || !type || ticket.version !== 0) {
      slow.push(ticketId);
      continue;
    }
    const r: ReconciledTicket = reconcileTicket(ctx, ticket, type, scans);
    r.casFrom = 0;
    fast.push(r);
  }
  const written = await compareAndSetTicketStates(tx, ctx.event.id, fast.map((r) => ({ ticketId: r.ticketId, expectedVersion: 0, state: r.state })), guard);
  const settled: ReconciledTicket[] = [];
  for (const r of fast) {
    const version = written.get(r.ticketId);
    if (version === undefined) {
      slow.push(r.ticketId);
      continue;
    }
    r.version = version;
    out.set(r.ticketId, r);
    settled.push(r);
  }
  // Verdicts and conflicts among one upload's own candidates (the same ticket twice in a batch): rare.
  const verdicts = settled.flatMap((r) => r.changes.map((c) => ({ ...c, isNew: newScanIds.has(c.id) })));
  const conflicts = settled.flatMap((r) => r.conflicts.map((c) => ({ ...c, ticketId: r.ticketId })));
  if (verdicts.length > 0 || conflicts.length > 0) await applyReconciliation(tx, ctx.event.id, { verdicts, states: [], conflicts, voidLosers: [], at });
  if (slow.length > 0) for (const [id, r] of await reconcileTickets(tx, ctx, slow, newScanIds, at, guard)) out.set(id, r);
  return out;
}

/** One scan's answer, built field by field: on Node 20 an object spread followed by more properties costs ~1 µs per property. */
function resultItem(
  p: Prepared, ticket: LockedTicket | null, type: { name: string } | undefined, status: number, message: string, syncStatus: SyncResultItem['sync_status'],
): SyncResultItem {
  const it: SyncResultItem = { qrcode: p.qrcode, seq: p.seq, status, message, sync_status: syncStatus };
  if (ticket) {
    it.ticket_id = ticket.id;
    it.number = ticket.number;
  }
  if (type) it.type = type.name;
  return it;
}

/**
 * Locks the given tickets (id order), replays all their stored candidate
 * admissions and writes what changed: scan verdicts of record, ticket states
 * and conflicts. A ticket that got candidates but no new state is still
 * written, so that "version 0 means no candidate admission stored" stays true
 * (reconcileNewCandidates relies on it).
 */
export async function reconcileTickets(
  tx: Sql, ctx: EventContext, ticketIds: string[], newScanIds: Set<string>, at: number, lock = true,
): Promise<Map<string, ReconciledTicket>> {
  const out = new Map<string, ReconciledTicket>();
  if (ticketIds.length === 0) return out;
  const tickets = await lockTicketsById(tx, ctx.event.id, ticketIds, lock);
  const candidates = await candidateScans(tx, ctx.event.id, tickets.map((t) => t.id));
  const byTicket = new Map<string, CandidateScan[]>();
  for (const c of candidates) {
    const list = byTicket.get(c.ticketId);
    if (list) list.push(c);
    else byTicket.set(c.ticketId, [c]);
  }
  const writes: Array<{ ticketId: string; state: TicketScanState }> = [];
  for (const ticket of tickets) {
    const type = ctx.types.get(ticket.typeId);
    if (!type) continue;
    const scans = byTicket.get(ticket.id) ?? [];
    const r: ReconciledTicket = reconcileTicket(ctx, ticket, type, scans);
    out.set(ticket.id, r);
    // Keeps "version 0 means no candidate admission" true when every candidate lost (wrong gate, cancelled…).
    if (r.stateChanged || (ticket.version === 0 && scans.length > 0)) writes.push({ ticketId: r.ticketId, state: r.state });
  }
  const all = [...out.values()];
  const versions = await applyReconciliation(tx, ctx.event.id, {
    verdicts: all.flatMap((r) => r.changes.map((c) => ({ ...c, isNew: newScanIds.has(c.id) }))),
    states: writes,
    conflicts: all.flatMap((r) => r.conflicts.map((c) => ({ ...c, ticketId: r.ticketId }))),
    voidLosers: all.flatMap((r) => r.revived),
    at,
  });
  for (const [id, version] of versions) out.get(id)!.version = version;
  return out;
}
