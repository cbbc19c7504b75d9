import type { AdminToken, AdminTokenList, CreatedAdminToken } from '../api-types.ts';
import { table } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { requireRole } from './users.ts';

const ORIGIN: Record<AdminToken['origin'], string> = { env: 'environment', generated: 'first start', api: 'api' };

/** The organisation's admin tokens that work: never the tokens themselves. */
export async function listTokens(opts: { connection: Connection }, output: Output): Promise<AdminToken[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { tokens } = await client.get<AdminTokenList>('/api/v1/tokens');
  const rows = tokens.map((t) => [
    t.id,
    t.name + (t.current ? ' (this token)' : ''),
    t.role,
    ORIGIN[t.origin],
    t.platform ? 'yes' : 'no',
    t.last_used_at ?? 'never',
    t.created_at,
  ]);
  for (const line of table(['TOKEN ID', 'NAME', 'ROLE', 'ORIGIN', 'PLATFORM', 'LAST USED', 'CREATED'], rows))
    output.out(line);
  return tokens;
}

/** A new admin token of the organisation, printed once. */
export async function createToken(
  opts: { connection: Connection; name: string; role?: string },
  output: Output,
): Promise<CreatedAdminToken> {
  const role = opts.role === undefined ? undefined : requireRole(opts.role);
  const client = new HttpClient(opts.connection, 'admin');
  const made = await client.post<CreatedAdminToken>('/api/v1/tokens', { name: opts.name, ...(role ? { role } : {}) });
  output.out(`Made admin token "${made.name}" (${made.role}).`);
  output.out(`  id     ${made.id}`);
  output.out(`  token  ${made.token}`);
  output.out('');
  output.out('The token is shown once — store it now. Revoke it with:');
  output.out(`  entrada tokens revoke ${made.id}`);
  return made;
}

/** Revokes an admin token: from now on it is refused on every instance. */
export async function revokeToken(
  opts: { connection: Connection; tokenId: string },
  output: Output,
): Promise<AdminToken> {
  const tokenId = requireUuid(opts.tokenId, 'the token id', 'an admin token');
  const client = new HttpClient(opts.connection, 'admin');
  const revoked = await client.delete<AdminToken>(`/api/v1/tokens/${tokenId}`);
  output.out(`Revoked admin token "${revoked.name}" (${revoked.id}): it is refused from now on.`);
  if (revoked.current) output.out('That was the token this command used: use another one from now on.');
  return revoked;
}
