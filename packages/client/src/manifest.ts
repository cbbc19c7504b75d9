import {
  codeDigest, ed25519, fromBase64Url, parseScannedCode, ticketIdOf, toBase64Url, verifySignedCode, zonesOverlap,
  type AdmissionRecord, type Direction, type EventPolicy, type GatePolicy, type ScanResult, type TicketFacts, type TicketScanState,
  type TicketStatus, type TicketTypePolicy, type Verifier, type VerdictReason,
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
    this.event = { id: header.event_id, timezone: header.policies.timezone, duplicateWindowMs: header.policies.duplicate_window_s * 1000 };
    for (const t of tickets.values()) if (t.code_digest) this.byDigest.set(t.code_digest, t.ticket_id);
    for (const t of header.ticket_types) {
      this.types.set(t.id, {
        id: t.id, name: t.name, zoneIds: t.zone_ids, maxScans: t.max_scans, allowReentry: t.allow_reentry,
        validFrom: isoMs(t.valid_from), validUntil: isoMs(t.valid_until),
      });
    }
    for (const g of header.gates) this.gates.set(g.id, { id: g.id, zoneIds: g.zone_ids, name: g.name });
    for (const k of header.keys) this.keys.set(k.key_id, fromBase64Url(k.public_key));
    this.digestKey = fromBase64Url(header.code_digest.key);
    this.digestBytes = header.code_digest.bytes;
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

  lookup(scanned: string): CodeLookup {
    const parsed = parseScannedCode(scanned);
    if (parsed.kind === 'invalid') return { kind: 'refused', result: 'invalid_token', reason: 'malformed_code', code: null };
    if (parsed.kind === 'signed') {
      // As the server does: a code naming another event is "wrong event" (its keys are not in this manifest to check it).
      if (parsed.claims.eventRef !== this.eventRef) return { kind: 'refused', result: 'wrong_event', reason: 'wrong_event', code: parsed.text };
      // Offline there is no digest of issued codes to match, so the signature is what vouches for the code.
      const check = verifySignedCode(parsed, (keyId) => this.keys.get(keyId), this.verify);
      if (check !== 'ok') return { kind: 'refused', result: 'invalid_token', reason: check, code: parsed.text };
      const ticket = this.tickets.get(ticketIdOf(parsed.claims.eventRef, parsed.claims.ticketSerial));
      if (!ticket) return { kind: 'refused', result: 'invalid_token', reason: 'unknown_code', code: parsed.text };
      return { kind: 'ticket', ticket, code: parsed.text };
    }
    const digest = toBase64Url(codeDigest(this.digestKey, parsed.code).slice(0, this.digestBytes));
    const id = this.byDigest.get(digest);
    const ticket = id === undefined ? undefined : this.tickets.get(id);
    if (!ticket) return { kind: 'refused', result: 'invalid_token', reason: 'unknown_code', code: parsed.code };
    return { kind: 'ticket', ticket, code: parsed.code };
  }

  gate(gateId: string | null): (GatePolicy & { name: string }) | null {
    return gateId === null ? null : this.gates.get(gateId) ?? null;
  }

  gateName(gateId: string): string | undefined {
    return this.gates.get(gateId)?.name;
  }

  /** Names of the gates that admit a ticket of this type: "wrong gate — go to …". */
  gatesFor(type: TicketTypePolicy): string[] {
    return [...this.gates.values()].filter((g) => zonesOverlap(g.zoneIds, type.zoneIds)).map((g) => g.name);
  }

  type(typeId: string | undefined): TicketTypePolicy | undefined {
    return typeId === undefined ? undefined : this.types.get(typeId);
  }

  facts(ticket: ManifestTicket): TicketFacts {
    return { id: ticket.ticket_id, eventId: this.event.id, status: ticket.status as TicketStatus, statusChangedAt: isoMs(ticket.status_changed_at) };
  }
}

/** The folded scan state the server had for a ticket, rebuilt from the manifest's fields (lossless for the rules). */
export function manifestState(ticket: ManifestTicket): TicketScanState {
  const first: AdmissionRecord | null = ticket.first_scan
    ? { at: Date.parse(ticket.first_scan.at), direction: 'entry', deviceId: ticket.first_scan.device_id, gateId: ticket.first_scan.gate_id }
    : null;
  const last: AdmissionRecord | null = ticket.last_scan
    ? { at: Date.parse(ticket.last_scan.at), direction: ticket.last_scan.direction as Direction, deviceId: ticket.last_scan.device_id, gateId: ticket.last_scan.gate_id }
    : null;
  return { entries: ticket.current_scans, first, last };
}
