/**
 * The world of the golden code-classification vectors (core/vectors/codes.json)
 * on a real server: the scanned event and another event of its organisation,
 * and an event of another organisation, made through the API and then given
 * the vectors' refs and fixed test keys in the database (the server makes
 * random ones), so the server issues exactly the vectors' codes. Used by the
 * server's test of both HTTP paths and the client's test of its manifest.
 */
import { createHash } from 'node:crypto';
import { parseScannedCode, readCodeVectors, type CodeVectors, type VectorEventKeys } from '@entrada/core';
import vectors from '@entrada/core/vectors/codes.json' with { type: 'json' };
import type { Database } from '../src/db/database.ts';
import { deriveKey, seal } from '../src/crypto/seal.ts';
import { issueTickets, registerDevice, startTestServer, TEST_SECRET, type Client, type TestServer } from './harness.ts';

export interface CodeVectorWorld {
  v: CodeVectors;
  server: TestServer;
  /** The scanned event, its gate and a device of its organisation. */
  eventId: string;
  gateId: string;
  device: { deviceId: string; token: string; client: Client };
  /** The other organisation's event, its gate, a device and admin of that organisation. */
  stranger: { eventId: string; gateId: string; device: { deviceId: string; token: string; client: Client } };
  /** The scanned event's tickets by serial (their ids and codes as the server issued them). */
  tickets: Map<number, { id: string; code: string }>;
}

async function event(admin: Client, name: string): Promise<{ eventId: string; gateId: string; typeId: string }> {
  const e = await admin.post('/api/v1/events', {
    name,
    starts_at: '2026-01-01T00:00:00Z',
    ends_at: '2030-01-01T00:00:00Z',
    timezone: 'Europe/Amsterdam',
  });
  if (e.status !== 201) throw new Error(`event: ${e.status} ${JSON.stringify(e.body)}`);
  const eventId: string = e.body.id;
  const gate = await admin.post(`/api/v1/events/${eventId}/gates`, { name: 'Main', zone_ids: [] });
  const type = await admin.post(`/api/v1/events/${eventId}/ticket-types`, {
    name: 'GA',
    zone_ids: [],
    max_scans: 100,
    allow_reentry: true,
  });
  return { eventId, gateId: gate.body.id, typeId: type.body.id };
}

/** Gives an event the vectors' ref and keys (before any of its tickets exist: ticket ids derive from the ref). */
async function adopt(db: Database, eventId: string, e: VectorEventKeys, codeKey?: Uint8Array): Promise<void> {
  const sealKey = deriveKey(createHash('sha256').update(TEST_SECRET).digest(), 'event-keys');
  await db.query(`UPDATE events SET ref = $2 WHERE id = $1`, [eventId, e.ref]);
  if (codeKey) await db.query(`UPDATE events SET code_key = $2 WHERE id = $1`, [eventId, Buffer.from(codeKey)]);
  await db.query(`DELETE FROM event_keys WHERE event_id = $1`, [eventId]);
  for (const [keyId, k] of e.keys) {
    await db.query(`INSERT INTO event_keys (event_id, key_id, public_key, sealed_secret) VALUES ($1, $2, $3, $4)`, [
      eventId,
      keyId,
      Buffer.from(k.publicKey),
      seal(sealKey, k.secretKey),
    ]);
  }
}

/** Builds the world on `db` and returns a server started after it (so no instance caches the random keys). */
export async function codeVectorWorld(db: Database, opts: { now?: () => number } = {}): Promise<CodeVectorWorld> {
  const v = readCodeVectors(vectors);
  const setup = await startTestServer(db);
  const org = await setup.admin.post('/api/v1/organisations', { name: 'Another organisation' });
  if (org.status !== 201) throw new Error(`organisation: ${org.status} ${JSON.stringify(org.body)}`);
  const here = await event(setup.admin, 'Scanned event');
  const siblings = [];
  for (const s of v.organisationEvents) siblings.push({ s, e: await event(setup.admin, `Sibling ${s.ref}`) });
  const strangerAdmin = setup.client(org.body.admin_token);
  const there = await event(strangerAdmin, "Another organisation's event");
  const device = await registerDevice(setup.admin, 'Scanner');
  const strangerDevice = await registerDevice(strangerAdmin, 'Stranger scanner');
  await setup.close();

  await adopt(db, here.eventId, v.event, v.event.digestKey);
  for (const { s, e } of siblings) await adopt(db, e.eventId, s);
  await adopt(db, there.eventId, v.otherOrganisation);

  const server = await startTestServer(db, { adminToken: setup.adminToken, ...(opts.now ? { now: opts.now } : {}) });
  const tickets = new Map<number, { id: string; code: string }>();
  // Issued in the vectors' order, so serials match; a signed ticket's code must come out exactly as the vector's.
  for (const t of v.event.tickets) {
    const imported = parseScannedCode(t.code).kind === 'imported';
    const [issued] = await issueTickets(server.admin, here.eventId, [
      { ticket_type_id: here.typeId, ...(imported ? { code: t.code } : {}) },
    ]);
    if (issued!.code !== t.code)
      throw new Error(`ticket ${t.serial}: the server issued ${issued!.code}, the vector has ${t.code}`);
    tickets.set(t.serial, { id: issued!.id, code: issued!.code });
  }
  for (const { s, e } of siblings) {
    if (s.importedTickets.length > 0)
      await issueTickets(
        server.admin,
        e.eventId,
        s.importedTickets.map((code) => ({ ticket_type_id: e.typeId, code })),
      );
  }
  return {
    v,
    server,
    eventId: here.eventId,
    gateId: here.gateId,
    tickets,
    device: { ...device, client: server.client(device.token) },
    stranger: {
      eventId: there.eventId,
      gateId: there.gateId,
      device: { ...strangerDevice, client: server.client(strangerDevice.token) },
    },
  };
}
