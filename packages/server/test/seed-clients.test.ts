import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/**
 * Issue 14 §1: scanner clients written to seeds 000 and 001 work against Entrada after changing only their base URL
 * (to `…/api/v1`) and adding the device's bearer token. The two clients below are written from the seeds' descriptions
 * alone — their request and response shapes, plain fetch, nothing imported from our packages. Only the setup (an
 * event, tickets, devices) goes through the test harness, as an organiser would do it in the console.
 */

// ---------------------------------------------------------------------------------------------------------------
// Seed 001's client (its `syncAPI` in src/services/api.ts, and the types next to it). `api` is an axios-like wrapper:
// a non-2xx answer throws.

interface SyncResponse {
  status: number;
  message: string;
  summary: { total_uploaded: number; successful: number; duplicates: number; failed: number };
  results: Array<{
    qrcode: string;
    status: number;
    message: string;
    sync_status: 'synced' | 'duplicate' | 'conflict' | 'failed';
    type?: string;
    number?: string;
    admittence?: unknown;
    scanned_at?: unknown;
    scanned_by?: string;
  }>;
  sync_session_id: unknown;
  synced_at: string;
}

interface SyncStatusResponse {
  status: number;
  event_id: string;
  device_id: string;
  total_scans: number;
  pending_scans: number;
  last_sync: {
    session_id: unknown;
    scans_uploaded: number;
    scans_successful: number;
    scans_failed: number;
    completed_at: string;
    status: string;
  } | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly data: unknown,
  ) {
    super(`Request failed with status code ${status}`);
  }
}

function seed001Api(baseURL: string, token: string) {
  const request = async (method: 'GET' | 'POST', path: string, data?: unknown): Promise<{ data: unknown }> => {
    const res = await fetch(baseURL + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(data === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: data === undefined ? null : JSON.stringify(data),
    });
    const body: unknown = await res.json();
    if (res.status < 200 || res.status >= 300) throw new HttpError(res.status, body);
    return { data: body };
  };
  const api = {
    post: (path: string, data: unknown) => request('POST', path, data),
    get: (path: string) => request('GET', path),
  };
  return {
    syncScans: async (
      eventId: string,
      deviceId: string,
      sessionToken: string,
      scans: Array<{ qrCode: string; scannedAt: number; ticketTypes?: string[] }>,
    ): Promise<SyncResponse> => {
      const response = await api.post('/offline/sync', {
        event_id: eventId,
        device_id: deviceId,
        session_token: sessionToken,
        scans: scans.map((scan) => ({
          qrcode: scan.qrCode,
          scanned_at: scan.scannedAt,
          ticket_types: scan.ticketTypes,
        })),
      });
      return response.data as SyncResponse;
    },
    getSyncStatus: async (eventId: string, deviceId: string): Promise<SyncStatusResponse> => {
      const response = await api.get(`/offline/sync/status/${eventId}/${deviceId}`);
      return response.data as SyncStatusResponse;
    },
  };
}

/** Seed 001's syncStore.syncToServer: uploads the pending scans, drops the synced and duplicate ones. */
class Seed001Store {
  pendingScans: Array<{ qrCode: string; scannedAt: number; ticketTypes?: string[] }> = [];
  syncedScans = 0;
  private sessions = 0;
  constructor(
    private readonly api: ReturnType<typeof seed001Api>,
    private readonly eventId: string,
    private readonly deviceId: string,
  ) {}

  scan(qrCode: string, scannedAt: number): void {
    this.pendingScans.push({ qrCode, scannedAt, ticketTypes: ['GA'] });
  }

  async syncToServer(): Promise<{
    success: boolean;
    summary?: SyncResponse['summary'];
    response?: SyncResponse;
    message?: string;
  }> {
    if (this.pendingScans.length === 0) return { success: false, message: 'Nothing to sync or offline' };
    try {
      const response = await this.api.syncScans(
        this.eventId,
        this.deviceId,
        `session-${this.deviceId}-${++this.sessions}`,
        this.pendingScans,
      );
      const syncedQRCodes = response.results
        .filter((r) => r.sync_status === 'synced' || r.sync_status === 'duplicate')
        .map((r) => r.qrcode);
      this.pendingScans = this.pendingScans.filter((scan) => !syncedQRCodes.includes(scan.qrCode));
      this.syncedScans += response.summary.successful;
      return { success: true, summary: response.summary, response };
    } catch {
      return { success: false, message: 'Sync failed' };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Seed 000's client: GET /offline/manifest/:eventId?device_id=…, POST /offline/reconcile.

interface ReconcileRequest {
  device_id: string;
  scans: Array<{
    ticket_id: string;
    scanned_at: string;
    result: 'ALLOW' | 'DENY';
    reason?: string;
    scan_count?: number;
  }>;
}
interface ReconcileResponse {
  success: boolean;
  reconciled: number;
  failed: number;
  results: Array<{ ticket_id: string; status: 'SUCCESS' | 'DUPLICATE' | 'ERROR'; message: string }>;
}

function seed000Client(baseURL: string, token: string) {
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(baseURL + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  return {
    manifest: async (eventId: string, deviceId: string) =>
      call('GET', `/offline/manifest/${eventId}?device_id=${encodeURIComponent(deviceId)}`),
    reconcile: async (request: ReconcileRequest) => {
      const r = await call('POST', '/offline/reconcile', request);
      return { status: r.status, body: r.body as ReconcileResponse };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

describeEachBackend('seed clients', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const t0 = Date.now() - 3600_000;
  const base = (): string => `${server.url}/api/v1`;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const tickets = async (n: number) =>
    issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga })),
    );
  const seed001Device = async (name: string) => {
    const d = await registerDevice(server.admin, name);
    return {
      ...d,
      api: seed001Api(base(), d.token),
      store: new Seed001Store(seed001Api(base(), d.token), ev.eventId, d.deviceId),
    };
  };
  const count = async (sql: string, params: unknown[]) => (await tdb.db.query<{ n: number }>(sql, params))[0]!.n;
  const arithmetic = (s: SyncResponse['summary']) => s.successful + s.duplicates + s.failed;

  describe('seed 001 (POST /offline/sync, GET /offline/sync/status)', () => {
    it('reads the status of a device that has not synced yet: 200, last_sync null, zero counts', async () => {
      const d = await seed001Device('Seed 001 fresh');
      const status = await d.api.getSyncStatus(ev.eventId, d.deviceId);
      expect(status).toMatchObject({
        status: 200,
        event_id: ev.eventId,
        device_id: d.deviceId,
        total_scans: 0,
        pending_scans: 0,
        last_sync: null,
      });
    });

    it("uploads scans without seq, answered per scan with status, type, number and admittence, in the seed's arithmetic", async () => {
      const d = await seed001Device('Seed 001 gate');
      const [a, b] = await tickets(2);
      d.store.scan(a!.code, t0);
      d.store.scan(b!.code, t0 + 1000);
      d.store.scan('NOT-A-TICKET', t0 + 2000);
      const out = await d.store.syncToServer();
      expect(out.success).toBe(true);
      const r = out.response!;
      expect(r).toMatchObject({ status: 200, message: 'Sync completed' });
      expect(r.summary).toMatchObject({ total_uploaded: 3, successful: 2, duplicates: 0, failed: 1 });
      expect(arithmetic(r.summary)).toBe(r.summary.total_uploaded);
      expect(r.results.map((x) => [x.qrcode, x.status, x.sync_status])).toEqual([
        [a!.code, 200, 'synced'],
        [b!.code, 200, 'synced'],
        ['NOT-A-TICKET', 404, 'failed'],
      ]);
      expect(r.results[0]).toMatchObject({
        message: 'Synced successfully',
        type: 'GA',
        number: a!.number,
        admittence: 1,
      });
      expect(r.results[2]!.message).toBe('Ticket not found');
      expect(d.store.pendingScans.map((s) => s.qrCode)).toEqual(['NOT-A-TICKET']);
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({
        scans_used: 1,
        first_scanned_by: d.deviceId,
      });

      // Status after the sync: the session's counts.
      const status = await d.api.getSyncStatus(ev.eventId, d.deviceId);
      expect(status).toMatchObject({ status: 200, total_scans: 3 });
      expect(status.last_sync).toMatchObject({
        scans_uploaded: 3,
        scans_successful: 2,
        scans_failed: 1,
        status: 'completed',
      });
      expect(typeof status.last_sync!.completed_at).toBe('string');
    });

    it('uploading the same scans again answers duplicate "Already synced by this device" and stores nothing', async () => {
      const d = await seed001Device('Seed 001 retry');
      const [a] = await tickets(1);
      const scans = [
        { qrCode: a!.code, scannedAt: t0 },
        { qrCode: 'UNKNOWN-CODE', scannedAt: t0 + 10 },
      ];
      const first = await d.api.syncScans(ev.eventId, d.deviceId, 'retry-1', scans);
      expect(first.summary).toMatchObject({ total_uploaded: 2, successful: 1, duplicates: 0, failed: 1 });
      const stored = await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId]);
      expect(stored).toBe(2);

      // The seed's client retries a whole batch when it lost the answer (another session token).
      const again = await d.api.syncScans(ev.eventId, d.deviceId, 'retry-2', scans);
      expect(again.summary).toMatchObject({ total_uploaded: 2, successful: 0, duplicates: 2, failed: 0 });
      expect(again.results.map((x) => [x.status, x.sync_status, x.message])).toEqual([
        [200, 'duplicate', 'Already synced by this device'],
        [200, 'duplicate', 'Already synced by this device'],
      ]);
      expect(again.results[0]).toMatchObject({ type: 'GA', number: a!.number });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(stored);
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({ scans_used: 1 });

      // Control: the same code a second later is another scan (stored, and a conflict: the ticket admits once).
      const later = await d.api.syncScans(ev.eventId, d.deviceId, 'retry-3', [
        { qrCode: a!.code, scannedAt: t0 + 1000 },
      ]);
      expect(later.results[0]).toMatchObject({ status: 409, sync_status: 'conflict' });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(stored + 1);
    });

    it('two tickets scanned in the same millisecond are two scans; the same scan twice in one batch is one', async () => {
      const d = await seed001Device('Seed 001 fast');
      const [a, b] = await tickets(2);
      const r = await d.api.syncScans(ev.eventId, d.deviceId, 'fast-1', [
        { qrCode: a!.code, scannedAt: t0 },
        { qrCode: b!.code, scannedAt: t0 },
        { qrCode: a!.code, scannedAt: t0 },
      ]);
      expect(r.results.map((x) => x.sync_status)).toEqual(['synced', 'synced', 'duplicate']);
      expect(r.summary).toMatchObject({ total_uploaded: 3, successful: 2, duplicates: 1, failed: 0 });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(2);
    });

    it('a ticket another device admitted first is a 409 conflict naming it, counted in failed; first scan wins whatever the upload order', async () => {
      const early = await seed001Device('Seed 001 early');
      const late = await seed001Device('Seed 001 late');
      const [a] = await tickets(1);
      // The later scan arrives first…
      const first = await late.api.syncScans(ev.eventId, late.deviceId, 'late-1', [
        { qrCode: a!.code, scannedAt: t0 + 5000 },
      ]);
      expect(first.results[0]).toMatchObject({ status: 200, sync_status: 'synced' });
      // …then the earlier one: it wins, and the later one becomes the conflict (seen by the organisers).
      const second = await early.api.syncScans(ev.eventId, early.deviceId, 'early-1', [
        { qrCode: a!.code, scannedAt: t0 },
      ]);
      expect(second.results[0]).toMatchObject({ status: 200, sync_status: 'synced' });
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({
        scans_used: 1,
        first_scanned_by: early.deviceId,
      });

      // A third device scanning it later is told so, with the seed's conflict fields.
      const third = await seed001Device('Seed 001 third');
      const r = await third.api.syncScans(ev.eventId, third.deviceId, 'third-1', [
        { qrCode: a!.code, scannedAt: t0 + 9000 },
      ]);
      expect(r.results[0]).toMatchObject({
        status: 409,
        sync_status: 'conflict',
        scanned_by: early.deviceId,
        type: 'GA',
        number: a!.number,
      });
      expect(typeof r.results[0]!.scanned_at).toBe('string');
      expect(r.summary).toMatchObject({ total_uploaded: 1, successful: 0, duplicates: 0, failed: 1 });
      expect(arithmetic(r.summary)).toBe(r.summary.total_uploaded);
      expect((r.summary as SyncResponse['summary'] & { conflicts?: number }).conflicts).toBe(1);
      // The seed's store keeps a conflict pending (it removes synced and duplicate scans only).
      third.store.scan(a!.code, t0 + 9500);
      await third.store.syncToServer();
      expect(third.store.pendingScans).toHaveLength(1);
    });

    it("one ticket scanned by one device in one millisecond is one scan, whichever seed's path stored it first", async () => {
      const d = await seed001Device('Seed 000 and 001');
      const [a] = await tickets(1);
      const legacy = seed000Client(base(), d.token);
      expect(
        (
          await legacy.reconcile({
            device_id: d.deviceId,
            scans: [{ ticket_id: a!.id, scanned_at: new Date(t0).toISOString(), result: 'ALLOW' }],
          })
        ).body.reconciled,
      ).toBe(1);
      const r = await d.api.syncScans(ev.eventId, d.deviceId, 'both-1', [
        { qrCode: a!.code, scannedAt: t0 },
        { qrCode: a!.code, scannedAt: t0 + 1 },
      ]);
      expect(r.results.map((x) => [x.status, x.sync_status])).toEqual([
        [200, 'duplicate'],
        [409, 'conflict'],
      ]);
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(2);
      // And the other way round: seed 000 after seed 001.
      const again = await legacy.reconcile({
        device_id: d.deviceId,
        scans: [{ ticket_id: a!.id, scanned_at: new Date(t0 + 1).toISOString(), result: 'ALLOW' }],
      });
      expect(again.body.results[0]!.status).toBe('DUPLICATE');
    });

    it('a sync that fails is recorded as a failed session with its error message', async () => {
      const d = await seed001Device('Seed 001 too much');
      const scans = Array.from({ length: 5001 }, (_, i) => ({ qrCode: `CODE-${i}`, scannedAt: t0 + i }));
      await expect(d.api.syncScans(ev.eventId, d.deviceId, 'too-big', scans)).rejects.toMatchObject({ status: 413 });
      const status = await d.api.getSyncStatus(ev.eventId, d.deviceId);
      expect(status.last_sync).toMatchObject({ status: 'failed', scans_uploaded: 0 });
      const [row] = await tdb.db.query<{ status: string; error_message: string | null }>(
        `SELECT s.status, s.error_message FROM sync_sessions s JOIN devices d ON d.id = s.device_pk WHERE d.device_id = $1 AND s.session_token = 'too-big'`,
        [d.deviceId],
      );
      expect(row).toEqual({
        status: 'failed',
        error_message: expect.stringMatching(/^PAYLOAD_TOO_LARGE: At most 5000 scans/),
      });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(0);
    });

    it('a device registered with a key still needs seq (and integrity data): refused whole, nothing stored', async () => {
      const keyed = await registerDevice(server.admin, 'Keyed', {
        public_key: Buffer.alloc(32, 3).toString('base64url'),
      });
      const api = seed001Api(base(), keyed.token);
      const [a] = await tickets(1);
      await expect(
        api.syncScans(ev.eventId, keyed.deviceId, 'keyed-1', [{ qrCode: a!.code, scannedAt: t0 }]),
      ).rejects.toMatchObject({
        status: 400,
        data: { error: 'INVALID_BODY', message: '/scans/0/seq is required for a device registered with a public key' },
      });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [keyed.deviceId])).toBe(0);
    });
  });

  describe('seed 000 (GET /offline/manifest, POST /offline/reconcile)', () => {
    it('downloads the manifest of valid ticket ids, without codes by default', async () => {
      const d = await registerDevice(server.admin, 'Seed 000 manifest');
      const [a] = await tickets(1);
      const client = seed000Client(base(), d.token);
      const m = await client.manifest(ev.eventId, d.deviceId);
      expect(m.status).toBe(200);
      const body = m.body as { success: boolean; manifest: { tickets: Array<Record<string, unknown>> } };
      expect(body.success).toBe(true);
      const mine = body.manifest.tickets.find((t) => t.ticket_id === a!.id);
      expect(mine).toMatchObject({ ticket_id: a!.id, status: 'valid' });
      expect(mine).not.toHaveProperty('ticket_code');
    });

    it('lists ticket_code only when the organiser turned manifest_ticket_codes on, so a seed-000 client can match codes offline', async () => {
      const coded = await seedEvent(server.admin, { name: 'Codes shipped', settings: { manifest_ticket_codes: true } });
      const issued = await issueTickets(server.admin, coded.eventId, [
        { ticket_type_id: coded.types.ga },
        { ticket_type_id: coded.types.ga, code: 'IMPORTED-CODE-0001' },
      ]);
      const d = await registerDevice(server.admin, 'Seed 000 codes');
      const client = seed000Client(base(), d.token);
      const m = (await client.manifest(coded.eventId, d.deviceId)).body as {
        manifest: { tickets: Array<{ ticket_id: string; ticket_code?: string }> };
      };
      const byId = new Map(m.manifest.tickets.map((t) => [t.ticket_id, t.ticket_code]));
      // The very codes the organiser issued: a signed one re-issued as it was, an imported one as imported.
      expect(byId.get(issued[0]!.id)).toBe(issued[0]!.code);
      expect(byId.get(issued[1]!.id)).toBe('IMPORTED-CODE-0001');

      // Turned off again: the next manifest (not the cached one) carries no codes.
      const off = await server.admin.request('PATCH', `/api/v1/events/${coded.eventId}`, {
        settings: { manifest_ticket_codes: false },
      });
      expect(off.status).toBe(200);
      const after = (await client.manifest(coded.eventId, d.deviceId)).body as {
        manifest: { tickets: Array<Record<string, unknown>> };
      };
      expect(after.manifest.tickets.every((t) => !('ticket_code' in t))).toBe(true);
    });

    it('reconciles per scan: malformed or unknown ids are ERROR, the same scan twice is DUPLICATE, results in request order', async () => {
      const d = await registerDevice(server.admin, 'Seed 000 gate');
      const client = seed000Client(base(), d.token);
      const [a, b] = await tickets(2);
      const at = new Date(t0).toISOString();
      const request: ReconcileRequest = {
        device_id: d.deviceId,
        scans: [
          { ticket_id: a!.id, scanned_at: at, result: 'ALLOW', scan_count: 1 },
          { ticket_id: 'ticket-42', scanned_at: at, result: 'ALLOW' },
          { ticket_id: '00000000-0000-4000-8000-000000000000', scanned_at: at, result: 'ALLOW' },
          { ticket_id: a!.id, scanned_at: at, result: 'ALLOW', scan_count: 1 },
          { ticket_id: b!.id, scanned_at: at, result: 'DENY', reason: 'wrong gate' },
        ],
      };
      const r = await client.reconcile(request);
      expect(r.status).toBe(200);
      expect(r.body.results.map((x) => [x.ticket_id, x.status])).toEqual([
        [a!.id, 'SUCCESS'],
        ['ticket-42', 'ERROR'],
        ['00000000-0000-4000-8000-000000000000', 'ERROR'],
        [a!.id, 'DUPLICATE'],
        [b!.id, 'SUCCESS'],
      ]);
      expect(r.body.results[1]!.message).toMatch(/ticket id/);
      expect(r.body.results[2]!.message).toBe('Ticket not found');
      expect(r.body).toMatchObject({ success: true, reconciled: 2, failed: 3 });
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(2);
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({ scans_used: 1 });

      // Sent again (the client lost the answer): every stored scan is a DUPLICATE, nothing new stored.
      const again = await client.reconcile(request);
      expect(again.body.results.map((x) => x.status)).toEqual([
        'DUPLICATE',
        'ERROR',
        'ERROR',
        'DUPLICATE',
        'DUPLICATE',
      ]);
      expect(await count('SELECT count(*)::int AS n FROM scans WHERE device_id = $1', [d.deviceId])).toBe(2);
    });
  });
});
