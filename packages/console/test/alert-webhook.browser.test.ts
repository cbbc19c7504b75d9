/**
 * The alert → webhook scenario of issue 13 §5 in real Chromium against a real server, as an organiser lives it: an
 * owner signed in with email and password adds a webhook for alerts on the Alerts screen (its secret shown once), a
 * scanner's heartbeats stop, the server's own evaluator (on its timer, the event's offline threshold shortened to a
 * minute and the server's clock moved on) raises `device_offline`, the dashboard shows it live from the stream, a
 * real HTTP receiver started here gets `alert.raised` from the server's outbox worker, its `webhook-signature`
 * checked with the Standard Webhooks algorithm written here from the specification (not the server's signer); the
 * owner acknowledges it on the Alerts screen and sees who and when; the scanner comes back, the alert clears by
 * itself, the receiver gets `alert.cleared`, and the webhook's delivery log shows both delivered. axe-core on every
 * screen visited; screenshots at 1280×800 and 768×1024.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
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
import { ARTIFACTS, axeSerious, BASE_ARGS, CHROMIUM, screenshots } from './support/console-browser.ts';

const backend = TEST_DATABASE_URL || REQUIRE_SERVICES ? postgresBackend : pgliteBackend;
const PASSWORD = 'correct horse battery staple';
const MIN = 60_000;

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * Standard Webhooks verification, from the specification: the key is the base64 after `whsec_`; the signed content
 * is `${webhook-id}.${webhook-timestamp}.${body}`; the header holds space-separated `v1,<base64 HMAC-SHA256>`
 * signatures, compared in constant time; a timestamp more than 5 minutes from the receiver's clock is refused.
 */
function verifyStandardWebhook(secret: string, r: Received, receiverNowS: number): boolean {
  const id = r.headers['webhook-id'];
  const timestamp = r.headers['webhook-timestamp'];
  const header = r.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof header !== 'string') return false;
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(receiverNowS - ts) > 5 * 60) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${r.body}`, 'utf8').digest();
  return header.split(' ').some((part) => {
    const [version, signature] = part.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe.skipIf(!existsSync(CHROMIUM) && !REQUIRE_SERVICES)(`alert to webhook in Chromium (${backend.name})`, () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ev: SeededEvent;
  let receiver: http.Server;
  let receiverUrl: string;
  let secret = '';
  let scanner: { deviceId: string; token: string };
  /** How far the server's clock is ahead of the wall clock (moved on to make the scanner silent for minutes). */
  let skew = 0;
  const serverNow = (): number => Date.now() + skew;
  const received: Received[] = [];
  const accessibility: Record<string, string[]> = {};
  const bodies = (): Array<{
    type: string;
    data: { event_id: string; alert: { id: string; rule: string; severity: string; subject: { name: string } } };
  }> => received.map((r) => JSON.parse(r.body));

  async function check(p: Page, name: string): Promise<void> {
    const v = await axeSerious(p);
    accessibility[name] = v.map(
      (x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.slice(0, 3).map((n) => n.target))}`,
    );
    await screenshots(p, name);
  }

  /** A heartbeat as the scanner app sends it every 30 s while online. */
  async function heartbeat(pending: number): Promise<void> {
    const r = await server.client(scanner.token).post('/api/v1/devices/heartbeat', {
      event_id: ev.eventId,
      device_time: serverNow(),
      app_version: 'web 1.4.0',
      battery: { level: 0.64, charging: false },
      pending_scans: pending,
      ...(pending > 0 ? { oldest_pending_at: serverNow() - 30_000 } : {}),
      gate_id: ev.gates.main,
    });
    expect(r.status).toBe(200);
  }

  beforeAll(async () => {
    tdb = await backend.open();
    receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body, at: Date.now() });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts-hook`;
    // The evaluator and the outbox worker run on their timers, as in production, only more often.
    server = await startTestServer(tdb.db, { now: serverNow, config: { alertIntervalMs: 500, notifyIntervalMs: 300 } });
    ev = await seedEvent(server.admin, {
      name: 'Harbour Festival',
      settings: { alerts: { device_offline_warning_min: 1, device_offline_critical_min: 600 } },
    });
    expect(
      (
        await server.admin.post('/api/v1/users', {
          email: 'olivia@harbour.example',
          name: 'Olivia Owner',
          role: 'owner',
          password: PASSWORD,
        })
      ).status,
    ).toBe(201);
    const made = await server.admin.post('/api/v1/devices', { name: 'North gate 3', event_ids: [ev.eventId] });
    expect(made.status).toBe(201);
    scanner = { deviceId: made.body.device_id, token: made.body.token };
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
    context = await browser.newContext({
      baseURL: server.url,
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      timezoneId: 'Europe/Amsterdam',
      locale: 'en-GB',
    });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`[console] page error: ${err.message}`));
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await screenshots(page, `alert-webhook-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(
        () => undefined,
      );
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    receiver?.closeAllConnections();
    await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
    await tdb?.drop();
  });

  it("an owner adds a webhook for this event's alerts on the Alerts screen", async () => {
    await page.goto('/console/');
    await page.getByLabel('Email', { exact: true }).fill('olivia@harbour.example');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.goto(`/console/e/${ev.eventId}/alerts`);
    await page.getByRole('heading', { name: 'Alerts · Harbour Festival' }).waitFor();
    await page.getByText('Nothing needs attention now.').waitFor();

    const form = page.getByRole('form', { name: 'Add a webhook' });
    await form.getByLabel('URL', { exact: true }).fill(receiverUrl);
    // Alert raised and cleared are ticked already; the webhook stays scoped to this event.
    expect(await form.getByRole('checkbox', { name: 'Alert raised' }).isChecked()).toBe(true);
    expect(await form.getByRole('checkbox', { name: 'Alert cleared' }).isChecked()).toBe(true);
    expect(await form.getByRole('checkbox', { name: /Only this event/ }).isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Add webhook' }).click();
    secret = (await page.getByTestId('webhook-secret').innerText()).trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await page.getByRole('button', { name: 'I have copied it' }).click();
    const row = page.locator('section[aria-labelledby="webhooks-h"] tr[data-webhook]').filter({ hasText: receiverUrl });
    await row.waitFor();
    expect(await row.innerText()).toContain('Alert raised, Alert cleared');
    expect(await row.innerText()).toContain('This event');
    await check(page, 'alert-webhook-added');
    const listed = (await server.admin.get('/api/v1/webhooks')).body.webhooks as Array<{
      url: string;
      events: string[];
      event_id: string | null;
    }>;
    expect(listed).toEqual([
      expect.objectContaining({ url: receiverUrl, events: ['alert.raised', 'alert.cleared'], event_id: ev.eventId }),
    ]);
  });

  it('a scanner whose heartbeats stop raises an alert: live on the dashboard, and delivered to the webhook signed', async () => {
    await heartbeat(3);
    await page.getByRole('link', { name: 'Live dashboard' }).click();
    await page.getByRole('heading', { name: 'Live: Harbour Festival' }).waitFor();
    await page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 15_000 });
    // Online: nothing to raise, nothing sent.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(received).toEqual([]);
    expect(await page.getByRole('link', { name: /^Alerts \(/ }).count()).toBe(0);

    // The heartbeats stop; two minutes pass on the server's clock without one (threshold: one minute).
    const silentFrom = Date.now();
    skew += 2 * MIN;
    await page.getByRole('link', { name: 'Alerts (1 new)' }).waitFor({ timeout: 15_000 });
    await page.locator('ul.notices').getByText('Alert raised').waitFor();
    const shownAfterMs = Date.now() - silentFrom;
    await check(page, 'alert-webhook-dashboard');

    await expect.poll(() => bodies().map((b) => b.type), { timeout: 15_000 }).toEqual(['alert.raised']);
    const [hit] = received;
    const [raised] = bodies();
    expect(raised).toMatchObject({
      type: 'alert.raised',
      data: {
        event_id: ev.eventId,
        alert: { rule: 'device_offline', severity: 'warning', subject: { name: 'North gate 3' } },
      },
    });
    // The receiver's clock is the server's (moved on by the skew); the signature is the specification's.
    expect(verifyStandardWebhook(secret, hit!, Math.floor(serverNow() / 1000))).toBe(true);
    expect(hit!.headers['webhook-id']).toMatch(/\S+/);
    // Control: the same check refuses a body changed by one byte and a different secret.
    expect(
      verifyStandardWebhook(
        secret,
        { ...hit!, body: hit!.body.replace('North gate 3', 'North gate 4') },
        Math.floor(serverNow() / 1000),
      ),
    ).toBe(false);
    expect(
      verifyStandardWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, hit!, Math.floor(serverNow() / 1000)),
    ).toBe(false);
    console.log(
      `[alert-webhook] alert shown on the dashboard ${shownAfterMs} ms after the clock moved past the threshold; delivered ${hit!.at - silentFrom} ms after`,
    );
  });

  it('the owner acknowledges it on the Alerts screen; the scanner comes back and the alert clears, delivered too', async () => {
    await page.getByRole('link', { name: 'Alerts (1 new)' }).click();
    await page.getByRole('heading', { name: 'Alerts · Harbour Festival' }).waitFor();
    const open = page.getByRole('table', { name: 'Open alerts' });
    const alertRow = open.getByRole('row').filter({ hasText: 'Device offline' });
    await alertRow.getByText('North gate 3').waitFor({ timeout: 15_000 });
    expect(await alertRow.innerText()).toContain('with 3 scans pending');
    expect(await alertRow.innerText()).toContain('Warning');
    await check(page, 'alert-webhook-open');

    await alertRow.getByRole('button', { name: 'Acknowledge Device offline: North gate 3' }).click();
    await alertRow.getByText(/✓ Olivia Owner/).waitFor();
    expect(await alertRow.getByRole('button').count()).toBe(0);
    await check(page, 'alert-webhook-acknowledged');
    const [stored] = (await server.admin.get(`/api/v1/events/${ev.eventId}/alerts?state=open`)).body.alerts as Array<{
      id: string;
      acknowledged_by: string | null;
      acknowledged_at: string | null;
    }>;
    expect(stored).toMatchObject({
      id: bodies()[0]!.data.alert.id,
      acknowledged_by: 'Olivia Owner',
      acknowledged_at: expect.any(String),
    });

    // The scanner is heard from again: the alert clears by itself, the screen moves it to the cleared ones.
    await heartbeat(0);
    await expect
      .poll(() => bodies().map((b) => b.type), { timeout: 15_000 })
      .toEqual(['alert.raised', 'alert.cleared']);
    expect(verifyStandardWebhook(secret, received[1]!, Math.floor(serverNow() / 1000))).toBe(true);
    expect(bodies()[1]!.data.alert.id).toBe(bodies()[0]!.data.alert.id);
    const cleared = page
      .getByRole('table', { name: 'Recently cleared alerts' })
      .getByRole('row')
      .filter({ hasText: 'Device offline' });
    await cleared.getByText('North gate 3').waitFor({ timeout: 15_000 });
    await page.getByText('Nothing needs attention now.').waitFor();
    await check(page, 'alert-webhook-cleared');

    // The webhook's delivery log: both delivered, each with its HTTP status.
    const row = page.locator('section[aria-labelledby="webhooks-h"] tr[data-webhook]').filter({ hasText: receiverUrl });
    await row.getByRole('button', { name: `Deliveries of ${receiverUrl}` }).click();
    const dialog = page.getByRole('dialog', { name: `Deliveries · ${receiverUrl}` });
    await expect
      .poll(() => dialog.locator('tr[data-delivery]').filter({ hasText: '✓ delivered' }).count(), { timeout: 10_000 })
      .toBe(2);
    const log = await dialog.innerText();
    expect(log).toContain('Alert raised');
    expect(log).toContain('Alert cleared');
    await check(page, 'alert-webhook-deliveries');
    mkdirSync(ARTIFACTS, { recursive: true });
    await dialog.screenshot({ path: path.join(ARTIFACTS, 'alert-webhook-deliveries-dialog.png') });
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('has no serious or critical accessibility violations on these screens', () => {
    expect(Object.keys(accessibility).length).toBeGreaterThanOrEqual(6);
    expect(Object.entries(accessibility).filter(([, v]) => v.length > 0)).toEqual([]);
  });
});
