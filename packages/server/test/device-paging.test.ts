/** `GET /api/v1/devices` in pages (cursor), of one event with event_id; the unpaged answer unchanged for the CLI. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachBackend,
  registerDevice,
  seedEvent,
  startTestServer,
  type Reply,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

describeEachBackend('device list in pages', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let a: SeededEvent;
  let b: SeededEvent;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    a = await seedEvent(server.admin);
    b = await seedEvent(server.admin);
    // Interleaved: of event A, of B, of every event.
    for (let i = 0; i < 9; i++) {
      const scope = i % 3 === 0 ? { event_ids: [a.eventId] } : i % 3 === 1 ? { event_ids: [b.eventId] } : {};
      await registerDevice(server.admin, `Scanner ${i}`, { device_id: `scanner-${i}`, ...scope });
    }
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it("pages through one event's devices with the cursor, each once, in registration order", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: Reply = await server.admin.get(
        `/api/v1/devices?event_id=${a.eventId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(r.status).toBe(200);
      expect(r.body.devices.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.devices.map((d: { device_id: string }) => d.device_id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor);
    // Of A: 0, 3, 6; of every event: 2, 5, 8.
    expect(seen).toEqual(['scanner-0', 'scanner-2', 'scanner-3', 'scanner-5', 'scanner-6', 'scanner-8']);
    expect(pages).toBe(3);
    const all = await server.admin.get('/api/v1/devices?limit=500');
    expect(all.body.devices).toHaveLength(9);
    expect(all.body.next_cursor).toBeNull();
  });

  it('keeps the unpaged answer as it was (every device, no cursor) for the CLI and scripts', async () => {
    const r = await server.admin.get('/api/v1/devices');
    expect(Object.keys(r.body)).toEqual(['devices']);
    expect(r.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(
      Array.from({ length: 9 }, (_, i) => `scanner-${i}`),
    );
  });

  it('refuses a made-up cursor or limit, naming it; another organisation sees none of these', async () => {
    const bad = await server.admin.get('/api/v1/devices?cursor=bm90LWEtY3Vyc29y');
    expect(bad.body).toEqual({
      error: 'INVALID_BODY',
      message: 'cursor is not one this server gave; start again without it',
    });
    expect((await server.admin.get('/api/v1/devices?limit=0')).body.error).toBe('INVALID_BODY');
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    const other = server.client(org.body.admin_token);
    expect((await other.get(`/api/v1/devices?event_id=${a.eventId}`)).body).toEqual({ devices: [], next_cursor: null });
  });
});
