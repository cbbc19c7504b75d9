#!/usr/bin/env node
// Builds the scanner app (packages/web/dist) when its sources changed.
import { ensureViteBuild, isMain } from './lib/vite-build.mjs';

export function ensureWebBuild({ force = false, quiet = false } = {}) {
  return ensureViteBuild({
    pkg: 'packages/web',
    label: 'the scanner app',
    force,
    quiet,
    sources: [
      'packages/web/src',
      'packages/web/public',
      'packages/web/index.html',
      'packages/web/vite.config.ts',
      'packages/web/package.json',
      'packages/client/src',
      'packages/core/src',
    ],
  });
}

if (isMain(import.meta.url)) ensureWebBuild({ force: process.argv.includes('--force') });
