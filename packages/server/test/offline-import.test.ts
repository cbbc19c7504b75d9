import { afterAll, beforeAll, expect, it } from 'vitest';
import { chainGenesis, toBase64Url, toHex } from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

describeEachBackend('import of an exported device log', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const t0 = Date.now() - 3600_000;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  let seed = 60;
  const keyedDevice = async (name: string): Promise<TestDevice> => {
    const keys = TestDevice.keyPair(seed++);
    const d = await registerDevice(server.admin, name, { public_key: toBase64Url(keys.publicKey) });
    const device = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    device.keys = keys;
    return device;
  };
  /** The file a device exports (packages/client's exportLog writes this shape). */
  const exported = (d: TestDevice): Record<string, unknown> => {
    const body = d.body(1, d.log.length);
    return {
      format: 'entrada/device-log/v1',
      event_id: ev.eventId,
      device_id: d.deviceId,
      exported_at: Date.now(),
      public_key: d.keys ? toBase64Url(d.keys.publicKey) : null,
      scans: body.scans,
      integrity: body.integrity ?? null,
    };
  };

  it('stores and reconciles the whole log once; importing it again changes nothing', async () => {
    const d = await keyedDevice('Broken phone');
    const ts = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 6 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i * 1000, gateId: ev.gates.main }));
    d.scan({ code: ts[0]!.code, at: t0 + 60_000, gateId: ev.gates.main });
    const file = exported(d);
    expect((file.integrity as { prev_link: string }).prev_link).toBe(toHex(chainGenesis(ev.eventId, d.deviceId)));
    const first = await server.admin.post('/api/v1/offline/import', file);
    expect(first.status).toBe(200);
    // Seed 001's arithmetic: the conflict is counted in failed (successful + duplicates + failed = total_uploaded).
    expect(first.body).toMatchObject({
      integrity: 'chain',
      acked_through: 7,
      missing: [],
      summary: { total_uploaded: 7, successful: 6, conflicts: 1, failed: 1 },
    });
    expect(first.body.conflicts_and_failures).toHaveLength(1);
    const again = await server.admin.post('/api/v1/offline/import', file);
    expect(again.body.summary).toMatchObject({ duplicates: 7, successful: 0 });
    expect((await server.admin.get(`/api/v1/tickets/${ts[1]!.id}`)).body.scans_used).toBe(1);
  });

  it('detects a tampered file: scans stored as failed, device flagged', async () => {
    const d = await keyedDevice('Tampered export');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    d.scan({ code: t!.code, at: t0, gateId: ev.gates.main });
    d.scan({ code: t!.code, at: t0 + 1000, gateId: ev.gates.main, direction: 'exit' });
    const file = exported(d);
    (file.scans as Array<Record<string, unknown>>)[1]!.direction = 'entry';
    const r = await server.admin.post('/api/v1/offline/import', file);
    expect(r.body).toMatchObject({ integrity: 'failed', summary: { failed: 2 } });
    expect(r.body.integrity_problem).toMatch(/signature/);
    expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans_used).toBe(0);
    expect((await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body.flags).toContain(
      'integrity',
    );
  });

  it("quarantines a revoked device's scans after its revocation, for review", async () => {
    const d = await keyedDevice('Stolen, then found');
    const [a, b] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    d.scan({ code: a!.code, at: t0, gateId: ev.gates.main });
    d.scan({ code: b!.code, at: t0 + 30 * 60_000, gateId: ev.gates.main });
    await server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
      reason: 'stolen',
      effective_at: new Date(t0 + 10 * 60_000).toISOString(),
    });
    const r = await server.admin.post('/api/v1/offline/import', exported(d));
    expect(r.body).toMatchObject({ device_status: 'revoked', summary: { successful: 1, failed: 1 } });
    expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body.scans_used).toBe(1);
    expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans_used).toBe(0);
    const inbox = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body.conflicts.find(
      (c: { ticket: { id: string } }) => c.ticket.id === b!.id,
    );
    expect(inbox).toMatchObject({ reason: 'device_revoked', loser: { device_id: d.deviceId } });
  });

  it('refuses a file for an unknown device, a foreign key, or a malformed document', async () => {
    const d = await keyedDevice('Someone');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    d.scan({ code: t!.code, at: t0 });
    expect((await server.admin.post('/api/v1/offline/import', { ...exported(d), device_id: 'nobody' })).status).toBe(
      404,
    );
    const wrongKey = await server.admin.post('/api/v1/offline/import', {
      ...exported(d),
      public_key: toBase64Url(new Uint8Array(32).fill(1)),
    });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.body.message).toMatch(/not the key registered/);
    expect((await server.admin.post('/api/v1/offline/import', { ...exported(d), format: 'other' })).status).toBe(400);
    expect((await d.client.post('/api/v1/offline/import', exported(d))).status).toBe(401);
  });
});
