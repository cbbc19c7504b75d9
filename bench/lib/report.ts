/** Markdown tables and result files for benchmarks. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** "2025-01-31T12-00-00Z": sortable and safe in file names. */
export function timestamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

export async function saveJson(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, name);
  await writeFile(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function pass(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL';
}
