/**
 * Seed 004's device machinery in the scanner app, in real Chromium against a
 * real server: the status bar's connection levels (a health check slower than
 * 1.5 s, made so by holding the real server's answer, reads "Slow → offline"
 * and scans are decided on the device; no network reads "Offline"), each by
 * word and shape; the guarded "Export unsent scans" action; and the exported
 * file imported with `entrada offline import`, counts matching.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOutput } from '../../cli/src/output.ts';
import { runCli } from '../../cli/src/program.ts';
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
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function axeSerious(page: Page): Promise<Array<{ id: string; help: string }>> {
  await page.evaluate(`${axeSource}\n;0`);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(
            ctx: unknown,
            opts: unknown,
          ): Promise<{ violations: Array<{ id: string; impact: string | null; help: string }> }>;
        };
      }
    ).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      help: v.help,
      nodes: JSON.stringify((v as unknown as { nodes: Array<{ target: unknown }> }).nodes.map((n) => n.target)),
    }));
}

async function scanTyped(page: Page, code: string): Promise<string> {
  await page.getByRole('button', { name: 'Type a code' }).click();
  await page.locator('input[name="manual-code"]').fill(code);
  await page.getByRole('button', { name: 'Check' }).click();
  const v = page.getByTestId('verdict');
  await v.waitFor({ timeout: 20_000 });
  const text = await v.innerText();
  await v.click();
  await v.waitFor({ state: 'detached' });
  return text;
}

describe(`scanner app: connection levels, guarded export, offline import (${backend.name})`, () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let tickets: Array<{ id: string; code: string; number: string }>;
  let workDir: string;
  let device: Device | null = null;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    tickets = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 3 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const staff = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
      username: 'anna',
      name: 'Anna',
      pin: '2468',
    });
    expect(staff.status).toBe(201);
    workDir = mkdtempSync(path.join(tmpdir(), 'entrada-device-status-'));
    writeQrVideo(path.join(workDir, 'blank.y4m'), 'NONE', {
      width: 200,
      height: 150,
      fps: 1,
      showSeconds: 0,
      blankSeconds: 5,
    });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await device?.screenshot('failed-device-status').catch(() => undefined);
  });

  afterAll(async () => {
    await device?.dispose();
    await server?.close();
    await tdb?.drop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('shows slow and offline by word and shape, decides locally while slow, and exports unsent scans only after a confirmation, for `entrada offline import`', async () => {
    const pair = await server.admin.post('/api/v1/devices/pairing-codes', {
      event_id: ev.eventId,
      gate_id: ev.gates.main,
      name: 'Status phone',
    });
    device = new Device('status-phone', server.url, path.join(workDir, 'blank.y4m'));
    const page = await device.launch();
    await page.goto(`/?pair=${pair.body.code as string}`);
    await page.getByRole('button', { name: 'Pair device' }).click();
    await page.locator('input[name="username"]').fill('anna');
    await page.locator('input[name="pin"]').fill('2468');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Main', exact: true }).click();
    await page.locator('[data-testid="status"][data-connection="online"]').waitFor({ timeout: 30_000 });
    await page.getByText('data up to date').waitFor({ timeout: 30_000 });
    await device.screenshot('status-online');

    // The real server's health answer held for 2.5 s: over the 1.5 s line.
    let scanRequests = 0;
    await page.route('**/api/v1/scanning/scan', async (route) => {
      scanRequests++;
      await route.continue();
    });
    await page.route('**/api/health', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await route.continue().catch(() => undefined);
    });
    // The browser's `online` event starts a probe at once (otherwise the next one is due in 30 s).
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    const status = page.locator('[data-testid="status"][data-connection="slow"]');
    await status.waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('status').innerText()).toContain('Slow → offline');
    expect(await page.locator('.conn-icon.slow path').count()).toBeGreaterThan(0);
    await device.screenshot('status-slow');

    // While slow, a scan is decided on the device at once and queued — the server is not tried.
    const first = await scanTyped(page, tickets[0]!.code);
    expect(first).toContain('ADMIT');
    expect(first).toContain('Offline');
    expect(scanRequests).toBe(0);
    // Queued in the outbox (the sync loop uploads it in the background with its own, longer budget: "slow" is for decisions).

    // No network at all: "Offline", a crossed ring.
    await page.unroute('**/api/health');
    await device.setOffline(true);
    await page.locator('[data-testid="status"][data-connection="offline"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.conn-icon.offline circle').count()).toBe(1);
    await scanTyped(page, tickets[1]!.code);
    await page.locator('[data-testid="status"]:not([data-pending="0"])').waitFor();
    await device.screenshot('status-offline');
    expect(await axeSerious(page)).toEqual([]);

    // Export: the first tap only asks; the file is saved by a second, different button.
    await page.getByRole('button', { name: /Sync details/ }).click();
    await page.getByRole('button', { name: 'Export unsent scans…' }).click();
    const confirm = page.getByRole('group', { name: 'Export unsent scans' });
    await confirm.waitFor();
    expect(await confirm.innerText()).toMatch(/\([12] unsent\)/);
    await device.screenshot('export-confirm');
    expect(await axeSerious(page)).toEqual([]);
    // Cancel leaves nothing behind.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Export unsent scans…' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Save file' }).click(),
    ]);
    const file = path.join(workDir, download.suggestedFilename());
    await download.saveAs(file);
    await page.getByTestId('exported').waitFor();
    expect(await page.getByTestId('exported').innerText()).toContain('entrada offline import');
    await device.screenshot('export-saved');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { format: string; scans: Array<{ synced: boolean }> };
    expect(doc.format).toBe('entrada/device-log/v1');
    expect(doc.scans).toHaveLength(2);
    const pending = doc.scans.filter((s) => !s.synced).length;
    expect(pending).toBeGreaterThanOrEqual(1);

    // The organiser imports it; the server now holds both scans, the phone still offline.
    let out = '';
    const output = createOutput({
      stdout: {
        write: (t: string) => {
          out += t;
          return true;
        },
      } as unknown as NodeJS.WritableStream,
      stderr: process.stderr,
    });
    const code = await runCli(['node', 'entrada', 'offline', 'import', file, '--json'], {
      output,
      env: { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken },
    });
    expect(code).toBe(0);
    // Every scan of the file is on the server: the unsent ones stored now, any the background sync already took as duplicates.
    expect((JSON.parse(out) as { summary: Record<string, number> }).summary).toMatchObject({
      total_uploaded: 2,
      successful: pending,
      duplicates: 2 - pending,
    });

    // Back online, the phone's own upload finds them there: nothing is stored twice.
    await device.setOffline(false);
    await page.getByRole('button', { name: 'Close' }).click();
    await page
      .locator('[data-testid="status"][data-connection="online"][data-pending="0"]')
      .waitFor({ timeout: 30_000 });
    const devices = (await server.admin.get('/api/v1/devices')).body.devices as Array<{
      device_id: string;
      name: string;
    }>;
    const id = devices.find((d) => d.name === 'Status phone')!.device_id;
    expect((await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${id}`)).body).toMatchObject({
      last_seq: 2,
      acked_through: 2,
      total_scans: 2,
    });
  });
});
