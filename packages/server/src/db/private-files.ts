import { chmod, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The embedded database's files hold every ticket, token digest and sealed
 * key: only the server's own user may read them. PGlite writes through node's
 * fs but sets its files to 0666 itself (the process umask does not help), so
 * the folders are made 0700, which keeps everything below them private, and
 * the files are set to 0600 after the database opens and after it closes.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Folders 0700 and files 0600 under `dir` (symbolic links are left alone). */
export async function makeTreePrivate(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await chmod(full, 0o700);
        await makeTreePrivate(full);
      } else if (entry.isFile()) {
        await chmod(full, 0o600);
      }
    }),
  );
}
