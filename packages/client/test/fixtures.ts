import {
  codeDigest,
  ed25519,
  issueSignedCode,
  toBase64Url,
  type AdmissionVector,
  type TicketScanState,
} from '@entrada/core';
import { ManifestIndex } from '../src/manifest.ts';
import type { ManifestHeader, ManifestTicket } from '../src/manifest-types.ts';

export const KEYS = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(7));
export const DIGEST_KEY = new Uint8Array(32).fill(3);
export const EVENT_REF = 42;
export const OTHER_EVENT_REF = EVENT_REF + 1;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function signedCode(serial: number, eventRef = EVENT_REF, secretKey = KEYS.secretKey): string {
  return issueSignedCode({ keyId: 1, eventRef, ticketSerial: serial, typeRef: 1 }, (m) => ed25519.sign(secretKey, m));
}

export function importedDigest(code: string): string {
  return toBase64Url(codeDigest(DIGEST_KEY, code).slice(0, 8));
}

/** Manifest fields for a folded scan state (what the server writes). */
export function stateFields(
  state: TicketScanState,
): Pick<ManifestTicket, 'current_scans' | 'inside' | 'first_scan' | 'last_scan'> {
  return {
    current_scans: state.entries,
    inside: state.last?.direction === 'entry',
    ...(state.first
      ? { first_scan: { at: iso(state.first.at)!, device_id: state.first.deviceId, gate_id: state.first.gateId } }
      : {}),
    ...(state.last
      ? {
          last_scan: {
            at: iso(state.last.at)!,
            direction: state.last.direction,
            device_id: state.last.deviceId,
            gate_id: state.last.gateId,
          },
        }
      : {}),
  };
}

/** A manifest equivalent to a golden vector's event, type and gates. */
export function vectorHeader(v: AdmissionVector, eventId = v.event.id): ManifestHeader {
  const gates = new Map<string, { zone_ids: string[]; closed_at: string | null }>();
  for (const s of [...v.history, v.scan])
    if (s.gate) gates.set(s.gate.id, { zone_ids: [...s.gate.zoneIds], closed_at: iso(s.gate.closedAt ?? null) });
  return {
    event_id: eventId,
    event: { id: eventId, ref: EVENT_REF, name: v.name, timezone: v.event.timezone, starts_at: null, ends_at: null },
    generated_at: new Date(0).toISOString(),
    expires_at: new Date(0).toISOString(),
    cursor: 'c',
    full: true,
    policies: {
      duplicate_window_s: v.event.duplicateWindowMs / 1000,
      default_allow_reentry: false,
      holder_names: false,
      timezone: v.event.timezone,
    },
    gates: [...gates].map(([id, g]) => ({ id, name: id, ...g })),
    zones: [],
    ticket_types: [
      {
        id: v.type.id,
        ref: 1,
        name: v.type.name,
        zone_ids: [...v.type.zoneIds],
        max_scans: v.type.maxScans,
        allow_reentry: v.type.allowReentry,
        valid_from: iso(v.type.validFrom),
        valid_until: iso(v.type.validUntil),
      },
    ],
    keys: [{ key_id: 1, public_key: toBase64Url(KEYS.publicKey), active: true }],
    // Another event of the organisation (its codes are `wrong_event` here): signed with the same test key.
    other_events: [{ ref: OTHER_EVENT_REF, keys: [{ key_id: 1, public_key: toBase64Url(KEYS.publicKey) }] }],
    code_digest: { algorithm: 'hmac-sha256', bytes: 8, key: toBase64Url(DIGEST_KEY) },
  };
}

export function indexOf(header: ManifestHeader, tickets: ManifestTicket[], refreshedAt = 0): ManifestIndex {
  return new ManifestIndex(header, new Map(tickets.map((t) => [t.ticket_id, t])), refreshedAt);
}
