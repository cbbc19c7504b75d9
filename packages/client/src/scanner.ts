import {
  type Direction,
  type ScanReason,
  type ScanResult,
  type ScanVerdictResponse,
  type Verifier,
} from '@entrada/core';
import { systemClock, type Clock } from './clock.ts';
import { ConnectivityMonitor, type ConnectivityState } from './connectivity.ts';
import { ApiClient, ApiError, type FetchLike } from './http.ts';
import { decideLocally, type OwnAdmission } from './local-decision.ts';
import { ManifestIndex } from './manifest.ts';
import { mergeTicket, type ManifestUpdate } from './manifest-types.ts';
import { exportLog, recordScan, type DeviceLogExport, type HeadSigner } from './outbox.ts';
import type { ClientStore, OutboxScan, StorageProblem } from './storage/types.ts';
import { SyncLoop, type HeartbeatOptions, type SyncLock, type SyncStatus } from './sync-loop.ts';
import { META_ARCHIVED, type ArchivedCount } from './storage-limits.ts';

export interface ScannerOptions {
  store: ClientStore;
  baseUrl: string;
  eventId: string;
  device: { deviceId: string; token: string; publicKey?: Uint8Array | null; sign?: HeadSigner | null };
  fetch?: FetchLike;
  clock?: Clock;
  random?: () => number;
  newId?: () => string;
  verify?: Verifier;
  lock?: SyncLock;
  /** How long a gate waits for the server before deciding on its own. */
  onlineBudgetMs?: number;
  /** Manifest age after which local verdicts are flagged stale (amber). */
  staleAfterMs?: number;
  /**
   * True when the platform knows there is no network at all (the browser's
   * `navigator.onLine === false`): scans skip the online attempt. Only "down"
   * is trusted; "up" may still be a captive portal, which the budget handles.
   */
  networkDown?: () => boolean;
  /** While offline, how often a scan tries the server again first. */
  probeOnlineEveryMs?: number;
  uploadEveryMs?: number;
  manifestEveryMs?: number;
  requestTimeoutMs?: number;
  /** Added to a manifest download's budget per ticket of the event (see SyncLoopOptions). */
  manifestMsPerTicket?: number;
  keepAcknowledged?: number;
  onStatus?: (status: SyncStatus) => void;
  /**
   * Probe `GET /api/health` in the background (seed 004's connectivity
   * detection; default on): while the server is slow (over 1.5 s) or
   * unreachable, scans are decided on the device at once instead of each
   * waiting out the online budget. Off: every scan tries the server first.
   */
  probeConnectivity?: boolean;
  /** The connectivity level changed (online / slow / offline), for the status bar. */
  onConnectivity?: (state: ConnectivityState) => void;
  /** The staff member logged in on the device now (issue 13): sent with online scans and recorded with offline ones. */
  staffId?: () => string | null;
  /** Heartbeats to the server every 30 s while online and after each sync (see SyncLoopOptions). */
  heartbeat?: HeartbeatOptions;
}

export interface ScanOutcome {
  source: 'online' | 'offline';
  /** null only offline before any manifest was downloaded: the scan is kept, nothing can be checked. */
  result: ScanResult | null;
  reason: ScanReason | null;
  message: string;
  stale: boolean;
  /** Decided on ticket data past its `expires_at`: the verdict stands, flagged, and the app asks for a sync. */
  expired: boolean;
  scanId: string;
  /** The outbox seq of an offline scan. */
  seq: number | null;
  ticket: { id: string; number: string | null; tier: string | null; holderName: string | null } | null;
}

const NO_MANIFEST_MESSAGE = 'Cannot check offline — no ticket list yet. Scan recorded.';
const OTHER_EVENT_MESSAGE = 'Cannot check offline — the stored ticket list is for another event. Scan recorded.';

/**
 * The engine a scanner app talks to: online first, offline fallback. A scan
 * goes to the server with a short budget; if the server cannot be reached in
 * time the device decides on its manifest at once and queues the scan in its
 * durable outbox. It goes back online by itself: while offline every scan after
 * `probeOnlineEveryMs` tries the server first again, and every successful sync
 * marks it online.
 */
export class Scanner {
  readonly sync: SyncLoop;
  readonly connectivity: ConnectivityMonitor;
  private readonly api: ApiClient;
  private readonly clock: Clock;
  private readonly newId: () => string;
  private manifest: ManifestIndex | null = null;
  private otherEventManifest = false;
  /** Damage the store found on start (seed 004's corrupted local storage): shown to the user, never silently passed over. */
  storageProblems: StorageProblem[] = [];
  private nextProbeAt = 0;
  /** Online admissions since the last download: the manifest does not know them yet. */
  private recentOnline = new Map<string, OwnAdmission[]>();

  constructor(private readonly o: ScannerOptions) {
    this.clock = o.clock ?? systemClock;
    this.newId = o.newId ?? (() => globalThis.crypto.randomUUID());
    // Wrapped: a bare reference to window.fetch called as a method of another object throws "Illegal invocation" in browsers.
    const fetchFn: FetchLike =
      o.fetch ?? ((url, init) => globalThis.fetch(url, init) as unknown as ReturnType<FetchLike>);
    this.api = new ApiClient(o.baseUrl, o.device.token, fetchFn, this.clock);
    this.sync = new SyncLoop({
      store: o.store,
      api: this.api,
      clock: this.clock,
      random: o.random ?? Math.random,
      newId: this.newId,
      eventId: o.eventId,
      deviceId: o.device.deviceId,
      sign: o.device.sign ?? null,
      lock: o.lock,
      uploadEveryMs: o.uploadEveryMs,
      manifestEveryMs: o.manifestEveryMs,
      requestTimeoutMs: o.requestTimeoutMs,
      manifestMsPerTicket: o.manifestMsPerTicket,
      keepAcknowledged: o.keepAcknowledged,
      networkDown: o.networkDown,
      onManifestChanged: (update) => this.manifestChanged(update),
      onStatus: o.onStatus,
      heartbeat: o.heartbeat,
    });
    const networkDown = o.networkDown;
    this.connectivity = new ConnectivityMonitor({
      baseUrl: o.baseUrl,
      fetch: fetchFn,
      clock: this.clock,
      random: o.random ?? Math.random,
      ...(networkDown ? { onlineHint: () => !networkDown() } : {}),
      onChange: (state) => this.connectivityChanged(state),
    });
  }

  /** Loads what is stored and starts the sync loop (whose first run downloads the manifest). */
  async start(): Promise<void> {
    // Opens the scan log too, so damage in it is found (and the readable scans kept) before the first scan or sync.
    await this.o.store.counts(this.o.eventId);
    await this.reloadManifest();
    await this.sync.start();
    this.storageProblems = (await this.o.store.problems?.()) ?? [];
    if (this.o.probeConnectivity !== false) this.connectivity.start();
  }

  stop(): void {
    this.sync.stop();
    this.connectivity.stop();
  }

  /** Online until a request fails for transport reasons; any later success (scan or sync) brings it back. */
  get isOnline(): boolean {
    return this.sync.online;
  }

  get hasManifest(): boolean {
    return this.manifest !== null;
  }

  /** When the stored ticket data last came from the server (device clock), for "offline data 14 min old". */
  get manifestRefreshedAt(): number | null {
    return this.manifest?.refreshedAt ?? null;
  }

  /** The stored ticket data is past its `expires_at` (see ManifestIndex.expiresAt): the status bar says so. */
  manifestExpired(now = this.clock.now()): boolean {
    return this.manifest?.expired(now) ?? false;
  }

  get manifestExpiresAt(): number | null {
    return this.manifest?.expiresAt ?? null;
  }

  async reloadManifest(): Promise<void> {
    const stored = await this.o.store.loadManifest(this.o.eventId);
    // A store keyed by event should never hold another event's manifest; if it does (a damaged or hand-copied store), it is
    // not used: deciding on another event's tickets and rules would admit the wrong people. The next download replaces it.
    this.otherEventManifest = stored !== undefined && stored.header.event_id !== this.o.eventId;
    this.manifest = stored && !this.otherEventManifest ? ManifestIndex.from(stored, this.o.verify) : null;
    this.forgetDownloadedOnline();
  }

  /**
   * After a download: a delta is applied to the in-memory index (what was just written to the store), so a
   * sync does not read every stored ticket back; a full manifest is loaded from the store, the source of truth.
   */
  private async manifestChanged(update: ManifestUpdate): Promise<void> {
    if (update.kind === 'full' || !this.manifest) return this.reloadManifest();
    const tickets = this.manifest.tickets;
    const next = new ManifestIndex(update.header, tickets, update.refreshedAt, this.o.verify);
    for (const p of update.patches) next.upsert(mergeTicket(tickets.get(p.ticket_id), p));
    this.manifest = next;
    this.forgetDownloadedOnline();
  }

  /** Online admissions the last download already reflects: it includes everything the server had admitted when it started. */
  private forgetDownloadedOnline(): void {
    const horizon = this.sync?.lastDownloadStartedAt ?? null;
    if (horizon !== null) {
      for (const [id, list] of this.recentOnline) {
        const kept = list.filter((a) => a.at >= horizon);
        if (kept.length === 0) this.recentOnline.delete(id);
        else this.recentOnline.set(id, kept);
      }
    }
  }

  async scan(code: string, where: { gateId: string | null; direction: Direction }): Promise<ScanOutcome> {
    const scanId = this.newId();
    const now = this.clock.now();
    const staffId = this.o.staffId?.() ?? null;
    // A slow or unreachable server (the connectivity probe's verdict) is not waited for: the gate decides at once.
    if (!this.o.networkDown?.() && !this.serverSlowOrDown() && (this.sync.online || now >= this.nextProbeAt)) {
      try {
        const r = await this.api.request<ScanVerdictResponse>(
          'POST',
          '/api/v1/scanning/scan',
          {
            code,
            event_id: this.o.eventId,
            ...(where.gateId ? { gate_id: where.gateId } : {}),
            direction: where.direction,
            scan_id: scanId,
            ...(staffId ? { staff_id: staffId } : {}),
          },
          this.o.onlineBudgetMs ?? 1_500,
        );
        this.connectivity.report('online', this.clock.now() - now);
        this.wentOnline();
        this.rememberOnline(r);
        return {
          source: 'online',
          result: r.result,
          reason: r.reason,
          message: r.message,
          stale: false,
          expired: false,
          scanId,
          seq: null,
          ticket: r.ticket
            ? { id: r.ticket.id, number: r.ticket.number, tier: r.ticket.tier, holderName: r.ticket.holder_name }
            : null,
        };
      } catch (err) {
        // Only "could not reach the server in time" falls back; a refusal (revoked device, unknown gate) must be seen.
        if (!(err instanceof ApiError) || !err.retryable) throw err;
        this.connectivity.report(
          err.kind === 'timeout' ? 'slow' : 'offline',
          this.clock.now() - now,
          `A scan got no answer from the server (${err.message})`,
        );
        this.wentOffline();
      }
    }
    return this.scanOffline(code, where, scanId);
  }

  /** Decide on this device and record the scan durably before answering. */
  async scanOffline(
    code: string,
    where: { gateId: string | null; direction: Direction },
    scanId: string | null = null,
  ): Promise<ScanOutcome> {
    const { store, eventId, device } = this.o;
    const now = this.clock.now();
    const manifest = this.manifest;
    if (!manifest || manifest.event.id !== eventId) {
      const scan = await recordScan(store, eventId, device.deviceId, {
        qrcode: code,
        scannedAt: now,
        direction: where.direction,
        gateId: where.gateId,
        localResult: null,
        localReason: null,
        ticketId: null,
        scanId,
        staffId: this.o.staffId?.() ?? null,
      });
      this.sync.notifyPending();
      this.emitStatus();
      const message = manifest || this.otherEventManifest ? OTHER_EVENT_MESSAGE : NO_MANIFEST_MESSAGE;
      return {
        source: 'offline',
        result: null,
        reason: null,
        message,
        stale: true,
        expired: false,
        scanId: scanId ?? '',
        seq: scan.seq,
        ticket: null,
      };
    }
    const lookup = manifest.lookup(code);
    const own = lookup.kind === 'ticket' ? await this.ownAdmissions(lookup.ticket.ticket_id) : [];
    const d = decideLocally({
      eventId,
      manifest,
      lookup,
      gateId: where.gateId,
      direction: where.direction,
      now,
      deviceId: device.deviceId,
      own,
      staleAfterMs: this.o.staleAfterMs ?? 10 * 60_000,
    });
    const scan = await recordScan(store, eventId, device.deviceId, {
      // The canonical spelling, so the server's digest matches whatever case the scanner produced.
      qrcode: d.code ?? code,
      scannedAt: now,
      direction: where.direction,
      gateId: where.gateId,
      localResult: d.verdict.result,
      localReason: d.verdict.reason,
      ticketId: d.ticket?.ticket_id ?? null,
      scanId,
      staffId: this.o.staffId?.() ?? null,
    });
    this.sync.notifyPending();
    this.emitStatus();
    return {
      source: 'offline',
      result: d.verdict.result,
      reason: d.verdict.reason,
      message: d.message,
      stale: d.stale,
      expired: d.expired,
      scanId: scanId ?? '',
      seq: scan.seq,
      ticket: d.ticket
        ? {
            id: d.ticket.ticket_id,
            number: d.ticket.number ?? null,
            tier: d.ticket.tier ?? null,
            holderName: d.ticket.holder_name ?? null,
          }
        : null,
    };
  }

  status(): Promise<SyncStatus> {
    return this.sync.status();
  }

  /** How many answered failed/conflicting scans the storage limit removed from this device (the server keeps them). */
  async archivedCount(): Promise<number> {
    return (await this.o.store.getMeta<ArchivedCount>(META_ARCHIVED(this.o.eventId)))?.count ?? 0;
  }

  /** A scan joined the outbox: the pending count on screen follows at once, not at the next sync. */
  private emitStatus(): void {
    const listener = this.o.onStatus;
    if (listener) void this.sync.status().then(listener, () => undefined);
  }

  exportLog(): Promise<DeviceLogExport> {
    return exportLog(this.o.store, {
      eventId: this.o.eventId,
      deviceId: this.o.device.deviceId,
      now: this.clock.now(),
      publicKey: this.o.device.publicKey ?? null,
      sign: this.o.device.sign ?? null,
    });
  }

  private async ownAdmissions(ticketId: string): Promise<OwnAdmission[]> {
    const logged = await this.o.store.scansOfTicket(this.o.eventId, ticketId);
    const fromLog = logged.filter(admittedLocally).map((s) => ({
      at: s.scannedAt,
      direction: s.direction,
      gateId: s.gateId,
      consumesEntry: s.localReason === 'admitted',
    }));
    return [...fromLog, ...(this.recentOnline.get(ticketId) ?? [])];
  }

  private rememberOnline(r: ScanVerdictResponse): void {
    if (!r.ticket || r.result !== 'valid') return;
    const list = this.recentOnline.get(r.ticket.id) ?? [];
    list.push({
      at: Date.parse(r.scanned_at),
      direction: r.direction,
      gateId: null,
      consumesEntry: r.reason === 'admitted',
    });
    this.recentOnline.set(r.ticket.id, list);
  }

  private wentOnline(): void {
    if (!this.sync.online) {
      this.sync.markOnline();
      // Back online: flush the outbox now rather than at the next timer.
      void this.sync.onOnline();
    }
  }

  /**
   * What the status bar shows, decided as scans are: `slow` and `offline` mean
   * scans are decided on this device; `online` that they go to the server first.
   */
  connectionLevel(): 'online' | 'slow' | 'offline' {
    if (this.o.networkDown?.()) return 'offline';
    if (this.serverSlowOrDown()) return this.connectivity.current.level === 'slow' ? 'slow' : 'offline';
    return this.sync.online ? 'online' : 'offline';
  }

  /** The connectivity probe's verdict, except that a sync that succeeded after its last look proves an unreachable server back. */
  private serverSlowOrDown(): boolean {
    const c = this.connectivity.current;
    if (c.level === 'slow') return true;
    if (c.level !== 'offline') return false;
    const synced = this.sync.lastSuccessAt;
    return !(synced !== null && c.lastCheckedAt !== null && synced >= c.lastCheckedAt);
  }

  private connectivityChanged(state: ConnectivityState): void {
    // A probe found the server again: flush the outbox now rather than at the sync loop's next timer.
    if (state.level === 'online') this.wentOnline();
    this.o.onConnectivity?.(state);
  }

  private wentOffline(): void {
    this.nextProbeAt = this.clock.now() + (this.o.probeOnlineEveryMs ?? 10_000);
    this.sync.onOffline();
  }
}

/** Own scans that admitted someone at the gate and that the server has not turned into a conflict. */
function admittedLocally(s: OutboxScan): boolean {
  if (s.localResult !== 'valid') return false;
  return !s.server || s.server.syncStatus === 'synced' || s.server.syncStatus === 'duplicate';
}
