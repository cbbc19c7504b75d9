import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../server/test/harness.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

describe('entrada tokens', () => {
  it('lists the tokens (never the tokens themselves), makes one (shown once) and revokes it', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const first = await cli(['tokens', 'list'], env);
    expect(first.code).toBe(0);
    const [header, ...rows] = first.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TOKEN ID\s+NAME\s+ROLE\s+ORIGIN\s+PLATFORM\s+LAST USED\s+CREATED$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(
      /^[0-9a-f-]{36}\s+ENTRADA_ADMIN_TOKEN \(this token\)\s+owner\s+environment\s+yes\s+(never|\d{4}-\S+)\s+\d{4}-/,
    );
    expect(first.stdout).not.toContain(server.adminToken);

    const made = await cli(['tokens', 'create', '--name', 'Box office laptop'], env);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('Made admin token "Box office laptop" (owner).');
    expect(made.stdout).toContain('shown once — store it now');
    const id = /^ {2}id {5}(\S+)$/m.exec(made.stdout)?.[1];
    const token = /^ {2}token {2}(\S+)$/m.exec(made.stdout)?.[1];
    expect(token).toMatch(/^eat_/);
    expect(made.stdout).toContain(`  entrada tokens revoke ${id}`);
    // The printed token works, and the new token is listed (as this token, when it asks).
    const listed = await cli(['tokens', 'list', '--token', token!], { ENTRADA_URL: server.url });
    expect(listed.stdout).toMatch(
      new RegExp(`^${id}\\s+Box office laptop \\(this token\\)\\s+owner\\s+api\\s+yes`, 'm'),
    );
    expect(listed.stdout).not.toContain(token!);

    const revoked = await cli(['tokens', 'revoke', id!], env);
    expect(revoked).toMatchObject({
      code: 0,
      stdout: `Revoked admin token "Box office laptop" (${id}): it is refused from now on.\n`,
    });
    expect(await cli(['tokens', 'list', '--token', token!], { ENTRADA_URL: server.url })).toMatchObject({
      code: 1,
      stderr: 'error: Invalid admin token (UNAUTHORIZED)\n',
    });
  });

  it('explains what it cannot do in one line', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    expect(await cli(['tokens', 'revoke', 'nope'], env)).toMatchObject({
      code: 1,
      stderr: 'error: the token id must be an admin token id (a UUID such as 0b9e…-…), got "nope"\n',
    });
    expect((await cli(['tokens', 'revoke', crypto.randomUUID()], env)).stderr).toBe(
      'error: Admin token not found (NOT_FOUND)\n',
    );
    const own = (await cli(['tokens', 'list'], env)).stdout.match(/^([0-9a-f-]{36})\s+ENTRADA_ADMIN_TOKEN/m)?.[1];
    const last = await cli(['tokens', 'revoke', own!], env);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(
      /^error: This is the organisation's last admin token and it has no owner account: make another token .* \(CONFLICT\)\n$/,
    );
    expect(await cli(['tokens', 'create'], env)).toMatchObject({
      code: 1,
      stderr: "error: required option '--name <name>' not specified\n",
    });
    expect(await cli(['tokens', 'create', '--name', 'x', '--role', 'admin'], env)).toMatchObject({
      code: 1,
      stderr: 'error: --role must be one of viewer, supervisor, manager, owner, got "admin"\n',
    });
  });

  it('makes a token with a role, which is refused what the role may not do', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const made = await cli(['tokens', 'create', '--name', 'Dashboard', '--role', 'viewer'], env);
    expect(made.stdout).toContain('Made admin token "Dashboard" (viewer).');
    const token = /^ {2}token {2}(\S+)$/m.exec(made.stdout)?.[1];
    expect((await cli(['tokens', 'list'], env)).stdout).toMatch(/^\S+\s+Dashboard\s+viewer\s+api/m);
    const refused = await cli(['tokens', 'list', '--token', token!], { ENTRADA_URL: server.url });
    expect(refused).toMatchObject({
      code: 1,
      stderr: 'error: This needs the owner role or above; this admin token has the viewer role (FORBIDDEN)\n',
    });
  });
});
