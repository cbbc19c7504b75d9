/**
 * One code classifier: the golden code-classification vectors through both
 * API paths — the online scan and the offline sync — which must give the
 * verdict core gives (and the scanner, client/test/code-vectors.test.ts).
 * Before the classifier was shared, the sync said `wrong_event` ("Ticket is
 * for another event") for any signed code naming another event, forged or of
 * another organisation, and the online scan looked imported codes up in the
 * organisation's other events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519, evaluateCodeVector, type CodeVectorExpect } from '@entrada/core';
import { contextPart } from '../src/services/sync/manifest-document.ts';
import { describeEachBackend, issueTickets, pgliteBackend, type TestDatabase } from './harness.ts';
import { codeVectorWorld, type CodeVectorWorld } from './code-vector-world.ts';
import { TestDevice } from './offline-helpers.ts';

const T0 = Date.parse('2026-06-01T12:00:00Z');

/** The online answer as a vector's expectation: the ticket it found (by serial), or the refusal. */
function onlineAnswer(
  w: CodeVectorWorld,
  body: { result: string; reason: string; ticket: { id: string } | null },
): CodeVectorExpect {
  if (body.ticket) return { ticket: [...w.tickets].find(([, t]) => t.id === body.ticket!.id)![0] };
  return { result: body.result, reason: body.reason };
}

/** A sync result as a vector's expectation. A refused code is recorded failed with the classifier's reason (its result follows from it). */
function syncAnswer(
  w: CodeVectorWorld,
  item: { sync_status: string; reason?: string; ticket_id?: string },
): CodeVectorExpect {
  if (item.ticket_id) return { ticket: [...w.tickets].find(([, t]) => t.id === item.ticket_id)![0] };
  return {
    result: item.reason === 'wrong_event' ? 'wrong_event' : 'invalid_token',
    reason: item.reason ?? `(${item.sync_status})`,
  };
}

describeEachBackend('golden code-classification vectors through the online scan and the offline sync', (backend) => {
  let tdb: TestDatabase;
  let w: CodeVectorWorld;

  beforeAll(async () => {
    tdb = await backend.open();
    w = await codeVectorWorld(tdb.db, { now: () => T0 });
  });
  afterAll(async () => {
    await w?.server.close();
    await tdb?.drop();
  });

  it('core agrees with every vector (the reference the two paths are held to)', () => {
    for (const c of w.v.cases)
      expect({ name: c.name, ...evaluateCodeVector(w.v, c.code, ed25519.verify) }).toEqual({
        name: c.name,
        ...c.expect,
      });
  });

  it("the online scan gives each vector's verdict", async () => {
    const got = [];
    for (const c of w.v.cases) {
      const r = await w.device.client.post('/api/v1/scanning/scan', {
        code: c.code,
        event_id: w.eventId,
        gate_id: w.gateId,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      got.push({ name: c.name, ...onlineAnswer(w, r.body) });
    }
    expect(got).toEqual(w.v.cases.map((c) => ({ name: c.name, ...c.expect })));
  });

  it("the offline sync gives each vector's verdict", async () => {
    const device = new TestDevice(w.device.client, w.device.deviceId, w.eventId);
    w.v.cases.forEach((c, i) => device.scan({ code: c.code, at: T0 + 60_000 + i * 1000, gateId: w.gateId }));
    const r = await device.upload();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const got = r.body.results.map(
      (item: { seq: number; sync_status: string; reason?: string; ticket_id?: string }) => ({
        name: w.v.cases[item.seq - 1]!.name,
        ...syncAnswer(w, item),
      }),
    );
    expect(got).toEqual(w.v.cases.map((c) => ({ name: c.name, ...c.expect })));
  });
});

describeEachBackend("another organisation's genuine code says nothing about being a ticket", (backend) => {
  let tdb: TestDatabase;
  let w: CodeVectorWorld;

  beforeAll(async () => {
    tdb = await backend.open();
    w = await codeVectorWorld(tdb.db, { now: () => T0 });
  });
  afterAll(async () => {
    await w?.server.close();
    await tdb?.drop();
  });

  it("a device of organisation B syncing one of A's signed codes gets invalid_token, as online", async () => {
    const code = w.tickets.get(1)!.code;
    const { device: b, eventId, gateId } = w.stranger;
    const online = await b.client.post('/api/v1/scanning/scan', { code, event_id: eventId, gate_id: gateId });
    expect(online.body).toMatchObject({ result: 'invalid_token', reason: 'unknown_key' });
    const offline = new TestDevice(b.client, b.deviceId, eventId);
    offline.scan({ code, at: T0 + 1000, gateId });
    const r = await offline.upload();
    expect(r.body.results[0]).toMatchObject({ sync_status: 'failed', reason: 'unknown_key', status: 404 });
    expect(r.body.results[0].message).not.toMatch(/another event/);
  });
});

describe("the manifest carries the organisation's other events' public keys", () => {
  let tdb: TestDatabase;
  let w: CodeVectorWorld;

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    w = await codeVectorWorld(tdb.db, { now: () => T0 });
  });
  afterAll(async () => {
    await w?.server.close();
    await tdb?.drop();
  });

  it("lists each other event of the organisation with its keys, never another organisation's", async () => {
    const r = await w.device.client.get(`/api/v1/offline/manifest/${w.eventId}?device_id=${w.device.deviceId}`);
    expect(r.status).toBe(200);
    const hex = (b64: string): string => Buffer.from(b64, 'base64url').toString('hex');
    const others = r.body.manifest.other_events.map(
      (e: { ref: number; keys: Array<{ key_id: number; public_key: string }> }) => ({
        ref: e.ref,
        keys: e.keys.map((k) => ({ key_id: k.key_id, public_key: hex(k.public_key) })),
      }),
    );
    expect(others).toEqual(
      w.v.organisationEvents.map((e) => ({
        ref: e.ref,
        keys: [...e.keys].map(([keyId, k]) => ({
          key_id: keyId,
          public_key: Buffer.from(k.publicKey).toString('hex'),
        })),
      })),
    );
  });

  it('a new event of the organisation reaches the cached manifest at once, and its codes are wrong_event', async () => {
    const manifest = async () =>
      (await w.device.client.get(`/api/v1/offline/manifest/${w.eventId}?device_id=${w.device.deviceId}`)).body.manifest;
    const before = await manifest();
    const created = await w.server.admin.post('/api/v1/events', {
      name: 'Next',
      starts_at: '2026-01-01T00:00:00Z',
      ends_at: '2030-01-01T00:00:00Z',
      timezone: 'Europe/Amsterdam',
    });
    const type = await w.server.admin.post(`/api/v1/events/${created.body.id}/ticket-types`, {
      name: 'GA',
      zone_ids: [],
    });
    const [ticket] = await issueTickets(w.server.admin, created.body.id, [{ ticket_type_id: type.body.id }]);
    // Nothing in this event changed: only the configuration digest tells the cached manifest is stale.
    const after = await manifest();
    expect(after.other_events).toHaveLength(before.other_events.length + 1);
    const r = await w.device.client.post('/api/v1/scanning/scan', {
      code: ticket!.code,
      event_id: w.eventId,
      gate_id: w.gateId,
    });
    expect(r.body).toMatchObject({ result: 'wrong_event', reason: 'wrong_event' });
  });

  it('a change to them changes the configuration digest, so a cached manifest is not served again', async () => {
    const ctx = (await w.server.services.contexts.get(w.eventId))!;
    const [ref, keys] = [...ctx.siblingKeys][0]!;
    const rotated = new Map(keys);
    rotated.set(2, new Uint8Array(32).fill(5));
    const base = contextPart(ctx).key;
    expect(contextPart({ ...ctx, siblingKeys: new Map([[ref, rotated]]) }).key).not.toBe(base);
    expect(contextPart({ ...ctx, siblingKeys: new Map([...ctx.siblingKeys, [ref + 100, keys]]) }).key).not.toBe(base);
    expect(contextPart({ ...ctx, siblingKeys: new Map() }).key).not.toBe(base);
    expect(contextPart({ ...ctx }).key).toBe(base);
  });
});
