import { randomBytes } from 'node:crypto';
import { roleAtLeast, type Role } from '@entrada/core';
import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import type { AdminPrincipal } from '../store/organisations.ts';
import { holderNames, liveCounts, pendingFromHeartbeats, rateSince } from '../store/live.ts';
import type { Bus, BusMessage, LiveScan, ScanCountChange } from './bus.ts';
import type { DeviceDirectory } from './device-directory.ts';
import { DomainError } from './errors.ts';
import type { EventContext } from './event-context.ts';
import type { EventService } from './event-service.ts';
import { applyScan, countedOccupancy, countsFromRows, type LiveCounts } from './live-counts.ts';

/**
 * Where a stream's frames go: the route adapts the HTTP response to it, so the
 * service never sees a socket. `buffered` is what the client has not read yet.
 */
export interface LiveSink {
  write(text: string): void;
  buffered(): number;
  onDrain(listener: () => void): void;
  end(): void;
}

export interface LiveOptions {
  /** ENTRADA_LIVE_MAX: streams per instance; the next is answered 503 BUSY. */
  maxStreams: number;
  /** Unread bytes a stream may hold before it is dropped to a snapshot. */
  bufferBytes?: number;
  /** The least time between two `occupancy` messages (and two recounts) of one event on this instance. */
  recountMs?: number;
  /** Scans and rate increments are sent in batches this often (one frame for many scans). */
  flushMs?: number;
  /** Comment lines that keep proxies from closing an idle stream. */
  heartbeatMs?: number;
  /** How long an event's recent messages are kept after its last stream left (a reconnect within it resumes). */
  lingerMs?: number;
  now?: () => number;
  log: Logger;
}

/** Holder names in the scan feed: supervisors and above (they act on tickets); a viewer's wall screen shows none. */
export const HOLDER_NAMES_ROLE: Role = 'supervisor';
const RING = 2_000;
/**
 * The most scans one `scan` message lists: the newest; the rest are counted in `omitted` (counts and rates are
 * always complete). The console shows the latest 30, so listing more only costs bytes: at 1,000 scans/s, 200 a
 * flush was 16 MB/s of JSON to 50 dashboards, and their writes took CPU from scanning (bench:live).
 */
const SCANS_PER_FLUSH = 50;
const RATE_WINDOW_MS = 120 * 60_000;
const MINUTE = 60_000;
/**
 * A full recount tells which scans its snapshot holds among those recorded this long before it: a scan whose
 * message reaches the stream during the recount is added to it unless it is one of them. So a scan's message
 * must arrive within this of its recording (online scans: their request's time).
 */
const RECENT_MS = 10_000;

interface Entry {
  seq: number;
  frame: string;
  named: string | null;
}

interface Stream {
  id: number;
  channel: Channel;
  sink: LiveSink;
  names: boolean;
  userId: string | null;
  tokenId: string | null;
  /** Building its snapshot: messages wait in `queue` (bounded; past it, the snapshot is simply rebuilt). */
  starting: boolean;
  queue: Entry[] | null;
  /** Dropped for reading too slowly: nothing is written until the socket drains, then a fresh snapshot. */
  lagging: boolean;
  closed: boolean;
}

interface Channel {
  eventId: string;
  organisationId: string;
  streams: Set<Stream>;
  ring: Entry[];
  lastSeq: number;
  /** The instance's seq when the channel was made: messages before it were never kept. */
  startSeq: number;
  /** The newest seq the ring has let go of. */
  evictedSeq: number;
  pendingScans: LiveScan[];
  droppedScans: number;
  rate: Map<string, { minute: number; gateId: string | null; entries: number; exits: number }>;
  flushTimer: NodeJS.Timeout | null;
  recountTimer: NodeJS.Timeout | null;
  recounting: boolean;
  dirty: boolean;
  lastRecountAt: number;
  lastRecountMs: number;
  lastOccupancy: string | null;
  /**
   * The counts, kept from the online scans' changes (no query per scan); null until the first full recount,
   * and after a correction arrived while no stream watched.
   */
  counts: LiveCounts | null;
  /** Scans with their changes that arrived while a full recount was being read: added to its result unless it holds them. */
  held: Array<{ scan: LiveScan; change: ScanCountChange }> | null;
  /** Something other than an online scan changed admissions of record (a correction, a sync): the next recount reads everything. */
  needFull: boolean;
  /** A heartbeat changed the pending band: the next recount reads it. */
  needPending: boolean;
  pending: { pending: number; devices: number } | null;
  /** The recount being run, for a snapshot that needs its counts. */
  counting: Promise<void> | null;
  lingerTimer: NodeJS.Timeout | null;
  /**
   * The snapshot being read for this event, shared by every stream that asks meanwhile: 50 dashboards
   * connecting (or draining) at once read the counts once, not 50 times — without this the snapshots'
   * recounts took every database connection and scanning stalled (bench:live, 1,000 scans/s).
   */
  snapshotting: Promise<SnapshotFrames> | null;
  /** The last snapshot read, reused while nothing was sent since and it is younger than `recountMs`. */
  lastSnapshot: { frames: SnapshotFrames; at: number } | null;
  /**
   * Messages numbered in this turn of the event loop, written to the streams together at its end: a flush's
   * `scan` and `rate` (and an `occupancy` of the same turn) reach each socket in one write, not one each.
   */
  outbox: Entry[];
}

/** A snapshot's two messages, serialised once, and the seq it reflects (later messages follow it). */
interface SnapshotFrames {
  asOf: number;
  occupancy: string;
  rate: string;
}

/**
 * The organisers' live stream (issue 13 §1). One channel per event with
 * streams on this instance, fed by the bus (in-process, and from the other
 * instances through Redis): scans are batched, occupancy is recounted at most
 * once per `recountMs` per event whatever the number of dashboards (one query
 * for 50 of them), and every message is numbered `<instance>.<seq>` and kept in
 * a bounded ring so a reconnect to the same instance resumes without a gap; an
 * id from another instance (or too old) gets a fresh snapshot instead.
 * Nothing here runs on the scan path but a map look-up and an array push.
 */
export class LiveService {
  private readonly instance = randomBytes(4).toString('hex');
  private readonly channels = new Map<string, Channel>();
  private seq = 0;
  private nextStreamId = 1;
  private open = 0;
  private fullReads = 0;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly bufferBytes: number;
  private readonly recountMs: number;
  private readonly flushMs: number;
  private readonly lingerMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly devices: DeviceDirectory,
    bus: Bus,
    private readonly opts: LiveOptions,
  ) {
    this.bufferBytes = opts.bufferBytes ?? 256 * 1024;
    this.recountMs = opts.recountMs ?? 250;
    this.flushMs = opts.flushMs ?? 200;
    this.lingerMs = opts.lingerMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.unsubscribe = bus.subscribe((m) => this.onMessage(m));
    this.heartbeat = setInterval(() => this.ping(), opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Streams open on this instance. */
  get size(): number {
    return this.open;
  }

  /** Full recounts read by this instance (every other occupancy message is added up from the scans). */
  get fullRecounts(): number {
    return this.fullReads;
  }

  /**
   * Checks the caller may watch the event and takes a stream slot; `start` then
   * attaches the response. Refused 503 BUSY (with Retry-After) past the limit,
   * before anything is written.
   */
  async admit(
    admin: AdminPrincipal,
    eventId: string,
  ): Promise<{ ctx: EventContext; start(sink: LiveSink, lastEventId: string | undefined): () => void }> {
    if (this.closed || this.open >= this.opts.maxStreams) {
      const seconds = 5 + Math.floor(Math.random() * 10);
      throw new DomainError(
        'BUSY',
        'This server has as many live streams open as it takes; try again after Retry-After seconds',
        { retry_after_s: seconds },
        { 'retry-after': String(seconds) },
      );
    }
    // The slot is taken before the first await so concurrent callers cannot all pass the check; given back at
    // once on refusal, and by the stream's end otherwise (the route starts the stream synchronously).
    this.open++;
    let ctx: EventContext;
    try {
      ctx = await this.events.get(admin.organisationId, eventId);
    } catch (err) {
      this.open--;
      throw err;
    }
    return { ctx, start: (sink, lastEventId) => this.attach(ctx, admin, sink, lastEventId) };
  }

  /** Ends every stream (server shutdown): nothing waits for clients. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const ch of this.channels.values()) {
      for (const s of ch.streams) this.end(s);
      this.dropChannel(ch);
    }
    this.channels.clear();
  }

  private attach(
    ctx: EventContext,
    admin: AdminPrincipal,
    sink: LiveSink,
    lastEventId: string | undefined,
  ): () => void {
    const ch = this.channel(ctx.event.id, ctx.event.organisationId);
    const stream: Stream = {
      id: this.nextStreamId++,
      channel: ch,
      sink,
      names: roleAtLeast(admin.role, HOLDER_NAMES_ROLE),
      userId: admin.userId,
      tokenId: admin.tokenId,
      starting: true,
      queue: [],
      lagging: false,
      closed: false,
    };
    ch.streams.add(stream);
    sink.write('retry: 2000\n\n');
    const resumeFrom = this.resumable(ch, lastEventId);
    if (resumeFrom !== null) {
      stream.starting = false;
      stream.queue = null;
      // What this turn numbered is still in the outbox and reaches the stream with everyone else's.
      const unsent = ch.outbox[0]?.seq ?? Infinity;
      for (const e of ch.ring) if (e.seq > resumeFrom && e.seq < unsent) this.write(stream, e);
      // A correction came while nobody watched: the counts are read again and sent.
      if (ch.counts === null) this.scheduleRecount(ch);
    } else {
      void this.snapshot(ctx, stream);
    }
    sink.onDrain(() => {
      if (!stream.lagging || stream.closed) return;
      stream.lagging = false;
      stream.starting = true;
      stream.queue = [];
      void this.snapshot(ctx, stream);
    });
    return () => this.end(stream);
  }

  /** The seq to replay after, when `lastEventId` is this instance's and the ring still holds everything after it. */
  private resumable(ch: Channel, lastEventId: string | undefined): number | null {
    const m = lastEventId ? /^([0-9a-f]{8})\.([0-9]{1,15})$/.exec(lastEventId) : null;
    if (!m || m[1] !== this.instance) return null;
    const seq = Number(m[2]);
    // Every message of this event after `seq` must be in the ring: recorded since (the channel existed) and not evicted.
    if (seq > this.seq || seq < ch.startSeq || seq < ch.evictedSeq) return null;
    return seq;
  }

  private async snapshot(ctx: EventContext, stream: Stream): Promise<void> {
    const ch = stream.channel;
    try {
      const snap = await this.snapshotFrames(ctx, ch);
      if (stream.closed) return;
      stream.sink.write(snap.occupancy);
      stream.sink.write(snap.rate);
      // A stream that joined a snapshot already being read queued only what came after it joined; what came
      // between the snapshot's start and the join is in the counts it reads (the event's counts when it is ready).
      const queued = stream.queue ?? [];
      stream.queue = null;
      stream.starting = false;
      for (const e of queued) if (e.seq > snap.asOf) this.write(stream, e);
    } catch (err) {
      this.opts.log.warn({ err }, 'live stream snapshot failed; closing the stream (the client reconnects)');
      this.end(stream);
    }
  }

  /** The event's snapshot: the one being read if there is one (single flight), else a new read. */
  private snapshotFrames(ctx: EventContext, ch: Channel): Promise<SnapshotFrames> {
    if (ch.snapshotting) return ch.snapshotting;
    const now = this.now();
    // Nothing sent since it was read, and no older than a recount would be: what every other dashboard shows.
    const last = ch.lastSnapshot;
    if (last && last.frames.asOf === ch.lastSeq && now - last.at < this.recountMs) return Promise.resolve(last.frames);
    const asOf = ch.lastSeq;
    const reading = Promise.all([
      this.currentOccupancy(ctx, ch),
      rateSince(this.db, ctx.event.id, now - RATE_WINDOW_MS),
    ]).then(([occupancy, rate]) => {
      const id = `${this.instance}.${asOf}`;
      const gates = [...ctx.gates.values()].map((g) => ({ gate_id: g.id, name: g.name }));
      const buckets = new Map<string, { minute: number; gate_id: string | null; entries: number; exits: number }>();
      for (const r of rate) {
        const key = `${r.minute}|${r.gateId}`;
        const b = buckets.get(key) ?? { minute: r.minute, gate_id: r.gateId, entries: 0, exits: 0 };
        if (r.direction === 'entry') b.entries += r.n;
        else b.exits += r.n;
        buckets.set(key, b);
      }
      return {
        asOf,
        occupancy: frame(id, 'occupancy', JSON.stringify(occupancy)),
        rate: frame(
          id,
          'rate',
          JSON.stringify({ mode: 'snapshot', from: now - RATE_WINDOW_MS, gates, buckets: [...buckets.values()] }),
        ),
      };
    });
    ch.snapshotting = reading;
    const done = (): void => {
      if (ch.snapshotting === reading) ch.snapshotting = null;
    };
    reading.then((frames) => {
      ch.lastSnapshot = { frames, at: now };
      done();
    }, done);
    return reading;
  }

  private write(stream: Stream, e: Entry): void {
    if (stream.closed || stream.lagging) return;
    if (stream.starting) {
      // A snapshot is on its way; a backlog past the ring is not worth keeping (the snapshot is rebuilt on drain).
      if (stream.queue && stream.queue.length < RING) stream.queue.push(e);
      return;
    }
    this.writeText(stream, stream.names && e.named !== null ? e.named : e.frame);
  }

  private writeText(stream: Stream, text: string): void {
    if (stream.sink.buffered() > this.bufferBytes) {
      // The client reads too slowly: stop feeding it; when it catches up it gets a fresh snapshot instead.
      stream.lagging = true;
      return;
    }
    stream.sink.write(text);
  }

  private end(stream: Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.open--;
    const ch = stream.channel;
    ch.streams.delete(stream);
    try {
      stream.sink.end();
    } catch {
      /* already gone */
    }
    if (ch.streams.size === 0 && !this.closed) {
      // Kept a while so a reconnect resumes from the ring; a fresh stream cancels this.
      ch.lingerTimer = setTimeout(() => {
        if (ch.streams.size === 0) {
          this.dropChannel(ch);
          this.channels.delete(ch.eventId);
        }
      }, this.lingerMs);
      ch.lingerTimer.unref();
    }
  }

  private channel(eventId: string, organisationId: string): Channel {
    let ch = this.channels.get(eventId);
    if (!ch) {
      ch = {
        eventId,
        organisationId,
        streams: new Set(),
        ring: [],
        lastSeq: this.seq,
        startSeq: this.seq,
        evictedSeq: 0,
        pendingScans: [],
        droppedScans: 0,
        rate: new Map(),
        flushTimer: null,
        recountTimer: null,
        recounting: false,
        dirty: false,
        lastRecountAt: 0,
        lastRecountMs: 0,
        lastOccupancy: null,
        counts: null,
        held: null,
        needFull: false,
        needPending: false,
        pending: null,
        counting: null,
        lingerTimer: null,
        snapshotting: null,
        lastSnapshot: null,
        outbox: [],
      };
      this.channels.set(eventId, ch);
    }
    if (ch.lingerTimer) {
      clearTimeout(ch.lingerTimer);
      ch.lingerTimer = null;
    }
    return ch;
  }

  private dropChannel(ch: Channel): void {
    for (const t of [ch.flushTimer, ch.recountTimer, ch.lingerTimer]) if (t) clearTimeout(t);
    ch.flushTimer = ch.recountTimer = ch.lingerTimer = null;
  }

  /** Numbers a message, keeps it in the event's ring and writes it to every stream of the event. */
  private broadcast(ch: Channel, event: string, data: unknown, named?: unknown): void {
    const seq = ++this.seq;
    const id = `${this.instance}.${seq}`;
    const e: Entry = {
      seq,
      frame: frame(id, event, JSON.stringify(data)),
      named: named === undefined ? null : frame(id, event, JSON.stringify(named)),
    };
    ch.lastSeq = seq;
    ch.ring.push(e);
    if (ch.ring.length > RING) ch.evictedSeq = ch.ring.splice(0, ch.ring.length - RING).at(-1)!.seq;
    ch.outbox.push(e);
    if (ch.outbox.length === 1) queueMicrotask(() => this.send(ch));
  }

  /**
   * Writes this turn's messages to every stream of the event, one socket write per stream: a write is a syscall
   * and the kernel's copy, so 50 dashboards cost 50 writes a flush, not 50 per message (bench:live).
   */
  private send(ch: Channel): void {
    const entries = ch.outbox;
    ch.outbox = [];
    if (entries.length === 1) {
      for (const s of ch.streams) this.write(s, entries[0]!);
      return;
    }
    let plain: string | null = null;
    let named: string | null = null;
    for (const s of ch.streams) {
      if (s.closed || s.lagging) continue;
      if (s.starting) {
        for (const e of entries) this.write(s, e);
        continue;
      }
      if (s.names) named ??= entries.map((e) => e.named ?? e.frame).join('');
      else plain ??= entries.map((e) => e.frame).join('');
      this.writeText(s, s.names ? named! : plain!);
    }
  }

  private onMessage(m: BusMessage): void {
    if (!('eventId' in m)) {
      if (m.type === 'user_sessions_changed') this.closeWhere((s) => s.userId === m.userId);
      // A revoked token must not keep watching: its streams close and must authenticate again.
      if (m.type === 'admin_tokens_changed') this.closeWhere((s) => s.tokenId !== null);
      return;
    }
    const ch = this.channels.get(m.eventId);
    if (!ch || (ch.streams.size === 0 && ch.lingerTimer === null)) return;
    switch (m.type) {
      case 'scans_recorded':
        for (const sc of m.scans) {
          if (!sc.counts) ch.needFull = true;
          else {
            if (ch.counts) applyScan(ch.counts, sc, sc.counts);
            if (ch.held) ch.held.push({ scan: sc, change: sc.counts });
          }
          ch.pendingScans.push(sc);
          // Only the newest are listed: older ones are let go in chunks (no shift per scan).
          if (ch.pendingScans.length >= 2 * SCANS_PER_FLUSH) {
            ch.droppedScans += ch.pendingScans.length - SCANS_PER_FLUSH;
            ch.pendingScans = ch.pendingScans.slice(-SCANS_PER_FLUSH);
          }
          if (sc.verdict === 'valid') {
            const minute = Math.floor(sc.at / MINUTE) * MINUTE;
            const key = `${minute}|${sc.gateId}`;
            const b = ch.rate.get(key) ?? { minute, gateId: sc.gateId, entries: 0, exits: 0 };
            if (sc.direction === 'entry') b.entries++;
            else b.exits++;
            ch.rate.set(key, b);
          }
        }
        this.scheduleFlush(ch);
        this.scheduleRecount(ch);
        break;
      // Corrections of admissions of record (conflict resolution, cancellation, quarantine, a sync's replay) and
      // set-up changes: a full recount. An online scan's `ticket_changed` and `occupancy` are in its
      // `scans_recorded`; every other sender of `ticket_changed` also sends one of these.
      case 'occupancy_changed':
      case 'event_changed':
      case 'tickets_changed':
        ch.needFull = true;
        this.scheduleRecount(ch);
        break;
      case 'device_health_changed':
        this.broadcast(ch, 'device', { device_id: m.deviceId });
        // Heartbeats carry the pending scans the occupancy's band is made of: that alone is read again.
        ch.needPending = true;
        this.scheduleRecount(ch);
        break;
      case 'conflicts_changed':
        this.broadcast(ch, 'conflict', { conflict_ids: m.conflictIds, state: m.state });
        ch.needFull = true;
        this.scheduleRecount(ch);
        break;
      case 'alert_changed':
        this.broadcast(ch, 'alert', { alert_id: m.alertId, state: m.state });
        break;
      default:
        break;
    }
  }

  private closeWhere(test: (s: Stream) => boolean): void {
    for (const ch of this.channels.values()) for (const s of [...ch.streams]) if (test(s)) this.end(s);
  }

  private scheduleFlush(ch: Channel): void {
    if (ch.flushTimer) return;
    ch.flushTimer = setTimeout(() => {
      ch.flushTimer = null;
      void this.flush(ch);
    }, this.flushMs);
    ch.flushTimer.unref();
  }

  /** One `scan` message for the scans of the last `flushMs` (with names for the roles that see them: one query), one `rate` increment. */
  private async flush(ch: Channel): Promise<void> {
    const scans = ch.pendingScans.slice(-SCANS_PER_FLUSH);
    const dropped = ch.droppedScans + (ch.pendingScans.length - scans.length);
    const rate = [...ch.rate.values()];
    ch.pendingScans = [];
    ch.droppedScans = 0;
    ch.rate = new Map();
    if (ch.streams.size === 0 && ch.lingerTimer === null) return;
    try {
      const ctx = await this.events.get(ch.organisationId, ch.eventId).catch(() => null);
      const gateName = (id: string | null): string | null => (id && ctx ? (ctx.gates.get(id)?.name ?? null) : null);
      const orgId = ctx?.event.organisationId;
      const deviceNames = new Map<string, string | null>();
      for (const sc of scans) {
        if (sc.deviceId && orgId && !deviceNames.has(sc.deviceId))
          deviceNames.set(sc.deviceId, (await this.devices.name(orgId, sc.deviceId)) ?? null);
      }
      const wantNames = [...ch.streams].some((s) => s.names);
      const ticketIds = [...new Set(scans.map((s) => s.ticketId).filter((t): t is string => t !== null))];
      const names = wantNames ? await holderNames(this.db, ch.eventId, ticketIds) : new Map<string, string>();
      const view = scans.map((sc) => ({
        scan_id: sc.scanId,
        at: sc.at,
        received_at: sc.receivedAt,
        gate_id: sc.gateId,
        gate: gateName(sc.gateId),
        device_id: sc.deviceId,
        device: sc.deviceId ? (deviceNames.get(sc.deviceId) ?? null) : null,
        staff_id: sc.staffId,
        direction: sc.direction,
        verdict: sc.verdict,
        reason: sc.reason,
        offline: sc.offline,
      }));
      if (view.length > 0) {
        const named = wantNames
          ? view.map((v, i) => ({ ...v, holder_name: names.get(scans[i]!.ticketId ?? '') ?? null }))
          : undefined;
        this.broadcast(
          ch,
          'scan',
          { scans: view, omitted: dropped },
          named === undefined ? undefined : { scans: named, omitted: dropped },
        );
      }
      if (rate.length > 0) {
        this.broadcast(ch, 'rate', {
          mode: 'increment',
          buckets: rate.map((b) => ({ minute: b.minute, gate_id: b.gateId, entries: b.entries, exits: b.exits })),
        });
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'live stream: a batch of scans could not be described');
    }
  }

  /**
   * Coalesced: at most one recount per event per `recountMs` on this instance,
   * shared by all its streams — or longer when recounts get slow (four times the
   * last one's duration), so a busy database is not asked more often than it answers.
   */
  private scheduleRecount(ch: Channel): void {
    if (ch.recountTimer) return;
    if (ch.recounting) {
      ch.dirty = true;
      return;
    }
    const gap = Math.max(this.recountMs, 4 * ch.lastRecountMs);
    const wait = Math.max(0, ch.lastRecountAt + gap - this.now());
    ch.recountTimer = setTimeout(() => {
      ch.recountTimer = null;
      void this.recount(ch);
    }, wait);
    ch.recountTimer.unref();
  }

  private recount(ch: Channel, forSnapshot = false): Promise<void> {
    if (ch.counting) return ch.counting;
    const counting = this.count(ch, forSnapshot).finally(() => {
      ch.counting = null;
    });
    ch.counting = counting;
    return counting;
  }

  /**
   * Sends the event's occupancy if it changed: from the counts in memory, after reading what is stale — the
   * pending band after a heartbeat, everything after a correction or when there are no counts yet (one
   * statement, see liveCounts). For a snapshot, nothing is sent: the snapshot carries the counts, and a message
   * would only make the next dashboard's snapshot older than the stream (read again instead of shared).
   */
  private async count(ch: Channel, forSnapshot: boolean): Promise<void> {
    if (ch.streams.size === 0) {
      // Nobody to send to: a correction cannot be added up, so the counts are dropped and read on the next stream.
      if (ch.needFull) {
        ch.counts = null;
        ch.needFull = false;
      }
      return;
    }
    ch.recounting = true;
    ch.dirty = false;
    const full = ch.needFull || ch.counts === null;
    const pendingToo = full || ch.needPending || ch.pending === null;
    ch.needFull = false;
    ch.needPending = false;
    // Before the first await: every scan message from here on may or may not be in the recount's snapshot.
    if (full) {
      ch.held = [];
      this.fullReads++;
    }
    const started = this.now();
    try {
      const ctx = await this.events.get(ch.organisationId, ch.eventId);
      const [rows, pending] = await Promise.all([
        full ? liveCounts(this.db, ch.eventId, RECENT_MS) : null,
        pendingToo ? pendingFromHeartbeats(this.db, ch.eventId) : null,
      ]);
      if (rows) {
        const counts = countsFromRows(rows);
        for (const h of ch.held ?? []) if (!rows.recent.has(h.scan.scanId)) applyScan(counts, h.scan, h.change);
        ch.counts = counts;
      }
      if (pending) ch.pending = pending;
      const occupancy = this.occupancyOf(ctx, ch);
      // Streams already past their snapshot hear of the change by the next recount, from memory.
      if (forSnapshot) {
        if ([...ch.streams].some((s) => !s.starting)) ch.dirty = true;
      } else if (occupancy) {
        // `at` aside, an unchanged count is not sent again.
        const text = JSON.stringify({ ...occupancy, at: 0 });
        if (text !== ch.lastOccupancy) {
          ch.lastOccupancy = text;
          this.broadcast(ch, 'occupancy', occupancy);
        }
      }
    } catch (err) {
      // Read again next time (the counts in memory go on moving meanwhile).
      if (full) ch.needFull = true;
      if (pendingToo) ch.needPending = true;
      ch.dirty = true;
      this.opts.log.warn({ err }, 'live stream: occupancy recount failed');
    } finally {
      if (full) ch.held = null;
      ch.recounting = false;
      ch.lastRecountAt = this.now();
      // Only reads are worth spacing out: sending from memory costs no query.
      ch.lastRecountMs = full || pendingToo ? ch.lastRecountAt - started : 0;
      if (ch.dirty) this.scheduleRecount(ch);
    }
  }

  /** The occupancy message from the counts in memory, or null before they were first read. */
  private occupancyOf(ctx: EventContext, ch: Channel): LiveOccupancy | null {
    if (!ch.counts || !ch.pending) return null;
    const counted = countedOccupancy(ctx, ch.counts);
    const capacities = counted.zones.map((z) => z.capacity).filter((c): c is number => c !== null);
    return {
      inside: counted.inside,
      admitted: counted.admitted,
      capacity: capacities.length > 0 ? capacities.reduce((a, b) => a + b, 0) : null,
      zones: counted.zones,
      pending_max: ch.pending.pending,
      pending_devices: ch.pending.devices,
      denied: counted.denied,
      denied_total: counted.denied_total,
      at: this.now(),
    };
  }

  /** A snapshot's occupancy: from memory when the counts are current, else after the recount that reads them. */
  private async currentOccupancy(ctx: EventContext, ch: Channel): Promise<LiveOccupancy> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!ch.needFull && !ch.needPending) {
        const ready = this.occupancyOf(ctx, ch);
        if (ready) return ready;
      }
      if (ch.recountTimer) {
        clearTimeout(ch.recountTimer);
        ch.recountTimer = null;
      }
      await this.recount(ch, true);
    }
    const last = this.occupancyOf(ctx, ch);
    if (!last) throw new Error('live stream: the counts could not be read');
    return last;
  }

  private ping(): void {
    for (const ch of this.channels.values()) {
      for (const s of ch.streams) if (!s.lagging && !s.closed) s.sink.write(': keep-alive\n\n');
    }
  }
}

export interface LiveOccupancy {
  inside: number;
  admitted: number;
  /** The zones' capacities added up (null when no zone has one). */
  capacity: number | null;
  zones: Array<{
    zone_id: string;
    name: string;
    inside: number;
    capacity: number | null;
    entries: number;
    exits: number;
  }>;
  /** The most the counts may still rise by: scans the devices' latest heartbeats say they hold. */
  pending_max: number;
  /** How many devices hold them. */
  pending_devices: number;
  /** Refused scans by reason, and their total. */
  denied: Record<string, number>;
  denied_total: number;
  at: number;
}

function frame(id: string, event: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;
}
