import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { pgliteBackend, TEST_SECRET } from './harness.ts';

it('serves the scanner app with a policy that allows only its own origin, no framing and no sniffing', async () => {
  const webDir = await mkdtemp(path.join(tmpdir(), 'entrada-web-'));
  await mkdir(path.join(webDir, 'assets'));
  await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Scanner</title>');
  await writeFile(path.join(webDir, 'assets', 'app-1a2b3c.js'), 'void 0;');
  const tdb = await pgliteBackend.open();
  const server = await startServer({
    config: {
      ...loadConfig({}),
      port: 0,
      host: '127.0.0.1',
      secret: TEST_SECRET,
      demo: false,
      adminToken: 'eat_web_headers_test',
      webDir,
    },
    db: tdb.db,
    logger: false,
  });
  try {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    // Nothing from another origin anywhere in the policy.
    expect(csp).not.toMatch(/https?:|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-cache');

    const asset = await fetch(`${server.url}/assets/app-1a2b3c.js`);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  } finally {
    await server.close();
    await tdb.drop();
    await rm(webDir, { recursive: true, force: true });
  }
});
