import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../../test-artifacts/console');

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/**
 * axe-core from node_modules, evaluated through the DevTools protocol (the console's CSP
 * rightly refuses inline scripts). Returns the serious and critical violations.
 */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(`${axeSource}\n;0`);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Screenshots at 1280×800 and at tablet size 768×1024, then back to desktop. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The top of the screen, as an organiser first sees it.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-1280.png`) });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-768.png`) });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** The console as an organiser's laptop shows it: 1280×800, the event's time zone, British English. */
export function consoleContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    timezoneId: 'Europe/Amsterdam',
    locale: 'en-GB',
  });
}

/** Signs in with an e-mail and password on the console's sign-in screen and waits for the events list. */
export async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/console/');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Events' }).waitFor();
}

/** An afterEach hook body: the screen as it was when a test failed, named after the test. */
export async function screenshotIfFailed(
  page: Page | undefined,
  prefix: string,
  task: { name: string; result?: { state?: string } },
): Promise<void> {
  if (!page || task.result?.state !== 'fail') return;
  await screenshots(page, `${prefix}-failed-${task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => undefined);
}
