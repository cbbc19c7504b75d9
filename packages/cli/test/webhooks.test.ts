import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type TestServer } from '../../server/test/harness.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let receiver: http.Server;
let receiverUrl: string;
const received: string[] = [];

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      received.push(body);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
}, SLOW);
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await close();
});

describe('entrada webhooks', () => {
  it('creates (secret shown once), lists, shows deliveries and deletes', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const made = await cli(
      ['webhooks', 'create', '--endpoint', receiverUrl, '--events', 'device.suspended,device.revoked'],
      env,
    );
    expect(made.code).toBe(0);
    const id = /^Made webhook (\S+) for device\.suspended, device\.revoked \(every event\)\.$/m.exec(made.stdout)?.[1];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const secret = /^ {2}secret {2}(\S+)$/m.exec(made.stdout)?.[1];
    expect(secret).toMatch(/^whsec_/);
    expect(made.stdout).toContain('shown once');

    const listed = await cli(['webhooks', 'list'], env);
    expect(listed.stdout).toMatch(/^WEBHOOK ID\s+URL\s+EVENTS\s+EVENT\s+CREATED$/m);
    expect(listed.stdout).toMatch(
      new RegExp(`^${id}\\s+${receiverUrl}\\s+device\\.suspended,device\\.revoked\\s+all\\s+\\d{4}-`, 'm'),
    );
    expect(listed.stdout).not.toContain(secret!);

    // A device suspended: the server's worker delivers it (its pass is run here rather than waiting for the timer).
    const device = await server.admin.post('/api/v1/devices', { name: 'CLI scanner' });
    expect(
      (await server.admin.post(`/api/v1/devices/${device.body.device_id}/suspend`, { reason: 'test' })).status,
    ).toBe(200);
    // (The server's own timer may take the pass first: either way the receiver gets it once.)
    await eventually(async () => {
      await server.services.notificationWorker.runOnce();
      expect(received.map((b) => JSON.parse(b).type)).toEqual(['device.suspended']);
    }, 10_000);
    const log = await cli(['webhooks', 'deliveries', id!], env);
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(/^DELIVERY ID\s+TYPE\s+STATE\s+ATTEMPTS\s+STATUS\s+ERROR\s+CREATED$/m);
    expect(log.stdout).toMatch(/^[0-9a-f-]{36}\s+device\.suspended\s+delivered\s+1\s+200\s+\d{4}-/m);

    expect(await cli(['webhooks', 'delete', id!], env)).toMatchObject({
      code: 0,
      stdout: `Deleted webhook ${id} and its queued deliveries.\n`,
    });
    expect((await cli(['webhooks', 'list'], env)).stdout).not.toContain(id!);
  });

  it('explains what it cannot do in one line', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    expect((await cli(['webhooks', 'create', '--endpoint', receiverUrl, '--events', 'alert.rased'], env)).stderr).toBe(
      'error: --events must be "all" or a comma-separated list of alert.raised, alert.cleared, conflict.opened, conflict.resolved, device.revoked, device.suspended, got "alert.rased"\n',
    );
    expect(
      (await cli(['webhooks', 'create', '--endpoint', 'ftp://example.com/x', '--events', 'all'], env)).stderr,
    ).toBe('error: /url must be an http:// or https:// URL (INVALID_BODY)\n');
    expect((await cli(['webhooks', 'delete', 'nope'], env)).stderr).toBe(
      'error: the webhook id must be a webhook id (a UUID such as 0b9e…-…), got "nope"\n',
    );
    expect((await cli(['webhooks', 'deliveries', crypto.randomUUID()], env)).stderr).toBe(
      'error: Webhook not found (NOT_FOUND)\n',
    );
  });
});
