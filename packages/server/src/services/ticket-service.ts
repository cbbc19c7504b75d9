import {
  issueSignedCode,
  isInside,
  parseScannedCode,
  ticketIdOf,
  type CreateTicketsBody,
  type IssuedTicket,
  type NewTicket,
  type TicketStatus,
  type TicketView,
} from '@entrada/core';
import type { Database } from '../db/database.ts';
import { deriveKey, seal, unseal } from '../crypto/seal.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import { ticketScans, type TicketScan } from '../store/scans.ts';
import {
  allocateSerials,
  clashingTicketKeys,
  getTicketForOrganisation,
  insertTickets,
  listTickets,
  searchTickets,
  setTicketStatus,
  type NewTicketRow,
  type TicketRecord,
} from '../store/tickets.ts';
import { insertAudit } from '../store/audit.ts';
import type { Caller } from './audit.ts';
import type { Bus } from './bus.ts';
import type { EventContext, EventContexts, TypeContext } from './event-context.ts';
import type { EventService } from './event-service.ts';
import type { TicketCache } from './ticket-cache.ts';
import type { TableStats } from './table-stats.ts';

export type { IssuedTicket };

/** A new ticket checked against the event, before it has a serial. */
export interface PreparedTicket {
  type: TypeContext;
  code: string | null;
  number: string | undefined;
  holderName: string | null;
}

export type { TicketView };

const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());

/** Ticket issue (bulk, set-based), look-up, cancellation and export. */
export class TicketService {
  private readonly codeSealKey: Buffer;
  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly contexts: EventContexts,
    private readonly cache: TicketCache,
    private readonly bus: Bus,
    serverSecret: Buffer,
    private readonly now: () => number = Date.now,
    private readonly stats?: TableStats,
  ) {
    this.codeSealKey = deriveKey(serverSecret, 'imported-codes');
  }

  /**
   * Creates up to 10,000 tickets in one transaction and one INSERT. Without a
   * `code`, Entrada issues a signed code. All or nothing: any clash (code or
   * number already used) rolls the whole batch back with a 409 naming it.
   */
  async create(organisationId: string, eventId: string, body: CreateTicketsBody): Promise<IssuedTicket[]> {
    const ctx = await this.contextFor(organisationId, eventId, body.tickets);
    const prepared = this.prepare(ctx, body.tickets, (i, field) => `/tickets/${i}/${field}`);

    const issued = await this.db.transaction(async (tx) => {
      const first = await allocateSerials(tx, eventId, prepared.length);
      const { rows, created } = this.rowsOf(ctx, prepared, first);
      const inserted = await insertTickets(tx, eventId, rows);
      if (inserted !== rows.length) {
        const clash = await clashingTicketKeys(
          tx,
          eventId,
          rows.map((r) => r.id),
          rows.map((r) => r.number),
          rows.map((r) => r.codeDigestHex),
        );
        if (clash.digests.length > 0) {
          const i = rows.findIndex((r) => clash.digests.includes(r.codeDigestHex));
          throw new DomainError(
            'DUPLICATE_CODE',
            `/tickets/${i}/code is already used by another ticket of this event; nothing was created`,
          );
        }
        const i = rows.findIndex((r) => clash.numbers.includes(r.number));
        throw new DomainError(
          'DUPLICATE_NUMBER',
          `/tickets/${Math.max(i, 0)}/number "${rows[Math.max(i, 0)]?.number}" is already used in this event; nothing was created`,
        );
      }
      return created;
    });
    this.stats?.recordWrites('tickets', issued.length);
    return issued;
  }

  /** The event's context, refreshed once when a ticket names a type this instance has not seen yet (made on another). */
  async contextFor(organisationId: string, eventId: string, tickets: NewTicket[]): Promise<EventContext> {
    const ctx = await this.events.get(organisationId, eventId);
    if (tickets.some((t) => !ctx.types.has(t.ticket_type_id))) return (await this.contexts.refresh(eventId))!;
    return ctx;
  }

  /**
   * Checks new tickets without the database: the type is the event's, an imported code is usable and not
   * Entrada-signed, no code or number repeats within the batch. `at(i, field)` names a field in errors.
   */
  prepare(ctx: EventContext, tickets: NewTicket[], at: (i: number, field: string) => string): PreparedTicket[] {
    const seenCodes = new Map<string, number>();
    const seenNumbers = new Map<string, number>();
    return tickets.map((t, i) => {
      const type = ctx.types.get(t.ticket_type_id);
      if (!type) throw invalid(`${at(i, 'ticket_type_id')} is not a ticket type of this event`);
      let code: string | null = null;
      if (t.code !== undefined) {
        const parsed = parseScannedCode(t.code);
        if (parsed.kind === 'invalid')
          throw invalid(`${at(i, 'code')} is not a usable ticket code (${parsed.reason.replace('_', ' ')})`);
        if (parsed.kind === 'signed')
          throw invalid(`${at(i, 'code')} looks like an Entrada-signed code; omit code to have one issued`);
        code = parsed.code;
        const twin = seenCodes.get(code);
        if (twin !== undefined) throw new DomainError('DUPLICATE_CODE', `${at(i, 'code')} repeats ${at(twin, 'code')}`);
        seenCodes.set(code, i);
      }
      if (t.number !== undefined) {
        const twin = seenNumbers.get(t.number);
        if (twin !== undefined)
          throw new DomainError('DUPLICATE_NUMBER', `${at(i, 'number')} repeats ${at(twin, 'number')}`);
        seenNumbers.set(t.number, i);
      }
      return { type, code, number: t.number, holderName: t.holder_name ?? null };
    });
  }

  /** Rows to insert for prepared tickets from serial `first` on: ids, default numbers, signed codes, digests, sealed imported codes. */
  rowsOf(
    ctx: EventContext,
    prepared: PreparedTicket[],
    first: number,
  ): { rows: NewTicketRow[]; created: IssuedTicket[] } {
    const signer = prepared.some((p) => p.code === null) ? ctx.signer() : null;
    const created: IssuedTicket[] = [];
    const rows: NewTicketRow[] = prepared.map((p, i) => {
      const serial = first + i;
      const code = p.code ?? this.signedCode(ctx, p.type, serial, signer!);
      const row: NewTicketRow = {
        id: ticketIdOf(ctx.event.ref, serial),
        serial,
        typeId: p.type.id,
        number: p.number ?? String(serial),
        holderName: p.holderName,
        codeKind: p.code === null ? 'signed' : 'imported',
        codeDigestHex: ctx.digest(code).toString('hex'),
        sealedCodeHex: p.code === null ? null : seal(this.codeSealKey, Buffer.from(code, 'utf8')).toString('hex'),
      };
      created.push({ id: row.id, code, number: row.number });
      return row;
    });
    return { rows, created };
  }

  /**
   * The ticket with its scan history: time, gate, device and staff member (with their names), verdict, reason,
   * online or offline.
   */
  async get(
    organisationId: string,
    ticketId: string,
  ): Promise<{
    view: TicketView & { status_history: Array<{ at: string; status: TicketStatus }> };
    scans: Array<TicketScan & { gateName: string | null }>;
  }> {
    const ticket = await getTicketForOrganisation(this.db, organisationId, ticketId);
    if (!ticket) throw notFound('Ticket');
    const ctx = await this.events.get(organisationId, ticket.eventId);
    const scans = await ticketScans(this.db, ticket.eventId, ticket.id);
    // The status history (the console's rule check judges a scan at a past time on the status then).
    const view = {
      ...this.view(ctx, ticket),
      status_history: ticket.statusHistory.map((c) => ({ at: new Date(c.at).toISOString(), status: c.status })),
    };
    return {
      view,
      scans: scans.map((sc) => ({
        ...sc,
        gateName: sc.gateId === null ? null : (ctx.gates.get(sc.gateId)?.name ?? null),
      })),
    };
  }

  /**
   * Cancels or blocks a ticket, or undoes it: `unblock` takes a blocked
   * ticket back to valid, `reinstate` a cancelled one. status_changed_at is
   * the moment of the change either way, and the change is appended to the
   * ticket's status history in the same statement: offline scans are judged
   * on the status at their scan time (core's ticketStatusAt), so a scan made
   * before a cancellation stands, one made while the ticket was blocked is
   * refused even when it arrives after the unblock, and one made after a
   * reinstatement is judged on a valid ticket. Audited in the same transaction.
   */
  async setStatus(
    c: Caller,
    ticketId: string,
    change: 'cancel' | 'block' | 'unblock' | 'reinstate',
    reason: string | null,
  ): Promise<TicketView> {
    const ticket = await getTicketForOrganisation(this.db, c.organisationId, ticketId);
    if (!ticket) throw notFound('Ticket');
    const ctx = await this.events.get(c.organisationId, ticket.eventId);
    const status: TicketStatus = change === 'cancel' ? 'cancelled' : change === 'block' ? 'blocked' : 'valid';
    if (ticket.status === status) return this.view(ctx, ticket);
    const undoes = change === 'unblock' ? 'blocked' : change === 'reinstate' ? 'cancelled' : null;
    if (undoes !== null && ticket.status !== undoes) {
      throw new DomainError(
        'CONFLICT',
        `The ticket is ${ticket.status}, not ${undoes}: ${ticket.status === 'blocked' ? 'unblock' : 'reinstate'} it instead`,
      );
    }
    const updated = await this.db.transaction(async (tx) => {
      const changed = await setTicketStatus(tx, ticket.eventId, ticket.id, status, reason, this.now(), ticket.status);
      if (!changed) throw new DomainError('CONFLICT', 'The ticket changed meanwhile; look at it again and retry');
      // Read back in the transaction: the row as changed, with the history that now ends in this change.
      const row = await getTicketForOrganisation(tx, c.organisationId, ticket.id);
      if (!row) throw notFound('Ticket');
      await insertAudit(tx, {
        organisationId: c.organisationId,
        eventId: ticket.eventId,
        actor: c.actor,
        action: `ticket.${change}`,
        subjectKind: 'ticket',
        subjectId: ticket.id,
        before: { status: ticket.status, status_reason: ticket.statusReason },
        after: { status, status_reason: reason },
      });
      return row;
    });
    this.cache.forget(ticket.eventId, ticket.id);
    this.bus.publish({
      type: 'ticket_changed',
      eventId: ticket.eventId,
      ticketId: ticket.id,
      version: updated.version,
    });
    // Live dashboards recount (a cancelled ticket's denials, its holder's later scans).
    this.bus.publish({ type: 'occupancy_changed', eventId: ticket.eventId });
    return this.view(ctx, updated);
  }

  /**
   * Tickets matching `q` (a number prefix, part of a holder's name, or a
   * whole scanned code, found by its keyed digest), in serial order; the
   * cursor is the last serial of the previous page. No codes in the answer.
   */
  async search(
    organisationId: string,
    eventId: string,
    q: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ tickets: TicketView[]; next_cursor: string | null }> {
    const ctx = await this.events.get(organisationId, eventId);
    let after = 0;
    if (cursor !== undefined) {
      const decoded = /^s([0-9]{1,15})$/.exec(cursor);
      if (!decoded) throw invalid('cursor is not one this server gave; start again without it');
      after = Number(decoded[1]);
    }
    const term = q.trim();
    const parsed = term === '' ? null : parseScannedCode(term);
    const digest =
      parsed === null || parsed.kind === 'invalid'
        ? null
        : ctx.digest(parsed.kind === 'signed' ? parsed.text.toUpperCase() : parsed.code);
    // Names are searched for text of 3 characters or more with a letter in it, and not a signed code (trigram index).
    const byName = parsed?.kind !== 'signed' && term.length >= 3 && /\p{L}/u.test(term);
    const rows = await searchTickets(this.db, eventId, term, digest, byName, after, limit + 1);
    const page = rows.slice(0, limit);
    return {
      tickets: page.map((t) => this.view(ctx, t)),
      next_cursor: rows.length > limit ? `s${page.at(-1)!.serial}` : null,
    };
  }

  /** A page of tickets with their codes (organisers only), in serial order. */
  async export(
    organisationId: string,
    eventId: string,
    afterSerial: number,
    limit: number,
  ): Promise<{ tickets: Array<TicketView & { code: string; serial: number }>; next_after: number | null }> {
    const ctx = await this.events.get(organisationId, eventId);
    const rows = await listTickets(this.db, eventId, afterSerial, limit);
    const signer = rows.some((r) => r.ticket.codeKind === 'signed') ? ctx.signer() : null;
    const tickets = rows.map(({ ticket, sealedCode }) => {
      const type = ctx.types.get(ticket.typeId)!;
      const code = sealedCode
        ? unseal(this.codeSealKey, sealedCode).toString('utf8')
        : this.signedCode(ctx, type, ticket.serial, signer!);
      return { ...this.view(ctx, ticket), serial: ticket.serial, code };
    });
    return { tickets, next_after: rows.length === limit ? rows.at(-1)!.ticket.serial : null };
  }

  /**
   * The codes of tickets for a manifest that ships them (`manifest_ticket_codes`): imported codes unsealed, signed ones
   * re-issued (deterministically, as for export). In the rows' order; '' when there is none to give.
   */
  codesOf(ctx: EventContext, rows: ReadonlyArray<{ ticket: TicketRecord; sealedCode?: Buffer | null }>): string[] {
    const signer = rows.some((r) => r.ticket.codeKind === 'signed') ? ctx.signer() : null;
    return rows.map(({ ticket, sealedCode }) => {
      if (sealedCode) return unseal(this.codeSealKey, sealedCode).toString('utf8');
      if (ticket.codeKind !== 'signed') return '';
      const type = ctx.types.get(ticket.typeId);
      return type ? this.signedCode(ctx, type, ticket.serial, signer!) : '';
    });
  }

  /** Deterministic: Ed25519 signatures are, so re-issuing for export yields the very same code. */
  private signedCode(
    ctx: EventContext,
    type: TypeContext,
    serial: number,
    signer: { keyId: number; sign: (m: Uint8Array) => Uint8Array },
  ): string {
    return issueSignedCode(
      {
        keyId: signer.keyId,
        eventRef: ctx.event.ref,
        ticketSerial: serial,
        typeRef: type.ref,
        validFrom: type.validFrom,
        validUntil: type.validUntil,
      },
      signer.sign,
    );
  }

  private view(ctx: EventContext, t: TicketRecord): TicketView {
    const type = ctx.types.get(t.typeId);
    return {
      id: t.id,
      event_id: t.eventId,
      number: t.number,
      ticket_type_id: t.typeId,
      tier: type?.name ?? '',
      holder_name: t.holderName,
      status: t.status,
      status_reason: t.statusReason,
      status_changed_at: iso(t.statusChangedAt),
      scans_used: t.state.entries,
      max_scans: type?.maxScans ?? 1,
      inside: isInside(t.state),
      first_scanned_at: iso(t.state.first?.at),
      first_scanned_by: t.state.first?.deviceId ?? null,
      last_scan: t.state.last
        ? {
            at: iso(t.state.last.at)!,
            direction: t.state.last.direction,
            device_id: t.state.last.deviceId,
            gate_id: t.state.last.gateId,
          }
        : null,
    };
  }
}
