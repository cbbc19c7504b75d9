import type { CodeRefusal, Direction, EventCode, SyncItemReason } from '@entrada/core';
import { uuidv7 } from '../../crypto/uuidv7.ts';
import type {
  CandidateScan,
  OfflineCopy,
  OfflineScanRow,
  RecordStatus,
  ScanIdHolder,
  StoredOfflineScan,
} from '../../store/offline-scans.ts';
import type { LockedTicket } from '../../store/ticket-states.ts';
import { verifyChain } from './integrity.ts';

/**
 * The plan of an offline upload: what was read in (the uploaded scans as
 * prepared, the stored seqs, the tickets, the scan_id holders, the staff of
 * the event) in, the rows to write and each scan's outcome out. Pure: no
 * database, no clock, no cache (issue 11 §4), so every decision of an upload
 * short of the replay of its tickets is unit-tested without PostgreSQL
 * (test/sync-plan.test.ts). The replay itself is core's replayTicket, run by
 * the write step over the candidates planned here and the ones stored.
 */

/** Clock uncertainty of an offline scan: a base for ordinary drift, plus a tenth of the skew observed at upload. */
export const BASE_CLOCK_UNCERTAINTY_MS = 2_000;
export const SKEW_FLAG_MS = 60_000;
export const DAY_MS = 86_400_000;

/** One uploaded scan, worked out before the transaction (hash, flags, code). */
export interface PreparedScan {
  index: number;
  qrcode: string;
  /** null: a scan uploaded without a seq (a device registered without a key, seed 001's shape); identified by `identity`. */
  seq: number | null;
  /**
   * An unsequenced scan's identity, (device, qrcode, scanned_at) as a UUID (see unsequencedIdentity): the row's id
   * (and client_scan_id), so the primary key holds one row per identity. null for a scan with a seq.
   */
  identity: string | null;
  scannedAt: number;
  direction: Direction;
  gateId: string | null;
  localResult: string | null;
  scanId: string | null;
  /** The staff member the device says was logged in (checked against the event's staff by the plan). */
  staffId: string | null;
  /** Its payload hash (lowercase hex): its fingerprint for replays, and its link's input in the chain. */
  hashHex: string;
  digestHex: string | null;
  /** Why the code cannot be a ticket of this event, found without the database (core's classifier). */
  codeProblem: CodeRefusal | null;
  /** A code of this event as core's classifier read it: what decides when its look-up misses. */
  eventCode: EventCode | null;
  /** Spelled like a signed code and keyed by that spelling, not decoded yet (see SyncService.resolveCodes). */
  unparsed: boolean;
  flags: string[];
  /** Flagged implausible_time: no bounded clock uncertainty. */
  implausibleTime: boolean;
}

export type Outcome =
  | { kind: 'failed'; status: number; message: string }
  /** An offline copy of a scan the server already received online (its online attempt timed out on the device). */
  | { kind: 'received_online'; verdict: RecordStatus }
  | { kind: 'recorded'; message: string }
  | { kind: 'candidate' };

/** A new scan's fate: its row (none when an online row already is this scan), outcome, ticket, and a note for its answer. */
export interface Decided {
  row: OfflineScanRow | null;
  outcome: Outcome;
  ticket: LockedTicket | null;
  notice: string | null;
}

/**
 * A scan already received: by seq (identical or tampering), or an unsequenced scan by identity. `firstIndex`: the scan
 * earlier in this upload it repeats, whose verdict it shares. `ticket`: its ticket, for the answer's type and number.
 */
export interface Replay {
  stored: StoredOfflineScan;
  identical: boolean;
  firstIndex?: number;
  ticket?: LockedTicket | null;
}

/** What the read step found; everything the plan decides from. */
export interface PlanInput {
  eventId: string;
  device: { pk: string; deviceId: string; publicKey: Buffer | null };
  integrity?: { prev_link: string; head_signature: string } | undefined;
  prepared: readonly PreparedScan[];
  /** Stored scans of the device at the batch's seqs and its chain neighbours. */
  stored: ReadonlyMap<number, StoredOfflineScan>;
  ticketByDigest: ReadonlyMap<string, LockedTicket>;
  /** The scans already holding the upload's scan_ids and its unsequenced scans' identities. */
  holders: ReadonlyMap<string, ScanIdHolder>;
  /**
   * This device's stored unsequenced offline scans (seed 000 and 001 paths) at the upload's unsequenced (ticket, scan
   * time) pairs, keyed `ticketId|ms`: one ticket scanned by one device in one millisecond is one scan, whatever code
   * spelled it (and scans_legacy_offline keeps it so).
   */
  unsequencedByTicket?: ReadonlyMap<string, { recordStatus: string }> | undefined;
  /** The staff ids of the upload that are staff of the event. */
  knownStaff: ReadonlySet<string>;
  /** Links (hex) of a chain already verified over a whole imported log. */
  verifiedLinks?: ReadonlyMap<number, string> | undefined;
  /** Why the whole imported log failed verification. */
  integrityFailure?: string | undefined;
  /** A revoked device's revocation time: its scans from then on are quarantined. */
  quarantineFrom: number | null;
  /** Device clock minus server clock at upload, when the device said its time. */
  offset: number | null;
  uncertaintyMs: number;
  /** Why a code of this event whose look-up missed is refused (core's unmatchedCode with the event's keys). */
  unmatched: (code: EventCode) => CodeRefusal;
  /** Ids for new rows (uuidv7 by default; fixed in tests). */
  newId?: () => string;
}

export interface UploadPlan {
  /** Scans seen for the first time (one per seq). */
  fresh: PreparedScan[];
  /** Re-sent seqs, by upload index: identical ones are replays, others tampering. */
  replays: Map<number, Replay>;
  tampered: string | null;
  integrity: 'chain' | 'unsigned' | 'failed';
  integrityProblem: string | null;
  /** New rows (one COPY). */
  rows: OfflineScanRow[];
  /** Offline copies of scans received online: the online rows take their envelope. */
  copies: OfflineCopy[];
  decided: Map<number, Decided>;
  /** A revoked device's admissions to open review conflicts for. */
  quarantined: Array<{ ticketId: string; scanId: string }>;
  /** New candidate admissions by ticket: the tickets to reconcile. */
  candidates: Map<string, CandidateScan[]>;
  /** Flags for the device log and the reason shown with them. */
  logFlags: string[];
  flagReason: string | null;
  implausible: number;
}

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
function linkScanIds(
  fresh: readonly PreparedScan[],
  holders: ReadonlyMap<string, ScanIdHolder>,
  devicePk: string,
  integrityFailed: boolean,
): Map<number, ScanIdLink> {
  const out = new Map<number, ScanIdLink>();
  const claimed = new Map<string, ScanIdHolder>();
  for (const p of fresh.filter((x) => x.scanId !== null).sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0))) {
    const id = p.scanId!;
    const holder = claimed.get(id) ?? holders.get(id);
    if (!holder) {
      out.set(p.index, { kind: 'claim' });
      claimed.set(id, { id, devicePk, online: false, seq: p.seq, digestHex: p.digestHex, recordStatus: 'rejected' });
      continue;
    }
    // A failed upload's content cannot be trusted to be that attempt's copy: stored apart, as before.
    const copyOfOnline =
      !integrityFailed &&
      holder.online &&
      holder.devicePk === devicePk &&
      holder.seq === null &&
      holder.digestHex === p.digestHex;
    out.set(p.index, { kind: copyOfOnline ? 'online' : 'reused', holder });
    // A second copy in this upload repeats the first one's seq.
    if (copyOfOnline) claimed.set(id, { ...holder, seq: p.seq });
  }
  return out;
}

/** A replay's stand-in for a stored row (only its record status is answered). */
function repeated(p: PreparedScan, recordStatus: string, hashHex: string): StoredOfflineScan {
  return {
    id: '',
    seq: p.seq ?? 0,
    ticketId: null,
    payloadHashHex: hashHex,
    chainLinkHex: null,
    result: '',
    recordStatus: recordStatus as RecordStatus,
    conflictReason: null,
    winnerScanId: null,
    scannedAt: p.scannedAt,
  };
}

/**
 * Re-uploads: same content is a replay (answered with its outcome), other content is tampering. An unsequenced scan
 * is a replay when its identity (device, qrcode, scanned_at) is stored, appeared earlier in this upload, or its
 * ticket was scanned by this device in the same millisecond (stored, or earlier in this upload).
 */
function splitReplays(input: PlanInput): {
  fresh: PreparedScan[];
  replays: Map<number, Replay>;
  tampered: string | null;
} {
  const { prepared, stored, holders } = input;
  const fresh: PreparedScan[] = [];
  const replays = new Map<number, Replay>();
  const seen = new Map<number, PreparedScan>();
  const seenIdentity = new Map<string, number>();
  let tampered: string | null = null;
  for (const p of prepared) {
    if (p.seq === null) {
      const ticket = p.digestHex ? (input.ticketByDigest.get(p.digestHex) ?? null) : null;
      const ticketKey = ticket ? `${ticket.id}|${p.scannedAt}` : null;
      const held = holders.get(p.identity!) ?? (ticketKey ? input.unsequencedByTicket?.get(ticketKey) : undefined);
      if (held) {
        replays.set(p.index, { stored: repeated(p, held.recordStatus, p.hashHex), identical: true, ticket });
        continue;
      }
      const first = seenIdentity.get(p.identity!) ?? (ticketKey ? seenIdentity.get(ticketKey) : undefined);
      if (first !== undefined) {
        replays.set(p.index, {
          stored: repeated(p, 'admitted', p.hashHex),
          identical: true,
          firstIndex: first,
          ticket,
        });
        continue;
      }
      seenIdentity.set(p.identity!, p.index);
      if (ticketKey) seenIdentity.set(ticketKey, p.index);
      fresh.push(p);
      continue;
    }
    const before = stored.get(p.seq) ?? (seen.has(p.seq) ? null : undefined);
    if (before === undefined) {
      fresh.push(p);
      seen.set(p.seq, p);
      continue;
    }
    if (before === null) {
      // The same seq twice in one upload: the first one counts, a different second one is tampering.
      const first = seen.get(p.seq)!;
      const identical = first.hashHex === p.hashHex;
      if (!identical) tampered = `seq ${p.seq} appears twice in one upload with different content`;
      replays.set(p.index, { stored: repeated(p, 'rejected', first.hashHex), identical, firstIndex: first.index });
      continue;
    }
    const identical = before.payloadHashHex === p.hashHex;
    if (!identical) tampered = `seq ${p.seq} was already received with different content; the original is kept`;
    replays.set(p.index, { stored: before, identical });
  }
  return { fresh, replays, tampered };
}

/** Integrity: one signature per upload for devices with a registered key. */
function checkIntegrity(
  input: PlanInput,
  fresh: readonly PreparedScan[],
): { integrity: UploadPlan['integrity']; problem: string | null; links: Map<number, string> } {
  const links = new Map<number, string>();
  if (fresh.length === 0) return { integrity: 'unsigned', problem: null, links };
  if (input.integrityFailure) return { integrity: 'failed', problem: input.integrityFailure, links };
  if (input.verifiedLinks) {
    for (const [seq, link] of input.verifiedLinks) links.set(seq, link);
    return { integrity: 'chain', problem: null, links };
  }
  const { device, stored } = input;
  if (!device.publicKey) return { integrity: 'unsigned', problem: null, links };
  // A device registered with a key signs every scan into its chain: a scan without a seq cannot be in it.
  // (The upload is refused before this for that reason; the plan does not rely on it.)
  if (input.prepared.some((p) => p.seq === null))
    return { integrity: 'failed', problem: 'a device registered with a key must send a seq with every scan', links };
  // The upload's seqs in order, each once: a contiguous run chained from the link stored before it.
  const sorted = [...input.prepared].sort((x, y) => x.seq! - y.seq!);
  const run = sorted.filter((p, i, arr) => i === 0 || p.seq !== arr[i - 1]!.seq);
  const before = stored.get(run[0]!.seq! - 1);
  const after = stored.get(run.at(-1)!.seq! + 1);
  const check = verifyChain({
    eventId: input.eventId,
    deviceId: device.deviceId,
    publicKey: device.publicKey,
    hashes: run.map((p) => p.hashHex),
    seqs: run.map((p) => p.seq!),
    prevLinkHex: input.integrity?.prev_link,
    headSignature: input.integrity?.head_signature,
    storedBefore: before?.chainLinkHex ?? null,
    storedAfter:
      after?.chainLinkHex && after.payloadHashHex
        ? { hashHex: after.payloadHashHex, linkHex: after.chainLinkHex }
        : null,
  });
  if (!check.ok) return { integrity: 'failed', problem: check.reason, links };
  run.forEach((p, i) => links.set(p.seq!, check.links[i]!));
  return { integrity: 'chain', problem: null, links };
}

interface Classified {
  outcome: Outcome;
  result: string;
  reason: SyncItemReason;
  admits: boolean;
  recordStatus: RecordStatus;
}

/** How the upload's answer words a code the classifier refused. */
const REFUSAL_STATUS: Record<CodeRefusal['reason'], number> = {
  malformed_code: 400,
  wrong_event: 422,
  unknown_code: 404,
  bad_signature: 404,
  unknown_key: 404,
};
const REFUSAL_MESSAGE: Record<CodeRefusal['reason'], string> = {
  malformed_code: 'Invalid ticket — unreadable code',
  wrong_event: 'Ticket is for another event',
  unknown_code: 'Ticket not found',
  bad_signature: 'Invalid ticket — forged or damaged code',
  unknown_key: 'Invalid ticket — forged or damaged code',
};
const NOT_FOUND: CodeRefusal = { result: 'invalid_token', reason: 'unknown_code' };

/**
 * A scan stored as failed. A module function rather than a closure in
 * classify: the server runs under tsx, whose esbuild output names every
 * closure it creates (a defineProperty per scan, ~1% of a sync burst's CPU).
 */
function failedScan(
  admits: boolean,
  status: number,
  message: string,
  result: string,
  reason: SyncItemReason = 'failed',
): Classified {
  return { outcome: { kind: 'failed', status, message }, result, reason, admits, recordStatus: 'failed' };
}

function classify(
  input: PlanInput,
  p: PreparedScan,
  ticket: LockedTicket | null,
  integrityProblem: string | null,
): Classified {
  const local = p.localResult ?? 'valid';
  const admits = local === 'valid';
  if (integrityProblem) return failedScan(admits, 422, `Integrity check failed: ${integrityProblem}`, local);
  // A code the classifier refused, or one of this event whose look-up missed (a genuine code with no ticket, or a forged one).
  // (A code still keyed by its signed spelling has a ticket here: the read step classified the others.)
  const refusal = p.codeProblem ?? (ticket ? null : p.eventCode ? input.unmatched(p.eventCode) : NOT_FOUND);
  if (refusal)
    return failedScan(
      admits,
      REFUSAL_STATUS[refusal.reason],
      REFUSAL_MESSAGE[refusal.reason],
      refusal.result,
      refusal.reason,
    );
  if (input.quarantineFrom !== null && p.scannedAt >= input.quarantineFrom) {
    return {
      outcome: { kind: 'failed', status: 403, message: 'Device revoked: scan quarantined for review' },
      result: local,
      reason: 'quarantined',
      admits,
      recordStatus: 'quarantined',
    };
  }
  if (!admits)
    return {
      outcome: { kind: 'recorded', message: `Recorded (refused at the gate: ${local})` },
      result: local,
      reason: 'refused_offline',
      admits,
      recordStatus: 'rejected',
    };
  // Provisionally admitted; the replay decides the admission of record.
  return {
    outcome: { kind: 'candidate' },
    result: local,
    reason: 'admitted_offline',
    admits,
    recordStatus: 'admitted',
  };
}

/** A clock offset in words: seconds up to an hour, then hours up to two days, then days. */
export function describeOffset(offsetMs: number): string {
  const a = Math.abs(offsetMs);
  const size =
    a < 3_600_000
      ? `${Math.round(a / 1000)} s`
      : a < 2 * DAY_MS
        ? `${Math.round(a / 3_600_000)} h`
        : `${Math.round(a / DAY_MS)} days`;
  return `${size} (${offsetMs < 0 ? 'behind' : 'ahead'})`;
}

/** Decides everything about an upload that the replay of its tickets does not. */
export function planUpload(input: PlanInput): UploadPlan {
  const { device, offset } = input;
  const newId = input.newId ?? uuidv7;
  const { fresh, replays, tampered } = splitReplays(input);
  const { integrity, problem: integrityProblem, links } = checkIntegrity(input, fresh);

  const idLinks = fresh.some((p) => p.scanId !== null)
    ? linkScanIds(fresh, input.holders, device.pk, integrityProblem !== null)
    : NO_LINKS;
  const decided = new Map<number, Decided>();
  const rows: OfflineScanRow[] = [];
  const copies: OfflineCopy[] = [];
  let reused = 0;
  let unknownStaff = 0;
  for (const p of fresh) {
    const ticket = p.digestHex ? (input.ticketByDigest.get(p.digestHex) ?? null) : null;
    const link = p.scanId ? idLinks.get(p.index) : undefined;
    const chainLinkHex = p.seq === null ? null : (links.get(p.seq) ?? null);
    if (link?.kind === 'online') {
      // The offline copy of a scan received online (its answer never reached the device): one physical scan, one row.
      // The online row takes the copy's seq, hash and chain link, so replays and the chain find it.
      copies.push({
        scanId: link.holder.id,
        seq: p.seq!,
        payloadHashHex: p.hashHex,
        chainLinkHex,
        localResult: p.localResult,
      });
      decided.set(p.index, {
        row: null,
        outcome: { kind: 'received_online', verdict: link.holder.recordStatus },
        ticket,
        notice: null,
      });
      continue;
    }
    const { outcome, result, reason, admits, recordStatus } = classify(input, p, ticket, integrityProblem);
    let notice: string | null = null;
    let flags = p.flags;
    // The scan holding the id this one repeats. (A failed upload's scans are stored apart anyway, flagged for the integrity failure.)
    const h = link?.kind === 'reused' && integrityProblem === null ? link.holder : null;
    if (h) {
      reused++;
      const whose =
        h.devicePk !== device.pk
          ? "belongs to another device's scan"
          : h.seq !== null
            ? `repeats seq ${h.seq}'s`
            : "is an online scan's of another code";
      notice = `its scan_id ${whose}: ignored`;
      flags = [...flags, 'scan_id_reused'];
    }
    // A staff id that is not staff of this event is not stored (it would name nobody, or someone of another event): flagged instead.
    let staffId = p.staffId;
    if (staffId !== null && !input.knownStaff.has(staffId)) {
      unknownStaff++;
      staffId = null;
      flags = [...flags, 'unknown_staff'];
    }
    // Only a scan_id nobody holds is kept: one id, one physical scan. An unsequenced scan keeps its identity instead
    // (it carries no scan_id). Either becomes the row's id, so the primary key makes it one row (migration 023).
    const clientScanId = p.identity ?? (link?.kind === 'claim' ? p.scanId : null);
    const row: OfflineScanRow = {
      id: clientScanId ?? newId(),
      seq: p.seq,
      ticketId: ticket?.id ?? null,
      digestHex: p.digestHex,
      result,
      reason,
      admits,
      direction: p.direction,
      gateId: p.gateId,
      scannedAt: p.scannedAt,
      localResult: p.localResult,
      payloadHashHex: p.hashHex,
      chainLinkHex,
      flags,
      implausibleTime: p.implausibleTime,
      recordStatus,
      staffId,
      clientScanId,
    };
    rows.push(row);
    decided.set(p.index, { row, outcome, ticket, notice });
  }

  // A revoked device's admissions (arriving through an import) go to the organisers' review inbox.
  const quarantined: UploadPlan['quarantined'] = [];
  // Every ticket a new candidate admission touches is reconciled.
  const candidates = new Map<string, CandidateScan[]>();
  let implausible = 0;
  for (const r of rows) {
    if (r.implausibleTime) implausible++;
    if (!r.ticketId) continue;
    if (r.recordStatus === 'quarantined' && r.admits) quarantined.push({ ticketId: r.ticketId, scanId: r.id });
    if (r.recordStatus !== 'admitted') continue;
    const c: CandidateScan = {
      id: r.id,
      ticketId: r.ticketId,
      deviceId: device.deviceId,
      seq: r.seq,
      at: r.scannedAt,
      direction: r.direction,
      gateId: r.gateId,
      forced: false,
      uncertaintyMs: r.implausibleTime ? Infinity : input.uncertaintyMs,
      recordStatus: 'admitted',
      conflictReason: null,
      winnerScanId: null,
      ambiguous: false,
    };
    const list = candidates.get(r.ticketId);
    if (list) list.push(c);
    else candidates.set(r.ticketId, [c]);
  }

  const skewed = offset !== null && Math.abs(offset) > SKEW_FLAG_MS;
  const logFlags: string[] = [];
  if (tampered) logFlags.push('tampering');
  if (integrityProblem) logFlags.push('integrity');
  if (reused > 0) logFlags.push('scan_id_reused');
  if (implausible > 0) logFlags.push('implausible_time');
  if (skewed) logFlags.push('clock_skew');
  if (unknownStaff > 0) logFlags.push('unknown_staff');
  const flagReason =
    tampered ??
    integrityProblem ??
    (reused > 0 ? `${reused} scan(s) carried a scan_id that another scan holds` : null) ??
    (skewed ? `device clock off by ${describeOffset(offset)}` : null) ??
    (implausible > 0 ? `${implausible} scan(s) timed more than a day outside the event` : null) ??
    (unknownStaff > 0
      ? `${unknownStaff} scan(s) named a staff member who is not staff of this event (stored without one)`
      : null);

  return {
    fresh,
    replays,
    tampered,
    integrity,
    integrityProblem,
    rows,
    copies,
    decided,
    quarantined,
    candidates,
    logFlags,
    flagReason,
    implausible,
  };
}
