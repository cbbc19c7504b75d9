import type { SyncResponse } from '@entrada/core';
import type { Clock } from './clock.ts';
import { ApiError, type ApiClient } from './http.ts';
import {
  feedPatches,
  splitManifest,
  type FeedEvent,
  type FeedPage,
  type ManifestDocument,
  type ManifestUpdate,
  type TicketPatch,
} from './manifest-types.ts';
import { ackResults, contiguousRun, MAX_UPLOAD_BATCH, uploadBody, type HeadSigner } from './outbox.ts';
import type { AckResult, ClientStore, OutboxScan } from './storage/types.ts';
import { enforceStorageLimits } from './storage-limits.ts';

/** How long a 413 keeps capping the batch size (a proxy's limit may be lifted, or the route change). */
const TOO_LARGE_MEMORY_MS = 10 * 60_000;

/**
 * A manifest download's budget grows with the event: 100,000 tickets are
 * ~850 kB gzipped and take the server a few seconds to build, then the device
 * to parse; at 1 ms per ticket on top of the request budget that still
 * arrives over a link of ~64 kbit/s. A budget too short for the event can
 * never succeed (each retry starts over); a long one only costs waiting when
 * the server has really gone silent, which transport errors usually say sooner.
 */
export const MANIFEST_MS_PER_TICKET = 1;
/** A device that has never seen the event's manifest budgets for a large event. */
const UNKNOWN_EVENT_TICKETS = 100_000;
const MAX_MANIFEST_TIMEOUT_MS = 10 * 60_000;

/** The time budget of a manifest download for an event of `tickets` tickets (null: not known yet). */
export function manifestTimeoutMs(
  requestTimeoutMs: number,
  tickets: number | null,
  msPerTicket = MANIFEST_MS_PER_TICKET,
): number {
  return Math.min(
    MAX_MANIFEST_TIMEOUT_MS,
    Math.max(requestTimeoutMs, requestTimeoutMs + Math.ceil((tickets ?? UNKNOWN_EVENT_TICKETS) * msPerTicket)),
  );
}

/** One sync at a time per device. The browser can pass a Web Locks implementation so tabs do not sync at once. */
export interface SyncLock {
  /** Runs `fn` unless a sync already holds the lock; then resolves `{ ran: false }` at once. */
  tryRun<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

export class InProcessLock implements SyncLock {
  private held = false;
  async tryRun<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.held) return { ran: false };
    this.held = true;
    try {
      return { ran: true, value: await fn() };
    } finally {
      this.held = false;
    }
  }
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Full jitter (AWS): uniformly random in [0, min(cap, base·2^attempt)), so a gate's devices do not retry in lockstep. */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** After a failure: wait what the server asked (429/503 Retry-After) or a jittered backoff; null means do not retry on a timer. */
export function retryDelay(err: unknown, attempt: number, random: () => number, policy: BackoffPolicy): number | null {
  if (err instanceof ApiError && !err.retryable) return null;
  if (err instanceof ApiError && err.retryAfterMs !== null) return err.retryAfterMs;
  return backoffDelay(attempt, random, policy);
}

export interface SyncSummary {
  at: number;
  uploaded: number;
  acknowledged: number;
  /** This device's scans ruled conflicts in this cycle: in its uploads' answers, and earlier scans that lost since (lateConflicts). */
  conflicts: number;
  /** Of those, scans acknowledged before that lost afterwards (an earlier scan of the ticket arrived later), learned from the feed. */
  lateConflicts: number;
  failed: number;
  /** Scans the server refused by name (a 4xx naming them): set aside, shown in the status, the rest uploaded. */
  refused: number;
  ticketsChanged: number;
  fullManifest: boolean;
}

export interface SyncStatus {
  online: boolean;
  syncing: boolean;
  pending: number;
  oldestPendingAgeMs: number | null;
  lastSuccessAt: number | null;
  lastSummary: SyncSummary | null;
  lastError: { at: number; message: string; status: number | null; retryable: boolean } | null;
  nextAttemptAt: number | null;
  ackedThrough: number;
  missing: Array<[number, number]>;
  /** This device's scans the server decided against (double entries to look at), at upload or later. */
  conflicts: Array<{ seq: number; qrcode: string; reason: string | null; message: string; ambiguous: boolean }>;
  /**
   * Scans the server refused to take at all (it answered a 4xx naming them,
   * e.g. a code longer than it accepts): kept in the log and its export, not
   * sent again, so they never hold up the scans after them. The server
   * reports their seqs as missing to the organisers.
   */
  refused: RefusedScan[];
  /** The other side: another device's admission of a ticket this device admitted, which the server ruled a conflict. */
  doubleEntries: DoubleEntry[];
  batchSize: number;
}

export interface RefusedScan {
  seq: number;
  qrcode: string;
  message: string;
  at: number;
}

export interface DoubleEntry {
  /** The losing scan (server id), from the download feed. */
  scanId: string;
  ticketId: string;
  deviceId: string;
  at: number | null;
  gateId: string | null;
  reason: string | null;
  ambiguous: boolean;
}

/** About 40 MB of IndexedDB: a long festival day at a busy gate, several times over. */
export const DEFAULT_KEEP_ACKNOWLEDGED = 100_000;

/** Double entries kept for the status view; older ones are in the organiser's conflicts inbox. */
const MAX_DOUBLE_ENTRIES = 200;
const META_DOUBLE_ENTRIES = (eventId: string): string => `double-entries:${eventId}`;
const META_CONFLICTS = (eventId: string): string => `conflicts:${eventId}`;
const META_REFUSED = (eventId: string): string => `refused:${eventId}`;
/** Refused scans kept for the status view (the log keeps them all). */
const MAX_REFUSED = 200;

/**
 * The scan a refusal names: the server's validation messages start with the
 * offending field's path (`/scans/17/qrcode must NOT have more than 4096
 * characters`). Only a 400 that names one scan of the upload sets a scan
 * aside; anything else (a refusal of the whole request) is not the scan's fault.
 */
export function refusedScanIndex(err: unknown, scans: number): number | null {
  if (!(err instanceof ApiError) || err.status !== 400) return null;
  const m = /^(?:body )?\/scans\/(\d+)(?:\/|\s|$)/.exec(err.message);
  if (!m) return null;
  const index = Number(m[1]);
  return index < scans ? index : null;
}

export interface SyncLoopOptions {
  store: ClientStore;
  api: ApiClient;
  clock: Clock;
  random: () => number;
  /** Fresh session tokens; an upload retried after a timeout may reuse none of them (the server just opens another). */
  newId: () => string;
  eventId: string;
  deviceId: string;
  sign: HeadSigner | null;
  lock?: SyncLock;
  uploadEveryMs?: number;
  manifestEveryMs?: number;
  /** Budget of each request; a manifest download gets more, by the event's size (see manifestTimeoutMs). */
  requestTimeoutMs?: number;
  /** Added to a manifest download's budget per ticket of the event (MANIFEST_MS_PER_TICKET by default). */
  manifestMsPerTicket?: number;
  /**
   * Storage limit: acknowledged scans kept on the device (it is a backup of the
   * server and can export its log). Beyond 10% over it, the oldest acknowledged
   * ones are deleted after a sync; pending scans are never deleted.
   */
  keepAcknowledged?: number;
  /** Storage limit: answered failed/conflicting scans older than this leave the log (storage-limits.ts; 30 days by default). */
  archiveAnsweredAfterMs?: number;
  /** As the scanner's option: true when the platform knows there is no network (no request is tried then). */
  networkDown?: () => boolean;
  backoff?: BackoffPolicy;
  feedPageLimit?: number;
  /** Called after a download changed the stored manifest, so the scanner reloads its index. */
  onManifestChanged?: (update: ManifestUpdate) => void | Promise<void>;
  onStatus?: (status: SyncStatus) => void;
  /** Heartbeats to the server (issue 13): every `everyMs` (30 s) while online, and after each sync. Off when absent. */
  heartbeat?: HeartbeatOptions;
}

/** What only the app knows: its version, the gate and staff member now, the battery (where the browser tells). */
export interface HeartbeatOptions {
  appVersion: string;
  everyMs?: number;
  context?: () => Promise<HeartbeatContext> | HeartbeatContext;
}
export interface HeartbeatContext {
  gateId?: string | null;
  staffId?: string | null;
  battery?: { level: number; charging: boolean } | null;
}

const META_MARKS = (eventId: string): string => `sync-marks:${eventId}`;
/** The highest ticket serial seen in the event's manifests: its size, as serials are allocated 1, 2, 3, … per event. */
const META_EVENT_SIZE = (eventId: string): string => `event-size:${eventId}`;

/**
 * The sync driver: a small state machine (idle → syncing → idle or waiting for
 * a retry) fed by triggers — coming online, the app resuming, a timer, a new
 * scan, or the user. Each run uploads the outbox, then downloads changes.
 */
export class SyncLoop {
  private readonly lock: SyncLock;
  private readonly uploadEveryMs: number;
  private readonly manifestEveryMs: number;
  private readonly timeoutMs: number;
  private readonly backoff: BackoffPolicy;
  private batchSize = MAX_UPLOAD_BATCH;
  /** The smallest batch a proxy or the server refused (413), and when: a ceiling for growing back, forgotten after a while. */
  private tooLarge: { size: number; at: number } | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private timerAt: number | null = null;
  private stopped = true;
  private rerun = false;
  private lastDownloadAt: number | null = null;
  /** The event's size for the manifest budget; undefined until read from the store, null when never seen. */
  private eventTickets: number | null | undefined = undefined;
  private heartbeatTimer: unknown = null;
  private heartbeatSending = false;
  /** Online/offline periods the heartbeat reports (device clock). */
  private onlineSince: number | null = null;
  private offlineSince: number | null = null;
  private lastOfflineMs: number | null = null;
  private state: Omit<
    SyncStatus,
    'pending' | 'oldestPendingAgeMs' | 'conflicts' | 'refused' | 'doubleEntries' | 'batchSize' | 'nextAttemptAt'
  > = {
    online: true,
    syncing: false,
    lastSuccessAt: null,
    lastSummary: null,
    lastError: null,
    ackedThrough: 0,
    missing: [],
  };

  constructor(private readonly o: SyncLoopOptions) {
    this.lock = o.lock ?? new InProcessLock();
    this.uploadEveryMs = o.uploadEveryMs ?? 30_000;
    this.manifestEveryMs = o.manifestEveryMs ?? 120_000;
    this.timeoutMs = o.requestTimeoutMs ?? 30_000;
    this.backoff = o.backoff ?? { baseMs: 1_000, capMs: 5 * 60_000 };
  }

  async start(): Promise<void> {
    const marks = await this.o.store.getMeta<{ ackedThrough: number; missing: Array<[number, number]> }>(
      META_MARKS(this.o.eventId),
    );
    if (marks) Object.assign(this.state, marks);
    this.stopped = false;
    this.schedule(0);
    this.scheduleHeartbeat();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    if (this.heartbeatTimer !== null) this.o.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /**
   * Sends a heartbeat now (and restarts its interval). Never throws and never waits for the sync lock: a lost
   * heartbeat only makes the device look offline a little sooner; the next one corrects it.
   */
  async sendHeartbeat(): Promise<boolean> {
    const hb = this.o.heartbeat;
    if (!hb || this.stopped || this.heartbeatSending) return false;
    this.scheduleHeartbeat();
    if (!this.state.online || this.o.networkDown?.()) return false;
    this.heartbeatSending = true;
    try {
      const { store, eventId, clock } = this.o;
      const [counts, oldest, manifest, ctx] = await Promise.all([
        store.counts(eventId),
        store.oldestPendingAt(eventId),
        store.loadManifestHeader(eventId),
        Promise.resolve(hb.context?.() ?? {}),
      ]);
      const generated = manifest ? Date.parse(manifest.header.generated_at) : NaN;
      const body = {
        event_id: eventId,
        device_time: clock.now(),
        app_version: hb.appVersion,
        pending_scans: counts.pending,
        oldest_pending_at: counts.pending > 0 ? oldest : null,
        manifest_cursor: manifest?.header.cursor ?? null,
        manifest_generated_at: Number.isFinite(generated) ? generated : null,
        gate_id: ctx.gateId ?? null,
        staff_id: ctx.staffId ?? null,
        ...(ctx.battery
          ? { battery: { level: Math.min(1, Math.max(0, ctx.battery.level)), charging: ctx.battery.charging } }
          : {}),
        online_since: this.onlineSince,
        last_offline_ms: this.lastOfflineMs,
        sync_failures: this.attempt,
      };
      await this.o.api.request('POST', '/api/v1/devices/heartbeat', body, Math.min(this.timeoutMs, 10_000));
      return true;
    } catch {
      return false;
    } finally {
      this.heartbeatSending = false;
    }
  }

  private scheduleHeartbeat(): void {
    if (!this.o.heartbeat || this.stopped) return;
    if (this.heartbeatTimer !== null) this.o.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.o.clock.setTimeout(() => {
      this.heartbeatTimer = null;
      // A sync running or due within a second sends one when it ends, with the pending count it leaves: not two at once.
      const syncDue = this.timerAt !== null && this.timerAt - this.o.clock.now() <= 1_000;
      if (this.state.syncing || syncDue) this.scheduleHeartbeat();
      else void this.sendHeartbeat();
    }, this.o.heartbeat.everyMs ?? 30_000);
  }

  /** Keeps the online/offline periods the heartbeat reports. */
  private noteOnline(): void {
    const now = this.o.clock.now();
    if (this.state.online) {
      if (this.offlineSince !== null) this.lastOfflineMs = now - this.offlineSince;
      this.offlineSince = null;
      this.onlineSince ??= now;
    } else {
      this.offlineSince ??= now;
      this.onlineSince = null;
    }
  }

  /** Triggers. Each runs a sync now (or right after the one in progress). */
  onOnline(): Promise<void> {
    this.attempt = 0;
    return this.syncNow();
  }
  onResume(): Promise<void> {
    return this.syncNow();
  }
  onOffline(): void {
    this.state.online = false;
    this.emit();
  }
  /** A scan went to the outbox: make sure an upload is due within the upload interval. */
  notifyPending(): void {
    if (this.stopped) return;
    const due = this.o.clock.now() + this.uploadEveryMs;
    if (this.timerAt === null || this.timerAt > due) this.schedule(this.uploadEveryMs);
  }
  get online(): boolean {
    return this.state.online;
  }

  /** Something else proved the network works (an online scan answered). */
  markOnline(): void {
    if (!this.state.online) {
      this.state.online = true;
      this.emit();
    }
  }

  async syncNow(): Promise<void> {
    // The platform says there is no network at all: no request can succeed, and the `online` event will call again.
    if (this.o.networkDown?.()) {
      this.state.online = false;
      this.schedule(this.uploadEveryMs);
      this.emit();
      return;
    }
    const r = await this.lock.tryRun(() => this.run());
    if (!r.ran) this.rerun = true;
  }

  async status(): Promise<SyncStatus> {
    const { store, eventId, clock } = this.o;
    const counts = await store.counts(eventId);
    const oldest = await store.oldestPendingAt(eventId);
    // Kept aside when acknowledged: reading the whole outbox on every status update would grow with the shift.
    const conflicts = (await store.getMeta<SyncStatus['conflicts']>(META_CONFLICTS(eventId))) ?? [];
    const refused = (await store.getMeta<RefusedScan[]>(META_REFUSED(eventId))) ?? [];
    const doubleEntries = (await store.getMeta<DoubleEntry[]>(META_DOUBLE_ENTRIES(eventId))) ?? [];
    return {
      ...this.state,
      missing: [...this.state.missing],
      pending: counts.pending,
      oldestPendingAgeMs: oldest === null ? null : clock.now() - oldest,
      conflicts,
      refused,
      doubleEntries,
      batchSize: this.batchSize,
      nextAttemptAt: this.timerAt,
    };
  }

  /** One full cycle: upload everything pending, then download. Throws what stopped it. */
  async cycle(): Promise<SyncSummary> {
    const started = this.o.clock.now();
    const up = await this.upload();
    const down = await this.download();
    this.lastDownloadAt = started;
    return { at: started, ...up, ...down, conflicts: up.conflicts + down.lateConflicts };
  }

  private async run(): Promise<void> {
    this.clearTimer();
    this.state.syncing = true;
    this.emit();
    let delay: number | null;
    try {
      const summary = await this.cycle();
      this.attempt = 0;
      Object.assign(this.state, { online: true, lastSuccessAt: summary.at, lastSummary: summary, lastError: null });
      await enforceStorageLimits(this.o.store, this.o.eventId, {
        now: this.o.clock.now(),
        keep: this.o.keepAcknowledged ?? DEFAULT_KEEP_ACKNOWLEDGED,
        archiveAfterMs: this.o.archiveAnsweredAfterMs,
      });
      const counts = await this.o.store.counts(this.o.eventId);
      delay = counts.pending > 0 ? this.uploadEveryMs : this.manifestEveryMs;
    } catch (err) {
      const api = err instanceof ApiError ? err : null;
      const retryable = api ? api.retryable : false;
      // A refusal (400/401/403) proves the network works; only transport trouble means offline.
      this.state.online = api?.kind === 'http';
      this.state.lastError = {
        at: this.o.clock.now(),
        message: err instanceof Error ? err.message : String(err),
        status: api?.status ?? null,
        retryable,
      };
      delay = retryDelay(err, this.attempt, this.o.random, this.backoff);
      if (delay !== null) this.attempt++;
    } finally {
      this.state.syncing = false;
    }
    if (this.rerun) {
      this.rerun = false;
      delay = 0;
    }
    // Not retrying a refusal on a timer; the next trigger (or the manifest interval) tries again.
    this.schedule(delay ?? this.manifestEveryMs);
    this.emit();
    // With each sync: organisers see the pending count it left at once (not up to 30 s later).
    void this.sendHeartbeat();
  }

  private async upload(): Promise<{
    uploaded: number;
    acknowledged: number;
    conflicts: number;
    failed: number;
    refused: number;
  }> {
    const { store, api, eventId, deviceId, clock } = this.o;
    const totals = { uploaded: 0, acknowledged: 0, conflicts: 0, failed: 0, refused: 0 };
    for (;;) {
      const run = contiguousRun(await store.pending(eventId, this.batchSize));
      if (run.length === 0) return totals;
      const lastSeq = (await store.counts(eventId)).lastSeq;
      const body = uploadBody({
        eventId,
        deviceId,
        sessionToken: `s-${this.o.newId()}`,
        deviceTime: clock.now(),
        deviceLastSeq: lastSeq,
        scans: run,
        sign: this.o.sign,
      });
      let res: SyncResponse;
      try {
        res = await api.request<SyncResponse>('POST', '/api/v1/offline/sync', body, this.timeoutMs);
      } catch (err) {
        // Too large for a proxy or the server: halve and go on; a single scan that is still too large is a real error.
        if (err instanceof ApiError && err.status === 413 && this.batchSize > 1) {
          this.tooLarge = { size: Math.min(this.tooLarge?.size ?? Infinity, run.length), at: clock.now() };
          this.batchSize = Math.max(1, Math.floor(Math.min(this.batchSize, run.length) / 2));
          continue;
        }
        // One scan the server will never take must not hold up every scan after it: set it aside (kept, shown) and go on.
        const index = refusedScanIndex(err, run.length);
        if (index !== null) {
          await this.setAside(run[index]!, (err as ApiError).message);
          totals.refused++;
          continue;
        }
        throw err;
      }
      const acks = ackResults(res.results);
      await store.acknowledge(eventId, res.acked_through, acks);
      await this.noteConflicts(run, acks);
      this.growBatch(clock.now());
      this.state.ackedThrough = res.acked_through;
      this.state.missing = res.missing;
      this.state.online = true;
      await store.setMeta(META_MARKS(eventId), { ackedThrough: res.acked_through, missing: res.missing });
      totals.uploaded += run.length;
      totals.acknowledged = res.acked_through;
      totals.conflicts += res.summary.conflicts;
      // The server counts conflicts in failed too (seed 001's arithmetic); this loop keeps them apart.
      totals.failed += res.summary.failed - res.summary.conflicts;
      // Every scan answered is stored (acknowledged above, even past a gap the server reports as missing). An answer
      // that leaves some unanswered (an older server) is not sent again and again: stop until the next cycle.
      const answered = new Set(acks.map((a) => a.seq));
      if (run.some((sc) => sc.seq > res.acked_through && !answered.has(sc.seq))) return totals;
    }
  }

  /** After an accepted upload, double the batch again, up to just below the size last refused (that limit expires). */
  private growBatch(now: number): void {
    if (this.tooLarge && now - this.tooLarge.at > TOO_LARGE_MEMORY_MS) this.tooLarge = null;
    const ceiling = this.tooLarge ? Math.max(1, this.tooLarge.size - 1) : MAX_UPLOAD_BATCH;
    this.batchSize = Math.min(MAX_UPLOAD_BATCH, ceiling, this.batchSize * 2);
  }

  private async download(): Promise<{ ticketsChanged: number; fullManifest: boolean; lateConflicts: number }> {
    const { store, api, eventId, deviceId, clock } = this.o;
    const stored = await store.loadManifestHeader(eventId);
    const since = stored ? `&since=${encodeURIComponent(stored.header.cursor)}` : '';
    // A delta may come back as the full manifest (the server's choice when most tickets changed): same budget either way.
    if (this.eventTickets === undefined)
      this.eventTickets = (await store.getMeta<number>(META_EVENT_SIZE(eventId))) ?? null;
    const budget = manifestTimeoutMs(this.timeoutMs, this.eventTickets, this.o.manifestMsPerTicket);
    const res = await api.request<{ manifest: ManifestDocument }>(
      'GET',
      `/api/v1/offline/manifest/${eventId}?device_id=${encodeURIComponent(deviceId)}${since}`,
      undefined,
      budget,
    );
    const now = clock.now();
    const doc = res.manifest;
    await this.noteEventSize(doc.tickets);
    let changed = doc.tickets.length;
    const full = !stored || doc.full;
    const { header, tickets } = splitManifest(doc);
    const patches: TicketPatch[] = [];
    if (full) {
      await store.saveManifest(eventId, header, tickets, now);
    } else {
      await store.applyManifestDelta(eventId, tickets, { manifest: doc.cursor, header, refreshedAt: now });
      patches.push(...tickets);
    }
    // Every ticket's state came with the manifest (a delta since the last one). The feed is read only for what a
    // manifest cannot show: other devices' admissions that lost against tickets this device admitted (double
    // entries), each with its ticket's state now; a page and its cursor land together. A device far behind thus
    // never pages through every scan made meanwhile (after a reconnect, every other device's). The first download
    // starts the feed where the manifest was taken: this device had admitted nothing before. (The cursor is not
    // re-read from the store: that would load every ticket again.)
    let feedCursor = stored?.feedCursor ?? doc.feed_cursor ?? null;
    const limit = this.o.feedPageLimit ?? 1000;
    let lateConflicts = 0;
    for (let page = 0; page < 20; page++) {
      const q = `/api/v1/offline/events?event_id=${eventId}&only=double_entries&limit=${limit}${feedCursor ? `&since=${encodeURIComponent(feedCursor)}` : ''}`;
      const p = await api.request<FeedPage>('GET', q, undefined, this.timeoutMs);
      changed += p.events.length;
      await this.noteDoubleEntries(p.events);
      lateConflicts += await this.noteLateVerdicts(p.events);
      const feedPatchList = feedPatches(p.events);
      await store.applyManifestDelta(eventId, feedPatchList, { feed: p.next_cursor, refreshedAt: clock.now() });
      patches.push(...feedPatchList);
      feedCursor = p.next_cursor;
      if (!p.has_more) break;
    }
    await this.o.onManifestChanged?.(
      full ? { kind: 'full' } : { kind: 'delta', header, refreshedAt: clock.now(), patches },
    );
    return { ticketsChanged: changed, fullManifest: full, lateConflicts };
  }

  private async noteEventSize(tickets: readonly { serial: number }[]): Promise<void> {
    const known = this.eventTickets ?? null;
    let highest = known ?? 0;
    for (const t of tickets) if (t.serial > highest) highest = t.serial;
    if (highest === known) return;
    this.eventTickets = highest;
    await this.o.store.setMeta(META_EVENT_SIZE(this.o.eventId), highest);
  }

  /**
   * A scan the server refused by name: marked done with the refusal as its
   * answer (kept in the log and its export like any acknowledged scan, not
   * sent again) and listed in the status with its code, which outlives the
   * storage limit's pruning of the log.
   */
  private async setAside(scan: OutboxScan, message: string): Promise<void> {
    const { store, eventId, clock } = this.o;
    await store.acknowledge(eventId, 0, [
      { seq: scan.seq, syncStatus: 'failed', verdict: null, reason: 'refused', message, ambiguous: false },
    ]);
    const known = (await store.getMeta<RefusedScan[]>(META_REFUSED(eventId))) ?? [];
    if (known.some((r) => r.seq === scan.seq)) return;
    await store.setMeta(
      META_REFUSED(eventId),
      [{ seq: scan.seq, qrcode: scan.qrcode, message, at: clock.now() }, ...known].slice(0, MAX_REFUSED),
    );
  }

  /** This device's scans the server ruled conflicts, newest first (a re-upload's `duplicate` answer does not remove one). */
  private async noteConflicts(run: readonly OutboxScan[], acks: readonly AckResult[]): Promise<void> {
    const found = acks.filter((a) => a.syncStatus === 'conflict');
    if (found.length === 0) return;
    const { store, eventId } = this.o;
    const bySeq = new Map(run.map((s) => [s.seq, s]));
    const known = (await store.getMeta<SyncStatus['conflicts']>(META_CONFLICTS(eventId))) ?? [];
    const seen = new Set(known.map((c) => c.seq));
    const added = found
      .filter((a) => !seen.has(a.seq))
      .map((a) => ({
        seq: a.seq,
        qrcode: bySeq.get(a.seq)?.qrcode ?? '',
        reason: a.reason,
        message: a.message,
        ambiguous: a.ambiguous,
      }));
    if (added.length > 0)
      await store.setMeta(META_CONFLICTS(eventId), [...added.reverse(), ...known].slice(0, MAX_DOUBLE_ENTRIES));
  }

  /**
   * A conflict is two devices admitting one ticket. The losing device learns it
   * from its upload's answer; the winning one from the feed, here: another
   * device's scan ruled a conflict on a ticket this device admitted (the
   * server picks them, from all of this device's scans, online ones and those
   * its outbox no longer keeps included).
   */
  private async noteDoubleEntries(events: readonly FeedEvent[]): Promise<void> {
    // (This device's own scans in the feed are verdict changes: noteLateVerdicts.)
    const { store, eventId, deviceId } = this.o;
    const candidates = events.filter(
      (e): e is Extract<FeedEvent, { kind: 'scan' }> & { ticket_id: string } =>
        e.kind === 'scan' && e.verdict === 'conflict' && e.ticket_id !== null && e.device_id !== deviceId,
    );
    if (candidates.length === 0) return;
    const known = (await store.getMeta<DoubleEntry[]>(META_DOUBLE_ENTRIES(eventId))) ?? [];
    const seen = new Set(known.map((d) => d.scanId));
    const added: DoubleEntry[] = [];
    for (const e of candidates) {
      if (seen.has(e.scan_id)) continue;
      seen.add(e.scan_id);
      added.push({
        scanId: e.scan_id,
        ticketId: e.ticket_id,
        deviceId: e.device_id,
        at: e.scanned_at ? Date.parse(e.scanned_at) : null,
        gateId: e.gate_id,
        reason: e.conflict_reason ?? null,
        ambiguous: e.ambiguous ?? false,
      });
    }
    if (added.length > 0)
      await store.setMeta(META_DOUBLE_ENTRIES(eventId), [...added, ...known].slice(0, MAX_DOUBLE_ENTRIES));
  }

  /**
   * The losing side learns late: a scan of this device acknowledged as
   * admitted loses when another device's earlier scan of the ticket arrives
   * afterwards (its own upload's answer could not say so). The feed carries
   * this device's scans whose verdict changed after upload; a new conflict
   * joins the status's list, a scan admitted again (an organiser accepted it)
   * leaves it, and either way the scan in the log gets the server's verdict.
   * Returns how many new conflicts it learned.
   */
  private async noteLateVerdicts(events: readonly FeedEvent[]): Promise<number> {
    const { store, eventId, deviceId } = this.o;
    const own = events.filter(
      (e): e is Extract<FeedEvent, { kind: 'scan' }> & { seq: number } =>
        e.kind === 'scan' &&
        e.device_id === deviceId &&
        e.seq !== null &&
        e.revision > 0 &&
        (e.verdict === 'conflict' || e.verdict === 'admitted'),
    );
    if (own.length === 0) return 0;
    const known = (await store.getMeta<SyncStatus['conflicts']>(META_CONFLICTS(eventId))) ?? [];
    const bySeq = new Map(known.map((c) => [c.seq, c]));
    const acks: AckResult[] = [];
    const added: SyncStatus['conflicts'] = [];
    for (const e of own) {
      if (e.verdict === 'admitted') {
        bySeq.delete(e.seq);
        acks.push({
          seq: e.seq,
          syncStatus: 'synced',
          verdict: 'admitted',
          reason: null,
          message: 'Admitted after review',
          ambiguous: false,
        });
        continue;
      }
      const message = `Double entry: another device admitted this ticket earlier (${e.conflict_reason ?? 'already used'}); its scan arrived after yours`;
      const ack: AckResult = {
        seq: e.seq,
        syncStatus: 'conflict',
        verdict: 'conflict',
        reason: e.conflict_reason ?? null,
        message,
        ambiguous: e.ambiguous ?? false,
      };
      acks.push(ack);
      if (bySeq.has(e.seq)) continue;
      const qrcode = e.ticket_id
        ? ((await store.scansOfTicket(eventId, e.ticket_id)).find((sc) => sc.seq === e.seq)?.qrcode ?? '')
        : '';
      const c = { seq: e.seq, qrcode, reason: ack.reason, message, ambiguous: ack.ambiguous };
      bySeq.set(e.seq, c);
      added.push(c);
    }
    await store.acknowledge(eventId, 0, acks);
    const kept = known.filter((c) => bySeq.has(c.seq));
    await store.setMeta(META_CONFLICTS(eventId), [...added.reverse(), ...kept].slice(0, MAX_DOUBLE_ENTRIES));
    return added.length;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timerAt = this.o.clock.now() + ms;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = null;
      void this.syncNow();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = null;
  }

  private emit(): void {
    this.noteOnline();
    if (!this.o.onStatus) return;
    void this.status().then(this.o.onStatus, () => undefined);
  }

  /** When the last successful cycle started (device clock), read synchronously by the scanner's connectivity check. */
  get lastSuccessAt(): number | null {
    return this.state.lastSuccessAt;
  }

  /** For the status view: when the last download started (device clock). */
  get lastDownloadStartedAt(): number | null {
    return this.lastDownloadAt;
  }
}
