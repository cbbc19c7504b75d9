#!/usr/bin/env node
// Builds the organiser console (packages/console/dist) when its sources changed.
import { ensureViteBuild, isMain } from './lib/vite-build.mjs';

export function ensureConsoleBuild({ force = false, quiet = false } = {}) {
  return ensureViteBuild({
    pkg: 'packages/console',
    label: 'the organiser console',
    force,
    quiet,
    sources: [
      'packages/console/src',
      'packages/console/index.html',
      'packages/console/vite.config.ts',
      'packages/console/package.json',
      'packages/core/src',
    ],
  });
}

if (isMain(import.meta.url)) ensureConsoleBuild({ force: process.argv.includes('--force') });
