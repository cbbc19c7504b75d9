import { randomBytes } from 'node:crypto';
import { ROLES, type Role } from '@entrada/core';
import type { User, UserList } from '../api-types.ts';
import { CliError } from '../errors.ts';
import { table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where a new password may come from without appearing in the process list or the shell history. */
export const PASSWORD_ENV = 'ENTRADA_NEW_PASSWORD';

export function requireRole(value: string): Role {
  const role = value.trim().toLowerCase();
  if (!(ROLES as readonly string[]).includes(role))
    throw new CliError(`--role must be one of ${ROLES.join(', ')}, got "${value}"`);
  return role as Role;
}

/** The password to set: ENTRADA_NEW_PASSWORD when given, else a generated one (printed once). */
function newPassword(env: NodeJS.ProcessEnv): { password: string; generated: boolean } {
  const given = env[PASSWORD_ENV];
  if (given) return { password: given, generated: false };
  return { password: randomBytes(15).toString('base64url'), generated: true };
}

/** A user by id or email (any case). */
async function resolveUser(client: HttpClient, who: string): Promise<User> {
  const { users } = await client.get<UserList>('/api/v1/users');
  const found = UUID.test(who)
    ? users.find((u) => u.id === who.toLowerCase())
    : users.find((u) => u.email.toLowerCase() === who.trim().toLowerCase());
  if (!found)
    throw new CliError(
      `No user ${UUID.test(who) ? 'with the id' : 'with the email'} "${who}" in this organisation (see \`entrada users list\`)`,
    );
  return found;
}

export async function listUsers(opts: { connection: Connection }, output: Output): Promise<User[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { users } = await client.get<UserList>('/api/v1/users');
  const rows = users.map((u) => [u.id, u.email, u.name, u.role, u.active ? 'yes' : 'no', u.created_at]);
  for (const line of table(['USER ID', 'EMAIL', 'NAME', 'ROLE', 'ACTIVE', 'CREATED'], rows)) output.out(line);
  return users;
}

export async function addUser(
  opts: { connection: Connection; email: string; name: string; role: string; env: NodeJS.ProcessEnv },
  output: Output,
): Promise<User> {
  const role = requireRole(opts.role);
  const client = new HttpClient(opts.connection, 'admin');
  const { password, generated } = newPassword(opts.env);
  const user = await client.post<User>('/api/v1/users', { email: opts.email, name: opts.name, role, password });
  output.out(`Added ${user.name} <${user.email}> as ${user.role} (${user.id}).`);
  printPassword(output, user.email, password, generated);
  return user;
}

export async function setUserRole(
  opts: { connection: Connection; user: string; role: string },
  output: Output,
): Promise<User> {
  const role = requireRole(opts.role);
  const client = new HttpClient(opts.connection, 'admin');
  const user = await resolveUser(client, opts.user);
  const updated = await client.patch<User>(`/api/v1/users/${user.id}`, { role });
  output.out(`${updated.email} is now ${updated.role} (was ${user.role}).`);
  return updated;
}

export async function deactivateUser(opts: { connection: Connection; user: string }, output: Output): Promise<User> {
  const client = new HttpClient(opts.connection, 'admin');
  const user = await resolveUser(client, opts.user);
  const updated = await client.patch<User>(`/api/v1/users/${user.id}`, { active: false });
  output.out(`Deactivated ${updated.email}: their sessions have ended and they can no longer log in.`);
  return updated;
}

export async function resetPassword(
  opts: { connection: Connection; user: string; env: NodeJS.ProcessEnv },
  output: Output,
): Promise<User> {
  const client = new HttpClient(opts.connection, 'admin');
  const user = await resolveUser(client, opts.user);
  const { password, generated } = newPassword(opts.env);
  const updated = await client.post<User>(`/api/v1/users/${user.id}/password`, { password });
  output.out(`Set a new password for ${updated.email}; their sessions have ended.`);
  printPassword(output, updated.email, password, generated);
  return updated;
}

function printPassword(output: Output, email: string, password: string, generated: boolean): void {
  if (!generated) {
    output.out(`  password  from ${PASSWORD_ENV} (not shown)`);
    return;
  }
  output.out(`  email     ${email}`);
  output.out(`  password  ${password}`);
  output.out('');
  output.out('The password is shown once: hand it over now. They can change it in the console.');
}
