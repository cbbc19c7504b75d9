import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAuthentication } from '../src/http/authentication.ts';
import {
  describeEachBackend,
  pgliteBackend,
  registerDevice,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  closedByServer: boolean;
}

/**
 * Sends a request's headers and only the first chunk of a body whose
 * Content-Length announces far more, then waits for an answer without ever
 * sending the rest: only a server that decides before reading the body answers.
 */
function partialUpload(
  url: string,
  path: string,
  headers: Record<string, string>,
  firstChunk: Buffer,
  declaredLength: number,
  waitMs = 5_000,
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    let answer: RawAnswer | null = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no answer within ${waitMs} ms while the body was incomplete (the server is waiting for the body)`),
      );
    }, waitMs);
    const finish = (closedByServer: boolean): void => {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.slice(0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
      const body = received.slice(end + 4);
      if (!closedByServer && !(body.length >= length)) return;
      clearTimeout(timer);
      answer ??= { status: Number(head.split(' ')[1]), headers: head, body, closedByServer };
      // Give the server a moment to close a connection it does not want to keep.
      setTimeout(
        () => {
          socket.destroy();
          resolve(answer!);
        },
        closedByServer ? 0 : 200,
      );
    };
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      finish(false);
    });
    socket.on('end', () => {
      if (answer) answer.closedByServer = true;
      else finish(true);
    });
    socket.on('error', (err) => {
      if (!answer) reject(err);
    });
    socket.on('connect', () => {
      const lines = [
        `POST ${path} HTTP/1.1`,
        `host: ${hostname}:${port}`,
        `content-length: ${declaredLength}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      socket.write(firstChunk);
    });
  });
}

describeEachBackend('authentication before the body', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  // The start of a gzip body that would inflate to ~58 MB of JSON (issue #10, item 6): 64 KiB of it is all that is ever sent.
  const bomb = gzipSync(
    Buffer.from(
      `{"format":"entrada/device-log/v1","scans":[${'{"seq":1,"qrcode":"AAAAAAAAAAAAAAAAAAAA"},'.repeat(200_000)}`,
    ),
  ).subarray(0, 64 * 1024);
  const gzipJson = { 'content-type': 'application/json', 'content-encoding': 'gzip' };

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { http: true });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('refuses an unauthenticated gzip upload with 401 before reading it, and closes the connection', async () => {
    for (const authorization of [undefined, 'Bearer eat_wrong']) {
      const r = await partialUpload(
        server.url,
        '/api/v1/offline/import',
        { ...gzipJson, ...(authorization ? { authorization } : {}) },
        bomb,
        60 * 1024 * 1024,
      );
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error).toBe('UNAUTHORIZED');
      expect(r.headers).toMatch(/\r\nconnection: close/i);
      expect(r.closedByServer).toBe(true);
    }
  });

  it('refuses a token of the wrong kind and a bad device token the same way (sync, scan)', async () => {
    const device = await registerDevice(server.admin, 'Not an organiser');
    const asDevice = await partialUpload(
      server.url,
      '/api/v1/offline/import',
      { ...gzipJson, authorization: `Bearer ${device.token}` },
      bomb,
      60 * 1024 * 1024,
    );
    expect(asDevice.status).toBe(401);
    const badDevice = await partialUpload(
      server.url,
      '/api/v1/offline/sync',
      { ...gzipJson, authorization: 'Bearer edt_wrong' },
      bomb,
      4 * 1024 * 1024,
    );
    expect(badDevice.status).toBe(401);
    const adminOnScan = await partialUpload(
      server.url,
      '/api/v1/scanning/scan',
      { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      Buffer.from('{"code":"'),
      16 * 1024,
    );
    expect(adminOnScan.status).toBe(401);
  });

  it('still reads the body of an authenticated request', async () => {
    const r = await partialUpload(
      server.url,
      '/api/v1/offline/import',
      { ...gzipJson, authorization: `Bearer ${server.adminToken}` },
      bomb,
      bomb.length,
    );
    // The truncated gzip stream is read, inflated and found wanting: the request got past authentication to the body.
    expect(r.status).toBe(400);
  });
});

describe('declared authentication', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('fails at start-up when a route does not say who may call it', async () => {
    const app = Fastify({ logger: false });
    installAuthentication(app, server.services.auth);
    const start = async (): Promise<void> => {
      app.get('/api/v1/forgotten', async () => ({ secret: true }));
      await app.ready();
    };
    await expect(start()).rejects.toThrow(
      "Route GET /api/v1/forgotten must declare config.auth: 'admin' | 'device' | 'admin-or-device' | 'none'",
    );
    await app.close();
  });

  it('refuses to start with an organiser route that declares no role, or a role on a route no organiser may call', async () => {
    const noRole = Fastify({ logger: false });
    installAuthentication(noRole, server.services.auth);
    const roleless = async (): Promise<void> => {
      noRole.get('/api/v1/roleless', { config: { auth: 'admin' } }, async () => ({}));
      await noRole.ready();
    };
    await expect(roleless()).rejects.toThrow(
      'Route GET /api/v1/roleless must declare config.role: viewer | supervisor | manager | owner',
    );
    await noRole.close();
    const deviceRole = Fastify({ logger: false });
    installAuthentication(deviceRole, server.services.auth);
    const withRole = async (): Promise<void> => {
      deviceRole.get('/api/v1/device-role', { config: { auth: 'device', role: 'owner' } }, async () => ({}));
      await deviceRole.ready();
    };
    await expect(withRole()).rejects.toThrow('declares config.role but no organiser may call it');
    await deviceRole.close();
  });

  it('gives the handler the caller its route declared, typed', async () => {
    const app = Fastify({ logger: false });
    installAuthentication(app, server.services.auth);
    app.get('/admin', { config: { auth: 'admin', role: 'viewer' } }, async (req) => ({
      organisation: req.admin.organisationId,
    }));
    app.get('/either', { config: { auth: 'admin-or-device', role: 'viewer' } }, async (req) => ({
      kind: 'device' in req.principal ? 'device' : 'admin',
    }));
    app.get('/confused', { config: { auth: 'admin', role: 'viewer' } }, async (req) => ({
      device: req.device.deviceId,
    }));
    app.get('/public', { config: { auth: 'none' } }, async () => ({ ok: true }));
    const bearer = { authorization: `Bearer ${server.adminToken}` };
    const admin = await app.inject({ url: '/admin', headers: bearer });
    expect(admin.json()).toEqual({ organisation: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await app.inject({ url: '/either', headers: bearer })).json()).toEqual({ kind: 'admin' });
    expect((await app.inject({ url: '/admin' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/public' })).json()).toEqual({ ok: true });
    // A handler that reads a caller its route did not declare is a bug: 500, never another request's principal.
    expect((await app.inject({ url: '/confused', headers: bearer })).statusCode).toBe(500);
    await app.close();
  });
});
