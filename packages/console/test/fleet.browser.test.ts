/**
 * Fleet health and alerts in real Chromium against a real server (issue 13 §2–3): a scanner app paired in a second
 * browser context appears in the fleet table online with the pending scans it reports; when its heartbeats stop it
 * turns offline, and the server's own evaluator (on its timer, with the event's offline threshold shortened to a
 * minute and the server's clock moved on) raises an alert, shown on the Alerts screen and acknowledged there. A
 * viewer sees no acknowledge button. axe-core on each screen; screenshots at 1280×800 and 768×1024.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
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
import { axeSerious, BASE_ARGS, CHROMIUM, screenshots } from './support/console-browser.ts';

const backend = TEST_DATABASE_URL || REQUIRE_SERVICES ? postgresBackend : pgliteBackend;

describe.skipIf(!existsSync(CHROMIUM) && !REQUIRE_SERVICES)(
  `fleet health and alerts in Chromium (${backend.name})`,
  () => {
    let tdb: TestDatabase;
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let ev: SeededEvent;
    /** How far the server's clock is ahead of the wall clock (moved on to make the scanner "silent" for minutes). */
    let skew = 0;
    let scannerContext: BrowserContext | null = null;
    const accessibility: Record<string, string[]> = {};

    async function check(p: Page, name: string): Promise<void> {
      const v = await axeSerious(p);
      accessibility[name] = v.map(
        (x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.slice(0, 3).map((n) => n.target))}`,
      );
      await screenshots(p, name);
    }

    async function signIn(p: Page, token: string): Promise<void> {
      await p.goto('/console/');
      await p.getByRole('tab', { name: 'API token' }).click();
      await p.locator('input[name="token"]').fill(token);
      await p.getByRole('button', { name: 'Sign in with token' }).click();
      await p.getByRole('heading', { name: 'Events' }).waitFor();
    }

    beforeAll(async () => {
      tdb = await backend.open();
      // The evaluator runs on its timer, as in production, only more often.
      server = await startTestServer(tdb.db, { now: () => Date.now() + skew, config: { alertIntervalMs: 500 } });
      ev = await seedEvent(server.admin, {
        name: 'Harbour Festival',
        settings: { alerts: { device_offline_warning_min: 1, device_offline_critical_min: 600 } },
      });
      expect(
        (
          await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
            username: 'anna',
            name: 'Anna Steward',
            pin: '2468',
          })
        ).status,
      ).toBe(201);
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
        await screenshots(page, `fleet-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(
          () => undefined,
        );
    });

    afterAll(async () => {
      await scannerContext?.close().catch(() => undefined);
      await browser?.close();
      await server?.close();
      await tdb?.drop();
    });

    it('shows a paired scanner app online with the pending scans it reports, and its history', async () => {
      const tickets = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      const code = (
        await server.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId, gate_id: ev.gates.main })
      ).body.code as string;
      // Service workers off: the routes below must see the app's requests.
      const scanner = await browser.newContext({
        baseURL: server.url,
        viewport: { width: 390, height: 844 },
        serviceWorkers: 'block',
      });
      scannerContext = scanner;
      const phone = await scanner.newPage();
      await phone.goto(`/?pair=${code}`);
      await phone.locator('input[name="device-name"]').fill('North phone 1');
      await phone.getByRole('button', { name: 'Pair device' }).click();
      await phone.getByText('Staff login').waitFor({ timeout: 30_000 });
      await phone.locator('input[name="username"]').fill('anna');
      await phone.locator('input[name="pin"]').fill('2468');
      await phone.getByRole('button', { name: 'Log in' }).click();
      await phone.getByRole('button', { name: 'Main', exact: true }).click();
      await phone.getByText('data up to date').waitFor({ timeout: 30_000 });

      // The server stops answering scans (the app decides them itself and keeps them), and refuses uploads for now:
      // two scans stay pending while the app is still in touch with the server and says so in its heartbeats.
      await scanner.route('**/api/v1/scanning/**', (r) => r.abort());
      await scanner.route('**/api/v1/offline/sync', (r) =>
        r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"UNAVAILABLE","message":"test"}' }),
      );
      for (const t of tickets) {
        await phone.getByRole('button', { name: 'Type a code' }).click();
        await phone.locator('input[name="manual-code"]').fill(t.code);
        await phone.getByRole('button', { name: 'Check' }).click();
        await phone.getByTestId('verdict').waitFor();
        await phone.getByTestId('verdict').click();
        await phone.getByTestId('verdict').waitFor({ state: 'detached' });
      }
      await phone.getByRole('button', { name: 'Sync now' }).click();

      await signIn(page, server.adminToken);
      await page.goto(`/console/e/${ev.eventId}/devices`);
      await page.getByRole('heading', { name: 'Fleet health' }).waitFor();
      const row = page.locator('tr[data-device]').filter({ hasText: 'North phone 1' });
      // Online, and needing attention: its uploads keep failing (the state says both, in words).
      await row.getByText('● online').waitFor({ timeout: 30_000 });
      await row.getByTestId('pending').getByText('2', { exact: true }).waitFor({ timeout: 30_000 });
      expect(await row.innerText()).toContain('Anna Steward');
      expect(await row.innerText()).toContain('Main');
      await check(page, 'fleet-online');

      // The device's own page: sync sessions, staff logins, scans.
      await row.getByRole('button', { name: 'North phone 1' }).click();
      const panel = page.getByRole('dialog', { name: 'North phone 1' });
      await panel.getByRole('table', { name: 'Staff logins' }).getByText('anna').waitFor();
      expect(page.url()).toContain('device=');
      await check(page, 'fleet-device-panel');
      await panel.getByRole('button', { name: 'Close' }).click();
    });

    it("turns the silent device offline, raises an alert by the server's timer, shown and acknowledged on the Alerts screen", async () => {
      // Its heartbeats stop: the browser is gone. Then two minutes pass without one, on the server's clock.
      await scannerContext?.close();
      skew += 2 * 60_000;
      const row = page.locator('tr[data-device]').filter({ hasText: 'North phone 1' });
      // Offline with scans on it: needs attention, by word and shape, not colour alone.
      await row.getByText('○ offline').waitFor({ timeout: 30_000 });
      await row.getByText('Needs attention').waitFor();
      await page.getByLabel(/Needs attention only/).click();
      await page.waitForURL(/attention=1/, { timeout: 10_000 });
      // Clicked, not check(): the box follows the URL, which the router updates after the click.
      // The box renders the new URL a moment after it changes: polled, not read once.
      await expect.poll(() => page.getByLabel(/Needs attention only/).isChecked(), { timeout: 10_000 }).toBe(true);
      await row.getByText('device offline').waitFor({ timeout: 30_000 });
      await check(page, 'fleet-attention');

      await page.getByRole('link', { name: 'Alerts' }).click();
      await page.getByRole('heading', { name: 'Alerts · Harbour Festival' }).waitFor();
      const open = page.getByRole('table', { name: 'Open alerts' });
      const alertRow = open.getByRole('row').filter({ hasText: 'Device offline' });
      await alertRow.getByText('North phone 1').waitFor();
      expect(await alertRow.innerText()).toContain('with 2 scans pending');
      await check(page, 'alerts-open');
      await alertRow.getByRole('button', { name: /^Acknowledge Device offline/ }).click();
      // Acknowledged by the signed-in token (its name), and the button is gone.
      await alertRow.getByText(/✓ ENTRADA_ADMIN_TOKEN/).waitFor();
      expect(await alertRow.getByRole('button').count()).toBe(0);
      await check(page, 'alerts-acknowledged');

      const listed = (await server.admin.get(`/api/v1/events/${ev.eventId}/alerts`)).body.alerts as Array<{
        rule: string;
        acknowledged_at: string | null;
      }>;
      expect(listed.find((a) => a.rule === 'device_offline')?.acknowledged_at).not.toBeNull();
      const audit = (await server.admin.get(`/api/v1/events/${ev.eventId}/audit`)).body.entries as Array<{
        action: string;
      }>;
      expect(audit.some((e) => e.action === 'alert.acknowledge')).toBe(true);
    });

    it('shows a viewer the alerts without the acknowledge button', async () => {
      const viewerToken = (await server.admin.post('/api/v1/tokens', { name: 'door viewer', role: 'viewer' })).body
        .token as string;
      // Another open alert that nobody acknowledged yet: a scanner reporting a long queue.
      const other = await server.admin.post('/api/v1/devices', { name: 'South scanner', event_ids: [ev.eventId] });
      await server.client(other.body.token).post('/api/v1/devices/heartbeat', {
        event_id: ev.eventId,
        device_time: Date.now() + skew,
        app_version: 'web 0.1.0',
        pending_scans: 150,
        oldest_pending_at: Date.now() + skew - 60_000,
      });
      const viewerContext = await browser.newContext({
        baseURL: server.url,
        viewport: { width: 1280, height: 800 },
        timezoneId: 'Europe/Amsterdam',
        locale: 'en-GB',
      });
      try {
        const v = await viewerContext.newPage();
        await signIn(v, viewerToken);
        await v.goto(`/console/e/${ev.eventId}/alerts`);
        const open = v.getByRole('table', { name: 'Open alerts' });
        await open
          .getByRole('row')
          .filter({ hasText: 'Pending queue' })
          .getByText('not yet')
          .waitFor({ timeout: 30_000 });
        expect(await v.getByRole('button', { name: /^Acknowledge/ }).count()).toBe(0);
        await check(v, 'alerts-viewer');
      } finally {
        await viewerContext.close();
      }
    });

    it('has no serious or critical accessibility violations on these screens', () => {
      expect(Object.keys(accessibility).length).toBeGreaterThanOrEqual(5);
      expect(Object.entries(accessibility).filter(([, v]) => v.length > 0)).toEqual([]);
    });
  },
);
