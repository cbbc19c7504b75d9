import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueTickets, seedEvent, type SeededEvent, type TestServer } from '../../server/test/harness.ts';
import { exportTickets } from '../src/commands/tickets-export.ts';
import { importTickets } from '../src/commands/tickets-import.ts';
import { CliError } from '../src/errors.ts';
import { captureOutput, cli, SLOW, startServerForTests, tempDir } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let tmp: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  tmp = await tempDir();
}, SLOW);
afterAll(async () => {
  await close();
  await tmp.remove();
});

const conn = (): { url: string; token: string } => ({ url: server.url, token: server.adminToken });
const file = (name: string): string => path.join(tmp.dir, name);

async function exportedRows(eventId: string): Promise<Array<Record<string, string>>> {
  const out = file(`export-${eventId}.csv`);
  await exportTickets({ connection: conn(), eventId, outFile: out }, captureOutput().output);
  return parse(await readFile(out, 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

async function expectImportFails(
  csv: string,
  eventId: string,
  opts: { batchSize?: number } = {},
): Promise<{ message: string; stderr: string; stdout: string }> {
  const name = file(`bad-${Math.random().toString(36).slice(2)}.csv`);
  await writeFile(name, csv);
  const captured = captureOutput();
  const err = await importTickets({ connection: conn(), file: name, eventId, ...opts }, captured.output).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return { message: (err as CliError).message, stderr: captured.stderr(), stdout: captured.stdout() };
}

describe('entrada tickets import / export', () => {
  it(
    'imports 20,000 rows (some with their own codes) and exports them back unchanged',
    async () => {
      const ev = await seedEvent(server.admin);
      const types = ['GA', 'ga', 'Re-entry', 'VIP', ev.types.multi];
      const lines = ['Ticket_Type,code,number,holder_name'];
      for (let i = 0; i < 20_000; i++) {
        const code = i % 5 === 0 ? `IMP-${i.toString(36).toUpperCase()}-${i}` : '';
        const number = i % 7 === 0 ? `N-${i}` : '';
        // Commas and quotes prove the CSV round trip, not just the happy path.
        const holder = i % 3 === 0 ? `"Doe, ""J"" ${i}"` : i % 3 === 1 ? `Guest ${i}` : '';
        lines.push(`${types[i % types.length]},${code},${number},${holder}`);
      }
      const input = file('20k.csv');
      await writeFile(input, lines.join('\r\n') + '\r\n');

      const captured = captureOutput();
      const report = await importTickets(
        { connection: conn(), file: input, eventId: ev.eventId, batchSize: 5000, outFile: file('created.csv') },
        captured.output,
      );
      const rate = Math.round(report.created / (report.elapsedMs / 1000));
      console.log(`[import rate] ${report.created} tickets in ${report.elapsedMs} ms = ${rate} tickets/s`);
      expect(report.created).toBe(20_000);
      expect(captured.stdout()).toMatch(
        /Checked 20,000 rows .*4,000 with imported codes, 16,000 to get Entrada-signed codes/,
      );
      expect(captured.stdout()).toMatch(/Imported 20,000 tickets into "Test Event" in [\d.]+ s \([\d,]+\/s\)/);
      // Not a TTY: plain progress lines, one per ~10%.
      expect(captured.stdout()).toContain('Importing 50% (10,000/20,000 tickets)');
      expect(captured.stdout()).toContain('Importing 100% (20,000/20,000 tickets)');

      const created = parse(await readFile(file('created.csv'), 'utf8'), { columns: true }) as Array<{
        id: string;
        number: string;
        code: string;
      }>;
      expect(created).toHaveLength(20_000);
      const exported = await exportedRows(ev.eventId);
      expect(exported).toHaveLength(20_000);
      const byId = new Map(exported.map((t) => [t.id, t]));
      for (const [i, c] of created.entries()) {
        const t = byId.get(c.id)!;
        expect(t.code).toBe(c.code);
        expect(t.number).toBe(c.number);
        if (i % 5 === 0) expect(t.code).toBe(`IMP-${i.toString(36).toUpperCase()}-${i}`);
        else expect(t.code).toMatch(/^EN/);
        if (i % 7 === 0) expect(t.number).toBe(`N-${i}`);
        expect(t.holder_name).toBe(i % 3 === 0 ? `Doe, "J" ${i}` : i % 3 === 1 ? `Guest ${i}` : '');
        expect(t.tier).toBe(['GA', 'GA', 'Re-entry', 'VIP', '3-day'][i % 5]);
        expect([t.status, t.scans_used, t.inside]).toEqual(['valid', '0', 'false']);
      }
    },
    SLOW,
  );

  it(
    'reports every problem with its line number and imports nothing',
    async () => {
      const ev = await seedEvent(server.admin);
      const csv = [
        'ticket_type,code,number,holder_name',
        'GA,OK-1,1,Ann',
        'Unknown,OK-2,2,Bob',
        'VIP,OK-1,3,Cas',
        'GA,,1,Dee',
        `GA,${'X'.repeat(300)},,Eve`,
        'GA,too,many,fields,here',
        ',OK-7,7,',
        'VIP,OK-8,8,"Multi',
        'line holder"',
        'GA,OK-9,9,Fay',
        'GA,ENCAAQEAIBE4UNWJRLDIABV3DBNHICEO74NVFKHUXZN2J3IJHJNI7YYPOSHW7ZKG5WAMKHTRYYQUEJPKZW2ZT3Y6FOQYMZCYJDY3BFBBYBX6ORUDI,,',
        'GA,OK-9,,',
      ].join('\n');
      const { message, stderr } = await expectImportFails(csv, ev.eventId);
      expect(message).toMatch(/has 8 problems; nothing was imported/);
      expect(stderr).toContain('line 3: unknown ticket type "Unknown" (this event has: GA, Re-entry, VIP, 3-day)');
      expect(stderr).toContain('line 4: code "OK-1" repeats line 2');
      expect(stderr).toContain('line 5: number "1" repeats line 2');
      expect(stderr).toContain('line 6: code is 300 characters long; the maximum is 256');
      expect(stderr).toMatch(/line 7: malformed CSV: Invalid Record Length: expect 4, got 5/);
      expect(stderr).toContain('line 8: ticket_type is empty');
      expect(stderr).toContain('line 12: code looks like an Entrada-signed code');
      expect(stderr).toContain('line 13: code "OK-9" repeats line 11');
      expect(await exportedRows(ev.eventId)).toHaveLength(0);
    },
    SLOW,
  );

  it('shows the first 20 problems and counts the rest', async () => {
    const ev = await seedEvent(server.admin);
    const csv = ['ticket_type', ...Array.from({ length: 45 }, (_, i) => `Nope${i}`)].join('\n');
    const { stderr } = await expectImportFails(csv, ev.eventId);
    expect(stderr).toContain('45 problems found');
    expect(stderr).toContain('line 21: unknown ticket type "Nope19"');
    expect(stderr).not.toContain('line 22:');
    expect(stderr).toContain('… and 25 more');
  });

  it('checks the header: unknown and missing columns', async () => {
    const ev = await seedEvent(server.admin);
    const { stderr } = await expectImportFails('type,code,holdername\nGA,A,B\n', ev.eventId);
    expect(stderr).toContain('line 1: unknown column "type"');
    expect(stderr).toContain('line 1: unknown column "holdername"');
    expect(stderr).toContain('line 1: the header has no ticket_type column');
    expect(stderr).not.toContain('line 2');
  });

  it(
    'imports nothing when a later chunk has a row the server refuses, naming its CSV line',
    async () => {
      const ev = await seedEvent(server.admin);
      await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga, code: 'CLASH-1' }]);
      const rows = Array.from({ length: 12 }, (_, i) => `GA,${i === 7 ? 'CLASH-1' : `MID-${i}`}`);
      const { message, stderr } = await expectImportFails(['ticket_type,code', ...rows].join('\n'), ev.eventId, {
        batchSize: 5,
      });
      expect(stderr).toContain('The import was refused as a whole: no ticket from the file was created.');
      expect(message).toMatch(
        /^import failed: row 8: the code is already used.*\(DUPLICATE_CODE\); the offending row is CSV line 9$/,
      );
      // The first chunk was staged, never written.
      const codes = (await exportedRows(ev.eventId)).map((t) => t.code).sort();
      expect(codes).toEqual(['CLASH-1']);
    },
    SLOW,
  );

  it('--dry-run checks the file and imports nothing', async () => {
    const ev = await seedEvent(server.admin);
    await writeFile(file('dry.csv'), 'ticket_type,code\nGA,D-1\nvip,\n');
    const r = await cli(
      ['tickets', 'import', file('dry.csv'), '--event', ev.eventId, '--dry-run', '--url', server.url],
      { ENTRADA_ADMIN_TOKEN: server.adminToken },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Checked 2 rows');
    expect(r.stdout).toContain('Dry run: nothing was imported');
    expect(await exportedRows(ev.eventId)).toHaveLength(0);
  });

  it('unknown event, bad event id, missing file, bad --batch: one clear line and exit 1', async () => {
    const ev: SeededEvent = await seedEvent(server.admin);
    await writeFile(file('one.csv'), 'ticket_type\nGA\n');
    const env = { ENTRADA_ADMIN_TOKEN: server.adminToken, ENTRADA_URL: server.url };
    const unknown = await cli(
      ['tickets', 'import', file('one.csv'), '--event', '6f1c1e0e-0000-4000-8000-000000000000'],
      env,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'error: event 6f1c1e0e-0000-4000-8000-000000000000 not found for this admin token (NOT_FOUND); `entrada events list` shows the events you can use\n',
    );
    const malformed = await cli(['tickets', 'import', file('one.csv'), '--event', 'festival'], env);
    expect(malformed.stderr).toMatch(/^error: --event must be an event id \(a UUID/);
    const missing = await cli(['tickets', 'import', file('nope.csv'), '--event', ev.eventId], env);
    expect(missing.stderr).toBe(`error: cannot read ${file('nope.csv')}: no such file\n`);
    const batch = await cli(['tickets', 'import', file('one.csv'), '--event', ev.eventId, '--batch', '20000'], env);
    expect(batch.stderr).toBe('error: --batch must be a whole number from 1 to 5,000, got 20000\n');
    const exported = await cli(['tickets', 'export', '--event', '6f1c1e0e-0000-4000-8000-000000000000'], env);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain('not found for this admin token (NOT_FOUND)');
    for (const r of [unknown, malformed, missing, batch, exported]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exports to stdout as CSV with the summary on stderr', async () => {
    const ev = await seedEvent(server.admin);
    await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.vip, code: 'OUT-1', number: 'A1', holder_name: 'Ann, the "first"' },
    ]);
    const r = await cli([
      'tickets',
      'export',
      '--event',
      ev.eventId,
      '--url',
      server.url,
      '--token',
      server.adminToken,
    ]);
    expect(r.code).toBe(0);
    const [header, row, ...rest] = r.stdout.trimEnd().split('\n');
    expect(header).toBe('id,number,tier,holder_name,status,code,scans_used,inside');
    expect(row).toMatch(/^[0-9a-f-]{36},A1,VIP,"Ann, the ""first""",valid,OUT-1,0,false$/);
    expect(rest).toEqual([]);
    expect(r.stderr).toMatch(/Exported 1 ticket in/);
  });
});
