import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags every headless run here needs (closed network, root, no GPU); see the machine notes in docs. */
const BASE_ARGS = [
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

export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../../test-artifacts/web');

/**
 * One scanner device = one Chromium profile (its own IndexedDB, service
 * worker and fake camera). Closing and relaunching with the same profile is
 * a browser restart.
 */
export class Device {
  context!: BrowserContext;
  page!: Page;
  readonly profile: string;

  constructor(
    readonly name: string,
    private readonly baseUrl: string,
    private readonly cameraVideo: string,
  ) {
    this.profile = mkdtempSync(path.join(tmpdir(), `entrada-${name}-`));
  }

  async launch(): Promise<Page> {
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      args: [
        ...BASE_ARGS,
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-video-capture=${this.cameraVideo}`,
      ],
      baseURL: this.baseUrl,
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 1,
      hasTouch: true,
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    // Page errors and failed requests are printed: a browser test that times out should say why.
    this.page.on('pageerror', (err) => console.log(`[${this.name}] page error: ${err.message}`));
    this.page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning')
        console.log(`[${this.name}] console ${m.type()}: ${m.text()}`);
    });
    return this.page;
  }

  async setOffline(offline: boolean): Promise<void> {
    await this.context.setOffline(offline);
  }

  async allowCamera(allowed: boolean): Promise<void> {
    if (allowed) await this.context.grantPermissions(['camera'], { origin: this.baseUrl });
    else await this.context.clearPermissions();
  }

  async screenshot(name: string): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    await this.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  }

  async close(): Promise<void> {
    await this.context?.close();
  }

  async dispose(): Promise<void> {
    await this.close().catch(() => undefined);
    rmSync(this.profile, { recursive: true, force: true });
  }
}
