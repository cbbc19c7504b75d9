#!/usr/bin/env node
// Bundles the `entrada` command (server and CLI) with esbuild when its sources changed, so `npm start` runs
// plain JavaScript: under tsx every module was transpiled at start and every closure named at run time
// (issue 15). Source maps keep stack traces pointing at the TypeScript (`node --enable-source-maps`).
//
// The bundle lives two folders below packages/server (build/bin/) because modules find their files relative
// to themselves: migrations (../../migrations/), the scanner app and console (../../../web/dist), and the
// common-password list, copied beside it. Third-party packages stay in node_modules (PGlite loads its
// WebAssembly relative to its own files); only our workspace packages are bundled.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { isMain, newest, root } from './lib/vite-build.mjs';

export const SERVER_BUNDLE = path.join(root, 'packages/server/build/bin/entrada.mjs');
const SOURCES = ['packages/cli/src', 'packages/server/src', 'packages/core/src', 'packages/client/src', 'packages/server/package.json', 'packages/cli/package.json'];

/** Our workspace packages and relative imports are bundled; every other package is imported at run time. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@entrada/') ? undefined : { path: args.path, external: true }));
  },
};

export async function ensureServerBuild({ force = false, quiet = false } = {}) {
  const built = existsSync(SERVER_BUNDLE) ? statSync(SERVER_BUNDLE).mtimeMs : 0;
  const changed = Math.max(...SOURCES.map((p) => newest(path.join(root, p))));
  if (!force && built > changed) return false;
  if (!quiet) console.log('Bundling the entrada command (packages/server/build/bin)…');
  mkdirSync(path.dirname(SERVER_BUNDLE), { recursive: true });
  await build({
    entryPoints: [path.join(root, 'packages/cli/src/bin.ts')],
    outfile: SERVER_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    plugins: [externalPackages],
    // Bundled CommonJS-style code that calls require() (none of ours today) would need one in an ES module.
    banner: { js: "import { createRequire as __entradaCreateRequire } from 'node:module'; const require = __entradaCreateRequire(import.meta.url);" },
    logLevel: quiet ? 'warning' : 'info',
  });
  copyFileSync(path.join(root, 'packages/server/src/accounts/common-passwords.txt'), path.join(path.dirname(SERVER_BUNDLE), 'common-passwords.txt'));
  return true;
}

if (isMain(import.meta.url)) await ensureServerBuild({ force: process.argv.includes('--force') });
