import type { Sql } from '../db/database.ts';
import { findTicketByDigest, loadEventTickets, ticketsByDigests, type TicketRecord } from '../store/tickets.ts';
import type { Bus } from './bus.ts';

const WARM_EVERY_MS = 10 * 60_000;

interface Entry {
  ticket: TicketRecord;
  digestHex: string;
}

/**
 * The cache's own copy behind a ticket findMany returned, for advanceCopy
 * after the caller's compare-and-set: a sync upload advances hundreds of
 * copies, and looking each up again in an event-sized map (a cache miss or
 * two per look-up, ~1 µs) cost more than the write-back itself.
 */
export type CachedCopy = Readonly<Entry>;

interface EventTickets {
  byDigest: Map<string, Entry>;
  byId: Map<string, Entry>;
}

/**
 * Per-instance copies of ticket rows, so a warm scan costs one database round
 * trip (the guarded write) and a sync upload reads no ticket row at all.
 * Copies may be stale — another instance may have admitted the ticket — and
 * that is safe: every write is a compare-and-set on the row version, and a
 * stale copy is replaced by the row the write returns.
 *
 * Copies are kept per event and evicted oldest-loaded first. An event's
 * tickets are loaded together when its gates open and scanned over a few
 * hours, so recency bookkeeping would buy little; on a sync upload it cost
 * ~3 µs per scan (a Map delete and insert with a freshly concatenated key).
 */
export class TicketCache {
  private readonly events = new Map<string, EventTickets>();
  private size = 0;
  private readonly warmedAt = new Map<string, number>();
  /** Loads in flight, so concurrent first scans of an event share one. */
  private readonly loading = new Map<string, Promise<number>>();

  constructor(
    private readonly sql: Sql,
    private readonly capacity: number,
    bus: Bus,
    private readonly now: () => number = Date.now,
  ) {
    bus.subscribe((m) => {
      if (m.type === 'ticket_changed') this.changed(m.eventId, m.ticketId, m.version);
      else if (m.type === 'tickets_changed')
        for (let i = 0; i < m.ticketIds.length; i++) this.changed(m.eventId, m.ticketIds[i]!, m.versions[i]!);
    });
  }

  /** Drops a copy older than `version`. */
  private changed(eventId: string, ticketId: string, version: number): void {
    const entry = this.events.get(eventId)?.byId.get(ticketId);
    if (entry && entry.ticket.version < version) this.remove(eventId, entry);
  }

  async find(eventId: string, digest: Buffer): Promise<TicketRecord | null> {
    const digestHex = digest.toString('hex');
    const hit = this.events.get(eventId)?.byDigest.get(digestHex);
    if (hit) return hit.ticket;
    // The first miss of an event on this instance loads its tickets in the background (one query), so the
    // scans after it are one round trip each even when no device started a session (which also warms): a
    // cold online scan used to cost a ticket SELECT besides its write, every time (issue 15). This scan does
    // not wait for the load.
    if (!this.warmedAt.has(eventId)) void this.warm(eventId).catch(() => undefined);
    const ticket = await findTicketByDigest(this.sql, eventId, digest);
    if (ticket) this.put(eventId, digestHex, ticket);
    return ticket;
  }

  /**
   * The tickets of a batch of digests (hex), from the cache, the misses read
   * in one statement through `sql` (the caller's transaction). Absent digests
   * match no ticket. Copies may be stale: callers write with a compare-and-set
   * on the version, as the online path does.
   */
  async findMany(
    eventId: string,
    digestsHex: readonly string[],
    sql: Sql,
    /** Filled with the copies behind the tickets found, by ticket id (see advanceCopy). */
    copies?: Map<string, CachedCopy>,
  ): Promise<Map<string, TicketRecord>> {
    const found = new Map<string, TicketRecord>();
    const misses: string[] = [];
    const cached = this.events.get(eventId)?.byDigest;
    for (const hex of digestsHex) {
      const hit = cached?.get(hex);
      if (hit) {
        found.set(hex, hit.ticket);
        copies?.set(hit.ticket.id, hit);
      } else misses.push(hex);
    }
    if (misses.length === 0) return found;
    for (const { digestHex, ticket } of await ticketsByDigests(sql, eventId, misses)) {
      found.set(digestHex, ticket);
      const entry = this.put(eventId, digestHex, ticket);
      if (entry) copies?.set(ticket.id, entry);
    }
    return found;
  }

  update(eventId: string, digest: Buffer, ticket: TicketRecord): void {
    this.put(eventId, digest.toString('hex'), ticket);
  }

  /**
   * Records a state this instance wrote with a compare-and-set from a copy
   * findMany handed out (at `fromVersion`): the copy is current except for
   * its scan state. Any other copy is left alone (the bus message drops it if
   * it is older). A copy dropped or evicted since is no longer the cache's:
   * advancing it changes nothing (the next look-up reads the row).
   */
  advanceCopy(copy: CachedCopy, fromVersion: number, state: TicketRecord['state'], version: number): void {
    const entry = copy as Entry;
    if (entry.ticket.version === fromVersion) entry.ticket = withState(entry.ticket, state, version);
  }

  forget(eventId: string, ticketId: string): void {
    const entry = this.events.get(eventId)?.byId.get(ticketId);
    if (entry) this.remove(eventId, entry);
  }

  /** Loads an event's tickets in one query when its gates open, so first scans are one round trip too. */
  async warm(eventId: string): Promise<number> {
    const loading = this.loading.get(eventId);
    if (loading) return loading;
    const last = this.warmedAt.get(eventId);
    if (this.capacity === 0 || (last !== undefined && this.now() - last < WARM_EVERY_MS)) return 0;
    this.warmedAt.set(eventId, this.now());
    const load = loadEventTickets(this.sql, eventId, this.capacity)
      .then((rows) => {
        // A copy the instance already holds may be newer than the loaded row (a scan written meanwhile): keep it.
        for (const { digest, ticket } of rows) this.putIfNewer(eventId, digest.toString('hex'), ticket);
        return rows.length;
      })
      .finally(() => this.loading.delete(eventId));
    this.loading.set(eventId, load);
    return load;
  }

  private putIfNewer(eventId: string, digestHex: string, ticket: TicketRecord): void {
    const held = this.events.get(eventId)?.byDigest.get(digestHex);
    if (!held || held.ticket.version < ticket.version) this.put(eventId, digestHex, ticket);
  }

  private put(eventId: string, digestHex: string, ticket: TicketRecord): Entry | undefined {
    if (this.capacity <= 0) return undefined;
    let event = this.events.get(eventId);
    if (!event) {
      event = { byDigest: new Map(), byId: new Map() };
      this.events.set(eventId, event);
    }
    const existing = event.byDigest.get(digestHex);
    if (existing) {
      existing.ticket = ticket;
      return existing;
    }
    const entry: Entry = { ticket, digestHex };
    event.byDigest.set(digestHex, entry);
    event.byId.set(ticket.id, entry);
    this.size++;
    if (this.size > this.capacity) this.evictOldest();
    return entry;
  }

  private remove(eventId: string, entry: Entry): void {
    const event = this.events.get(eventId);
    if (!event || event.byDigest.get(entry.digestHex) !== entry) return;
    event.byDigest.delete(entry.digestHex);
    event.byId.delete(entry.ticket.id);
    this.size--;
    if (event.byDigest.size === 0) this.events.delete(eventId);
  }

  private evictOldest(): void {
    for (const [eventId, event] of this.events) {
      const oldest = event.byDigest.values().next();
      if (!oldest.done) {
        this.remove(eventId, oldest.value);
        return;
      }
    }
  }
}

/** A new record rather than a mutation (a request may still hold the old one); spelled out, which V8 builds 2–4× faster than a spread. */
function withState(t: TicketRecord, state: TicketRecord['state'], version: number): TicketRecord {
  return {
    id: t.id,
    eventId: t.eventId,
    serial: t.serial,
    typeId: t.typeId,
    number: t.number,
    holderName: t.holderName,
    codeKind: t.codeKind,
    status: t.status,
    statusChangedAt: t.statusChangedAt,
    statusReason: t.statusReason,
    statusHistory: t.statusHistory,
    state,
    version,
  };
}
