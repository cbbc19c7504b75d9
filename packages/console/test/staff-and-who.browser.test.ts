/**
 * Names instead of ids, in real Chromium against a real server: the ticket dialog's scan history has a Staff column
 * naming who was logged in on the scanner (none for a scan without one), and the event's Changes section says who
 * made each change by name (a signed-in organiser, the server's admin token), the recorded actor on hover. axe-core
 * on both; screenshots at 1280×800 and 768×1024, and of the dialog and the section themselves.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
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
import {
  ARTIFACTS,
  axeSerious,
  BASE_ARGS,
  CHROMIUM,
  consoleContext,
  screenshotIfFailed,
  screenshots,
  signInWithPassword,
} from './support/console-browser.ts';

const backend = TEST_DATABASE_URL || REQUIRE_SERVICES ? postgresBackend : pgliteBackend;
const PASSWORD = 'correct horse battery staple';

describe.skipIf(!existsSync(CHROMIUM) && !REQUIRE_SERVICES)(`staff and who in Chromium (${backend.name})`, () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ev: SeededEvent;
  let ticket: { id: string; code: string; number: string };
  let oliviaId = '';
  const accessibility: Record<string, string[]> = {};

  async function check(name: string): Promise<void> {
    const v = await axeSerious(page);
    accessibility[name] = v.map(
      (x) => `${x.id} (${x.impact}): ${x.help} at ${JSON.stringify(x.nodes.slice(0, 3).map((n) => n.target))}`,
    );
    await screenshots(page, name);
  }

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin, { name: 'Harbour Festival' });
    const olivia = await server.admin.post('/api/v1/users', {
      email: 'olivia@harbour.example',
      name: 'Olivia Owner',
      role: 'owner',
      password: PASSWORD,
    });
    expect(olivia.status).toBe(201);
    oliviaId = olivia.body.id;
    const anna = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
      username: 'anna',
      name: 'Anna Berg',
      pin: '2468',
    });
    expect(anna.status).toBe(201);
    ticket = (
      await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga, holder_name: 'Grace Hopper', number: 'T-0001' },
      ])
    )[0]!;
    // Two scans at the main gate: Anna logged in on the scanner, then nobody (the same ticket again at once).
    const device = await registerDevice(server.admin, 'North gate 3');
    const scanner = server.client(device.token);
    const scan = (staffId?: string) =>
      scanner.post('/api/v1/scanning/scan', {
        code: ticket.code,
        event_id: ev.eventId,
        gate_id: ev.gates.main,
        ...(staffId ? { staff_id: staffId } : {}),
      });
    expect((await scan(anna.body.id)).body.result).toBe('valid');
    expect((await scan()).body.result).toBe('duplicate');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
    context = await consoleContext(browser, server.url);
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`[console] page error: ${err.message}`));
  });

  afterEach((ctx) => screenshotIfFailed(page, 'staff-who', ctx.task));

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await tdb?.drop();
  });

  it("the ticket dialog's scan history names the staff member on each scan", async () => {
    await signInWithPassword(page, 'olivia@harbour.example', PASSWORD);
    await page.goto(`/console/e/${ev.eventId}/tickets`);
    const search = page.getByLabel('Find a ticket', { exact: true });
    await search.fill(ticket.code);
    await search.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Ticket T-0001' });
    await dialog.getByText('Grace Hopper').waitFor();
    const history = dialog.getByRole('table');
    await history.getByRole('row').nth(2).waitFor();
    const header = await history.getByRole('columnheader').allInnerTexts();
    expect(header).toEqual(['Time (Europe/Amsterdam)', 'Gate', 'Device', 'Staff', 'Verdict', 'Where']);
    const rows = await history
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent?.trim() ?? '')),
      );
    expect(rows.map((r) => [r[1], r[2], r[3], r[4]])).toEqual([
      ['Main', 'North gate 3', 'Anna Berg', 'valid (admitted) · entry'],
      ['Main', 'North gate 3', '—', 'duplicate (double_read) · entry'],
    ]);
    await check('ticket-staff');
    mkdirSync(ARTIFACTS, { recursive: true });
    await dialog.screenshot({ path: path.join(ARTIFACTS, 'ticket-staff-dialog.png') });
    // A change made here, by Olivia: the next test reads it in the event's Changes.
    await dialog.getByLabel('Reason', { exact: true }).fill('reported stolen');
    await dialog.getByRole('button', { name: 'Block ticket' }).click();
    await dialog.getByRole('button', { name: 'Unblock ticket' }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it("the event's Changes say who by name, the recorded actor on hover", async () => {
    await page.goto(`/console/e/${ev.eventId}/setup`);
    const section = page.locator('section[aria-labelledby="audit-h"]');
    await section.getByRole('heading', { name: 'Changes' }).waitFor();
    const block = section.getByRole('row').filter({ hasText: 'ticket.block' });
    await block.waitFor();
    const who = block.getByRole('cell').nth(1);
    expect(await who.innerText()).toBe('Olivia Owner');
    expect(await who.getAttribute('title')).toBe(`user:${oliviaId}`);
    const created = section.getByRole('row').filter({ hasText: 'event.create' }).getByRole('cell').nth(1);
    expect(await created.innerText()).toBe('ENTRADA_ADMIN_TOKEN');
    expect(await created.getAttribute('title')).toMatch(/^token:[0-9a-f-]{36}$/);
    await check('audit-who');
    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: path.join(ARTIFACTS, 'audit-who-section.png') });
  });

  it('has no serious or critical accessibility violations on these screens', () => {
    expect(Object.keys(accessibility)).toHaveLength(2);
    expect(Object.entries(accessibility).filter(([, v]) => v.length > 0)).toEqual([]);
  });
});
