import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.ts';
import { databaseMasterSecret } from '../store/maintenance.ts';

export interface SecretSource {
  secret: Buffer;
  source: 'env' | 'file' | 'database';
}

/**
 * The server secret seals event signing keys and imported codes. It comes from
 * ENTRADA_SECRET; otherwise, with PGlite, from a key file beside (not inside)
 * the database; as a last resort from the database itself, which protects
 * nothing against a database leak, so the caller warns.
 */
export async function resolveServerSecret(opts: {
  secret: string | undefined;
  db: Database;
  dataDir: string;
}): Promise<SecretSource> {
  if (opts.secret) return { secret: createHash('sha256').update(opts.secret).digest(), source: 'env' };
  if (opts.db.kind === 'pglite') {
    const file = path.join(opts.dataDir, 'secret.key');
    try {
      return { secret: Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url'), source: 'file' };
    } catch {
      await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
      const secret = randomBytes(32);
      await writeFile(file, secret.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' }).catch(
        async () => undefined,
      );
      return { secret: Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url'), source: 'file' };
    }
  }
  const value = await databaseMasterSecret(opts.db, randomBytes(32));
  if (!value) throw new Error('server secret missing after insert');
  return { secret: Buffer.from(value), source: 'database' };
}
