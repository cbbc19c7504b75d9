/**
 * Webhooks and email on the Alerts screen in real Chromium against a real server (issue 13 §3): an owner signed in
 * with email and password subscribes to critical-alert mail, adds a webhook (the secret shown once, copied with the
 * button), a device suspended is delivered to a real HTTP receiver by the server's worker on its timer (signature
 * checked with the specification's algorithm) and shows in the webhook's delivery log; the webhook is deleted. A
 * viewer sees their own email toggle and no webhooks. axe-core on each screen; screenshots at 1280×800 and 768×1024,
 * plus the sections below the fold.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
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

describe.skipIf(!existsSync(CHROMIUM) && !REQUIRE_SERVICES)(`webhooks and email in Chromium (${backend.name})`, () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ev: SeededEvent;
  let receiver: http.Server;
  let receiverUrl: string;
  let smtp: SMTPServer;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const accessibility: Record<string, string[]> = {};

  async function check(p: Page, name: string): Promise<void> {
    const v = await axeSerious(p);
    accessibility[name] = v.map(
      (x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.slice(0, 3).map((n) => n.target))}`,
    );
    await screenshots(p, name);
  }

  /** The part of the screen below the fold (the shared helper shows the top). */
  async function sectionShot(p: Page, selector: string, name: string): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    await p.locator(selector).screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  }

  async function signIn(p: Page, email: string): Promise<void> {
    await p.goto('/console/');
    await p.getByLabel('Email', { exact: true }).fill(email);
    await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await p.getByRole('heading', { name: 'Events' }).waitFor();
  }

  beforeAll(async () => {
    tdb = await backend.open();
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/entrada-hook`;
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(s, _session, cb) {
        s.resume();
        s.on('end', () => cb());
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
    // The worker delivers on its timer, as in production, only more often.
    server = await startTestServer(tdb.db, { config: { alertIntervalMs: 0, notifyIntervalMs: 300, smtpUrl } });
    ev = await seedEvent(server.admin, { name: 'Harbour Festival' });
    for (const [email, name, role] of [
      ['olivia@harbour.example', 'Olivia Owner', 'owner'],
      ['vera@harbour.example', 'Vera Viewer', 'viewer'],
    ] as const) {
      expect((await server.admin.post('/api/v1/users', { email, name, role, password: PASSWORD })).status).toBe(201);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
    context = await browser.newContext({
      baseURL: server.url,
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      timezoneId: 'Europe/Amsterdam',
      locale: 'en-GB',
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`[console] page error: ${err.message}`));
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await screenshots(page, `notify-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(
        () => undefined,
      );
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    receiver?.closeAllConnections();
    await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
    await new Promise((r) => (smtp ? smtp.close(() => r(undefined)) : r(undefined)));
    await tdb?.drop();
  });

  it('subscribes the signed-in owner to critical-alert mail', async () => {
    await signIn(page, 'olivia@harbour.example');
    await page.goto(`/console/e/${ev.eventId}/alerts`);
    await page.getByRole('heading', { name: 'Alerts · Harbour Festival' }).waitFor();
    const box = page.getByRole('checkbox', { name: /Email me critical alerts at olivia@harbour\.example/ });
    expect(await box.isChecked()).toBe(false);
    await box.click();
    await expect.poll(() => box.isChecked()).toBe(true);
    await page.reload();
    await page.getByRole('checkbox', { name: /Email me critical alerts/ }).waitFor();
    expect(await page.getByRole('checkbox', { name: /Email me critical alerts/ }).isChecked()).toBe(true);
  });

  it('adds a webhook, shows its secret once with a copy button, delivers a device change signed, and logs it', async () => {
    const section = page.locator('section[aria-labelledby="webhooks-h"]');
    await section.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await section.getByText('No webhook yet.').waitFor();
    const form = page.getByRole('form', { name: 'Add a webhook' });
    // A URL with credentials is refused by the server, in words.
    await form.getByLabel('URL', { exact: true }).fill('https://user:pw@hooks.example.com/x');
    await form.getByRole('button', { name: 'Add webhook' }).click();
    await form.getByText(/must not carry credentials/).waitFor();
    await form.getByLabel('URL', { exact: true }).fill(receiverUrl);
    await form.getByRole('checkbox', { name: 'Device suspended' }).check();
    await form.getByRole('checkbox', { name: /Only this event/ }).uncheck();
    await form.getByRole('button', { name: 'Add webhook' }).click();
    const secret = (await page.getByTestId('webhook-secret').innerText()).trim();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const row = section.locator('tr[data-webhook]').filter({ hasText: receiverUrl });
    await row.waitFor();
    expect(await row.innerText()).toContain('Alert raised, Alert cleared, Device suspended');
    expect(await row.innerText()).toContain('Every event');
    await check(page, 'notify-secret-shown');
    await section.scrollIntoViewIfNeeded();
    await sectionShot(page, 'section[aria-labelledby="webhooks-h"]', 'notify-webhooks-section');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    expect(await page.getByTestId('webhook-secret').count()).toBe(0);

    // A device suspended: the server's worker delivers it on its timer.
    const device = await server.admin.post('/api/v1/devices', { name: 'North gate 3' });
    expect(
      (await server.admin.post(`/api/v1/devices/${device.body.device_id}/suspend`, { reason: 'battery swap' })).status,
    ).toBe(200);
    await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
    const hit = received[0]!;
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`${String(hit.headers['webhook-id'])}.${String(hit.headers['webhook-timestamp'])}.${hit.body}`)
      .digest('base64');
    expect(hit.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(JSON.parse(hit.body)).toMatchObject({
      type: 'device.suspended',
      data: { name: 'North gate 3', reason: 'battery swap' },
    });

    await row.getByRole('button', { name: `Deliveries of ${receiverUrl}` }).click();
    const dialog = page.getByRole('dialog', { name: `Deliveries · ${receiverUrl}` });
    const logRow = dialog.locator('tr[data-delivery]').first();
    await logRow.getByText('✓ delivered').waitFor({ timeout: 10_000 });
    expect(await logRow.innerText()).toContain('Device suspended');
    expect(await logRow.innerText()).toMatch(/: HTTP 200 in \d+ ms/);
    await check(page, 'notify-delivery-log');
    await dialog.getByRole('button', { name: 'Close' }).click();

    await row.getByRole('button', { name: `Delete webhook ${receiverUrl}` }).click();
    await row.waitFor({ state: 'detached' });
    expect((await server.admin.get('/api/v1/webhooks')).body.webhooks).toEqual([]);
  });

  it('shows a viewer their own email toggle and no webhooks', async () => {
    const viewerContext = await browser.newContext({
      baseURL: server.url,
      viewport: { width: 1280, height: 800 },
      timezoneId: 'Europe/Amsterdam',
      locale: 'en-GB',
    });
    try {
      const v = await viewerContext.newPage();
      await signIn(v, 'vera@harbour.example');
      await v.goto(`/console/e/${ev.eventId}/alerts`);
      await v.getByRole('checkbox', { name: /Email me critical alerts at vera@harbour\.example/ }).waitFor();
      expect(await v.getByRole('heading', { name: 'Webhooks' }).count()).toBe(0);
      await check(v, 'notify-viewer');
      await sectionShot(v, 'section[aria-labelledby="alert-email-h"]', 'notify-viewer-email');
    } finally {
      await viewerContext.close();
    }
  });

  it('has no serious or critical accessibility violations on these screens', () => {
    expect(Object.keys(accessibility).length).toBeGreaterThanOrEqual(3);
    expect(Object.entries(accessibility).filter(([, v]) => v.length > 0)).toEqual([]);
  });
});
