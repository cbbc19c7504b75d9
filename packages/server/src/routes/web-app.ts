import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Only our own origin, nothing from a CDN: the scanner must work with no
 * network at all, and a gate device must not run third-party script. WebAssembly
 * (the barcode decoder) needs 'wasm-unsafe-eval'; the camera stream is a blob/mediastream.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/** Files that name the others: always revalidated, or a device would keep an old app (and its service worker) forever. */
const ENTRY_FILES = new Set(['index.html', 'sw.js', 'registerSW.js', 'manifest.webmanifest']);

/** Serves the built scanner app (packages/web/dist) at `/`; the API routes keep precedence over its wildcard. */
export async function registerWebApp(app: FastifyInstance, webDir: string): Promise<void> {
  if (!existsSync(path.join(webDir, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Entrada</title><h1>Entrada API is running</h1>' +
            '<p>The scanner app is not built. Run <code>npm run build:web</code> (or start with <code>npm start</code>, which builds it) and reload.</p>' +
            '<p>API documentation: <a href="/docs">/docs</a></p>',
        ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: webDir,
    prefix: '/',
    cacheControl: false,
    index: ['index.html'],
    setHeaders(reply, filePath) {
      const name = path.basename(filePath);
      const hashed = filePath.includes(`${path.sep}assets${path.sep}`) || /^workbox-[0-9a-f]+\.js$/.test(name);
      reply.header(
        'cache-control',
        ENTRY_FILES.has(name) || !hashed ? 'no-cache' : 'public, max-age=31536000, immutable',
      );
      reply.header('x-content-type-options', 'nosniff');
      if (name.endsWith('.html')) {
        reply.header('content-security-policy', CSP);
        reply.header('referrer-policy', 'no-referrer');
      }
      if (name === 'sw.js') reply.header('service-worker-allowed', '/');
    },
  });
}

/** packages/web/dist next to this package, unless ENTRADA_WEB_DIR says otherwise. */
export function defaultWebDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../web/dist');
}

/**
 * Serves the built organiser console (packages/console/dist) at `/console/`,
 * with the scanner's CSP. Client-side routes under `/console/*` that are not
 * files fall back to its index.html. Its own bundle: the scanner stays small.
 */
export async function registerConsoleApp(app: FastifyInstance, consoleDir: string): Promise<void> {
  const indexFile = path.join(consoleDir, 'index.html');
  if (!existsSync(indexFile)) {
    app.get('/console', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Entrada console</title><h1>The console is not built</h1>' +
            '<p>Run <code>npm run build:console</code> (or start with <code>npm start</code>, which builds it) and reload.</p>',
        ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: consoleDir,
    prefix: '/console/',
    decorateReply: false,
    cacheControl: false,
    index: false,
    wildcard: false,
    setHeaders(reply, filePath) {
      const hashed = filePath.includes(`${path.sep}assets${path.sep}`);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });
  // A missing asset is a 404 (not the page): a stale tab must not run index.html as a script.
  const sendIndex = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (req.url.startsWith('/console/assets/')) {
      reply.callNotFound();
      return reply;
    }
    return reply
      .header('content-security-policy', CSP)
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type('text/html')
      .send(readFileSync(indexFile));
  };
  app.get('/console', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/', { schema: { hide: true } }, sendIndex);
  app.get('/console/*', { schema: { hide: true } }, sendIndex);
}

/** packages/console/dist next to this package, unless ENTRADA_CONSOLE_DIR says otherwise. */
export function defaultConsoleDir(): string {
  return process.env.ENTRADA_CONSOLE_DIR
    ? path.resolve(process.env.ENTRADA_CONSOLE_DIR)
    : path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../console/dist');
}
