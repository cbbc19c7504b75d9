#!/usr/bin/env node
// Runs every package's tests in one Vitest run and ends with the line CI reads:
// "N passed, N failed". With ENTRADA_REQUIRE_SERVICES=1 a skipped test is a failure:
// in CI nothing may be skipped silently (e.g. PostgreSQL tests without a database).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const out = path.join(root, '.test-results', 'vitest.json');
mkdirSync(path.dirname(out), { recursive: true });

const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${out}`,
  ...process.argv.slice(2),
];
const run = spawnSync('npx', args, { cwd: root, stdio: 'inherit', env: process.env });

let passed = 0,
  failed = 0,
  skipped = 0;
if (existsSync(out)) {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
} else {
  failed = 1;
}
const strict = process.env.ENTRADA_REQUIRE_SERVICES === '1';
if (strict && skipped > 0) {
  console.error(
    `\n${skipped} test(s) were skipped, and ENTRADA_REQUIRE_SERVICES=1 forbids skipping: counted as failures.`,
  );
  failed += skipped;
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed${skipped && !strict ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
