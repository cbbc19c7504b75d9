import {
  classifyScannedCode,
  codeDigest,
  ed25519,
  fromBase64Url,
  ticketIdOf,
  toBase64Url,
  gateAdmitsZones,
  type AdmissionRecord,
  type CodeScope,
  type EventCode,
  type Direction,
  type EventPolicy,
  type GatePolicy,
  type ScanResult,
  type TicketFacts,
  type TicketScanState,
  type TicketStatus,
  type TicketTypePolicy,
  type Verifier,
  type VerdictReason,
} from '@entrada/core';
import type { ManifestHeader, ManifestTicket, StoredManifest } from './manifest-types.ts';

export type CodeLookup =
  | { kind: 'ticket'; ticket: ManifestTicket; code: string }
  /** The code cannot be admitted whatever the ticket state: the verdict is known from the code alone. */
  | { kind: 'refused'; result: ScanResult; reason: VerdictReason; code: string | null };

const isoMs = (v: string | null | undefined): number | null => (v == null ? null : Date.parse(v));

/**
 * A downloaded manifest, indexed for O(1) look-up of a scanned code: signed
 * codes by their serial (ticket ids derive from event ref + serial), imported
 * codes by the manifest's truncated keyed digest.
 */
export class ManifestIndex {
  readonly event: EventPolicy;
  readonly eventRef: number;
  private readonly byDigest = new Map<string, string>();
  private readonly types = new Map<string, TicketTypePolicy>();
  private readonly gates = new Map<string, GatePolicy & { name: string }>();
  private readonly keys = new Map<number, Uint8Array>();
  private readonly otherEvents = new Map<number, Map<number, Uint8Array>>();
  private readonly scope: CodeScope;
  private readonly digestKey: Uint8Array;
  private readonly digestBytes: number;

  constructor(
    readonly header: ManifestHeader,
    readonly tickets: Map<string, ManifestTicket>,
    readonly refreshedAt: number,
    /** Injected so a test (or a native implementation) can replace it; core's pure verify by default. */
    private readonly verify: Verifier = ed25519.verify,
  ) {
    this.eventRef = header.event.ref;
    this.event = {
      id: header.event_id,
      timezone: header.policies.timezone,
      duplicateWindowMs: header.policies.duplicate_window_s * 1000,
    };
    for (const t of tickets.values()) if (t.code_digest) this.byDigest.set(t.code_digest, t.ticket_id);
    for (const t of header.ticket_types) {
      this.types.set(t.id, {
        id: t.id,
        name: t.name,
        zoneIds: t.zone_ids,
        maxScans: t.max_scans,
        allowReentry: t.allow_reentry,
        validFrom: isoMs(t.valid_from),
        validUntil: isoMs(t.valid_until),
      });
    }
    for (const g of header.gates)
      this.gates.set(g.id, { id: g.id, zoneIds: g.zone_ids, closedAt: isoMs(g.closed_at ?? null), name: g.name });
    for (const k of header.keys) this.keys.set(k.key_id, fromBase64Url(k.public_key));
    for (const e of header.other_events ?? [])
      this.otherEvents.set(e.ref, new Map(e.keys.map((k) => [k.key_id, fromBase64Url(k.public_key)])));
    this.scope = {
      eventRef: this.eventRef,
      keys: (keyId) => this.keys.get(keyId),
      otherEvents: (ref) => {
        const keys = this.otherEvents.get(ref);
        return keys && ((keyId) => keys.get(keyId));
      },
    };
    this.digestKey = fromBase64Url(header.code_digest.key);
    this.digestBytes = header.code_digest.bytes;
  }

  /**
   * When this copy stops being allowed for decisions, on the device's clock:
   * the server's lifetime (`expires_at − generated_at`) counted from when the
   * device received it, so a device clock that is off does not shorten or
   * stretch it. Null when the server sent no usable times.
   */
  get expiresAt(): number | null {
    const lifetime = Date.parse(this.header.expires_at) - Date.parse(this.header.generated_at);
    return Number.isFinite(lifetime) && lifetime > 0 ? this.refreshedAt + lifetime : null;
  }

  /** The ticket data is older than the server allows (`expires_at`): decisions are flagged and the app says so. */
  expired(now: number): boolean {
    const at = this.expiresAt;
    return at !== null && now >= at;
  }

  static from(stored: StoredManifest, verify?: Verifier): ManifestIndex {
    return new ManifestIndex(stored.header, stored.tickets, stored.refreshedAt, verify);
  }

  /** Updates one ticket in place (after a feed page or a local admission). */
  upsert(ticket: ManifestTicket): void {
    const before = this.tickets.get(ticket.ticket_id);
    if (before?.code_digest && before.code_digest !== ticket.code_digest) this.byDigest.delete(before.code_digest);
    this.tickets.set(ticket.ticket_id, ticket);
    if (ticket.code_digest) this.byDigest.set(ticket.code_digest, ticket.ticket_id);
  }

  /**
   * Core's code classifier, as the server's online scan and sync apply it: the same verdict for every code.
   * Signed codes are found by serial (the manifest holds no digest of issued codes), so their signature is
   * checked before the look-up; imported codes by the manifest's truncated keyed digest.
   */
  lookup(scanned: string): CodeLookup {
    const found = classifyScannedCode(scanned, this.scope, this.verify, (code) => this.find(code), {
      findProves: false,
    });
    if (found.kind === 'refused')
      return { kind: 'refused', result: found.refusal.result, reason: found.refusal.reason, code: found.text };
    return { kind: 'ticket', ticket: found.ticket, code: found.code.text };
  }

  private find(code: EventCode): ManifestTicket | undefined {
    if (code.kind === 'signed')
      return this.tickets.get(ticketIdOf(code.code.claims.eventRef, code.code.claims.ticketSerial));
    const id = this.byDigest.get(toBase64Url(codeDigest(this.digestKey, code.text).slice(0, this.digestBytes)));
    return id === undefined ? undefined : this.tickets.get(id);
  }

  gate(gateId: string | null): (GatePolicy & { name: string }) | null {
    return gateId === null ? null : (this.gates.get(gateId) ?? null);
  }

  gateName(gateId: string): string | undefined {
    return this.gates.get(gateId)?.name;
  }

  /** Names of the gates open at `now` that admit a ticket of this type: "wrong gate — go to …". */
  gatesFor(type: TicketTypePolicy, now: number): string[] {
    return [...this.gates.values()].filter((g) => gateAdmitsZones(g, type.zoneIds, now)).map((g) => g.name);
  }

  type(typeId: string | undefined): TicketTypePolicy | undefined {
    return typeId === undefined ? undefined : this.types.get(typeId);
  }

  facts(ticket: ManifestTicket): TicketFacts {
    return {
      id: ticket.ticket_id,
      eventId: this.event.id,
      status: ticket.status as TicketStatus,
      statusChangedAt: isoMs(ticket.status_changed_at),
      // The status at a scan's time, as the server will judge it at upload (core's ticketStatusAt).
      statusHistory: ticket.status_history?.map((c) => ({ at: Date.parse(c.at), status: c.status as TicketStatus })),
    };
  }
}

/** The folded scan state the server had for a ticket, rebuilt from the manifest's fields (lossless for the rules). */
export function manifestState(ticket: ManifestTicket): TicketScanState {
  const first: AdmissionRecord | null = ticket.first_scan
    ? {
        at: Date.parse(ticket.first_scan.at),
        direction: 'entry',
        deviceId: ticket.first_scan.device_id,
        gateId: ticket.first_scan.gate_id,
      }
    : null;
  const last: AdmissionRecord | null = ticket.last_scan
    ? {
        at: Date.parse(ticket.last_scan.at),
        direction: ticket.last_scan.direction as Direction,
        deviceId: ticket.last_scan.device_id,
        gateId: ticket.last_scan.gate_id,
      }
    : null;
  return { entries: ticket.current_scans, first, last };
}
