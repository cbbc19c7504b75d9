// Builds a Vite package when its output is missing or older than any source it
// is made from: `npm start` and the browser tests then serve the current code
// without a separate build step to remember.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function newest(p) {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, name) => Math.max(m, newest(path.join(p, name))), s.mtimeMs);
}

/**
 * `pkg`: the package folder (relative to the repository); `sources`: what its
 * build reads (relative too). Returns whether it built.
 */
export function ensureViteBuild({ pkg, label, sources, force = false, quiet = false }) {
  const dir = path.join(root, pkg);
  const output = path.join(dir, 'dist/index.html');
  const built = existsSync(output) ? statSync(output).mtimeMs : 0;
  const changed = Math.max(...sources.map((p) => newest(path.join(root, p))));
  if (!force && built > changed) return false;
  if (!quiet) console.log(`Building ${label} (${pkg})…`);
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', quiet ? 'warn' : 'info'],
    { cwd: dir, stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error(`vite build of ${pkg} failed (exit ${r.status})`);
  return true;
}

/** True when `importMetaUrl` is the script node was asked to run. */
export function isMain(importMetaUrl) {
  return Boolean(process.argv[1]) && path.resolve(process.argv[1]) === fileURLToPath(importMetaUrl);
}
