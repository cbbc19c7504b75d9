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

const OUT = path.join(root, 'packages/server/build');
export const SERVER_BUNDLE = path.join(OUT, 'bin/entrada.mjs');
/** The benchmarks' server entry (bench/lib/server-process.ts), bundled alike so they measure what `npm start` runs. */
export const BENCH_SERVER_BUNDLE = path.join(OUT, 'bench/server-process.mjs');
const SOURCES = [
  'packages/cli/src',
  'packages/server/src',
  'packages/core/src',
  'packages/client/src',
  'packages/server/package.json',
  'packages/cli/package.json',
  'bench/lib/server-process.ts',
  'scripts/ensure-server-build.mjs',
];

/** Our workspace packages and relative imports are bundled; every other package is imported at run time. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@entrada/') ? undefined : { path: args.path, external: true },
    );
  },
};

export async function ensureServerBuild({ force = false, quiet = false } = {}) {
  const built = Math.min(...[SERVER_BUNDLE, BENCH_SERVER_BUNDLE].map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  const changed = Math.max(...SOURCES.map((p) => newest(path.join(root, p))));
  if (!force && built > changed) return false;
  if (!quiet) console.log('Bundling the entrada command (packages/server/build/bin)…');
  await build({
    entryPoints: {
      'bin/entrada': path.join(root, 'packages/cli/src/bin.ts'),
      'bench/server-process': path.join(root, 'bench/lib/server-process.ts'),
    },
    outdir: OUT,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    plugins: [externalPackages],
    // Bundled CommonJS-style code that calls require() (none of ours today) would need one in an ES module.
    banner: {
      js: "import { createRequire as __entradaCreateRequire } from 'node:module'; const require = __entradaCreateRequire(import.meta.url);",
    },
    logLevel: quiet ? 'warning' : 'info',
  });
  for (const bundle of [SERVER_BUNDLE, BENCH_SERVER_BUNDLE]) {
    mkdirSync(path.dirname(bundle), { recursive: true });
    copyFileSync(
      path.join(root, 'packages/server/src/accounts/common-passwords.txt'),
      path.join(path.dirname(bundle), 'common-passwords.txt'),
    );
  }
  return true;
}

if (isMain(import.meta.url)) await ensureServerBuild({ force: process.argv.includes('--force') });
