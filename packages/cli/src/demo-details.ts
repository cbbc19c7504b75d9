import { DEFAULT_URL } from './http-client.ts';
import { count, shellQuote, table } from './format.ts';
import type { Output } from './output.ts';

export interface DemoDetails {
  url: string;
  eventId: string;
  eventName?: string;
  tickets: number;
  deviceId: string;
  deviceToken: string;
  gates: Array<{ id: string; name: string }>;
  sampleCodes: Array<{ tier: string; number: string; code: string }>;
}

/** The scan line to paste; the first sample and first gate admit each other in both demos. */
export function scanExample(d: DemoDetails): string | null {
  const sample = d.sampleCodes[0];
  const gate = d.gates[0];
  if (!sample || !gate) return null;
  const url = d.url.replace(/\/+$/, '') === DEFAULT_URL ? '' : ` --url ${shellQuote(d.url)}`;
  return `ENTRADA_DEVICE_TOKEN=${shellQuote(d.deviceToken)} npx entrada scan ${shellQuote(sample.code)} --event ${d.eventId} --gate ${gate.id}${url}`;
}

/** Shared by `serve` (the seeded demo) and `demo` (one made over HTTP), so both read the same. */
export function printDemoDetails(d: DemoDetails, output: Output): void {
  output.out(`Demo event${d.eventName ? ` "${d.eventName}"` : ''} with ${count(d.tickets)} tickets`);
  output.out(`  Event id      ${d.eventId}`);
  output.out(`  Device token  ${d.deviceToken}  (device ${d.deviceId})`);
  output.out('  Gates');
  for (const line of table(['NAME', 'GATE ID'], d.gates.map((g) => [g.name, g.id]))) output.out(`    ${line}`);
  if (d.sampleCodes.length > 0) {
    output.out('  Sample codes');
    for (const line of table(['TIER', 'NUMBER', 'CODE'], d.sampleCodes.map((s) => [s.tier, s.number, s.code]))) output.out(`    ${line}`);
  }
  const example = scanExample(d);
  if (example) {
    output.out('');
    output.out('Scan one as the demo device:');
    output.out(`  ${example}`);
  }
}
