/**
 * Node side of the real-browser run: bundles entry.ts with esbuild, serves it from
 * an ephemeral HTTP server on 127.0.0.1 (IndexedDB needs a real origin, not
 * file://) and drives a headless system Chromium through playwright-core. No
 * downloads, no CDN: Chromium comes from the OS (CHROMIUM_PATH, default
 * /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { PageApi } from './entry.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

const here = fileURLToPath(new URL('.', import.meta.url));

/** entry.ts and everything it imports as one ESM file; `vitest` is swapped for the shim. */
export async function bundleEntry(): Promise<string> {
  const shim = join(here, 'contract-shim.ts');
  const result = await build({
    entryPoints: [join(here, 'entry.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [
      {
        name: 'vitest-to-shim',
        setup(b) {
          b.onResolve({ filter: /^vitest$/ }, () => ({ path: shim }));
        },
      },
    ],
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error('esbuild produced no output');
  return out.text;
}

const PAGE =
  '<!doctype html><html><head><meta charset="utf-8"><title>entrada store test</title></head>' +
  '<body><script type="module" src="/entry.js"></script></body></html>';

export async function serve(bundle: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE);
    } else if (path === '/entry.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Browser {
  context: BrowserContext;
  url: string;
  /** A new tab on the test origin, once the bundle has installed `__entrada`. */
  openPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * A persistent context on a fresh temporary profile, so IndexedDB is the real
 * on-disk backend (an incognito context would keep it in memory).
 */
export async function launch(): Promise<Browser> {
  const bundle = await bundleEntry();
  const server = await serve(bundle);
  const profile = await mkdtemp(join(tmpdir(), 'entrada-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (e) {
    await server.close();
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
  const openPage = async (): Promise<Page> => {
    const page = await context.newPage();
    await loadEntry(page, server.url);
    return page;
  };
  return {
    context,
    url: server.url,
    openPage,
    async close() {
      await context.close().catch(() => undefined);
      await server.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Navigates (or reloads, when `url` is omitted) and waits for the bundle, surfacing page errors. */
export async function loadEntry(page: Page, url?: string): Promise<void> {
  const errors: string[] = [];
  const onError = (e: Error) => errors.push(e.stack ?? e.message);
  page.on('pageerror', onError);
  try {
    if (url) await page.goto(url, { waitUntil: 'load' });
    else await page.reload({ waitUntil: 'load' });
    await page.waitForFunction('typeof globalThis.__entrada === "object"', undefined, { timeout: 10_000 });
  } catch (e) {
    throw new Error(
      `test page did not start: ${(e as Error).message}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`,
    );
  } finally {
    page.off('pageerror', onError);
  }
}

type Method = keyof PageApi;

/** Calls `globalThis.__entrada[method](...args)` in the page and returns its (cloned) result. */
export function call<M extends Method>(
  page: Page,
  method: M,
  ...args: Parameters<PageApi[M]>
): Promise<Awaited<ReturnType<PageApi[M]>>> {
  return page.evaluate(
    ([m, a]) => {
      const api = (globalThis as unknown as { __entrada: Record<string, (...x: unknown[]) => unknown> }).__entrada;
      return api[m]!(...a);
    },
    [method, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<PageApi[M]>>>;
}
