/**
 * The scanner app in real Chromium against a real server: pairing, staff
 * login, the manifest, offline reloads served by the service worker, scanning
 * through a fake camera fed with a video of a real ticket QR, pending scans
 * surviving reload and a browser restart, sync, and a double entry made by two
 * devices offline showing on both devices and in the conflicts API.
 * Screenshots of each verdict screen land in test-artifacts/web.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  issueTickets,
  pgliteBackend,
  postgresBackend,
  REQUIRE_SERVICES,
  seedEvent,
  startTestServer,
  TEST_DATABASE_URL,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from '../../server/test/harness.ts';
import { Device } from './support/browser.ts';
import { writeQrVideo } from './support/fake-camera.ts';

const backend = TEST_DATABASE_URL || REQUIRE_SERVICES ? postgresBackend : pgliteBackend;

async function waitForStatus(
  page: Page,
  want: Partial<{ online: string; pending: number; conflicts: number }>,
  timeout = 30_000,
): Promise<void> {
  const sel = ['[data-testid="status"]'];
  if (want.online !== undefined) sel.push(`[data-online="${want.online}"]`);
  if (want.pending !== undefined) sel.push(`[data-pending="${want.pending}"]`);
  if (want.conflicts !== undefined) sel.push(`[data-conflicts="${want.conflicts}"]`);
  await page.locator(sel.join('')).waitFor({ timeout });
}

async function verdict(page: Page): Promise<{ tone: string | null; text: string }> {
  const v = page.getByTestId('verdict');
  await v.waitFor({ timeout: 20_000 });
  return { tone: await v.getAttribute('data-tone'), text: await v.innerText() };
}

async function dismissVerdict(page: Page): Promise<void> {
  const v = page.getByTestId('verdict');
  if (await v.count()) await v.click();
  await v.waitFor({ state: 'detached' });
}

describe(`scanner app in Chromium (${backend.name})`, () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let ticket: { id: string; code: string; number: string };
  let videoDir: string;
  const devices: Device[] = [];

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin, { settings: { duplicate_window_s: 600, offline_holder_names: true } });
    [ticket] = (await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga, holder_name: 'Ada Lovelace' },
    ])) as [typeof ticket];
    const staff = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
      username: 'anna',
      name: 'Anna',
      pin: '2468',
    });
    expect(staff.status).toBe(201);
    videoDir = mkdtempSync(path.join(tmpdir(), 'entrada-camera-'));
    writeQrVideo(path.join(videoDir, 'ticket.y4m'), ticket.code, {
      width: 400,
      height: 300,
      fps: 2,
      showSeconds: 1.5,
      blankSeconds: 90,
    });
  });

  afterEach(async (ctx) => {
    // A failing browser test leaves a picture of every device's screen.
    if (ctx.task.result?.state !== 'fail') return;
    for (const d of devices) await d.screenshot(`failed-${d.name}`).catch(() => undefined);
  });

  afterAll(async () => {
    for (const d of devices) await d.dispose();
    await server?.close();
    await tdb?.drop();
    if (videoDir) rmSync(videoDir, { recursive: true, force: true });
  });

  async function pairingCode(name: string): Promise<string> {
    const r = await server.admin.post('/api/v1/devices/pairing-codes', {
      event_id: ev.eventId,
      gate_id: ev.gates.main,
      name,
    });
    expect(r.status).toBe(201);
    return r.body.code as string;
  }

  /** Pair through the app, log in, choose the main gate, and wait for the ticket data. */
  async function setUpDevice(name: string): Promise<Device> {
    const device = new Device(name, server.url, path.join(videoDir, 'ticket.y4m'));
    devices.push(device);
    const page = await device.launch();
    await page.goto(`/?pair=${await pairingCode(name)}`);
    await page.getByRole('heading', { name: 'Pair this scanner' }).waitFor();
    await page.locator('input[name="device-name"]').fill(name);
    await page.getByRole('button', { name: 'Pair device' }).click();
    await page.getByText('Staff login').waitFor();
    await page.locator('input[name="username"]').fill('anna');
    for (const digit of '2468') await page.getByRole('button', { name: digit, exact: true }).click();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Choose your gate' }).waitFor();
    await page.getByRole('button', { name: 'Main', exact: true }).click();
    await waitForStatus(page, { online: 'yes' });
    await page.getByText('data up to date').waitFor({ timeout: 30_000 });
    // The service worker has precached the app: from here on it loads with no network.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    return device;
  }

  it('refuses a wrong PIN with a clear message and logs the attempt', async () => {
    const device = new Device('login-check', server.url, path.join(videoDir, 'ticket.y4m'));
    devices.push(device);
    const page = await device.launch();
    await page.goto(`/?pair=${await pairingCode('login-check')}`);
    await page.getByRole('button', { name: 'Pair device' }).click();
    await page.locator('input[name="username"]').fill('anna');
    await page.locator('input[name="pin"]').fill('0000');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/PIN|login/i);
    const logs = await server.admin.get(`/api/v1/events/${ev.eventId}/login-logs`);
    expect(JSON.stringify(logs.body)).toContain('anna');
    expect(JSON.stringify(logs.body)).not.toContain('0000');
    await device.dispose();
    devices.splice(devices.indexOf(device), 1);
  });

  it("pairs by scanning the organiser's pairing QR and takes codes from a keyboard-wedge scanner", async () => {
    const r = await server.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId, name: 'Wedge' });
    const video = path.join(videoDir, 'pairing.y4m');
    writeQrVideo(video, r.body.pair_url as string, {
      width: 400,
      height: 300,
      fps: 2,
      showSeconds: 3,
      blankSeconds: 60,
    });
    const device = new Device('wedge', server.url, video);
    devices.push(device);
    const page = await device.launch();
    await device.allowCamera(true);
    await page.goto('/');
    await page.getByRole('button', { name: 'Scan pairing QR' }).click();
    await page.getByText('Staff login').waitFor({ timeout: 30_000 });
    await device.allowCamera(false);
    await page.locator('input[name="username"]').fill('anna');
    await page.locator('input[name="pin"]').fill('2468');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Main', exact: true }).click();
    await page.getByText('data up to date').waitFor({ timeout: 30_000 });
    const [other] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.vip }]);
    // A wedge scanner "types" the code in a few milliseconds and ends with Enter, with no field focused.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.type(other!.code, { delay: 2 });
    await page.keyboard.press('Enter');
    const v = await verdict(page);
    expect(v.tone).toBe('go');
    await device.screenshot('verdict-admit-online-wedge');
    await device.dispose();
    devices.splice(devices.indexOf(device), 1);
  });

  it('scans offline through the camera, keeps scans across reloads and a browser restart, syncs, and shows a double entry on both devices', async () => {
    const a = await setUpDevice('Gate-A');
    const b = await setUpDevice('Gate-B');

    // Device A goes offline; a reload is served by the service worker.
    await a.setOffline(true);
    await a.page.reload();
    await waitForStatus(a.page, { online: 'no' });

    // The camera reads the ticket: admitted offline.
    await a.allowCamera(true);
    await a.page.locator('.camera').click();
    const admit = await verdict(a.page);
    expect(admit.tone).toBe('go');
    expect(admit.text).toContain('ADMIT');
    expect(admit.text).toContain('Offline');
    expect(admit.text).toContain('Ada Lovelace');
    await a.screenshot('verdict-admit-offline');
    const timings = await a.page.evaluate(() => ({
      decode: performance.getEntriesByName('entrada:decode').map((e) => e.duration),
      toVerdict: performance.getEntriesByName('entrada:frame-to-verdict').map((e) => e.duration),
    }));
    expect(timings.toVerdict.length).toBeGreaterThan(0);
    console.log(
      `camera: decode ${timings.decode.map((d) => d.toFixed(1)).join(', ')} ms; frame to verdict ${timings.toVerdict.map((d) => d.toFixed(1)).join(', ')} ms`,
    );
    await a.allowCamera(false);
    await waitForStatus(a.page, { pending: 1 });

    // The same ticket again (typed): "just scanned", amber.
    await a.page.getByTestId('verdict').waitFor({ state: 'detached' });
    await a.page.getByRole('button', { name: 'Type a code' }).click();
    await a.page.locator('input[name="manual-code"]').fill(ticket.code);
    await a.page.getByRole('button', { name: 'Check' }).click();
    const again = await verdict(a.page);
    expect(again.tone).toBe('wait');
    expect(again.text).toContain('JUST SCANNED');
    await a.screenshot('verdict-just-scanned');
    await dismissVerdict(a.page);

    // A code that is no ticket: red, and still recorded.
    await a.page.getByRole('button', { name: 'Type a code' }).click();
    await a.page.locator('input[name="manual-code"]').fill('NOT-A-REAL-TICKET-42');
    await a.page.getByRole('button', { name: 'Check' }).click();
    const bad = await verdict(a.page);
    expect(bad.tone).toBe('stop');
    expect(bad.text).toContain('INVALID');
    await a.screenshot('verdict-invalid');
    await dismissVerdict(a.page);
    await waitForStatus(a.page, { pending: 3 });

    // Pending scans survive a reload and a browser restart, still offline.
    await a.page.reload();
    await waitForStatus(a.page, { pending: 3, online: 'no' });
    await a.close();
    await a.launch();
    await a.setOffline(true);
    await a.page.goto('/');
    await waitForStatus(a.page, { pending: 3, online: 'no' });

    // Device B, also offline and not knowing about A's scan, admits the same ticket.
    await b.setOffline(true);
    await b.page.reload();
    await waitForStatus(b.page, { online: 'no' });
    await b.allowCamera(true);
    await b.page.locator('.camera').click();
    const admitB = await verdict(b.page);
    expect(admitB.tone).toBe('go');
    await b.screenshot('verdict-admit-offline-device-b');
    await b.allowCamera(false);

    // Back online: A syncs first (its scan is earlier and wins), then B, whose admission becomes the conflict.
    await a.setOffline(false);
    await waitForStatus(a.page, { online: 'yes', pending: 0 });
    // On the server: all three of A's offline scans, whatever their verdict.
    const deviceA = (
      (await server.admin.get('/api/v1/devices')).body.devices as Array<{ device_id: string; name: string }>
    ).find((d) => d.name === 'Gate-A')!;
    const statusA = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${deviceA.device_id}`);
    expect(statusA.body).toMatchObject({ last_seq: 3, acked_through: 3, missing: [] });
    await b.setOffline(false);
    await waitForStatus(b.page, { online: 'yes', pending: 0, conflicts: 1 });
    await b.page.getByRole('button', { name: 'Sync details' }).click();
    expect(await b.page.getByTestId('conflicts').innerText()).toContain('Already used');
    await b.screenshot('conflict-on-device-b');

    // A learns of the double entry from the download feed, which serves a commit once no older
    // transaction is still open anywhere on the database server (so it never skips one): retry.
    for (let i = 0; i < 15; i++) {
      await a.page.getByRole('button', { name: 'Sync now' }).click();
      try {
        await waitForStatus(a.page, { conflicts: 1 }, 2_000);
        break;
      } catch {
        /* not yet below the horizon */
      }
    }
    await waitForStatus(a.page, { conflicts: 1 }, 1_000);
    await a.page.getByRole('button', { name: 'Sync details' }).click();
    expect(await a.page.getByTestId('conflicts').innerText()).toContain('Double entry');
    await a.screenshot('conflict-on-device-a');

    const conflicts = await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`);
    expect(conflicts.status).toBe(200);
    const forTicket = (conflicts.body.conflicts as Array<{ ticket: { id: string } }>).filter(
      (c) => c.ticket.id === ticket.id,
    );
    expect(forTicket).toHaveLength(1);
  });
});
