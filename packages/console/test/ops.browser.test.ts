/**
 * Live operations in real Chromium against a real server (issue 13 §4): two scanner apps (packages/web,
 * served at /) go offline and both admit the same ticket; the double entry appears in the console's
 * conflicts inbox and is resolved there; the scan log shows both scans with device and upload times;
 * the rule check says `already_used` for the admitted ticket and `valid` for a fresh one. axe-core on
 * every screen, screenshots at 1280×800 and 768×1024 in test-artifacts/console.
 */
import { existsSync } from 'node:fs';
import { zoneOffsetMs } from '@entrada/core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  issueTickets,
  pgliteBackend,
  postgresBackend,
  registerDevice,
  REQUIRE_SERVICES,
  seedEvent,
  startTestServer,
  TEST_DATABASE_URL,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from '../../server/test/harness.ts';
import { TestDevice } from '../../server/test/offline-helpers.ts';
import { axeSerious, BASE_ARGS, CHROMIUM, screenshots } from './support/console-browser.ts';

const backend = TEST_DATABASE_URL || REQUIRE_SERVICES ? postgresBackend : pgliteBackend;

describe.skipIf(!existsSync(CHROMIUM) && !REQUIRE_SERVICES)(
  `live operations screens in Chromium (${backend.name})`,
  () => {
    let tdb: TestDatabase;
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let ev: SeededEvent;
    let doubled: { id: string; code: string; number: string };
    let fresh: { id: string; code: string; number: string };
    const scanners: BrowserContext[] = [];
    const accessibility: Record<string, string[]> = {};

    async function check(name: string): Promise<void> {
      const v = await axeSerious(page);
      accessibility[name] = v.map(
        (x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.slice(0, 3).map((n) => n.target))}`,
      );
      await screenshots(page, name);
      expect(accessibility[name], name).toEqual([]);
    }

    beforeAll(async () => {
      tdb = await backend.open();
      server = await startTestServer(tdb.db);
      ev = await seedEvent(server.admin, { name: 'Harbour Nights', settings: { duplicate_window_s: 600 } });
      [doubled, fresh] = (await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga, holder_name: 'Ada Lovelace' },
        { ticket_type_id: ev.types.ga, holder_name: 'Grace Hopper' },
      ])) as [typeof doubled, typeof fresh];
      expect(
        (await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'anna', name: 'Anna', pin: '2468' }))
          .status,
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
      page.on('console', (m) => {
        if (m.type() === 'error') console.log(`[console] ${m.text()}`);
      });
    });

    afterEach(async (ctx) => {
      if (ctx.task.result?.state === 'fail')
        await screenshots(page, `ops-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => undefined);
    });

    afterAll(async () => {
      for (const s of scanners) await s.close().catch(() => undefined);
      await browser?.close();
      await server?.close();
      await tdb?.drop();
    });

    /** A scanner app in its own browser context: paired with a code, staff logged in, the main gate chosen, its ticket data loaded. */
    async function scanner(name: string): Promise<{ context: BrowserContext; page: Page }> {
      const code = (
        await server.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId, gate_id: ev.gates.main, name })
      ).body.code as string;
      const ctx = await browser.newContext({
        baseURL: server.url,
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 1,
        hasTouch: true,
      });
      scanners.push(ctx);
      const p = await ctx.newPage();
      p.on('pageerror', (err) => console.log(`[${name}] page error: ${err.message}`));
      await p.goto(`/?pair=${code}`);
      await p.getByRole('heading', { name: 'Pair this scanner' }).waitFor();
      await p.locator('input[name="device-name"]').fill(name);
      await p.getByRole('button', { name: 'Pair device' }).click();
      await p.getByText('Staff login').waitFor();
      await p.locator('input[name="username"]').fill('anna');
      await p.locator('input[name="pin"]').fill('2468');
      await p.getByRole('button', { name: 'Log in' }).click();
      await p.getByRole('heading', { name: 'Choose your gate' }).waitFor();
      await p.getByRole('button', { name: 'Main', exact: true }).click();
      await p.getByText('data up to date').waitFor({ timeout: 30_000 });
      return { context: ctx, page: p };
    }

    /**
     * A keyboard-wedge scan: the code's keys and Enter as one burst, no field focused; returns the verdict's tone and text.
     * Dispatched in the page in one go: keys typed one by one through the DevTools protocol can arrive more than the
     * app's 50 ms apart on a loaded machine, and the app then (rightly) takes them for a person typing.
     */
    async function wedgeScan(p: Page, code: string): Promise<string> {
      await p.evaluate((text) => {
        for (const key of [...text, 'Enter'])
          window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
      }, code);
      const v = p.getByTestId('verdict');
      await v.waitFor({ timeout: 20_000 });
      const tone = `${await v.getAttribute('data-tone')}: ${(await v.innerText()).replace(/\s+/g, ' ')}`;
      await v.click();
      await v.waitFor({ state: 'detached' });
      return tone;
    }

    const status = (p: Page, want: string, timeout = 30_000) =>
      p.locator(`[data-testid="status"]${want}`).waitFor({ timeout });

    it('two offline scanners admit the same ticket; both sync', async () => {
      const a = await scanner('Gate-A');
      const b = await scanner('Gate-B');
      await a.context.setOffline(true);
      await b.context.setOffline(true);
      await status(a.page, '[data-online="no"]');
      await status(b.page, '[data-online="no"]');
      expect(await wedgeScan(a.page, doubled.code)).toMatch(/^(go|wait):/);
      // B scans a moment later (device times order the two: A's is first and wins).
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await wedgeScan(b.page, doubled.code)).toMatch(/^(go|wait):/);
      await status(a.page, '[data-pending="1"]');
      await status(b.page, '[data-pending="1"]');
      await a.context.setOffline(false);
      await status(a.page, '[data-online="yes"][data-pending="0"]');
      await b.context.setOffline(false);
      await status(b.page, '[data-online="yes"][data-pending="0"]');
      const open = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body.conflicts;
      expect(open).toHaveLength(1);
    });

    it("signs in, and the conflicts inbox shows the double entry with both scans side by side and the ticket's history", async () => {
      await page.goto('/console/');
      await page.getByRole('tab', { name: 'API token' }).click();
      await page.locator('input[name="token"]').fill(server.adminToken);
      await page.getByRole('button', { name: 'Sign in with token' }).click();
      await page.getByRole('heading', { name: 'Events' }).waitFor();
      await page.goto(`/console/e/${ev.eventId}/conflicts`);
      await page.getByRole('heading', { name: 'Conflicts · Harbour Nights' }).waitFor();
      await page.locator('[data-testid="conflict-counts"][data-open="1"]').waitFor();
      const row = page.getByRole('row', { name: new RegExp(doubled.number) });
      await row.waitFor();
      expect(await row.innerText()).toMatch(/Gate-A[\s\S]*Gate-B/);
      await check('conflicts-inbox');

      await row.getByRole('button', { name: doubled.number }).click();
      const dialog = page.getByRole('dialog', { name: `Conflict · ticket ${doubled.number}` });
      const sides = dialog.getByTestId('conflict-sides');
      await sides.waitFor();
      const side = (label: string) =>
        sides.locator('tbody tr').filter({ has: page.getByRole('rowheader', { name: label, exact: true }) });
      expect(await side('Device').innerText()).toMatch(/Gate-A\s+Gate-B/);
      // Staff per scan: shown when the scan records it (scans.staff_id, filled by the heartbeat/staff work of issue 13 §2).
      expect(await side('Staff').count()).toBe(1);
      expect(await side('Upload time (Europe/Amsterdam)').innerText()).toMatch(
        /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[\s\S]*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
      );
      expect(await side('Clock uncertainty').innerText()).toMatch(/±[\s\S]*±/);
      expect(await side('Ambiguous order').count()).toBe(1);
      await dialog.getByTestId('ticket-history').getByText('(lost)', { exact: false }).waitFor();
      await dialog.getByTestId('ticket-history').getByText('(won)', { exact: false }).waitFor();
      // The history names the staff member logged in on each scanner.
      expect(await dialog.getByTestId('ticket-history').locator('tbody').innerText()).toMatch(/Anna[\s\S]*Anna/);
      await check('conflict-detail');
    });

    it('resolves it there as fraud with a note; the counts change', async () => {
      const dialog = page.getByRole('dialog', { name: `Conflict · ticket ${doubled.number}` });
      await dialog.getByRole('radio', { name: 'Fraud' }).check();
      await dialog.getByLabel('Note', { exact: true }).fill('shared screenshot of the QR');
      const answer = page.waitForResponse(
        (r) => r.request().method() === 'POST' && r.url().endsWith('/conflicts/resolve'),
      );
      await dialog.getByRole('button', { name: 'Resolve conflict' }).click();
      expect((await answer).status()).toBe(200);
      // Resolved: the dialog closes, and the inbox (open conflicts) is empty.
      await dialog.waitFor({ state: 'detached' });
      await page.locator('[data-testid="conflict-counts"][data-open="0"][data-resolved="1"]').waitFor();
      const resolved = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=resolved`)).body
        .conflicts;
      expect(resolved).toMatchObject([{ resolution: 'fraud', note: 'shared screenshot of the QR' }]);
      await page.getByLabel('Status', { exact: true }).selectOption('resolved');
      await page.getByRole('table', { name: 'Conflicts' }).getByRole('row').filter({ hasText: 'fraud' }).waitFor();
      await check('conflicts-resolved');
    });

    it('selects many conflicts and resolves them at once', async () => {
      // Two more double entries, uploaded by two devices through the API.
      const [t1, t2] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      const base = Date.now() - 600_000;
      let later: TestDevice | null = null;
      for (const [i, name] of ['API-A', 'API-B'].entries()) {
        const d = await registerDevice(server.admin, name);
        const dev = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
        dev.scan({ code: t1!.code, at: base + i * 60_000, gateId: ev.gates.main });
        dev.scan({ code: t2!.code, at: base + i * 60_000 + 1000, gateId: ev.gates.main });
        expect((await dev.upload()).status).toBe(200);
        later = dev;
      }
      // The later device's staff escalate its first conflict with a note (seed 004's "Escalate").
      const escalated = await later!.client.post('/api/v1/offline/conflicts/escalate', {
        event_id: ev.eventId,
        seq: 1,
        note: 'Guest shows a paper receipt',
      });
      expect(escalated.status).toBe(200);
      // Opened anew (the live stream that refreshes an open inbox comes with the dashboard work of issue 13).
      await page.goto(`/console/e/${ev.eventId}/conflicts`);
      await page.locator('[data-testid="conflict-counts"][data-open="2"]').waitFor();
      // Flagged in the list, and a filter of its own.
      const table = page.getByRole('table', { name: 'Conflicts' });
      await table.getByText('Escalated', { exact: true }).waitFor();
      // A row is named by its selection box ("Select conflict of ticket N").
      const rowOf = (n: string) => table.getByRole('row', { name: new RegExp(`^Select conflict of ticket ${n}\\b`) });
      await page.getByLabel('Escalated only').click();
      await page.waitForURL(/escalated=true/);
      await rowOf(t2!.number).waitFor({ state: 'detached' });
      expect(await rowOf(t1!.number).count()).toBe(1);
      await check('conflicts-escalated');
      await page.getByLabel('Escalated only').click();
      await rowOf(t2!.number).waitFor();
      await page.getByRole('checkbox', { name: 'Select all' }).check();
      const bulk = page.getByTestId('bulk-resolve');
      await bulk.getByRole('radio', { name: 'Dismissed' }).check();
      await bulk.getByLabel('Note', { exact: true }).fill('test scans before doors');
      await check('conflicts-bulk-selected');
      await bulk.getByRole('button', { name: 'Resolve 2 selected' }).click();
      await page.locator('[data-testid="conflict-counts"][data-open="0"][data-resolved="3"]').waitFor();
      const dismissed = (
        await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=resolved`)
      ).body.conflicts.filter((c: { resolution: string }) => c.resolution === 'dismissed');
      expect(dismissed).toHaveLength(2);
    });

    it('the scan log shows both scans with device time and upload time, and filters', async () => {
      await page.getByRole('link', { name: 'Scan log' }).click();
      await page.getByRole('heading', { name: 'Scan log · Harbour Nights' }).waitFor();
      await page.getByTestId('scan-count').getByText('6 scans', { exact: false }).waitFor();
      const rows = page.getByRole('table', { name: 'Scans' }).getByRole('row');
      await rows.nth(2).waitFor();
      const texts = (await rows.allInnerTexts()).filter((t) => t.includes('Gate-'));
      expect(texts).toHaveLength(2);
      const a = texts.find((t) => t.includes('Gate-A'))!;
      const b = texts.find((t) => t.includes('Gate-B'))!;
      for (const t of [a, b]) {
        expect(t).toMatch(/\d{1,2} [A-Z][a-z]{2} \d\d:\d\d:\d\d/); // device time
        expect(t).toMatch(/\d\d:\d\d:\d\d \([+−]\d/); // upload time and how long after
        expect(t).toContain(doubled.number);
        expect(t).toContain('offline');
      }
      expect(a).toContain('admitted');
      expect(b).toContain('conflict');
      await check('scan-log');
      await page.getByLabel('Conflicts only').click();
      await page.getByTestId('scan-count').getByText('3 scans,', { exact: false }).waitFor();
      expect(page.url()).toContain('conflicts=true');
      expect(await page.getByTestId('export-scans').count()).toBe(1);
      await check('scan-log-filtered');
    });

    it('the rule check gives already_used for the admitted ticket and valid for a fresh one, recording nothing', async () => {
      const before = (await server.admin.get(`/api/v1/events/${ev.eventId}/scans`)).body.scans.length;
      await page.getByRole('link', { name: 'Rule check' }).click();
      await page.getByRole('heading', { name: 'Rule check · Harbour Nights' }).waitFor();
      await check('rule-check-empty');
      // A USB scanner types the code and Enter into the focused field.
      const codeField = page.getByLabel('Code', { exact: true });
      await codeField.click();
      await page.keyboard.type(doubled.code, { delay: 2 });
      await page.keyboard.press('Enter');
      const verdict = page.getByTestId('rule-verdict');
      await verdict.and(page.locator('[data-reason="already_used"]')).waitFor();
      expect(await verdict.getAttribute('data-tone')).toBe('stop');
      expect(await verdict.innerText()).toContain('Already used at Main');
      expect(await page.getByTestId('rule-why').innerText()).toContain('1 of 1 entry used');
      await check('rule-check-already-used');

      await codeField.fill(fresh.code);
      await page.getByRole('button', { name: 'Check' }).click();
      await verdict.and(page.locator('[data-result="valid"]')).waitFor();
      expect(await verdict.getAttribute('data-reason')).toBe('admitted');
      expect(await verdict.getAttribute('data-tone')).toBe('go');
      expect(await verdict.innerText()).toContain('Valid — admit');
      await check('rule-check-valid');

      // At a time before its first admission, the admitted ticket was still unused: its scans are replayed up to that time.
      const firstAt = Date.parse((await server.admin.get(`/api/v1/tickets/${doubled.id}`)).body.scans[0].scanned_at);
      const earlier = firstAt - 10 * 60_000;
      const wall = new Date(earlier + zoneOffsetMs(earlier, 'Europe/Amsterdam')).toISOString().slice(0, 16);
      await page.getByLabel('Time (Europe/Amsterdam)').fill(wall);
      await codeField.fill(doubled.code);
      await page.getByRole('button', { name: 'Check' }).click();
      await verdict.and(page.locator('[data-reason="admitted"]')).waitFor();
      expect(await page.getByTestId('rule-why').innerText()).toContain('0 of 1 entry used');
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/scans`)).body.scans.length).toBe(before);
    });
  },
);
