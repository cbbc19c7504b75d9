import { createHash, randomBytes } from 'node:crypto';

export type TokenKind = 'admin' | 'device' | 'session';
const PREFIX: Record<TokenKind, string> = { admin: 'eat_', device: 'edt_', session: 'ess_' };

/** 256 bits of randomness with a prefix that says what the token is (helps secret scanners and humans). */
export function generateToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

/**
 * Tokens are stored and looked up by SHA-256 digest: a database leak reveals no
 * usable token, and the lookup by digest compares digests, never the secret.
 */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
