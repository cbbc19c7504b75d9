import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli, SLOW } from './helpers.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const HELP: Array<[string[], string[]]> = [
  [
    [],
    [
      'serve',
      'migrate',
      'demo',
      'tickets',
      'devices',
      'staff',
      'tokens',
      'events',
      'scan',
      '--url',
      '--token',
      'ENTRADA_URL',
      'ENTRADA_ADMIN_TOKEN',
      'Examples:',
    ],
  ],
  [
    ['serve'],
    [
      '--port',
      '--host',
      '--data-dir',
      'DATABASE_URL',
      'ENTRADA_DEMO=on|off',
      'NODE_ENV=production',
      'ENTRADA_TRUST_PROXY',
      'Examples:',
    ],
  ],
  [['migrate'], ['--data-dir', 'DATABASE_URL', 'Examples:']],
  [['demo'], ['--tickets', '--name', 'default 1000', 'Examples:']],
  [
    ['tickets', 'import'],
    [
      '<file>',
      '--event',
      '--batch',
      '--dry-run',
      '--out',
      'ticket_type',
      'holder_name',
      '--url',
      '--token',
      'Examples:',
    ],
  ],
  [
    ['tickets', 'export'],
    ['--event', '--out', 'scans_used', 'Examples:'],
  ],
  [
    ['devices', 'register'],
    ['--name', '--device-id', '--type', 'scanner', 'mobile', '--public-key', 'Examples:'],
  ],
  [['devices', 'list'], ['Examples:']],
  [
    ['devices', 'pair'],
    ['--event', '--gate', '--ttl', '--name', 'ENTRADA_PUBLIC_URL', 'Examples:'],
  ],
  [
    ['staff', 'add'],
    ['--event', '--username', '--name', '--pin', 'Examples:'],
  ],
  [
    ['staff', 'list'],
    ['--event', 'Examples:'],
  ],
  [
    ['staff', 'deactivate'],
    ['--event', '--staff', 'Examples:'],
  ],
  [['tokens', 'list'], ['Examples:']],
  [
    ['tokens', 'create'],
    ['--name', 'Examples:'],
  ],
  [
    ['tokens', 'revoke'],
    ['<token-id>', 'ENTRADA_ADMIN_TOKEN', 'Examples:'],
  ],
  [
    ['webhooks', 'create'],
    ['--endpoint', '--events', 'device.suspended', 'Examples:'],
  ],
  [
    ['webhooks', 'deliveries'],
    ['<webhook-id>', '--cursor', 'Examples:'],
  ],
  [
    ['events', 'show'],
    ['<event-id>', 'Examples:'],
  ],
  [
    ['events', 'update'],
    ['<event-id>', '--name', '--starts', '--ends', '--timezone', '--duplicate-window', '--json', 'Examples:'],
  ],
  [
    ['zones', 'add'],
    ['--event', '--name', '--capacity', '--json', 'Examples:'],
  ],
  [
    ['zones', 'update'],
    ['<zone>', '--event', '--capacity', 'Examples:'],
  ],
  [
    ['zones', 'rm'],
    ['<zone>', '--event', 'Examples:'],
  ],
  [
    ['gates', 'add'],
    ['--event', '--zones', 'Examples:'],
  ],
  [
    ['gates', 'update'],
    ['<gate>', '--zones', '--closed', '--open', 'Examples:'],
  ],
  [
    ['gates', 'rm'],
    ['<gate>', 'Examples:'],
  ],
  [
    ['types', 'add'],
    ['--max-scans', '--reentry', '--no-reentry', '--valid-from', '--valid-until', 'Examples:'],
  ],
  [
    ['types', 'update'],
    ['<type>', '--max-scans', 'Examples:'],
  ],
  [
    ['types', 'rm'],
    ['<type>', 'Examples:'],
  ],
  [
    ['tickets', 'search'],
    ['<query>', '--event', '--limit', '--cursor', '--json', 'Examples:'],
  ],
  [
    ['tickets', 'show'],
    ['<ticket-id>', '--json', 'Examples:'],
  ],
  [
    ['tickets', 'unblock'],
    ['<ticket-id>', '--reason', 'Examples:'],
  ],
  [
    ['tickets', 'reinstate'],
    ['<ticket-id>', '--reason', 'Examples:'],
  ],
  [
    ['devices', 'rename'],
    ['<device-id>', '<name>', 'Examples:'],
  ],
  [
    ['devices', 'set-gate'],
    ['<device-id>', '<gate-id>', 'none', 'Examples:'],
  ],
  [['audit'], ['--event', '--limit', '--cursor', '--json', 'Examples:']],
  [
    ['devices', 'export-log'],
    ['--event', '--device', '--out', '--json', 'Examples:'],
  ],
  [
    ['devices', 'clock'],
    ['--event', '--json', 'Examples:'],
  ],
  [
    ['devices', 'status'],
    ['--event', '--json', 'Examples:'],
  ],
  [
    ['offline', 'import'],
    ['<file>', '--json', 'Export unsent scans', 'Examples:'],
  ],
  [
    ['scan'],
    [
      '<code>',
      '--event',
      '--gate',
      '--direction',
      'entry',
      'exit',
      '--session',
      'ENTRADA_DEVICE_TOKEN',
      'NO_COLOR',
      'Exit status',
      'Examples:',
    ],
  ],
];

describe('--help', () => {
  it.each(HELP)('entrada %j --help names its options and shows examples', async (command, mentions) => {
    const r = await cli([...command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: entrada ${command.join(' ')}`.trimEnd());
    for (const m of mentions) expect(r.stdout).toContain(m);
  });

  it("unknown commands and missing options fail with commander's one-line error", async () => {
    const typo = await cli(['scna']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("error: unknown command 'scna'");
    expect(typo.stderr).toContain('(Did you mean scan?)');
    const missing = await cli(['tickets', 'import', 'x.csv']);
    expect(missing).toMatchObject({ code: 1, stderr: "error: required option '--event <id>' not specified\n" });
  });
});

describe('the real binary', () => {
  it(
    'node --import tsx src/bin.ts --help',
    () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/bin.ts', '--help'], {
        cwd: packageDir,
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: entrada [options] [command]');
      expect(r.stdout).toContain('tickets');
    },
    SLOW,
  );

  it(
    'bin/entrada.js (what `npx entrada` runs) registers tsx itself',
    () => {
      const r = spawnSync(process.execPath, ['bin/entrada.js', 'scan', '--help'], {
        cwd: packageDir,
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: entrada scan [options] <code>');
    },
    SLOW,
  );
});
