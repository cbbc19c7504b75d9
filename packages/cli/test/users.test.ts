import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type TestServer } from '../../server/test/harness.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

const login = (email: string, password: string) =>
  new Client(server.url, null).request('POST', '/api/v1/auth/login', { email, password });

describe('entrada users', () => {
  it('adds a user with a generated password (printed once) that logs in, lists, changes the role, resets the password and deactivates', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const added = await cli(
      ['users', 'add', '--email', 'Ann@Example.com', '--name', 'Ann Lee', '--role', 'manager'],
      env,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^Added Ann Lee <Ann@Example.com> as manager \([0-9a-f-]{36}\)\.\n/);
    expect(added.stdout).toContain('shown once');
    const password = /^ {2}password {2}(\S+)$/m.exec(added.stdout)?.[1];
    expect(password!.length).toBeGreaterThanOrEqual(10);
    expect((await login('ann@example.com', password!)).body.user).toMatchObject({
      email: 'Ann@Example.com',
      role: 'manager',
    });

    const listed = await cli(['users', 'list'], env);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^USER ID\s+EMAIL\s+NAME\s+ROLE\s+ACTIVE\s+CREATED$/);
    expect(rows).toEqual([
      expect.stringMatching(/^[0-9a-f-]{36}\s+Ann@Example.com\s+Ann Lee\s+manager\s+yes\s+\d{4}-/),
    ]);
    expect(listed.stdout).not.toContain(password!);

    expect((await cli(['users', 'set-role', 'ANN@example.com', 'supervisor'], env)).stdout).toBe(
      'Ann@Example.com is now supervisor (was manager).\n',
    );

    // A password given through the environment is used and never printed.
    const reset = await cli(['users', 'reset-password', 'ann@example.com'], {
      ...env,
      ENTRADA_NEW_PASSWORD: 'a much better passphrase',
    });
    expect(reset.stdout).toBe(
      'Set a new password for Ann@Example.com; their sessions have ended.\n  password  from ENTRADA_NEW_PASSWORD (not shown)\n',
    );
    expect((await login('ann@example.com', password!)).status).toBe(401);
    expect((await login('ann@example.com', 'a much better passphrase')).status).toBe(200);

    expect((await cli(['users', 'deactivate', 'ann@example.com'], env)).stdout).toBe(
      'Deactivated Ann@Example.com: their sessions have ended and they can no longer log in.\n',
    );
    expect((await login('ann@example.com', 'a much better passphrase')).status).toBe(401);
    expect((await cli(['users', 'list'], env)).stdout).toMatch(/Ann@Example.com\s+Ann Lee\s+supervisor\s+no\s/);
  });

  it('explains what it cannot do in one line', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    expect(await cli(['users', 'add', '--email', 'x@example.com', '--name', 'X', '--role', 'boss'], env)).toMatchObject(
      { code: 1, stderr: 'error: --role must be one of viewer, supervisor, manager, owner, got "boss"\n' },
    );
    expect(
      await cli(['users', 'add', '--email', 'x@example.com', '--name', 'X', '--role', 'viewer'], {
        ...env,
        ENTRADA_NEW_PASSWORD: 'password123',
      }),
    ).toMatchObject({
      code: 1,
      stderr:
        'error: /password is on the list of common passwords, which are guessed first: choose another (INVALID_BODY)\n',
    });
    expect(await cli(['users', 'deactivate', 'nobody@example.com'], env)).toMatchObject({
      code: 1,
      stderr: 'error: No user with the email "nobody@example.com" in this organisation (see `entrada users list`)\n',
    });
    const owner = await cli(['users', 'add', '--email', 'own@example.com', '--name', 'Owner', '--role', 'owner'], env);
    expect(owner.code).toBe(0);
    const last = await cli(['users', 'set-role', 'own@example.com', 'viewer'], env);
    expect(last).toMatchObject({
      code: 1,
      stderr: "error: This is the organisation's last active owner: make another user owner first (CONFLICT)\n",
    });
  });
});
