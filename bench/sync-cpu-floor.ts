/**
 * The server's irreducible CPU per uploaded scan (bench/lib/server-work.ts):
 *
 *   node --import tsx bench/sync-cpu-floor.ts [--iterations=400]
 *   npm run bench:sync-cpu-floor
 *
 * bench:offline measures the same next to its database floor.
 */
import { measureServerWork } from './lib/server-work.ts';
import { markdownTable } from './lib/report.ts';

const iterations = Number(process.argv.find((a) => a.startsWith('--iterations='))?.split('=')[1] ?? 400);
const work = measureServerWork(iterations);
console.log(
  `One upload of ${work.scans} signed codes (${work.gzippedBytes} bytes gzipped), ${iterations} iterations per step, CPU per scan:`,
);
console.log(
  markdownTable(
    ['step', 'µs per scan'],
    [...work.steps.map((s) => [s.step, s.us]), ["**sum: the server's irreducible CPU per scan**", work.totalUs]],
  ),
);
console.log(
  `\nAt 50,000 scans/s on 2 cores: 40 µs per scan for the server, PostgreSQL and the load generator together; this part alone takes ${work.totalUs} µs.`,
);
