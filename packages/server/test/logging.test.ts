import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createLogger, startServer } from '../src/server.ts';
import { Client, issueTickets, pgliteBackend, seedEvent, TEST_SECRET } from './harness.ts';

it('logs requests without tokens, codes or holder names', async () => {
  const lines: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
  const tdb = await pgliteBackend.open();
  const adminToken = 'eat_logtest_secret_value';
  const secrets: string[] = [];
  const server = await startServer({
    config: { ...loadConfig({}), port: 0, host: '127.0.0.1', secret: TEST_SECRET, demo: false, adminToken, logLevel: 'debug' },
    db: tdb.db, logger: createLogger('debug', sink),
  });
  try {
    const admin = new Client(server.url, adminToken);
    const ev = await seedEvent(admin);
    const [t] = await issueTickets(admin, ev.eventId, [{ ticket_type_id: ev.types.ga, holder_name: 'Zebediah Quux', code: 'SECRET-CODE-77' }]);
    const dev = await admin.post('/api/v1/devices', { name: 'Logger test' });
    const device = new Client(server.url, dev.body.token);
    await device.post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: ev.gates.main });
    await new Client(server.url, 'eat_wrong_guess').get('/api/v1/events');
    // A console login, a wrong one and a cookie-authenticated change.
    await admin.post('/api/v1/users', { email: 'log@example.com', name: 'Log', role: 'manager', password: 'Logged-Passphrase-1' });
    const anonymous = new Client(server.url, null);
    await anonymous.post('/api/v1/auth/login', { email: 'log@example.com', password: 'Wrong-Passphrase-2' });
    const session = await anonymous.post('/api/v1/auth/login', { email: 'log@example.com', password: 'Logged-Passphrase-1' });
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    await anonymous.request('POST', '/api/v1/auth/password', { current_password: 'Logged-Passphrase-1', new_password: 'Logged-Passphrase-3' },
      { cookie, 'x-csrf-token': session.body.csrf_token });
    secrets.push(cookie.split('=')[1]!, session.body.csrf_token);
  } finally {
    await server.close();
    await tdb.drop();
  }
  const log = lines.join('');
  expect(log).toContain('"statusCode":201');
  expect(secrets).toHaveLength(2);
  for (const secret of [adminToken, 'Zebediah', 'SECRET-CODE-77', 'eat_wrong_guess', 'edt_', 'Passphrase', 'ess_', ...secrets]) expect(log).not.toContain(secret);
});
