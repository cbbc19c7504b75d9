/**
 * Soak the offline simulation over many seeds and print the ones that fail.
 *
 *   node --import tsx packages/client/test/sim/soak.ts --seeds 200 [--start 1] [--steps 60] [--devices 4]
 *   node --import tsx packages/client/test/sim/soak.ts --seed 1234 --verbose --trace     # replay one seed with its log and network trace
 *
 * Exit code 1 when any seed fails.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, runSimulation, SimServer } from './world.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    start: { type: 'string', default: '1' },
    seed: { type: 'string' },
    steps: { type: 'string', default: String(DEFAULT_OPTIONS.steps) },
    devices: { type: 'string', default: String(DEFAULT_OPTIONS.devices) },
    verbose: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});

const seeds =
  values.seed !== undefined
    ? [Number(values.seed)]
    : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.start) + i);
const opts = { ...DEFAULT_OPTIONS, steps: Number(values.steps), devices: Number(values.devices) };

const sim = await SimServer.start();
const failed: number[] = [];
const totals: Record<string, number> = {};
const started = Date.now();
try {
  for (const seed of seeds) {
    let violations: string[];
    let log: string[] = [];
    let trace: string[] = [];
    try {
      const r = await runSimulation(sim, seed, opts);
      violations = r.violations;
      log = r.log;
      trace = r.trace;
      for (const [k, n] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + n;
    } catch (err) {
      violations = [`simulation crashed: ${err instanceof Error ? err.stack : String(err)}`];
    }
    if (values.verbose) console.log(log.join('\n'));
    if (values.trace) console.log(trace.join('\n'));
    if (violations.length > 0) {
      failed.push(seed);
      console.log(
        `FAIL seed ${seed} — replay: node --import tsx packages/client/test/sim/soak.ts --seed ${seed} --steps ${opts.steps} --devices ${opts.devices} --verbose`,
      );
      for (const v of violations) console.log(`  ${v}`);
    } else if (values.verbose || seeds.length <= 20) {
      console.log(`ok   seed ${seed}`);
    }
  }
} finally {
  await sim.close();
}
console.log(
  `${seeds.length - failed.length}/${seeds.length} seeds passed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
console.log(
  `totals: ${Object.entries(totals)
    .sort()
    .map(([k, n]) => `${k}=${n}`)
    .join(' ')}`,
);
if (failed.length > 0) {
  console.log(`failing seeds: ${failed.join(' ')}`);
  process.exitCode = 1;
}
