/**
 * Summarises a V8 CPU profile (node --cpu-prof): self time by function and by
 * origin (a package in node_modules, a source file of ours, node internals,
 * GC). Usable on its own:
 *
 *   node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top]
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples that were not idle. */
  busyMs: number;
  byOrigin: Array<{ origin: string; ms: number; pct: number }>;
  topFunctions: Array<{ fn: string; origin: string; ms: number; pct: number }>;
  /** Inclusive time of functions whose name matches a watched name (e.g. "scan"). */
  inclusive: Array<{ fn: string; ms: number; pct: number }>;
}

function originOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (idle), (program)
    return '(native)';
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const ours = /packages\/([^/]+)\/src\/(.+)$/.exec(url);
  if (ours) return `@entrada/${ours[1]}: ${ours[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

export async function summarizeCpuProfile(file: string, top = 25, watch: string[] = []): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  let totalMs = 0;
  let idleMs = 0;
  const origins = new Map<string, number>();
  const fns = new Map<string, { fn: string; origin: string; ms: number }>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    totalMs += ms;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') idleMs += ms;
    const origin = originOf(url, functionName);
    origins.set(origin, (origins.get(origin) ?? 0) + ms);
    const key = `${functionName || '(anonymous)'} ${url}:${lineNumber + 1}`;
    const e = fns.get(key) ?? { fn: `${functionName || '(anonymous)'}:${lineNumber + 1}`, origin, ms: 0 };
    e.ms += ms;
    fns.set(key, e);
    if (watch.length > 0) {
      // Inclusive: charge this sample once to every watched function on its stack.
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const name = byId.get(cur)!.callFrame.functionName;
        if (watch.includes(name) && !seen.has(name)) {
          seen.add(name);
          inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
        }
      }
    }
  }
  const busyMs = totalMs - idleMs;
  const pct = (ms: number): number => Math.round((ms / Math.max(1e-9, busyMs)) * 1000) / 10;
  return {
    totalMs: Math.round(totalMs),
    busyMs: Math.round(busyMs),
    byOrigin: [...origins]
      .filter(([o]) => o !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([origin, ms]) => ({ origin, ms: Math.round(ms), pct: pct(ms) })),
    topFunctions: [...fns.values()]
      .filter((f) => f.fn !== '(idle):0')
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ ...f, ms: Math.round(f.ms), pct: pct(f.ms) })),
    inclusive: [...inclusive].sort((a, b) => b[1] - a[1]).map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: pct(ms) })),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const s = await summarizeCpuProfile(file, Number(process.argv[3] ?? 30), [
    'scan',
    'device',
    'query',
    'handleRequest',
    'parse',
    'serialize',
  ]);
  console.log(`busy ${s.busyMs} ms of ${s.totalMs} ms profiled\n\nBy origin (self time, % of busy):`);
  for (const o of s.byOrigin.slice(0, 25)) console.log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
  console.log('\nTop functions (self time):');
  for (const f of s.topFunctions) console.log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  [${f.origin}]`);
  if (s.inclusive.length) {
    console.log('\nInclusive time:');
    for (const f of s.inclusive) console.log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
  }
}
