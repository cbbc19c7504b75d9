import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeEachBackend, issueTickets, registerDevice, seedEvent, startTestServer,
  type Client, type SeededEvent, type TestDatabase, type TestServer,
} from './harness.ts';

/** What one organisation's devices may see: nothing of another organisation's devices, only their own events. */
describeEachBackend('device scope', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  /** A second organisation's admin. */
  let other: Client;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    expect(org.status).toBe(201);
    other = server.client(org.body.admin_token);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  describe('device ids belong to their organisation', () => {
    it('two organisations register the same device id, and neither learns of the other', async () => {
      const theirEvent = await seedEvent(other);
      const mine = await server.admin.post('/api/v1/devices', { name: 'North gate', device_id: 'gate-1' });
      const theirs = await other.post('/api/v1/devices', { name: 'Their gate', device_id: 'gate-1' });
      // The second registration is answered exactly as a fresh id would be: nothing tells the id was taken elsewhere.
      expect(mine.status).toBe(201);
      expect(theirs.status).toBe(201);
      expect(theirs.body).toMatchObject({ device_id: 'gate-1', name: 'Their gate', status: 'active' });
      // Within one organisation an id is still taken once.
      expect((await other.post('/api/v1/devices', { name: 'Again', device_id: 'gate-1' })).status).toBe(409);

      const listed = (await other.get('/api/v1/devices')).body.devices as Array<{ device_id: string; name: string }>;
      expect(listed.filter((d) => d.device_id === 'gate-1').map((d) => d.name)).toEqual(['Their gate']);
      expect(JSON.stringify(listed)).not.toContain('North gate');

      // Each organisation acts on its own device only: suspending theirs leaves mine scanning.
      expect((await other.post('/api/v1/devices/gate-1/suspend', { reason: 'test' })).status).toBe(200);
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const session = await server.client(mine.body.token).post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      expect(session.status).toBe(201);
      const myScan = await server.client(mine.body.token).post('/api/v1/scanning/scan', { code: t!.code, session_id: session.body.id });
      expect(myScan.body).toMatchObject({ result: 'valid', scanned_by: 'gate-1', scanned_by_name: 'North gate' });
      expect((await server.client(theirs.body.token).post('/api/v1/scanning/scan', {
        code: t!.code, event_id: theirEvent.eventId, gate_id: theirEvent.gates.main,
      })).body.error).toBe('DEVICE_SUSPENDED');
      expect(((await server.admin.get('/api/v1/devices')).body.devices as Array<{ device_id: string; status: string }>)
        .find((d) => d.device_id === 'gate-1')?.status).toBe('active');

      // Organisers' views of an event's devices hold their own device only.
      const status = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/gate-1`);
      expect(status.status).toBe(200);
      expect(status.body.total_scans).toBe(1);
      const health = await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`);
      expect((health.body.devices as Array<{ device_id: string; name: string }>).filter((d) => d.device_id === 'gate-1').map((d) => d.name)).toEqual(['North gate']);
    });

    it('a paired device may carry an id another organisation uses', async () => {
      const theirEvent = await seedEvent(other);
      const code = await other.post('/api/v1/devices/pairing-codes', { event_id: theirEvent.eventId });
      const paired = await server.client('').post('/api/v1/devices/pair', { code: code.body.code, public_key: Buffer.alloc(32, 3).toString('base64url') });
      expect(paired.status).toBe(201);
      // The same id registered in this organisation afterwards is not refused either.
      expect((await server.admin.post('/api/v1/devices', { name: 'Same id', device_id: paired.body.device_id })).status).toBe(201);
    });
  });
});
