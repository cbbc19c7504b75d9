import {
  MAX_SYNC_SCANS,
  readScannedCode,
  signedCodeText,
  unmatchedCode,
  type SyncBody,
  type SyncResponse,
} from '@entrada/core';
import {
  pgConstraint,
  pgErrorCode,
  PG_DEADLOCK,
  PG_UNIQUE_VIOLATION,
  type Database,
  type Sql,
} from '../../db/database.ts';
import { nodeVerifier } from '../../crypto/ed25519-node.ts';
import { DomainError, invalid, notFound } from '../errors.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import type { TicketRecord } from '../../store/tickets.ts';
import { openQuarantineConflicts } from '../../store/conflicts.ts';
import { lockDeviceLog, saveDeviceLog, type DeviceLogRow } from '../../store/device-logs.ts';
import {
  attachOfflineCopies,
  insertOfflineScans,
  scansByScanId,
  storedScansBySeq,
  unsequencedScansAt,
  type ScanIdHolder,
  type StoredOfflineScan,
} from '../../store/offline-scans.ts';
import { openSyncSession } from '../../store/sync-sessions.ts';
import { staffOfEvent } from '../../store/staff.ts';
import type { Bus, LiveScan } from '../bus.ts';
import { conflictsOpened, notifyNothing, type Notify } from '../notifications.ts';
import type { EventContext, EventContexts } from '../event-context.ts';
import type { DeviceDirectory } from '../device-directory.ts';
import { assertDeviceEvent } from '../device-service.ts';
import type { CachedCopy, TicketCache } from '../ticket-cache.ts';
import type { TableStats } from '../table-stats.ts';
import { payloadHashHex, unsequencedIdentity } from './integrity.ts';
import { openedConflictIds, reconcileNewCandidates, type ReconciledTicket } from './reconciliation.ts';
import { advanceMarks, type SeqMarks } from './seq-ranges.ts';
import { answerUpload, winnerDevices, type UploadAnswer } from './sync-answer.ts';
import {
  BASE_CLOCK_UNCERTAINTY_MS,
  DAY_MS,
  SKEW_FLAG_MS,
  planUpload,
  type PreparedScan,
  type UploadPlan,
} from './sync-plan.ts';

const FUTURE_TOLERANCE_MS = 60_000;
/**
 * Beyond this a scan's time cannot be trusted to order it (its device clock
 * was off by more than a day at upload, or the time lies more than a day
 * outside the event): it is stored and flagged `implausible_time`, with an
 * unbounded clock uncertainty, so every decision involving it is ambiguous.
 */
const IMPLAUSIBLE_MS = DAY_MS;
/** Two uploads whose compare-and-set and locked tickets cross can deadlock; PostgreSQL aborts one, which is run again. */
const DEADLOCK_ATTEMPTS = 3;

/** An upload worked out before its transaction (see SyncService.begin). */
interface Begun {
  req: SyncRequest;
  ctx: EventContext;
  receivedAt: number;
  offset: number | null;
  uncertaintyMs: number;
  prepared: PreparedScan[];
  quarantineFrom: number | null;
}

/** What the read step found, under the device log's lock. */
interface Read {
  sessionId: string;
  log: DeviceLogRow;
  stored: Map<number, StoredOfflineScan>;
  ticketByDigest: Map<string, TicketRecord>;
  /** This instance's cached copies of those tickets, by id: what the commit advances (see remember). */
  copies: Map<string, CachedCopy>;
  holders: Map<string, ScanIdHolder>;
  knownStaff: Set<string>;
  unsequencedByTicket: Map<string, { recordStatus: string }>;
}

/** What an upload's transaction stored and decided. */
interface Applied {
  sessionId: string;
  marks: SeqMarks;
  answer: UploadAnswer;
  reconciled: Map<string, ReconciledTicket>;
  copies: Map<string, CachedCopy>;
  /** The scans stored, as the live stream shows them; the conflicts opened. Published after the commit. */
  live: LiveScan[];
  openedConflicts: string[];
}

export interface SyncRequest {
  device: DeviceRecord;
  body: SyncBody;
  /** Links (hex) of a chain already verified over a whole imported log (one signature for all its chunks). */
  verifiedLinks?: Map<number, string> | undefined;
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
    /** Webhooks: conflict.opened, queued in the upload's transaction. */
    private readonly notify: Notify = notifyNothing,
  ) {}

  async upload(req: SyncRequest): Promise<SyncResponse> {
    return (await this.uploadAll([req]))[0]!;
  }

  /**
   * Uploads of one device in one transaction: all stored, or none (an
   * imported log's chunks; a failure in the last chunk must not leave the
   * first ones applied).
   */
  async uploadAll(reqs: readonly SyncRequest[]): Promise<SyncResponse[]> {
    const begun: Begun[] = [];
    for (const req of reqs) begun.push(await this.begin(req));
    const applied = await this.inTransaction(async (tx) => {
      const out: Applied[] = [];
      for (const b of begun) out.push(await this.apply(tx, b));
      // The outbox: the conflicts' webhooks commit with the scans that opened them (one statement for the call).
      await this.notify(
        tx,
        begun.flatMap((b, i) => conflictsOpened(b.ctx.event, out[i]!.openedConflicts, b.receivedAt)),
      );
      return out;
    });
    return begun.map((b, i) => this.finish(b, applied[i]!));
  }

  /** Everything decided before the transaction: the checks that need no database, the event, and each scan's hash, flags and code. */
  private async begin(req: SyncRequest): Promise<Begun> {
    const { device, body } = req;
    if (body.device_id !== device.deviceId)
      throw new DomainError('FORBIDDEN', 'device_id does not match the device token');
    if (body.scans.length > MAX_SYNC_SCANS) {
      throw new DomainError(
        'PAYLOAD_TOO_LARGE',
        `At most ${MAX_SYNC_SCANS} scans per upload; split the batch (nothing was applied)`,
      );
    }
    const ctx = await this.contexts.get(body.event_id);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, ctx.event.id);
    body.scans.forEach((s, i) => {
      if (s.seq !== undefined) return;
      // A keyed device chains and signs every scan by its seq: without one, its integrity cannot be checked.
      if (device.publicKey) throw invalid(`/scans/${i}/seq is required for a device registered with a public key`);
      // An unsequenced scan's identity is (device, qrcode, scanned_at); the scan_id of an online attempt needs a seq to be linked.
      if (s.scan_id !== undefined) throw invalid(`/scans/${i}/scan_id needs /scans/${i}/seq`);
    });

    const receivedAt = this.now();
    const offset = body.device_time === undefined ? null : body.device_time - receivedAt;
    const clockImplausible = offset !== null && Math.abs(offset) > IMPLAUSIBLE_MS;
    // Bounded (a day's offset gives 2.4 h); an implausible scan's uncertainty is unbounded instead (see IMPLAUSIBLE_MS).
    const uncertaintyMs = BASE_CLOCK_UNCERTAINTY_MS + Math.round(Math.min(Math.abs(offset ?? 0), IMPLAUSIBLE_MS) / 10);
    let gates = ctx;
    if (body.scans.some((s) => s.gate_id && !ctx.gates.has(s.gate_id)))
      gates = (await this.contexts.refresh(ctx.event.id)) ?? ctx;
    const prepared = body.scans.map((s, index) =>
      this.prepare(ctx, gates, device, s, index, receivedAt, offset, clockImplausible),
    );
    const quarantineFrom = device.status === 'revoked' ? device.statusChangedAt : null;
    return { req, ctx, receivedAt, offset, uncertaintyMs, prepared, quarantineFrom };
  }

  /**
   * One upload's statements (a constant number, whatever its size), in four
   * steps: read what the upload's decisions depend on, plan them (a pure
   * function: sync-plan.ts), write the rows and replay the tickets they touch
   * (reconciliation.ts), and word the answer (sync-answer.ts), whose counts the
   * device log's session records last. Run again as a whole when its
   * transaction is retried.
   */
  private async apply(tx: Sql, b: Begun): Promise<Applied> {
    const read = await this.read(tx, b);
    const plan = this.plan(b, read);
    return this.write(tx, b, read, plan);
  }

  /** Read: the session, the device log (locked), the batch's stored seqs, its tickets, the holders of its scan_ids, its staff. */
  private async read(tx: Sql, b: Begun): Promise<Read> {
    const {
      req: { device },
      ctx,
      receivedAt,
      prepared,
    } = b;
    const sessionId = await openSyncSession(tx, {
      eventId: ctx.event.id,
      devicePk: device.pk,
      token: b.req.body.session_token,
      at: receivedAt,
    });
    const log = await lockDeviceLog(tx, ctx.event.id, device.pk);
    // The batch's seqs already stored, and its chain neighbours. Under the device log's lock no seq above
    // the log's last_seq is stored (every seq'd insert advances it in the same transaction), so a fresh
    // upload only reads the link before it.
    let lo = Infinity;
    let hi = -Infinity;
    const seqs: number[] = [];
    for (const p of prepared) {
      if (p.seq === null) continue;
      seqs.push(p.seq);
      if (p.seq < lo) lo = p.seq;
      if (p.seq > hi) hi = p.seq;
    }
    const neighbours = seqs.length > 0 ? [lo - 1, hi + 1] : [];
    const maybeStored = [...seqs, ...neighbours].filter((seq) => seq >= 1 && seq <= log.lastSeq);
    const stored = await storedScansBySeq(tx, ctx.event.id, device.pk, [...new Set(maybeStored)]);
    // Cached copies (one read for the misses, no lock): whether a code is a ticket of the event never changes,
    // and the admission state is written below with a compare-and-set on the version these copies have.
    const copies = new Map<string, CachedCopy>();
    const ticketByDigest = await this.resolveCodes(ctx, prepared, tx, copies);
    // The scans already holding the upload's scan_ids (a timed-out online attempt, or a scan that reused an id), and
    // its unsequenced scans' identities (stored before: a re-upload).
    const scanIds = prepared.flatMap((p) => (p.scanId ? [p.scanId] : p.identity ? [p.identity] : []));
    const holders = await scansByScanId(tx, ctx.event.id, scanIds);
    // This device's unsequenced scans of the same tickets at the same instants (one ticket, one device, one ms: one scan).
    const ticketTimes = prepared.flatMap((p) => {
      const t = p.seq === null && p.digestHex ? ticketByDigest.get(p.digestHex) : undefined;
      return t ? [{ ticketId: t.id, at: p.scannedAt }] : [];
    });
    const unsequencedByTicket = await unsequencedScansAt(tx, ctx.event.id, device.pk, ticketTimes);
    const staffIds = prepared.flatMap((p) => (p.staffId ? [p.staffId] : []));
    const knownStaff = await staffOfEvent(tx, ctx.event.id, staffIds);
    return { sessionId, log, stored, ticketByDigest, copies, holders, knownStaff, unsequencedByTicket };
  }

  /** Plan: every decision the replay of the tickets does not make (pure). */
  private plan(b: Begun, read: Read): UploadPlan {
    const { req, ctx } = b;
    return planUpload({
      eventId: ctx.event.id,
      device: { pk: req.device.pk, deviceId: req.device.deviceId, publicKey: req.device.publicKey ?? null },
      integrity: req.body.integrity,
      prepared: b.prepared,
      stored: read.stored,
      ticketByDigest: read.ticketByDigest,
      holders: read.holders,
      knownStaff: read.knownStaff,
      unsequencedByTicket: read.unsequencedByTicket,
      verifiedLinks: req.verifiedLinks,
      integrityFailure: req.integrityFailure,
      quarantineFrom: b.quarantineFrom,
      offset: b.offset,
      uncertaintyMs: b.uncertaintyMs,
      unmatched: (code) => unmatchedCode(code, ctx.codeScope, nodeVerifier),
    });
  }

  /** Write: the rows (one COPY), the online rows that uploaded copies are of, review conflicts, the replay; then the answer and the device log. */
  private async write(tx: Sql, b: Begun, read: Read, plan: UploadPlan): Promise<Applied> {
    const {
      req: { device, body },
      ctx,
      receivedAt,
      offset,
      uncertaintyMs,
    } = b;
    const { sessionId, log } = read;
    const inserted = await insertOfflineScans(
      tx,
      {
        eventId: ctx.event.id,
        devicePk: device.pk,
        deviceId: device.deviceId,
        sessionId,
        receivedAt,
        integrity: plan.integrity,
        uncertaintyMs,
      },
      plan.rows,
    );
    if (plan.copies.length > 0)
      for (const seq of await attachOfflineCopies(tx, ctx.event.id, sessionId, plan.copies)) inserted.add(seq);
    const openedConflicts = await openQuarantineConflicts(tx, ctx.event.id, plan.quarantined, receivedAt);

    const ticketById = new Map<string, TicketRecord>();
    for (const t of read.ticketByDigest.values()) ticketById.set(t.id, t);
    const reconciled = await reconcileNewCandidates(
      tx,
      ctx,
      plan.candidates,
      ticketById,
      new Set(plan.rows.map((r) => r.id)),
      receivedAt,
      this.lockTickets,
    );
    openedConflicts.push(...openedConflictIds(reconciled.values()));

    // The winners' device names (cached), read before the answer so that wording it needs nothing else.
    const deviceNames = new Map<string, string | undefined>();
    for (const id of winnerDevices(reconciled))
      deviceNames.set(id, await this.devices.name(ctx.event.organisationId, id, tx));
    const answer = answerUpload(ctx, b.prepared, plan, reconciled, deviceNames);

    const marks = advanceMarks(log, inserted);
    const { summary } = answer;
    await saveDeviceLog(
      tx,
      ctx.event.id,
      device.pk,
      {
        ...marks,
        addReceived: inserted.size + plan.rows.filter((r) => r.seq === null).length,
        addImplausible: plan.implausible,
        flags: plan.logFlags,
        flagReason: plan.flagReason,
        clockOffsetMs: offset ?? log.clockOffsetMs ?? 0,
        at: receivedAt,
        success: true,
        sessionId,
        reportedLastSeq: body.device_last_seq ?? null,
      },
      {
        uploaded: summary.total_uploaded,
        successful: summary.successful,
        failed: summary.failed,
        duplicates: summary.duplicates,
        conflicts: summary.conflicts,
      },
    );
    return {
      sessionId,
      marks,
      answer,
      reconciled,
      copies: read.copies,
      live: liveScans(b, plan, reconciled),
      openedConflicts,
    };
  }

  /** After the commit: this instance's ticket cache, the other instances, and the answer. */
  private finish(b: Begun, a: Applied): SyncResponse {
    this.remember(a.copies, a.reconciled);
    this.publish(b.ctx, a);
    this.stats?.recordWrites('scans', a.answer.summary.total_uploaded - a.answer.summary.duplicates);
    return {
      status: 200,
      message: 'Sync completed',
      summary: a.answer.summary,
      results: a.answer.results,
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
    ctx: EventContext,
    gates: EventContext,
    device: DeviceRecord,
    s: SyncBody['scans'][number],
    index: number,
    receivedAt: number,
    offset: number | null,
    clockImplausible: boolean,
  ): PreparedScan {
    const direction = s.direction ?? 'entry';
    const gateId = s.gate_id ?? null;
    const localResult = s.local_result === undefined ? 'valid' : s.local_result;
    const scanId = s.scan_id ?? null;
    const seq = s.seq ?? null;
    // An unsequenced scan is hashed as seq 0 (no chain: only a keyless device sends one; the hash is its stored fingerprint).
    const hashHex = payloadHashHex(ctx.event.id, device.deviceId, {
      seq: seq ?? 0,
      qrcode: s.qrcode,
      scannedAt: s.scanned_at,
      direction,
      gateId,
      localResult,
      scanId,
    });
    const flags: string[] = [];
    const serverTime = s.scanned_at - (offset ?? 0);
    if (serverTime > receivedAt + FUTURE_TOLERANCE_MS) flags.push('future');
    if (serverTime < ctx.event.startsAt - DAY_MS || serverTime > ctx.event.endsAt + DAY_MS) flags.push('outside_event');
    if (offset !== null && Math.abs(offset) > SKEW_FLAG_MS) flags.push('clock_skew');
    // Ordering uses the device's time as recorded: a clock a day off, or a time a day outside the event, cannot be trusted to order it.
    const implausibleTime =
      clockImplausible ||
      s.scanned_at < ctx.event.startsAt - IMPLAUSIBLE_MS ||
      s.scanned_at > ctx.event.endsAt + IMPLAUSIBLE_MS;
    if (implausibleTime) flags.push('implausible_time');
    const knownGate = gateId !== null && gates.gates.has(gateId);
    if (gateId && !knownGate) flags.push('unknown_gate');
    const p: PreparedScan = {
      index,
      qrcode: s.qrcode,
      seq,
      identity: seq === null ? unsequencedIdentity(ctx.event.id, device.deviceId, s.qrcode, s.scanned_at) : null,
      scannedAt: s.scanned_at,
      direction,
      gateId: knownGate ? gateId : null,
      localResult,
      scanId,
      staffId: s.staff_id ?? null,
      hashHex,
      flags,
      implausibleTime,
      digestHex: null,
      eventCode: null,
      codeProblem: null,
      unparsed: false,
    };
    // Decoding a signed code (base32, frame) was ~4% of the server's CPU on a sync burst; its keyed digest alone
    // finds its ticket. Whatever that does not settle is parsed after the lookup.
    const signedText = signedCodeText(s.qrcode);
    if (signedText !== null) {
      p.digestHex = ctx.digestHex(signedText);
      p.unparsed = true;
    } else {
      this.parseCode(ctx, p);
    }
    return p;
  }

  /** Core's classifier (as the online scan and the scanners): no query, and the ticket then looked up by digest. */
  private parseCode(ctx: EventContext, p: PreparedScan): void {
    p.unparsed = false;
    p.digestHex = null;
    const code = readScannedCode(p.qrcode, ctx.codeScope, nodeVerifier);
    if (code.kind === 'unreadable' || code.kind === 'other_event') {
      p.codeProblem = code.refusal;
    } else {
      p.eventCode = code;
      p.digestHex = ctx.digestHex(code.text);
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
  private async resolveCodes(
    ctx: EventContext,
    prepared: PreparedScan[],
    tx: Sql,
    copies: Map<string, CachedCopy>,
  ): Promise<Map<string, TicketRecord>> {
    const digests = new Set(prepared.flatMap((p) => (p.digestHex ? [p.digestHex] : [])));
    const found = await this.tickets.findMany(ctx.event.id, [...digests], tx, copies);
    const unsettled = prepared.filter((p) => p.unparsed && found.get(p.digestHex!)?.codeKind !== 'signed');
    if (unsettled.length === 0) return found;
    for (const p of unsettled) this.parseCode(ctx, p);
    const more = [
      ...new Set(unsettled.flatMap((p) => (p.digestHex && !digests.has(p.digestHex) ? [p.digestHex] : []))),
    ];
    if (more.length > 0)
      for (const [hex, t] of await this.tickets.findMany(ctx.event.id, more, tx, copies)) found.set(hex, t);
    return found;
  }

  /**
   * Runs the upload's transaction, again when it lost a race that a second
   * run settles: a deadlock between two uploads whose compare-and-set and
   * locked tickets cross (PostgreSQL aborts one), or an online request of a
   * scan in the upload (same scan_id) that committed between the lookup and
   * the insert (the next run finds its row), or a seed-000 reconcile of the
   * same unsequenced scan likewise. Nothing of a failed run is
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
        // scans_legacy_offline: a seed-000 reconcile of this device (it takes no device log lock) stored the same
        // ticket at the same instant as an unsequenced scan here, between the read and the insert: the next run reads it.
        if (
          code === PG_UNIQUE_VIOLATION &&
          (pgConstraint(err) === 'scans_pkey' || pgConstraint(err) === 'scans_legacy_offline')
        ) {
          if (attempt < DEADLOCK_ATTEMPTS) continue;
          throw new DomainError(
            'UNAVAILABLE',
            'A scan in this upload is being received online right now; nothing was applied, retry the upload',
            undefined,
            { 'retry-after': '1' },
          );
        }
        throw err;
      }
    }
  }

  /** This instance's cached copies of the tickets it wrote by compare-and-set become the rows it wrote (after the commit). */
  private remember(copies: ReadonlyMap<string, CachedCopy>, reconciled: Map<string, ReconciledTicket>): void {
    for (const r of reconciled.values()) {
      if (r.version === undefined || r.casFrom === undefined) continue;
      const copy = copies.get(r.ticketId);
      if (copy) this.tickets.advanceCopy(copy, r.casFrom, r.state, r.version);
    }
  }

  /**
   * One message of each kind per upload, not one per ticket or scan (with
   * Redis, one PUBLISH instead of hundreds): the tickets changed (caches), the
   * scans recorded and the conflicts opened (the live stream).
   */
  private publish(ctx: EventContext, a: Applied): void {
    const ticketIds: string[] = [];
    const versions: number[] = [];
    for (const r of a.reconciled.values()) {
      if (r.version === undefined) continue;
      ticketIds.push(r.ticketId);
      versions.push(r.version);
    }
    const eventId = ctx.event.id;
    if (ticketIds.length > 0) this.bus.publish({ type: 'tickets_changed', eventId, ticketIds, versions });
    if (a.live.length > 0) this.bus.publish({ type: 'scans_recorded', eventId, scans: a.live });
    if (a.openedConflicts.length > 0) {
      this.bus.publish({ type: 'conflicts_changed', eventId, conflictIds: a.openedConflicts, state: 'opened' });
    }
  }
}

/**
 * The scans an upload stored, as the live stream shows them (no codes): the
 * verdict of record after the replay, and the time corrected by the device's
 * clock offset at upload. The online rows that uploaded copies are of were
 * shown when they were scanned.
 */
function liveScans(b: Begun, plan: UploadPlan, reconciled: ReadonlyMap<string, ReconciledTicket>): LiveScan[] {
  const lost = new Map<string, string | null>();
  for (const r of reconciled.values()) for (const c of r.conflicts) lost.set(c.id, c.conflictReason);
  const shift = b.offset ?? 0;
  const deviceId = b.req.device.deviceId;
  const out: LiveScan[] = [];
  for (const r of plan.rows) {
    const conflict = lost.has(r.id);
    out.push({
      scanId: r.id,
      at: r.scannedAt - shift,
      receivedAt: b.receivedAt,
      gateId: r.gateId,
      deviceId,
      staffId: r.staffId,
      direction: r.direction,
      verdict: conflict ? 'conflict' : r.recordStatus,
      reason: conflict ? (lost.get(r.id) ?? 'conflict') : r.reason,
      offline: true,
      ticketId: r.ticketId,
    });
  }
  return out;
}
