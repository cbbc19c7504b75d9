import { Lru } from '../cache/lru.ts';
import type { Sql } from '../db/database.ts';
import { findTicketByDigest, loadEventTickets, type TicketRecord } from '../store/tickets.ts';
import type { Bus } from './bus.ts';

const WARM_EVERY_MS = 10 * 60_000;

/**
 * Per-instance copies of ticket rows, so a warm scan costs one database round
 * trip (the guarded write). Copies may be stale — another instance may have
 * admitted the ticket — and that is safe: every write is a compare-and-set on
 * the row version, and a stale copy is replaced by the row the write returns.
 */
export class TicketCache {
  private readonly byDigest: Lru<string, TicketRecord>;
  private readonly keyById = new Map<string, string>();
  private readonly warmedAt = new Map<string, number>();

  constructor(private readonly sql: Sql, private readonly capacity: number, bus: Bus, private readonly now: () => number = Date.now) {
    this.byDigest = new Lru(capacity);
    bus.subscribe((m) => {
      if (m.type === 'ticket_changed') this.changed(m.ticketId, m.version);
      else if (m.type === 'tickets_changed') for (let i = 0; i < m.ticketIds.length; i++) this.changed(m.ticketIds[i]!, m.versions[i]!);
    });
  }

  /** Drops a copy older than `version` (a peek: an invalidation is not a use). */
  private changed(ticketId: string, version: number): void {
    const key = this.keyById.get(ticketId);
    const cached = key ? this.byDigest.peek(key) : undefined;
    if (key && cached && cached.version < version) this.byDigest.delete(key);
  }

  async find(eventId: string, digest: Buffer): Promise<TicketRecord | null> {
    const key = `${eventId}:${digest.toString('base64')}`;
    const hit = this.byDigest.get(key);
    if (hit) return hit;
    const ticket = await findTicketByDigest(this.sql, eventId, digest);
    if (ticket) this.put(key, ticket);
    return ticket;
  }

  update(eventId: string, digest: Buffer, ticket: TicketRecord): void {
    this.put(`${eventId}:${digest.toString('base64')}`, ticket);
  }

  forget(ticketId: string): void {
    const key = this.keyById.get(ticketId);
    if (key) this.byDigest.delete(key);
  }

  /** Loads an event's tickets in one query when its gates open, so first scans are one round trip too. */
  async warm(eventId: string): Promise<number> {
    const last = this.warmedAt.get(eventId) ?? 0;
    if (this.capacity === 0 || this.now() - last < WARM_EVERY_MS) return 0;
    this.warmedAt.set(eventId, this.now());
    const rows = await loadEventTickets(this.sql, eventId, this.capacity);
    for (const { digest, ticket } of rows) this.put(`${eventId}:${digest.toString('base64')}`, ticket);
    return rows.length;
  }

  private put(key: string, ticket: TicketRecord): void {
    this.byDigest.set(key, ticket);
    if (this.keyById.size > this.capacity * 2) this.keyById.clear();
    this.keyById.set(ticket.id, key);
  }
}
