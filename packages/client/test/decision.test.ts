import { describe, expect, it } from 'vitest';
import vectors from '@entrada/core/vectors/admission.json' with { type: 'json' };
import {
  EMPTY_SCAN_STATE,
  decideAdmission,
  readAdmissionVectors,
  replayTicket,
  ticketIdOf,
  type AdmissionVector,
} from '@entrada/core';
import { decideLocally, ManifestEventMismatchError, type OwnAdmission } from '../src/local-decision.ts';
import type { ManifestTicket } from '../src/manifest-types.ts';
import {
  EVENT_REF,
  OTHER_EVENT_REF,
  importedDigest,
  indexOf,
  signedCode,
  stateFields,
  vectorHeader,
} from './fixtures.ts';

const all = readAdmissionVectors(vectors);
// As in the server's golden-vector test: a history reaching the scan's time is a late-upload replay, not a gate decision.
const online = all.filter((v) => v.history.every((h) => h.at < v.scan.at));

function ticketFor(v: AdmissionVector, fields: Partial<ManifestTicket>): ManifestTicket {
  return {
    ticket_id: ticketIdOf(EVENT_REF, 1),
    serial: 1,
    type_id: v.type.id,
    current_scans: 0,
    inside: false,
    status: v.ticket.status,
    status_changed_at: v.ticket.statusChangedAt === null ? null : new Date(v.ticket.statusChangedAt).toISOString(),
    ...(v.ticket.statusHistory
      ? { status_history: v.ticket.statusHistory.map((c) => ({ at: new Date(c.at).toISOString(), status: c.status })) }
      : {}),
    ...fields,
  };
}

/** A code for the vector's ticket: a code of another event when the vector's ticket belongs elsewhere. */
function codeFor(v: AdmissionVector): string {
  return signedCode(1, v.ticket.eventId === v.event.id ? EVENT_REF : OTHER_EVENT_REF);
}

describe('golden admission vectors through the client decision path', () => {
  it('keeps most vectors', () => {
    expect(online.length).toBeGreaterThanOrEqual(all.length - 6);
  });

  it.each(online.map((v) => [v.name, v] as const))('%s (history downloaded from other devices)', (_name, v) => {
    const { state } = replayTicket({ event: v.event, ticket: v.ticket, type: v.type }, v.history);
    const manifest = indexOf(vectorHeader(v), [ticketFor(v, stateFields(state))]);
    const d = decideLocally({
      eventId: manifest.event.id,
      manifest,
      lookup: manifest.lookup(codeFor(v)),
      gateId: v.scan.gate?.id ?? null,
      direction: v.scan.direction,
      now: v.scan.at,
      deviceId: v.scan.deviceId,
      own: [],
      staleAfterMs: Number.MAX_SAFE_INTEGER,
    });
    expect({ result: d.verdict.result, reason: d.verdict.reason }).toEqual(v.expect);
    expect(d.message.length).toBeGreaterThan(0);
  });

  const ownOnly = online.filter((v) => v.history.length > 0 && v.history.every((h) => h.deviceId === v.scan.deviceId));
  it.each(ownOnly.map((v) => [v.name, v] as const))("%s (history as this device's unsynced scans)", (_name, v) => {
    // The device's own earlier scans, decided as it decided them at the time.
    const own: OwnAdmission[] = [];
    let state = EMPTY_SCAN_STATE;
    for (const h of [...v.history].sort((a, b) => a.at - b.at)) {
      const verdict = decideAdmission({
        event: v.event,
        ticket: v.ticket,
        type: v.type,
        gate: h.gate,
        direction: h.direction,
        now: h.at,
        deviceId: h.deviceId,
        state,
      });
      if (!verdict.admits) continue;
      own.push({
        at: h.at,
        direction: h.direction,
        gateId: h.gate?.id ?? null,
        consumesEntry: verdict.reason === 'admitted',
      });
      state = replayTicket(
        { event: v.event, ticket: v.ticket, type: v.type },
        v.history.filter((x) => x.at <= h.at),
      ).state;
    }
    const manifest = indexOf(vectorHeader(v), [ticketFor(v, {})]);
    const d = decideLocally({
      eventId: manifest.event.id,
      manifest,
      lookup: manifest.lookup(codeFor(v)),
      gateId: v.scan.gate?.id ?? null,
      direction: v.scan.direction,
      now: v.scan.at,
      deviceId: v.scan.deviceId,
      own,
      staleAfterMs: Number.MAX_SAFE_INTEGER,
    });
    expect({ result: d.verdict.result, reason: d.verdict.reason }).toEqual(v.expect);
  });
});

describe('manifest look-up', () => {
  const v = online[0]!;
  const imported = 'ACME-TICKET-0001';
  const tickets: ManifestTicket[] = [
    ticketFor(v, {}),
    {
      ticket_id: ticketIdOf(EVENT_REF, 2),
      serial: 2,
      type_id: v.type.id,
      current_scans: 0,
      inside: false,
      status: 'valid',
      code_digest: importedDigest(imported),
    },
  ];
  const manifest = indexOf(vectorHeader(v), tickets);

  it('finds a signed code by serial, whatever its case and scanner noise', () => {
    const code = signedCode(1);
    for (const text of [code, code.toLowerCase(), `${code}\r\n`]) {
      const r = manifest.lookup(text);
      expect(r.kind).toBe('ticket');
      if (r.kind === 'ticket') expect(r.ticket.serial).toBe(1);
    }
  });

  it('finds an imported code by its truncated keyed digest', () => {
    const r = manifest.lookup(`  ${imported}\n`);
    expect(r).toMatchObject({ kind: 'ticket', code: imported, ticket: { serial: 2 } });
    expect(manifest.lookup('ACME-TICKET-0002')).toMatchObject({
      kind: 'refused',
      result: 'invalid_token',
      reason: 'unknown_code',
    });
  });

  it('refuses a tampered, forged, unknown, foreign or unreadable code', () => {
    const code = signedCode(1);
    // Flip one base32 character in the signature part: still a well-formed frame, no longer a valid signature.
    const i = code.length - 5;
    const tampered = code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1);
    expect(manifest.lookup(tampered)).toMatchObject({
      kind: 'refused',
      result: 'invalid_token',
      reason: 'bad_signature',
    });
    const forged = signedCode(1, EVENT_REF, new Uint8Array(32).fill(9));
    expect(manifest.lookup(forged)).toMatchObject({ kind: 'refused', reason: 'bad_signature' });
    expect(manifest.lookup(signedCode(99))).toMatchObject({ kind: 'refused', reason: 'unknown_code' });
    expect(manifest.lookup(signedCode(1, OTHER_EVENT_REF))).toMatchObject({ kind: 'refused', result: 'wrong_event' });
    // Not an event of the organisation: refused as the server does, without saying it is a ticket elsewhere.
    expect(manifest.lookup(signedCode(1, EVENT_REF + 5))).toMatchObject({
      kind: 'refused',
      result: 'invalid_token',
      reason: 'unknown_key',
    });
    // Another event of the organisation, but not signed by its key.
    expect(manifest.lookup(signedCode(1, OTHER_EVENT_REF, new Uint8Array(32).fill(9)))).toMatchObject({
      kind: 'refused',
      result: 'invalid_token',
      reason: 'bad_signature',
    });
    expect(manifest.lookup('\u0000')).toMatchObject({ kind: 'refused', reason: 'malformed_code' });
  });

  it('says which gates a ticket at the wrong gate can use, as the server does', () => {
    const wg = online.find((x) => x.expect.reason === 'wrong_gate' && x.type.zoneIds.length > 0)!;
    const header = vectorHeader(wg);
    header.gates.push({ id: 'north', name: 'North Gate', zone_ids: [...wg.type.zoneIds] });
    const m = indexOf(header, [ticketFor(wg, {})]);
    const d = decideLocally({
      eventId: m.event.id,
      manifest: m,
      lookup: m.lookup(codeFor(wg)),
      gateId: wg.scan.gate!.id,
      direction: wg.scan.direction,
      now: wg.scan.at,
      deviceId: 'd',
      own: [],
      staleAfterMs: Infinity,
    });
    expect(d.verdict.reason).toBe('wrong_gate');
    expect(d.message).toBe('Wrong gate — go to North Gate');
  });

  it('refuses an entry at a gate the manifest says is closed, and sends the holder to an open gate only', () => {
    const v = online.find((x) => x.expect.reason === 'gate_closed')!;
    const header = vectorHeader(v);
    header.gates.push({ id: 'north', name: 'North Gate', zone_ids: [...v.type.zoneIds] });
    header.gates.push({
      id: 'south',
      name: 'South Gate',
      zone_ids: [...v.type.zoneIds],
      closed_at: new Date(v.scan.at - 1).toISOString(),
    });
    // Closes after the scan: still open at the scan's time, so suggested.
    header.gates.push({
      id: 'east',
      name: 'East Gate',
      zone_ids: [...v.type.zoneIds],
      closed_at: new Date(v.scan.at + 1).toISOString(),
    });
    const m = indexOf(header, [ticketFor(v, {})]);
    const decide = (gateId: string) =>
      decideLocally({
        eventId: m.event.id,
        manifest: m,
        lookup: m.lookup(codeFor(v)),
        gateId,
        direction: 'entry',
        now: v.scan.at,
        deviceId: 'd',
        own: [],
        staleAfterMs: Infinity,
      });
    const d = decide(v.scan.gate!.id);
    expect(d.verdict).toMatchObject({ result: 'wrong_gate', reason: 'gate_closed', admits: false });
    expect(d.message).toBe('Gate closed — go to North Gate or East Gate');
    // Control: the same ticket at the gate closing a millisecond later is admitted.
    expect(decide('east').verdict).toMatchObject({ result: 'valid', reason: 'admitted' });
  });

  it('marks a decision stale when the manifest is older than the threshold', () => {
    const m = indexOf(vectorHeader(v), tickets, 1_000);
    const base = {
      eventId: m.event.id,
      manifest: m,
      lookup: m.lookup(signedCode(1)),
      gateId: null,
      direction: 'entry' as const,
      deviceId: 'd',
      own: [],
      staleAfterMs: 60_000,
    };
    expect(decideLocally({ ...base, now: 2_000 }).stale).toBe(false);
    expect(decideLocally({ ...base, now: 100_000 }).stale).toBe(true);
  });

  it('honours expires_at: past it (counted on the device clock from when it arrived) every decision is flagged expired and stale', () => {
    const header = {
      ...vectorHeader(v),
      generated_at: '2026-03-01T08:00:00.000Z',
      expires_at: '2026-03-01T20:00:00.000Z',
    };
    // Received at device time 5_000_000 — the device clock is far from the server's; only the 12 h lifetime counts.
    const m = indexOf(header, tickets, 5_000_000);
    const twelveHours = 12 * 3_600_000;
    expect(m.expiresAt).toBe(5_000_000 + twelveHours);
    const base = {
      eventId: m.event.id,
      manifest: m,
      lookup: m.lookup(signedCode(1)),
      gateId: null,
      direction: 'entry' as const,
      deviceId: 'd',
      own: [],
      staleAfterMs: Infinity,
    };
    expect(decideLocally({ ...base, now: 5_000_000 + twelveHours - 1 })).toMatchObject({
      expired: false,
      stale: false,
    });
    const late = decideLocally({ ...base, now: 5_000_000 + twelveHours });
    expect(late).toMatchObject({ expired: true, stale: true });
    // Still a verdict: a gate without network keeps working, in amber.
    expect(late.verdict.result).toBe('valid');
  });

  it('never decides with a manifest of another event', () => {
    const m = indexOf(vectorHeader(v), tickets);
    const input = {
      eventId: '0190ffff-0000-7000-8000-00000000dead',
      manifest: m,
      lookup: m.lookup(signedCode(1)),
      gateId: null,
      direction: 'entry' as const,
      deviceId: 'd',
      own: [],
      now: 1,
      staleAfterMs: Infinity,
    };
    expect(() => decideLocally(input)).toThrow(ManifestEventMismatchError);
  });
});
