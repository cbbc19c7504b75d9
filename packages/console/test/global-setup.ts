import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The browser suite tests the built console, exactly what the server serves: build it if any source changed. */
export default function setup(): void {
  const script = path.resolve(import.meta.dirname, '../../../scripts/ensure-console-build.mjs');
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building packages/console failed');
}
