/**
 * Node side of the browser benchmarks: bundles a page entry (TypeScript, with
 * the client engine) with esbuild, serves it from a small HTTP server on
 * 127.0.0.1 whose /api/* is proxied to the Entrada server (the API sends no
 * CORS headers, so the page must share an origin with it; IndexedDB needs a
 * real origin, not about:blank or file://), and drives Debian's Chromium
 * headless through playwright-core, on a persistent profile so IndexedDB is
 * the real on-disk backend and survives new pages and browser restarts.
 * Like packages/client/test/browser/harness.ts, which it follows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ProcessGroup } from '../cpu.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags every run uses (playwright adds --headless and its own automation defaults). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumVersion(): string {
  try {
    return execFileSync(CHROMIUM_PATH, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** One ESM file for the browser; no minification, so CPU profiles keep the engine's function names. */
export async function bundlePage(entry: string): Promise<{ code: string; bytes: number; ms: number }> {
  const t = performance.now();
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error('esbuild produced no output');
  return { code: out.text, bytes: out.contents.length, ms: performance.now() - t };
}

/** One request the page made to the API, as the proxy saw it: the server's share of the page's timings. */
export interface ProxyEntry {
  method: string;
  path: string;
  status: number;
  /** performance.now() of this (Node) process when the request arrived. */
  at: number;
  requestBytes: number;
  /** Request fully received from the browser → upstream response headers: the server's work. */
  upstreamFirstByteMs: number;
  /** Arrival → last byte forwarded to the browser. */
  totalMs: number;
  responseBytes: number;
}

export interface PageHost {
  /** http://127.0.0.1:PORT — the page's origin, and the API's through the proxy. */
  origin: string;
  /** Requests proxied since the last call. */
  takeProxyLog(): ProxyEntry[];
  close(): Promise<void>;
}

const HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>entrada client benchmark</title></head>' +
  '<body><script type="module" src="/bench.js"></script></body></html>';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
]);
function endToEnd(h: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase())));
}

/** Serves the page and the bundle, and proxies /api/* to `apiUpstream` (streaming both ways, keep-alive upstream). */
export async function hostPage(opts: { bundle: string; apiUpstream: string }): Promise<PageHost> {
  const upstream = new URL(opts.apiUpstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let log: ProxyEntry[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = new URL(url, 'http://x').pathname;
    if (path.startsWith('/api/')) {
      const at = performance.now();
      let requestBytes = 0;
      let received = at;
      req.on('data', (c: Buffer) => {
        requestBytes += c.length;
      });
      req.on('end', () => {
        received = performance.now();
      });
      const up = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: url,
          agent,
          headers: { ...endToEnd(req.headers), host: upstream.host },
        },
        (ur) => {
          const firstByte = performance.now();
          res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
          let responseBytes = 0;
          ur.on('data', (c: Buffer) => {
            responseBytes += c.length;
          });
          ur.pipe(res);
          ur.on('end', () => {
            log.push({
              method: req.method ?? '?',
              path,
              status: ur.statusCode ?? 0,
              at,
              requestBytes,
              upstreamFirstByteMs: firstByte - received,
              totalMs: performance.now() - at,
              responseBytes,
            });
          });
        },
      );
      up.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'PROXY', message: String(err) }));
      });
      req.pipe(up);
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(HTML);
    } else if (path === '/bench.js') {
      res
        .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
        .end(opts.bundle);
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
    origin: `http://127.0.0.1:${port}`,
    takeProxyLog() {
      const out = log;
      log = [];
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

export interface ChromiumSession {
  readonly profileDir: string;
  context(): BrowserContext;
  /** A new tab at `url`, once the bundle has installed `globalThis.__bench`; page errors fail it. */
  openPage(url: string, beforeNavigate?: (page: Page) => Promise<void>): Promise<Page>;
  /** Closes the browser and starts it again on the same profile (a cold start of the app's browser). */
  relaunch(): Promise<void>;
  /** Every process of this browser (the one on our profile and its children), for CPU accounting. */
  processes: ProcessGroup;
  close(): Promise<void>;
}

/** Chromium on a fresh temporary profile (removed by close()). */
export async function launchChromium(): Promise<ChromiumSession> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH`);
  const profileDir = await mkdtemp(join(tmpdir(), 'entrada-bench-chromium-'));
  const start = (): Promise<BrowserContext> =>
    chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      timeout: 60_000,
      args: CHROMIUM_ARGS,
    });
  let context: BrowserContext;
  try {
    context = await start();
  } catch (e) {
    await rm(profileDir, { recursive: true, force: true });
    throw e;
  }
  return {
    profileDir,
    context: () => context,
    async openPage(url, beforeNavigate) {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.stack ?? e.message));
      try {
        if (beforeNavigate) await beforeNavigate(page);
        await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
        await page.waitForFunction('globalThis.__bench?.ready === true', undefined, { timeout: 30_000 });
      } catch (e) {
        await page.close().catch(() => undefined);
        throw new Error(
          `benchmark page did not start: ${(e as Error).message}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`,
        );
      }
      return page;
    },
    async relaunch() {
      await context.close();
      context = await start();
    },
    processes: processTree((cmdline) => cmdline.includes(`--user-data-dir=${profileDir}`)),
    async close() {
      await context.close().catch(() => undefined);
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

/** The processes whose command line matches, and all their descendants (renderers, GPU, network and storage services). */
export function processTree(matches: (cmdline: string) => boolean): ProcessGroup {
  return {
    pids: () => {
      const parent = new Map<number, number>();
      const roots = new Set<number>();
      let entries: string[] = [];
      try {
        entries = readdirSync('/proc');
      } catch {
        return [];
      }
      for (const e of entries) {
        if (!/^\d+$/.test(e)) continue;
        try {
          const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
          parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
          if (matches(readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' '))) roots.add(Number(e));
        } catch {
          // The process ended while we looked.
        }
      }
      const out: number[] = [];
      for (const pid of parent.keys()) {
        for (
          let p: number | undefined = pid, hops = 0;
          p !== undefined && p > 1 && hops < 64;
          p = parent.get(p), hops++
        ) {
          if (roots.has(p)) {
            out.push(pid);
            break;
          }
        }
      }
      return out;
    },
  };
}

/** V8's sampling profiler on the page's main thread (Chrome DevTools' Performance/JavaScript profile). */
export async function startPageProfile(page: Page): Promise<{ stop(file: string): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await cdp.send('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      await cdp.detach().catch(() => undefined);
    },
  };
}

/** Calls `globalThis.__bench[method](...args)` in the page and returns its (structured-cloned) result. */
export function callPage<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([m, a]) => {
      const api = (globalThis as unknown as { __bench: Record<string, (...x: unknown[]) => unknown> }).__bench;
      return api[m]!(...a);
    },
    [method, args] as [string, unknown[]],
  ) as Promise<T>;
}
