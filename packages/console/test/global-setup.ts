import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The browser suite tests the built console, exactly what the server serves (and pairs
 * the built scanner app): build either if any of its sources changed.
 */
export default function setup(): void {
  for (const name of ['ensure-console-build.mjs', 'ensure-web-build.mjs']) {
    const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../../scripts', name)], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`${name} failed`);
  }
}
