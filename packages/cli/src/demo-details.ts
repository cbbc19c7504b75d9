import { DEFAULT_URL } from './http-client.ts';
import { count, shellQuote, table } from './format.ts';
import type { Output } from './output.ts';
import { printQr } from './qr.ts';

export interface DemoDetails {
  url: string;
  eventId: string;
  eventName?: string;
  tickets: number;
  deviceId: string;
  deviceToken: string;
  gates: Array<{ id: string; name: string }>;
  sampleCodes: Array<{ tier: string; number: string; code: string }>;
  /** A staff account to log in with on a paired scanner. */
  staff?: { username: string; pin: string; name?: string };
  /** A pairing code for a phone or scanner; `pairUrl` defaults to `<url>/?pair=<code>`. */
  pairing?: { code: string; expiresAt: string; gateId?: string | null; pairUrl?: string };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

export function pairUrlOf(d: DemoDetails): string | null {
  if (!d.pairing) return null;
  return d.pairing.pairUrl ?? `${d.url.replace(/\/+$/, '')}/?pair=${encodeURIComponent(d.pairing.code)}`;
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
export async function printDemoDetails(d: DemoDetails, output: Output): Promise<void> {
  output.out(`Demo event${d.eventName ? ` "${d.eventName}"` : ''} with ${count(d.tickets)} tickets`);
  output.out(`  Event id      ${d.eventId}`);
  output.out(`  Device token  ${d.deviceToken}  (device ${d.deviceId})`);
  output.out('  Gates');
  for (const line of table(
    ['NAME', 'GATE ID'],
    d.gates.map((g) => [g.name, g.id]),
  ))
    output.out(`    ${line}`);
  if (d.sampleCodes.length > 0) {
    output.out('  Sample codes');
    for (const line of table(
      ['TIER', 'NUMBER', 'CODE'],
      d.sampleCodes.map((s) => [s.tier, s.number, s.code]),
    ))
      output.out(`    ${line}`);
  }
  const example = scanExample(d);
  if (example) {
    output.out('');
    output.out('Scan one as the demo device:');
    output.out(`  ${example}`);
  }
  const pairUrl = pairUrlOf(d);
  if (d.pairing && pairUrl) {
    const gate = d.gates.find((g) => g.id === d.pairing!.gateId);
    output.out('');
    output.out('Pair a phone or scanner with the scanner app:');
    output.out(
      `  Pairing code  ${d.pairing.code}  (one device, valid until ${d.pairing.expiresAt}${gate ? `, at ${gate.name}` : ''})`,
    );
    output.out(`  Pair URL      ${pairUrl}`);
    if (d.staff) output.out(`  Staff login   username ${d.staff.username}, PIN ${d.staff.pin}`);
    if (isLoopback(pairUrl))
      output.out('  (a phone cannot open localhost: set ENTRADA_PUBLIC_URL to an address it can reach)');
    await printQr(pairUrl, output);
  } else if (d.staff) {
    output.out('');
    output.out(`Staff login on a paired scanner: username ${d.staff.username}, PIN ${d.staff.pin}`);
  }
}
