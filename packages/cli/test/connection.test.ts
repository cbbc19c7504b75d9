import { describe, expect, it } from 'vitest';
import { cli, closedPort } from './helpers.ts';

describe('talking to a server that is not there', () => {
  it('says the server is not reachable and how to start one', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    for (const args of [
      ['devices', 'list'],
      ['demo'],
      ['tickets', 'export', '--event', '6f1c1e0e-0000-4000-8000-000000000000'],
    ]) {
      const r = await cli([...args, '--url', url, '--token', 'eat_x']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `error: the Entrada server is not reachable at ${url} (connection refused). Start it with \`entrada serve\` (or \`npm start\`), or point --url / ENTRADA_URL at it\n`,
      );
    }
  });

  it('reads ENTRADA_URL and checks it is a URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const fromEnv = await cli(['scan', 'X', '--session', '6f1c1e0e-0000-4000-8000-000000000000'], {
      ENTRADA_URL: url,
      ENTRADA_DEVICE_TOKEN: 'edt_x',
    });
    expect(fromEnv.stderr).toContain(`not reachable at ${url}`);
    const bad = await cli(['devices', 'list', '--url', 'localhost:3000', '--token', 'eat_x']);
    expect(bad).toMatchObject({
      code: 1,
      stderr: 'error: --url must be an http(s) URL such as http://localhost:3000, got "localhost:3000"\n',
    });
  });
});
