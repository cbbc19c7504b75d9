import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_ERRORS, PAIRING_ERRORS } from '@entrada/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { pgliteBackend, TEST_SECRET, type TestDatabase } from './harness.ts';

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes as they are (what fetch refuses to send) and reads the one answer. */
function rawRequest(port: number, bytes: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    // The server closes after its answer (Connection: close, or an error); a half-close of ours would drop the answer.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(bytes);
  });
}

const CODES: Record<string, number> = { ...API_ERRORS, ...PAIRING_ERRORS };

/** Our error shape, with a listed code whose status is the one answered, and nothing of the request in it. */
function expectErrorShape(r: RawReply, status: number, code: string, echoes: string[] = []): void {
  expect({ status: r.status, type: r.headers['content-type'] }).toEqual({
    status,
    type: expect.stringMatching(/^application\/json/),
  });
  const body = JSON.parse(r.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(body.error).toBe(code);
  expect(CODES[code]).toBe(status);
  for (const echo of echoes) expect(r.body).not.toContain(echo);
}

/**
 * Issue #10, item 12: what Fastify, Node's HTTP parser and the static file
 * plugin answered by themselves (431 `{"error":"Request Header Fields Too
 * Large",…,"statusCode":431}`, FST_ERR_BAD_URL, a 414 echoing the URL,
 * `{"error":"Bad Request","message":"Client Error"}`, 403 "Forbidden") is in
 * our shape, with a code from the closed list, never echoing the request.
 */
describe('framework errors in our error shape', () => {
  let tdb: TestDatabase;
  let server: RunningServer;
  let webDir: string;
  let port: number;
  const request = (lines: string[]): Promise<RawReply> => rawRequest(port, `${lines.join('\r\n')}\r\n\r\n`);
  const get = (target: string, extra: string[] = []): Promise<RawReply> =>
    request([`GET ${target} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...extra]);

  beforeAll(async () => {
    // As in production: the scanner app's files are served at / (the static plugin answers paths no route takes).
    webDir = await mkdtemp(path.join(tmpdir(), 'entrada-web-'));
    await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Entrada</title>');
    tdb = await pgliteBackend.open();
    server = await startServer({
      config: {
        ...loadConfig({}),
        port: 0,
        host: '127.0.0.1',
        secret: TEST_SECRET,
        demo: false,
        adminToken: 'eat_framework_errors',
        webDir,
      },
      db: tdb.db,
      logger: false,
    });
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
    await rm(webDir, { recursive: true, force: true });
  });

  it('headers too large: 431 HEADERS_TOO_LARGE', async () => {
    expectErrorShape(await get('/api/health', [`X-Padding: ${'h'.repeat(20_000)}`]), 431, 'HEADERS_TOO_LARGE', [
      'hhhh',
    ]);
  });

  it('a request line longer than the header limit: 431 HEADERS_TOO_LARGE', async () => {
    expectErrorShape(await get(`/api/v1/events/${'u'.repeat(20_000)}`), 431, 'HEADERS_TOO_LARGE', ['uuuu']);
  });

  it('a malformed percent-encoding in the path: 400 BAD_REQUEST', async () => {
    expectErrorShape(await get('/api/v1/events/%ZZ'), 400, 'BAD_REQUEST', ['%ZZ']);
    expectErrorShape(await get('/api/v1/devices/%E0%A4%A/suspend'), 400, 'BAD_REQUEST', ['%E0']);
  });

  it('a URL over 2,048 characters, whatever route or file it names: 414 URI_TOO_LONG (a 10,000-character id was a 403 "Forbidden")', async () => {
    const id = 'i'.repeat(10_000);
    for (const target of [
      `/api/v1/events/${id}`,
      `/api/v1/tickets/${id}`,
      `/api/v1/offline/manifest/${id}?device_id=x`,
      `/${id}`,
      `/api/v1/offline/events?since=${id}`,
    ]) {
      expectErrorShape(await get(target), 414, 'URI_TOO_LONG', ['iiii']);
    }
    const post = await request([
      `POST /api/v1/devices/${id}/suspend HTTP/1.1`,
      'Host: localhost',
      'Connection: close',
      'Content-Length: 0',
    ]);
    expectErrorShape(post, 414, 'URI_TOO_LONG', ['iiii']);
  });

  it('a long path parameter within the URL limit reaches its schema: 400 INVALID_BODY naming it, not its value', async () => {
    // Authenticated: the token is checked before anything else of the request (unauthenticated, this is a 401).
    const auth = 'Authorization: Bearer eat_framework_errors';
    const r = await get(`/api/v1/events/${'e'.repeat(300)}`, [auth]);
    expectErrorShape(r, 400, 'INVALID_BODY', ['eeee']);
    expect(JSON.parse(r.body).message).toBe('params /eventId must NOT have more than 36 characters');
    const post = await request([
      `POST /api/v1/devices/${'d'.repeat(300)}/activate HTTP/1.1`,
      'Host: localhost',
      'Connection: close',
      auth,
      'Content-Length: 0',
    ]);
    expectErrorShape(post, 400, 'INVALID_BODY', ['dddd']);
    expect(JSON.parse(post.body).message).toBe('params /deviceId must NOT have more than 64 characters');
  });

  it('a long path no route takes (the static files answer it): 404 NOT_FOUND, not 403 or the path', async () => {
    expectErrorShape(await get(`/api/v1/devices/${'d'.repeat(1_000)}`), 404, 'NOT_FOUND', ['dddd']);
    expectErrorShape(await get(`/${'s'.repeat(1_000)}`), 404, 'NOT_FOUND', ['ssss']);
    expectErrorShape(await get(`/assets/${'x'.repeat(300)}/../../..%2f..%2fetc/passwd`), 404, 'NOT_FOUND', ['passwd']);
  });

  it('an unknown route: 404 NOT_FOUND without echoing the path or query', async () => {
    expectErrorShape(await get('/api/v1/nothing-here?secret=hunter2'), 404, 'NOT_FOUND', ['nothing-here', 'hunter2']);
    expectErrorShape(
      await request(['DELETE /api/v1/events HTTP/1.1', 'Host: localhost', 'Connection: close']),
      404,
      'NOT_FOUND',
      ['DELETE', 'events'],
    );
  });

  it('what the HTTP parser refuses: 400 BAD_REQUEST', async () => {
    const close = 'Connection: close';
    expectErrorShape(
      await request(['GET /api/health HTTP/1.1', 'Host: localhost', close, 'Broken header line']),
      400,
      'BAD_REQUEST',
      ['Broken'],
    );
    expectErrorShape(await request(['GET /api/health HTTP/9.9', 'Host: localhost', close]), 400, 'BAD_REQUEST');
    expectErrorShape(
      await request(['GET /api/health HTTP/1.1', 'Host: localhost', close, 'X-Nul: a\u0000b']),
      400,
      'BAD_REQUEST',
    );
    expectErrorShape(
      await request([
        'POST /api/v1/events HTTP/1.1',
        'Host: localhost',
        close,
        'Content-Length: 5',
        'Transfer-Encoding: chunked',
      ]),
      400,
      'BAD_REQUEST',
    );
  });
});
