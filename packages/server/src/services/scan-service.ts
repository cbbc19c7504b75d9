import {
  applyAdmission,
  applyCapacity,
  capacityManaged,
  decideAdmission,
  describeVerdict,
  entryZones,
  gateAdmitsZones,
  isInside,
  readScannedCode,
  unmatchedCode,
  type Direction,
  type ScanResult,
  type ScanVerdictResponse,
  type TicketFacts,
  type TicketScanState,
  type Verdict,
  type VerdictReason,
  type ZoneCapacity,
} from '@entrada/core';
import { pgErrorCode, PG_DEADLOCK, PG_UNIQUE_VIOLATION, type Database, type Sql } from '../db/database.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import { nodeVerifier } from '../crypto/ed25519-node.ts';
import { uuidv7 } from '../crypto/uuidv7.ts';
import { Lru } from '../cache/lru.ts';
import type { DeviceRecord, SessionRecord } from '../store/devices.ts';
import { getSession } from '../store/devices.ts';
import {
  admitIfUnchanged,
  admitWithoutGuard,
  getScan,
  recordUnmatchedScan,
  rejectIfUnchanged,
  type GuardedWrite,
  type ScanRecordInput,
} from '../store/scans.ts';
import { flagDevice } from '../store/device-logs.ts';
import { flagOverCapacity, insideCells, lockZones } from '../store/zone-capacity.ts';
import { zonesFor } from './occupancy-service.ts';
import type { TicketRecord } from '../store/tickets.ts';
import type { Bus, ScanCountChange } from './bus.ts';
import { scanCountChange } from './live-counts.ts';
import type { EventContext, GateContext, TypeContext } from './event-context.ts';
import type { EventContexts } from './event-context.ts';
import type { TicketCache } from './ticket-cache.ts';
import type { DeviceDirectory } from './device-directory.ts';
import { assertDeviceEvent } from './device-service.ts';
import type { TableStats } from './table-stats.ts';

type ScanBase = Omit<ScanRecordInput, 'ticketId' | 'codeDigest' | 'result' | 'reason' | 'admits'>;
/** A decision as written: the verdict after capacity, the row, the ticket's new state if it admitted, the warn zones it took over. */
interface Written {
  verdict: Verdict;
  input: ScanRecordInput;
  next: TicketScanState | null;
  overCapacity: string[];
  write: GuardedWrite;
}
const NO_ZONES: readonly ZoneCapacity[] = [];

/** The capacity-managed zones an entry at this gate with this type puts a person in (none for most events: no query then). */
function capacityZones(ctx: EventContext, gate: GateContext, type: TypeContext): ZoneCapacity[] {
  if (!ctx.capacityManaged) return [];
  const out: ZoneCapacity[] = [];
  for (const id of entryZones(gate.zoneIds, type.zoneIds, [...ctx.zones.keys()])) {
    const z = ctx.zones.get(id);
    if (z && capacityManaged({ id, capacity: z.capacity, mode: z.capacityMode }))
      out.push({ id, capacity: z.capacity, mode: z.capacityMode });
  }
  return out;
}

/** People inside each zone, from the inside cells (last entry gate × type) as occupancy counts them. */
function zoneInside(
  ctx: EventContext,
  cells: ReadonlyArray<{ gateId: string | null; typeId: string; inside: number }>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of cells) for (const z of zonesFor(ctx, c.gateId, c.typeId)) out.set(z, (out.get(z) ?? 0) + c.inside);
  return out;
}

/** What a retried scan must repeat to get the stored verdict. */
type RetryKey = Pick<ScanRecordInput, 'scanId' | 'devicePk' | 'gateId' | 'direction'>;

export interface ScanRequest {
  device: DeviceRecord;
  code: string;
  sessionId?: string | undefined;
  eventId?: string | undefined;
  gateId?: string | undefined;
  direction?: Direction | undefined;
  scanId?: string | undefined;
  /** The staff member logged in on the device, as it says (checked against the event's staff where the scan is stored). */
  staffId?: string | undefined;
}

// Contention on one ticket resolves in a couple of rounds; the bound only guards against a bug looping forever.
const MAX_ATTEMPTS = 16;
// A cached session only spares reading its event, gate and direction, which never change: whether it is still
// active is checked by the statement that records the scan, and the bus evicts an ended one at once.
const SESSION_TTL_MS = 5_000;
const sessionEnded = (): DomainError =>
  new DomainError('SESSION_ENDED', 'This scan session has ended; start a new one');

/**
 * The online scan workflow: authenticate (done by the route) → resolve where →
 * parse → verify → find the ticket → decide with core's rules → guarded write
 * that records the scan → publish → answer. A warm scan is one round trip.
 */
export class ScanService {
  private readonly sessions = new Lru<string, { at: number; session: SessionRecord }>(20_000);

  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly tickets: TicketCache,
    private readonly devices: DeviceDirectory,
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
    /** false only in the race control experiment (see admitWithoutGuard). */
    private readonly guard: boolean = true,
    private readonly stats?: TableStats,
  ) {
    bus.subscribe((m) => {
      if (m.type === 'session_ended') this.sessions.delete(m.sessionId);
    });
  }

  async scan(req: ScanRequest): Promise<ScanVerdictResponse> {
    // Every attempt becomes a scans row, whatever the verdict.
    this.stats?.recordWrites('scans', 1);
    const where = await this.resolveWhere(req);
    const { ctx, gate } = where;
    const direction = req.direction ?? where.direction;
    const now = this.now();
    const base: ScanBase = {
      // Time-ordered when the server picks it, as the sync's rows: the scans' primary key and physical-scan index
      // then grow at their right edge instead of dirtying (and, after a checkpoint, logging) a random page per scan.
      eventId: ctx.event.id,
      scanId: req.scanId ?? uuidv7(now),
      direction,
      devicePk: req.device.pk,
      deviceId: req.device.deviceId,
      gateId: gate.id,
      sessionId: where.sessionId,
      scannedAt: now,
      source: 'online',
      staffId: req.staffId ?? null,
    };
    /**
     * `digest`: the code's keyed digest, recorded with the scan so a retry can be told from another code reusing
     * its scan_id (see replayed); `findsTickets`: whether a ticket is looked up by it (not for an unreadable code
     * or another event's signed code, which the sync path records without one).
     */
    const unmatched = async (
      result: ScanResult,
      reason: VerdictReason,
      digest: Buffer,
      findsTickets: boolean,
    ): Promise<ScanVerdictResponse> => {
      const stored = await recordUnmatchedScan(this.db, {
        ...base,
        ticketId: null,
        codeDigest: digest,
        result,
        reason,
        admits: false,
      });
      if (stored === 'session_ended') return this.ended(base.sessionId!);
      if (stored === 'replay') return this.replayed(ctx, base, digest, findsTickets);
      this.publishScan(
        { ...base, ticketId: null, codeDigest: digest, result, reason, admits: false },
        scanCountChange(null, false, null, null),
      );
      return this.answer(ctx, { result, reason, admits: false }, direction, null, null, base.scanId, now);
    };

    // Core's classifier, as the sync and the scanners apply it: no query but the ticket's look-up by digest.
    const code = readScannedCode(req.code, ctx.codeScope, nodeVerifier);
    if (code.kind === 'unreadable')
      return unmatched(code.refusal.result, code.refusal.reason, ctx.digest(req.code), false);
    if (code.kind === 'other_event')
      return unmatched(code.refusal.result, code.refusal.reason, ctx.digest(code.text), false);

    // No signature check before the look-up: a code whose keyed digest matches a ticket is exactly the text we
    // issued. Only a code that matches nothing is verified (in unmatchedCode), to tell a forged code from an unknown one.
    const digest = ctx.digest(code.text);
    const found = await this.tickets.find(ctx.event.id, digest);
    if (!found) {
      const refusal = unmatchedCode(code, ctx.codeScope, nodeVerifier);
      return unmatched(refusal.result, refusal.reason, digest, true);
    }
    let ticket: TicketRecord = found;
    const type = await this.typeOf(ctx, ticket);

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const facts: TicketFacts = {
        id: ticket.id,
        eventId: ticket.eventId,
        status: ticket.status,
        statusChangedAt: ticket.statusChangedAt,
      };
      const decided = decideAdmission({
        event: ctx.policy,
        ticket: facts,
        type: type.policy,
        gate: gate.policy,
        direction,
        now,
        deviceId: req.device.deviceId,
        state: ticket.state,
      });
      // An entry that puts someone into a capacity-managed zone is decided and written under that zone's lock.
      const zones =
        decided.admits && direction === 'entry' && !isInside(ticket.state) ? capacityZones(ctx, gate, type) : NO_ZONES;
      let outcome: Written;
      try {
        outcome =
          zones.length === 0
            ? await this.write(this.db, ctx, ticket, decided, base, digest, zones, req)
            : await this.db.transaction((tx) => this.write(tx, ctx, ticket, decided, base, digest, zones, req));
      } catch (err) {
        // The offline copy of this very scan was uploaded in the meantime: decide again, the replay check will find it.
        if (pgErrorCode(err) === PG_UNIQUE_VIOLATION && req.scanId !== undefined) continue;
        // An upload holding this ticket waited for the zone lock this entry held (capacity.ts): PostgreSQL aborted one; decide again.
        if (pgErrorCode(err) === PG_DEADLOCK && zones.length > 0) continue;
        throw err;
      }
      const { verdict, write, input, next, overCapacity } = outcome;
      if (write.kind === 'replay') return this.replayed(ctx, base, digest, true);
      if (write.kind === 'session_ended') return this.ended(base.sessionId!);
      if (write.kind === 'stale') {
        ticket = write.current;
        this.tickets.update(ctx.event.id, digest, ticket);
        continue;
      }
      const before = ticket;
      if (next) {
        ticket = { ...ticket, state: next, version: write.version };
        this.tickets.update(ctx.event.id, digest, ticket);
        this.publishAdmission(ctx, before, ticket, gate, direction, now);
      }
      // Decided on the ticket's current version (the write's guard): the change is exact, so dashboards add it up.
      this.publishScan(input, scanCountChange(ticket.typeId, input.admits, before.state, ticket.state));
      return this.answer(ctx, verdict, direction, ticket, type, base.scanId, now, overCapacity);
    }
    throw new DomainError('UNAVAILABLE', 'The ticket is changing too fast; scan again');
  }

  /**
   * Writes one decision with the ticket's version guard; for an entry into capacity-managed zones (`zones`,
   * within the caller's transaction) it first takes the zones' locks, counts who is inside and applies
   * core's capacity rule: an enforcing full zone refuses `zone_full`, a warn zone admits and flags the scan.
   */
  private async write(
    sql: Sql,
    ctx: EventContext,
    ticket: TicketRecord,
    decided: Verdict,
    base: ScanBase,
    digest: Buffer,
    zones: readonly ZoneCapacity[],
    req: ScanRequest,
  ): Promise<Written> {
    let verdict = decided;
    let overCapacity: string[] = [];
    if (zones.length > 0) {
      await lockZones(
        sql,
        ctx.event.id,
        zones.map((z) => z.id),
      );
      const inside = zoneInside(ctx, await insideCells(sql, ctx.event.id));
      ({ verdict, overCapacity } = applyCapacity(decided, base.direction, false, zones, (id) => inside.get(id) ?? 0));
    }
    const input: ScanRecordInput = {
      ...base,
      ticketId: ticket.id,
      codeDigest: digest,
      result: verdict.result,
      reason: verdict.reason,
      admits: verdict.admits,
    };
    if (!verdict.admits)
      return {
        verdict,
        input,
        next: null,
        overCapacity,
        write: await rejectIfUnchanged(sql, ticket.version, input, req.scanId !== undefined),
      };
    const next = applyAdmission(
      ticket.state,
      { at: base.scannedAt, direction: base.direction, deviceId: base.deviceId, gateId: base.gateId },
      verdict.reason === 'admitted',
    );
    const write = this.guard
      ? await admitIfUnchanged(sql, ticket.version, next, input, req.scanId !== undefined)
      : await admitWithoutGuard(sql, next, input);
    if (write.kind === 'applied' && overCapacity.length > 0) await flagOverCapacity(sql, ctx.event.id, base.scanId);
    return { verdict, input, next, overCapacity, write };
  }

  private async resolveWhere(
    req: ScanRequest,
  ): Promise<{ ctx: EventContext; gate: GateContext; direction: Direction; sessionId: string | null }> {
    let eventId = req.eventId;
    let gateId = req.gateId;
    let direction: Direction = 'entry';
    let sessionId: string | null = null;
    if (req.sessionId) {
      const session = await this.session(req.sessionId);
      if (!session || session.devicePk !== req.device.pk) throw notFound('Scan session');
      if (session.status !== 'active') throw sessionEnded();
      if ((eventId && eventId !== session.eventId) || (gateId && gateId !== session.gateId)) {
        throw invalid('event_id/gate_id do not match the session; send the session alone');
      }
      ({ eventId, gateId, direction } = session);
      sessionId = session.id;
    }
    if (!eventId || !gateId) throw invalid('Send session_id, or event_id and gate_id');
    let ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== req.device.organisationId) throw notFound('Event');
    assertDeviceEvent(req.device, eventId);
    let gate = ctx.gates.get(gateId);
    if (!gate) {
      ctx = (await this.contexts.refresh(eventId))!;
      gate = ctx?.gates.get(gateId);
    }
    if (!ctx || !gate) throw notFound('Gate');
    return { ctx, gate, direction, sessionId };
  }

  private async session(id: string): Promise<SessionRecord | null> {
    const hit = this.sessions.get(id);
    if (hit && this.now() - hit.at < SESSION_TTL_MS) return hit.session;
    const session = await getSession(this.db, id);
    if (session) this.sessions.set(id, { at: this.now(), session });
    return session;
  }

  /** The session ended after this instance cached it (on another instance, without Redis to say so). */
  private ended(sessionId: string): never {
    this.sessions.delete(sessionId);
    throw sessionEnded();
  }

  private async typeOf(ctx: EventContext, ticket: TicketRecord): Promise<TypeContext> {
    const type = ctx.types.get(ticket.typeId) ?? (await this.contexts.refresh(ctx.event.id))?.types.get(ticket.typeId);
    if (!type) throw new Error(`ticket type ${ticket.typeId} missing from event ${ctx.event.id}`);
    return type;
  }

  /** For the organisers' live dashboards on every instance: what was just recorded, from memory (no query on the scan path). */
  private publishScan(s: ScanRecordInput, counts: ScanCountChange): void {
    this.bus.publish({
      type: 'scans_recorded',
      eventId: s.eventId,
      scans: [
        {
          scanId: s.scanId,
          at: s.scannedAt,
          receivedAt: s.scannedAt,
          gateId: s.gateId,
          deviceId: s.deviceId,
          staffId: null,
          direction: s.direction,
          verdict: s.result,
          reason: s.reason,
          offline: false,
          ticketId: s.ticketId,
          counts,
        },
      ],
    });
  }

  private publishAdmission(
    ctx: EventContext,
    before: TicketRecord,
    after: TicketRecord,
    gate: GateContext,
    direction: Direction,
    at: number,
  ): void {
    this.bus.publish({ type: 'ticket_changed', eventId: ctx.event.id, ticketId: after.id, version: after.version });
    const delta = (isInside(after.state) ? 1 : 0) - (isInside(before.state) ? 1 : 0);
    this.bus.publish({ type: 'occupancy', eventId: ctx.event.id, gateId: gate.id, direction, delta, at });
  }

  /**
   * A scan with the request's scan_id is already recorded. A retry key is bound to what it retries: only the
   * same device, at the same gate and direction, with the same code (by keyed digest) gets the stored verdict.
   * Answering it to anything else let any code — or any device of the organisation — pass with the verdict of
   * an earlier admission, so such a request is refused, and the device flagged for the organisers (offline
   * health, sync status), without the code. The offline copy of a scan whose code could not be digested
   * (unreadable, another event's) holds no digest: it matches only such a code.
   */
  private async replayed(
    ctx: EventContext,
    attempt: RetryKey,
    digest: Buffer,
    findsTickets: boolean,
  ): Promise<ScanVerdictResponse> {
    const stored = await getScan(this.db, ctx.event.id, attempt.scanId);
    if (!stored) throw new DomainError('CONFLICT', 'scan_id is already used by another scan');
    const sameCode = stored.codeDigest ? stored.codeDigest.equals(digest) : !findsTickets;
    const other =
      stored.devicePk !== attempt.devicePk
        ? `${stored.deviceId}'s scan`
        : stored.gateId !== attempt.gateId || stored.direction !== attempt.direction
          ? 'a scan at another gate or direction'
          : !sameCode
            ? 'a scan of another code'
            : null;
    if (other !== null) {
      await flagDevice(
        this.db,
        ctx.event.id,
        attempt.devicePk,
        'scan_id_reused',
        `sent scan_id ${attempt.scanId} of ${other} with a different request`,
        this.now(),
      );
      throw new DomainError('SCAN_ID_REUSED', 'This scan_id belongs to another scan; a new scan needs a new scan_id');
    }
    const verdict: Verdict = { result: stored.result, reason: stored.reason, admits: stored.admits };
    return this.answer(ctx, verdict, stored.direction, null, null, attempt.scanId, stored.scannedAt);
  }

  private async answer(
    ctx: EventContext,
    verdict: Verdict,
    direction: Direction,
    ticket: TicketRecord | null,
    type: TypeContext | null,
    scanId: string,
    now: number,
    overCapacity: readonly string[] = [],
  ): Promise<ScanVerdictResponse> {
    const gateName = (id: string): string | undefined => ctx.gates.get(id)?.name;
    const suggested =
      verdict.result === 'wrong_gate' && type
        ? [...ctx.gates.values()].filter((g) => gateAdmitsZones(g.policy, type.zoneIds, now)).map((g) => g.name)
        : [];
    const outcome: ScanVerdictResponse = {
      result: verdict.result,
      reason: verdict.reason,
      message: describeVerdict(verdict, {
        timezone: ctx.event.timezone,
        now,
        gateName,
        suggestedGates: suggested,
        zoneName: (id) => ctx.zones.get(id)?.name,
      }),
      direction,
      ticket:
        ticket && type
          ? {
              id: ticket.id,
              number: ticket.number,
              tier: type.name,
              holder_name: ticket.holderName,
              scans_used: ticket.state.entries,
              max_scans: type.maxScans,
            }
          : null,
      scan_id: scanId,
      scanned_at: new Date(now).toISOString(),
    };
    if (overCapacity.length > 0) {
      // warn: admitted, and said so — the steward lets them in, the organisers see the flag.
      const names = overCapacity.map((id) => ctx.zones.get(id)?.name ?? id);
      outcome.over_capacity = names;
      outcome.message += ` (${names.join(', ')} over capacity)`;
    }
    const first = ticket?.state.first;
    if (first) {
      outcome.first_scanned_at = new Date(first.at).toISOString();
      outcome.scanned_by = first.deviceId;
      const name = await this.devices.name(ctx.event.organisationId, first.deviceId);
      if (name) outcome.scanned_by_name = name;
      const previousGate = verdict.previous?.gateId ? gateName(verdict.previous.gateId) : undefined;
      if (previousGate) outcome.previous_gate = previousGate;
    }
    return outcome;
  }
}
