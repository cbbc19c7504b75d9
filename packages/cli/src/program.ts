import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WEBHOOK_EVENT_TYPES, type Direction } from '@entrada/core';
import { createDemo, DEFAULT_DEMO_TICKETS } from './commands/demo.ts';
import { listDevices, pairDevice, registerDevice } from './commands/devices.ts';
import { deviceBacklog, deviceClocks, exportServerLog, importDeviceLog, requireDeviceId } from './commands/recovery.ts';
import { listEvents, showEvent } from './commands/events.ts';
import { scanCode } from './commands/scan.ts';
import {
  addGate,
  addTicketType,
  addZone,
  removeSetup,
  restoreTicket,
  searchTickets,
  showAudit,
  showTicket,
  updateDevice,
  updateEvent,
  updateGate,
  updateTicketType,
  updateZone,
  type TypeOptions,
} from './commands/setup.ts';
import { addStaff, deactivateStaff, listStaff } from './commands/staff.ts';
import { createToken, listTokens, revokeToken } from './commands/tokens.ts';
import { createWebhook, deleteWebhook, listWebhooks, webhookDeliveries } from './commands/webhooks.ts';
import { addUser, deactivateUser, listUsers, PASSWORD_ENV, resetPassword, setUserRole } from './commands/users.ts';
import { runSimulate, SIMULATE_DEFAULTS } from './commands/simulate.ts';
import { exportTickets } from './commands/tickets-export.ts';
import { DEFAULT_IMPORT_BATCH, importTickets } from './commands/tickets-import.ts';
import { CliError } from './errors.ts';
import { DEFAULT_URL, type Connection } from './http-client.ts';
import type { Output } from './output.ts';

export interface CliContext {
  output: Output;
  env: NodeJS.ProcessEnv;
}

interface GlobalOptions {
  url?: string;
  token?: string;
}

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const JSON_HELP = "print the server's answer as JSON (for scripts)";

function onOff(value: string): boolean {
  if (/^(on|true|yes)$/i.test(value.trim())) return true;
  if (/^(off|false|no)$/i.test(value.trim())) return false;
  throw new InvalidArgumentError('Expected on or off.');
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('Expected a whole number.');
  return Number(value);
}

/**
 * Only wiring: every command's work lives in src/commands, callable with an
 * options object and an Output. Server-side commands are imported lazily so
 * `entrada scan` does not load Fastify and PGlite.
 */
export function buildProgram(ctx: CliContext, setExitCode: (code: number) => void): Command {
  const { output, env } = ctx;
  const program = new Command('entrada')
    .description('Entrada: offline-first ticket scanning. Run a server, load tickets, register devices, scan.')
    .version('0.1.0', '-V, --version')
    .addOption(new Option('--url <url>', `server URL (env ENTRADA_URL, default ${DEFAULT_URL})`))
    .addOption(
      new Option(
        '--token <token>',
        'admin token (env ENTRADA_ADMIN_TOKEN); for `scan`, a device token (env ENTRADA_DEVICE_TOKEN)',
      ),
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void output.stdout.write(s),
      writeErr: (s) => void output.stderr.write(s),
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      examples(
        'entrada serve',
        'export ENTRADA_ADMIN_TOKEN=eat_…   # printed by `entrada serve`',
        'entrada demo --tickets 5000',
        'entrada devices pair --event 7c1e… --gate 51f0…',
        'entrada tickets import tickets.csv --event 7c1e…',
        'entrada scan ABC123 --event 7c1e… --gate 51f0… --token edt_…',
      ),
    );

  const connection = (cmd: Command, kind: 'admin' | 'device'): Connection => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return {
      url: g.url ?? env.ENTRADA_URL ?? DEFAULT_URL,
      token: g.token ?? (kind === 'admin' ? env.ENTRADA_ADMIN_TOKEN : env.ENTRADA_DEVICE_TOKEN),
    };
  };

  program
    .command('serve')
    .description('Start the Entrada server in this process (embedded PGlite unless DATABASE_URL is set)')
    .option('--port <port>', 'port to listen on (env PORT, default 3000)')
    .option('--host <host>', 'address to listen on (env HOST, default 0.0.0.0)')
    .option('--data-dir <dir>', 'folder of the embedded database (env DATA_DIR, default ./data)')
    .addHelpText(
      'after',
      '\nOther settings come from the environment: DATABASE_URL, REDIS_URL, ENTRADA_ADMIN_TOKEN, ENTRADA_SECRET,\n' +
        'ENTRADA_DEMO=on|off (a demo event on first start: on by default with the embedded database, off with DATABASE_URL\n' +
        'or NODE_ENV=production), ENTRADA_TRUST_PROXY (behind a reverse proxy), LOG_LEVEL, ENTRADA_PUBLIC_URL.\n' +
        examples(
          'entrada serve',
          'entrada serve --port 8080 --data-dir /var/lib/entrada',
          'DATABASE_URL=postgres://… ENTRADA_SECRET=… entrada serve',
        ),
    )
    .action(async (opts: { port?: string; host?: string; dataDir?: string }) => {
      const { runServe } = await import('./commands/serve.ts');
      await runServe({ env, ...opts }, output);
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit (`serve` also migrates on start)')
    .option('--data-dir <dir>', 'folder of the embedded database (env DATA_DIR, default ./data)')
    .addHelpText('after', examples('entrada migrate', 'DATABASE_URL=postgres://user@db/entrada entrada migrate'))
    .action(async (opts: { dataDir?: string }) => {
      const { runMigrate } = await import('./commands/migrate.ts');
      await runMigrate({ env, ...opts }, output);
    });

  program
    .command('demo')
    .description('Create a demo event with tickets and a scanner device on a running server')
    .option('--tickets <n>', `how many tickets to issue (default ${DEFAULT_DEMO_TICKETS})`, wholeNumber)
    .option('--name <name>', 'event name (default "Demo Festival")')
    .addHelpText('after', examples('entrada demo', 'entrada demo --tickets 100000 --name "Load test"'))
    .action(async (opts: { tickets?: number; name?: string }, cmd: Command) => {
      await createDemo({ connection: connection(cmd, 'admin'), ...opts }, output);
    });

  program
    .command('simulate')
    .description(
      'Load-test a running server: N devices scan offline through the client engine, then all reconnect and sync (exit 0 when converged with no lost scans)',
    )
    .option('--devices <n>', `simulated scanner devices (default ${SIMULATE_DEFAULTS.devices})`, wholeNumber)
    .option('--tickets <n>', `tickets to issue and scan (default ${SIMULATE_DEFAULTS.tickets})`, wholeNumber)
    .option(
      '--offline-minutes <n>',
      `scan times spread over the last N minutes (default ${SIMULATE_DEFAULTS.offlineMinutes})`,
      wholeNumber,
    )
    .option(
      '--overlap <share>',
      `share of tickets scanned by two devices, 0 to 1 (default ${SIMULATE_DEFAULTS.overlap})`,
    )
    .option('--seed <n>', 'seed of the plan (devices, keys, scans, times); printed to replay a run', wholeNumber)
    .option(
      '--timeout <s>',
      `give up syncing after this many seconds (default ${SIMULATE_DEFAULTS.timeoutS})`,
      wholeNumber,
    )
    .option(
      '--reconnect-over <s>',
      'devices get the network back over this many seconds (seeded) instead of all at once (default 0)',
      wholeNumber,
    )
    .addHelpText(
      'after',
      examples(
        'entrada simulate --devices 10 --tickets 20000',
        'entrada simulate --devices 50 --tickets 100000 --offline-minutes 30 --seed 42 --overlap 0.02',
      ),
    )
    .action(
      async (
        opts: {
          devices?: number;
          tickets?: number;
          offlineMinutes?: number;
          overlap?: string;
          seed?: number;
          timeout?: number;
          reconnectOver?: number;
        },
        cmd: Command,
      ) => {
        const { timeout, reconnectOver, ...rest } = opts;
        setExitCode(
          (
            await runSimulate(
              { connection: connection(cmd, 'admin'), ...rest, timeoutS: timeout, reconnectOverS: reconnectOver },
              output,
            )
          ).exitCode,
        );
      },
    );

  const tickets = program
    .command('tickets')
    .description("Import, export and search an event's tickets; unblock and reinstate them");
  tickets
    .command('import')
    .description('Import tickets from a CSV file (checked whole before anything is sent)')
    .argument('<file>', 'CSV with a header row: ticket_type (name or id, required), code, number, holder_name')
    .requiredOption('--event <id>', 'event to add the tickets to (required)')
    .option('--batch <n>', `rows per chunk, 1 to 5,000 (default ${DEFAULT_IMPORT_BATCH})`, wholeNumber)
    .option('--dry-run', 'check the file against the event and stop')
    .option('--out <file>', 'write the created tickets (id, number, code) to this CSV')
    .addHelpText(
      'after',
      '\nAn empty code means Entrada issues a signed code; a given code is imported as is.\n' +
        'The whole file is one import, all or nothing: sent in chunks, then committed at once.\n' +
        examples(
          'entrada tickets import tickets.csv --event 7c1e… --dry-run',
          'entrada tickets import tickets.csv --event 7c1e… --out created.csv',
        ),
    )
    .action(
      async (file: string, opts: { event: string; batch?: number; dryRun?: boolean; out?: string }, cmd: Command) => {
        await importTickets(
          {
            connection: connection(cmd, 'admin'),
            file,
            eventId: opts.event,
            batchSize: opts.batch,
            dryRun: opts.dryRun,
            outFile: opts.out,
          },
          output,
        );
      },
    );
  tickets
    .command('export')
    .description(
      "Export an event's tickets with their codes as CSV (id, number, tier, holder_name, status, code, scans_used, inside)",
    )
    .requiredOption('--event <id>', 'event to export (required)')
    .option('--out <file>', 'write to this file instead of stdout')
    .addHelpText(
      'after',
      examples('entrada tickets export --event 7c1e… --out tickets.csv', 'entrada tickets export --event 7c1e… | head'),
    )
    .action(async (opts: { event: string; out?: string }, cmd: Command) => {
      await exportTickets({ connection: connection(cmd, 'admin'), eventId: opts.event, outFile: opts.out }, output);
    });

  tickets
    .command('search')
    .description(
      "Find tickets by the start of their number, part of the holder's name (3 letters or more) or a whole scanned code",
    )
    .argument('<query>', 'what to look for')
    .requiredOption('--event <id>', 'the event (required)')
    .option('--limit <n>', 'tickets per page, 1 to 500 (default 50)', wholeNumber)
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples('entrada tickets search hopper --event 7c1e…', 'entrada tickets search 1042 --event 7c1e… --json'),
    )
    .action(
      async (query: string, opts: { event: string; limit?: number; cursor?: string; json?: boolean }, cmd: Command) => {
        await searchTickets({ connection: connection(cmd, 'admin'), eventId: opts.event, query, ...opts }, output);
      },
    );
  tickets
    .command('show')
    .description(
      "A ticket with its status changes and whole scan history: time (in the event's zone), gate, device, staff member, verdict, online or offline",
    )
    .argument('<ticket-id>', 'the ticket, from `entrada tickets search`')
    .option('--json', JSON_HELP)
    .addHelpText('after', examples('entrada tickets show 0190…'))
    .action(async (ticketId: string, opts: { json?: boolean }, cmd: Command) => {
      await showTicket({ connection: connection(cmd, 'admin'), ticketId, json: opts.json }, output);
    });
  for (const [action, what] of [
    ['unblock', 'a blocked ticket'],
    ['reinstate', 'a cancelled ticket (undo the cancellation)'],
  ] as const) {
    tickets
      .command(action)
      .description(`Make ${what} valid again from now, with a reason (kept in the audit log)`)
      .argument('<ticket-id>', 'the ticket, from `entrada tickets search`')
      .requiredOption('--reason <text>', 'why, in words an organiser reads later (required)')
      .option('--json', JSON_HELP)
      .addHelpText('after', examples(`entrada tickets ${action} 0190… --reason "ID checked at the box office"`))
      .action(async (ticketId: string, opts: { reason: string; json?: boolean }, cmd: Command) => {
        await restoreTicket(
          { connection: connection(cmd, 'admin'), ticketId, action, reason: opts.reason, json: opts.json },
          output,
        );
      });
  }

  const devices = program.command('devices').description('Register, pair and list scanner devices');
  devices
    .command('rename')
    .description('Give a device a new name')
    .argument('<device-id>', 'the device id, from `entrada devices list`')
    .argument('<name>', 'the new name, e.g. "North gate 2"')
    .option('--json', JSON_HELP)
    .addHelpText('after', examples('entrada devices rename scanner-7 "North gate 2"'))
    .action(async (deviceId: string, name: string, opts: { json?: boolean }, cmd: Command) => {
      await updateDevice({ connection: connection(cmd, 'admin'), deviceId, name, json: opts.json }, output);
    });
  devices
    .command('set-gate')
    .description('Set the gate a device starts at (a gate of one of its events), or "none"')
    .argument('<device-id>', 'the device id, from `entrada devices list`')
    .argument('<gate-id>', 'the gate id, from `entrada events show EVENT_ID`, or none')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples('entrada devices set-gate scanner-7 51f0…', 'entrada devices set-gate scanner-7 none'),
    )
    .action(async (deviceId: string, gate: string, opts: { json?: boolean }, cmd: Command) => {
      await updateDevice(
        { connection: connection(cmd, 'admin'), deviceId, gate: /^none$/i.test(gate) ? null : gate, json: opts.json },
        output,
      );
    });
  devices
    .command('register')
    .description('Register a device and print its token (shown once)')
    .requiredOption('--name <name>', 'a name stewards recognise, e.g. "North gate 1" (required)')
    .option('--device-id <id>', 'your own stable id (3-64 of A-Z a-z 0-9 . _ : -); default: generated')
    .addOption(new Option('--type <type>', 'kind of device').choices(['scanner', 'mobile']).default('scanner'))
    .option('--public-key <key>', "the device's Ed25519 public key (base64url or hex), for signed offline scans")
    .addHelpText(
      'after',
      examples(
        'entrada devices register --name "North gate 1"',
        'entrada devices register --name "Phone Ann" --type mobile --device-id phone-ann',
      ),
    )
    .action(
      async (
        opts: { name: string; deviceId?: string; type?: 'scanner' | 'mobile'; publicKey?: string },
        cmd: Command,
      ) => {
        await registerDevice({ connection: connection(cmd, 'admin'), ...opts }, output);
      },
    );
  devices
    .command('list')
    .description("List the organisation's devices")
    .addHelpText('after', examples('entrada devices list'))
    .action(async (_opts: unknown, cmd: Command) => {
      await listDevices({ connection: connection(cmd, 'admin') }, output);
    });
  devices
    .command('pair')
    .description('Make a single-use pairing code for a new scanner: prints the code, its pair URL and a QR to scan')
    .requiredOption('--event <id>', 'event the scanner will work at (required)')
    .option('--gate <id>', 'gate the scanner starts at')
    .option('--ttl <duration>', 'how long the code stays valid, 1m to 24h (e.g. 90s, 15m, 2h; default 15m)')
    .option('--name <name>', 'name the paired device gets, e.g. "North gate 1" (default: the scanner\'s own)')
    .addHelpText(
      'after',
      '\nThe scanner opens the pair URL (or scans the QR, or has the code typed in) and receives its own device\n' +
        'token and the event. The code works once. The URL uses ENTRADA_PUBLIC_URL when the server sets it.\n' +
        examples(
          'entrada devices pair --event 7c1e…',
          'entrada devices pair --event 7c1e… --gate 51f0… --ttl 2h --name "North gate 1"',
        ),
    )
    .action(async (opts: { event: string; gate?: string; ttl?: string; name?: string }, cmd: Command) => {
      await pairDevice(
        {
          connection: connection(cmd, 'admin'),
          eventId: opts.event,
          gateId: opts.gate,
          ttl: opts.ttl,
          name: opts.name,
        },
        output,
      );
    });

  // Seed 004's recovery procedures (docs/operations.md).
  devices
    .command('export-log')
    .description(
      "Every scan of one device at an event as the server holds it (seq, time, verdict now), to compare with the device's own export",
    )
    .requiredOption('--event <id>', 'the event (required)')
    .requiredOption('--device <id>', 'the device id, from `entrada devices list` (required)')
    .option('--out <file>', 'write the log as JSON to this file (else a table, or JSON with --json)')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples(
        'entrada devices export-log --event 7c1e… --device scanner-7',
        'entrada devices export-log --event 7c1e… --device scanner-7 --out scanner-7.server.json',
      ),
    )
    .action(async (opts: { event: string; device: string; out?: string; json?: boolean }, cmd: Command) => {
      await exportServerLog(
        {
          connection: connection(cmd, 'admin'),
          eventId: opts.event,
          deviceId: requireDeviceId(opts.device),
          out: opts.out,
          json: opts.json,
        },
        output,
      );
    });
  devices
    .command('status')
    .description(
      "Each device's backlog at an event (scans waiting to upload, seqs missing on the server), biggest first, with the offline alerts",
    )
    .requiredOption('--event <id>', 'the event (required)')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples(
        'entrada devices status --event 7c1e…',
        "entrada devices status --event 7c1e… --json | jq '.devices[0]'",
      ),
    )
    .action(async (opts: { event: string; json?: boolean }, cmd: Command) => {
      await deviceBacklog({ connection: connection(cmd, 'admin'), eventId: opts.event, json: opts.json }, output);
    });
  devices
    .command('clock')
    .description("Each device's clock offset as the server measured it at its last upload, flagging skew over a minute")
    .requiredOption('--event <id>', 'the event (required)')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples(
        'entrada devices clock --event 7c1e…',
        "entrada devices clock --event 7c1e… --json | jq '.devices[] | select(.skewed)'",
      ),
    )
    .action(async (opts: { event: string; json?: boolean }, cmd: Command) => {
      await deviceClocks({ connection: connection(cmd, 'admin'), eventId: opts.event, json: opts.json }, output);
    });

  const offline = program.command('offline').description("Offline scans: import a scanner's exported scan log");
  offline
    .command('import')
    .description(
      'Upload a scan log exported from a scanner (Sync → Export unsent scans); idempotent — importing twice stores nothing new',
    )
    .argument('<file>', 'the exported file, e.g. entrada-scans-North_gate_1-20260807T201500.json')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      "\nNeeds a supervisor's admin token. The file is verified (hash chain and device signature) and reconciled like a sync.\n" +
        examples(
          'entrada offline import entrada-scans-North_gate_1-20260807T201500.json',
          'entrada offline import scans.json --json | jq .summary',
        ),
    )
    .action(async (file: string, opts: { json?: boolean }, cmd: Command) => {
      await importDeviceLog({ connection: connection(cmd, 'admin'), file, json: opts.json }, output);
    });

  const staff = program.command('staff').description('Staff accounts that log in on paired scanners (per event)');
  staff
    .command('add')
    .description('Add a staff account to an event')
    .requiredOption('--event <id>', 'the event (required)')
    .requiredOption('--username <username>', 'what they type to log in; unique per event, case-insensitive (required)')
    .requiredOption('--name <name>', 'their name as organisers see it (required)')
    .requiredOption('--pin <pin>', '4 to 12 digits (required)')
    .addHelpText('after', examples('entrada staff add --event 7c1e… --username ann --name "Ann de Vries" --pin 4711'))
    .action(async (opts: { event: string; username: string; name: string; pin: string }, cmd: Command) => {
      await addStaff(
        {
          connection: connection(cmd, 'admin'),
          eventId: opts.event,
          username: opts.username,
          name: opts.name,
          pin: opts.pin,
        },
        output,
      );
    });
  staff
    .command('list')
    .description("List an event's staff accounts")
    .requiredOption('--event <id>', 'the event (required)')
    .addHelpText('after', examples('entrada staff list --event 7c1e…'))
    .action(async (opts: { event: string }, cmd: Command) => {
      await listStaff({ connection: connection(cmd, 'admin'), eventId: opts.event }, output);
    });
  staff
    .command('deactivate')
    .description('Deactivate a staff account: its logins fail from now on')
    .requiredOption('--event <id>', 'the event (required)')
    .requiredOption('--staff <id>', 'the staff id, from `entrada staff list` (required)')
    .addHelpText('after', examples('entrada staff deactivate --event 7c1e… --staff 3a9d…'))
    .action(async (opts: { event: string; staff: string }, cmd: Command) => {
      await deactivateStaff({ connection: connection(cmd, 'admin'), eventId: opts.event, staffId: opts.staff }, output);
    });

  const tokens = program.command('tokens').description('Admin tokens of your organisation: list, make and revoke them');
  tokens
    .command('list')
    .description("List the organisation's admin tokens that work (never the tokens themselves)")
    .addHelpText('after', examples('entrada tokens list'))
    .action(async (_opts: unknown, cmd: Command) => {
      await listTokens({ connection: connection(cmd, 'admin') }, output);
    });
  tokens
    .command('create')
    .description('Make an admin token and print it (shown once)')
    .requiredOption('--name <name>', 'who or what uses it, e.g. "Box office laptop" (required)')
    .option('--role <role>', 'what it may do: viewer, supervisor, manager or owner (default owner)')
    .addHelpText(
      'after',
      examples(
        'entrada tokens create --name "Box office laptop"',
        'entrada tokens create --name "Dashboard" --role viewer',
      ),
    )
    .action(async (opts: { name: string; role?: string }, cmd: Command) => {
      await createToken(
        { connection: connection(cmd, 'admin'), name: opts.name, ...(opts.role ? { role: opts.role } : {}) },
        output,
      );
    });
  tokens
    .command('revoke')
    .description(
      'Revoke an admin token: refused from now on, on every server instance (the last one cannot be revoked)',
    )
    .argument('<token-id>', 'the token id, from `entrada tokens list`')
    .addHelpText(
      'after',
      '\nA token set with ENTRADA_ADMIN_TOKEN is replaced by starting the server with a new one.\n' +
        examples('entrada tokens revoke 3a9d…'),
    )
    .action(async (tokenId: string, _opts: unknown, cmd: Command) => {
      await revokeToken({ connection: connection(cmd, 'admin'), tokenId }, output);
    });

  const webhooks = program
    .command('webhooks')
    .description(
      "Webhooks: alerts, conflicts and device changes POSTed to your URL, signed (a manager's or owner's token)",
    );
  webhooks
    .command('create')
    .description('Subscribe a URL and print its signing secret (shown once)')
    .requiredOption('--endpoint <url>', 'the receiver, http:// or https:// (required; --url is the Entrada server)')
    .requiredOption(
      '--events <types>',
      `"all" or a comma-separated list of ${WEBHOOK_EVENT_TYPES.join(', ')} (required)`,
    )
    .option('--event <event-id>', "only this event's notifications (default: every event, and organisation-wide ones)")
    .addHelpText(
      'after',
      examples(
        'entrada webhooks create --endpoint https://hooks.example.com/entrada --events all',
        'entrada webhooks create --endpoint https://ops.example.com/hook --events alert.raised,alert.cleared --event 7c1e…',
      ),
    )
    .action(async (opts: { endpoint: string; events: string; event?: string }, cmd: Command) => {
      await createWebhook(
        {
          connection: connection(cmd, 'admin'),
          url: opts.endpoint,
          events: opts.events,
          ...(opts.event ? { eventId: opts.event } : {}),
        },
        output,
      );
    });
  webhooks
    .command('list')
    .description("List the organisation's webhooks (never their secrets)")
    .addHelpText('after', examples('entrada webhooks list'))
    .action(async (_opts: unknown, cmd: Command) => {
      await listWebhooks({ connection: connection(cmd, 'admin') }, output);
    });
  webhooks
    .command('delete')
    .description('Delete a webhook and its queued deliveries')
    .argument('<webhook-id>', 'the webhook id, from `entrada webhooks list`')
    .addHelpText('after', examples('entrada webhooks delete 3a9d…'))
    .action(async (webhookId: string, _opts: unknown, cmd: Command) => {
      await deleteWebhook({ connection: connection(cmd, 'admin'), webhookId }, output);
    });
  webhooks
    .command('deliveries')
    .description("A webhook's delivery log, newest first: state, attempts, last status and error")
    .argument('<webhook-id>', 'the webhook id, from `entrada webhooks list`')
    .option('--limit <n>', 'deliveries per page, 1 to 200 (default 50)', wholeNumber)
    .option('--cursor <cursor>', 'the next page, as printed after a full page')
    .addHelpText(
      'after',
      examples('entrada webhooks deliveries 3a9d…', 'entrada webhooks deliveries 3a9d… --limit 200'),
    )
    .action(async (webhookId: string, opts: { limit?: number; cursor?: string }, cmd: Command) => {
      await webhookDeliveries(
        {
          connection: connection(cmd, 'admin'),
          webhookId,
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          ...(opts.cursor ? { cursor: opts.cursor } : {}),
        },
        output,
      );
    });

  const users = program
    .command('users')
    .description("Console users of your organisation and their roles (an owner's token)");
  const passwordHelp = `\nThe password comes from ${PASSWORD_ENV} when set (never from the command line), else one is generated and printed once.\n`;
  users
    .command('list')
    .description("List the organisation's users")
    .addHelpText('after', examples('entrada users list'))
    .action(async (_opts: unknown, cmd: Command) => {
      await listUsers({ connection: connection(cmd, 'admin') }, output);
    });
  users
    .command('add')
    .description('Add a user who logs in to the console')
    .requiredOption('--email <email>', 'their login (required)')
    .requiredOption('--name <name>', 'their name (required)')
    .requiredOption('--role <role>', 'viewer, supervisor, manager or owner (required)')
    .addHelpText(
      'after',
      passwordHelp + examples('entrada users add --email ann@example.com --name "Ann" --role manager'),
    )
    .action(async (opts: { email: string; name: string; role: string }, cmd: Command) => {
      await addUser({ connection: connection(cmd, 'admin'), ...opts, env }, output);
    });
  users
    .command('set-role')
    .description("Change a user's role (the last active owner keeps theirs)")
    .argument('<user>', 'their email or user id')
    .argument('<role>', 'viewer, supervisor, manager or owner')
    .addHelpText('after', examples('entrada users set-role ann@example.com supervisor'))
    .action(async (user: string, role: string, _opts: unknown, cmd: Command) => {
      await setUserRole({ connection: connection(cmd, 'admin'), user, role }, output);
    });
  users
    .command('deactivate')
    .description('Deactivate a user: their sessions end at once and they can no longer log in')
    .argument('<user>', 'their email or user id')
    .addHelpText('after', examples('entrada users deactivate ann@example.com'))
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await deactivateUser({ connection: connection(cmd, 'admin'), user }, output);
    });
  users
    .command('reset-password')
    .description('Set a new password for a user who forgot theirs; their sessions end')
    .argument('<user>', 'their email or user id')
    .addHelpText('after', passwordHelp + examples('entrada users reset-password ann@example.com'))
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await resetPassword({ connection: connection(cmd, 'admin'), user, env }, output);
    });

  const events = program.command('events').description('List, show and change events');
  events
    .command('list')
    .description("List the organisation's events")
    .addHelpText('after', examples('entrada events list'))
    .action(async (_opts: unknown, cmd: Command) => {
      await listEvents({ connection: connection(cmd, 'admin') }, output);
    });
  events
    .command('show')
    .description("Show an event's gates and ticket types with their ids")
    .argument('<event-id>', 'the event')
    .addHelpText('after', examples('entrada events show 7c1e…'))
    .action(async (eventId: string, _opts: unknown, cmd: Command) => {
      await showEvent({ connection: connection(cmd, 'admin'), eventId }, output);
    });

  events
    .command('update')
    .description('Change an event: name, times (read in its time zone), time zone, duplicate window')
    .argument('<event-id>', 'the event')
    .option('--name <name>', 'new name')
    .option('--starts <time>', "start, e.g. 2026-08-01T19:00 (in the event's time zone) or with a zone")
    .option('--ends <time>', 'end, likewise')
    .option('--timezone <zone>', 'IANA time zone, e.g. Europe/Amsterdam')
    .option(
      '--duplicate-window <s>',
      'seconds in which a second read by the same device counts as a double read',
      wholeNumber,
    )
    .option(
      '--manifest-ticket-codes <on|off>',
      "ship every ticket's code in the offline manifest (seed 000 scanner clients); off by default — " +
        'a lost device then hands out admissible codes',
      onOff,
    )
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples(
        'entrada events update 7c1e… --name "Summer Fest 2026"',
        'entrada events update 7c1e… --starts 2026-08-01T18:00 --ends 2026-08-02T01:00',
      ),
    )
    .action(
      async (
        eventId: string,
        opts: {
          name?: string;
          starts?: string;
          ends?: string;
          timezone?: string;
          duplicateWindow?: number;
          manifestTicketCodes?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        await updateEvent(
          {
            connection: connection(cmd, 'admin'),
            eventId,
            name: opts.name,
            startsAt: opts.starts,
            endsAt: opts.ends,
            timezone: opts.timezone,
            duplicateWindowS: opts.duplicateWindow,
            manifestTicketCodes: opts.manifestTicketCodes,
            json: opts.json,
          },
          output,
        );
      },
    );

  const zones = program.command('zones').description('Zones of an event (areas with a capacity)');
  zones
    .command('add')
    .description('Add a zone')
    .requiredOption('--event <id>', 'the event (required)')
    .requiredOption('--name <name>', 'e.g. "Main floor" (required)')
    .option('--capacity <n>', 'how many people fit, or none')
    .option('--json', JSON_HELP)
    .addHelpText('after', examples('entrada zones add --event 7c1e… --name Balcony --capacity 300'))
    .action(async (opts: { event: string; name: string; capacity?: string; json?: boolean }, cmd: Command) => {
      await addZone({ connection: connection(cmd, 'admin'), eventId: opts.event, ...opts }, output);
    });
  zones
    .command('update')
    .description('Rename a zone or change its capacity')
    .argument('<zone>', 'the zone, by name or id')
    .requiredOption('--event <id>', 'the event (required)')
    .option('--name <name>', 'new name')
    .option('--capacity <n>', 'how many people fit, or none')
    .option('--json', JSON_HELP)
    .addHelpText('after', examples('entrada zones update Balcony --event 7c1e… --capacity 250'))
    .action(
      async (zone: string, opts: { event: string; name?: string; capacity?: string; json?: boolean }, cmd: Command) => {
        await updateZone({ connection: connection(cmd, 'admin'), eventId: opts.event, zone, ...opts }, output);
      },
    );

  const gates = program.command('gates').description('Gates of an event and the zones they admit to');
  gates
    .command('add')
    .description('Add a gate')
    .requiredOption('--event <id>', 'the event (required)')
    .requiredOption('--name <name>', 'e.g. "North" (required)')
    .option('--zones <list>', 'zones it admits to, by name or id, comma-separated (default: none)')
    .option('--json', JSON_HELP)
    .addHelpText('after', examples('entrada gates add --event 7c1e… --name North --zones "Main floor,Balcony"'))
    .action(async (opts: { event: string; name: string; zones?: string; json?: boolean }, cmd: Command) => {
      await addGate({ connection: connection(cmd, 'admin'), eventId: opts.event, ...opts }, output);
    });
  gates
    .command('update')
    .description('Rename a gate, change its zones, or close or open it')
    .argument('<gate>', 'the gate, by name or id')
    .requiredOption('--event <id>', 'the event (required)')
    .option('--name <name>', 'new name')
    .option('--zones <list>', 'zones it admits to, by name or id, comma-separated (replaces the list)')
    .option('--closed', 'close the gate')
    .option('--open', 'open it again')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples(
        'entrada gates update North --event 7c1e… --zones "Main floor"',
        'entrada gates update North --event 7c1e… --closed',
      ),
    )
    .action(
      async (
        gate: string,
        opts: { event: string; name?: string; zones?: string; closed?: boolean; open?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        if (opts.closed && opts.open) throw new CliError('give --closed or --open, not both');
        const closed = opts.closed ? true : opts.open ? false : undefined;
        await updateGate(
          {
            connection: connection(cmd, 'admin'),
            eventId: opts.event,
            gate,
            name: opts.name,
            zones: opts.zones,
            closed,
            json: opts.json,
          },
          output,
        );
      },
    );

  const types = program.command('types').description('Ticket types of an event and their rules');
  const typeOptions = (c: Command): Command =>
    c
      .option('--zones <list>', 'zones it grants, by name or id, comma-separated')
      .option('--max-scans <n>', 'entries a ticket gives, 1 to 10,000', wholeNumber)
      .option('--reentry', 'may come back in after going out')
      .option('--no-reentry', 'one way in')
      .option('--valid-from <time>', 'first moment it admits (event time zone), or none')
      .option('--valid-until <time>', 'moment it stops admitting (event time zone), or none')
      .option('--json', JSON_HELP);
  typeOptions(
    types
      .command('add')
      .description('Add a ticket type')
      .requiredOption('--event <id>', 'the event (required)')
      .requiredOption('--name <name>', 'e.g. "Weekend" (required)'),
  )
    .addHelpText(
      'after',
      examples('entrada types add --event 7c1e… --name Weekend --zones "Main floor" --max-scans 2 --reentry'),
    )
    .action(async (opts: TypeOptions & { event: string; name: string; json?: boolean }, cmd: Command) => {
      await addTicketType({ connection: connection(cmd, 'admin'), eventId: opts.event, ...opts }, output);
    });
  typeOptions(
    types
      .command('update')
      .description("Change a ticket type's name or rules; scanners get them with their next download")
      .argument('<type>', 'the ticket type, by name or id')
      .requiredOption('--event <id>', 'the event (required)')
      .option('--name <name>', 'new name'),
  )
    .addHelpText(
      'after',
      examples(
        'entrada types update Weekend --event 7c1e… --max-scans 1',
        'entrada types update Weekend --event 7c1e… --valid-until 2026-08-02T23:00',
      ),
    )
    .action(async (type: string, opts: TypeOptions & { event: string; json?: boolean }, cmd: Command) => {
      await updateTicketType({ connection: connection(cmd, 'admin'), eventId: opts.event, type, ...opts }, output);
    });

  for (const [group, kind] of [
    [zones, 'zone'],
    [gates, 'gate'],
    [types, 'ticket type'],
  ] as const) {
    group
      .command('rm')
      .description(`Delete a ${kind} nothing depends on (the server says what does)`)
      .argument(`<${kind === 'ticket type' ? 'type' : kind}>`, `the ${kind}, by name or id`)
      .requiredOption('--event <id>', 'the event (required)')
      .option('--json', JSON_HELP)
      .addHelpText(
        'after',
        examples(
          `entrada ${group.name()} rm ${kind === 'zone' ? 'Balcony' : kind === 'gate' ? 'North' : 'Weekend'} --event 7c1e…`,
        ),
      )
      .action(async (target: string, opts: { event: string; json?: boolean }, cmd: Command) => {
        await removeSetup(
          { connection: connection(cmd, 'admin'), eventId: opts.event, kind, target, json: opts.json },
          output,
        );
      });
  }

  program
    .command('audit')
    .description("Who changed what in an event, oldest first (times in the event's time zone)")
    .requiredOption('--event <id>', 'the event (required)')
    .option('--limit <n>', 'entries per page, 1 to 500 (default 100)', wholeNumber)
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      examples('entrada audit --event 7c1e…', "entrada audit --event 7c1e… --json | jq '.entries[].action'"),
    )
    .action(async (opts: { event: string; limit?: number; cursor?: string; json?: boolean }, cmd: Command) => {
      await showAudit({ connection: connection(cmd, 'admin'), eventId: opts.event, ...opts }, output);
    });

  program
    .command('scan')
    .description('Scan a code as a device and show the verdict like a gate does (exit 0 valid, 2 otherwise)')
    .argument('<code>', 'the ticket code, as a scanner reads it')
    .option('--event <id>', 'event being scanned for (with --gate)')
    .option('--gate <id>', 'gate the scan happens at (with --event)')
    .addOption(
      new Option('--direction <direction>', "entry or exit (default entry, or the session's)").choices([
        'entry',
        'exit',
      ]),
    )
    .option('--session <id>', 'a scan session instead of --event/--gate')
    .addHelpText(
      'after',
      '\nAuthenticates with a device token: --token or ENTRADA_DEVICE_TOKEN. NO_COLOR=1 turns colours off.\n' +
        'Exit status: 0 valid, 2 any other verdict (duplicate, invalid, …), 1 the scan could not be made.\n' +
        examples(
          'ENTRADA_DEVICE_TOKEN=edt_… entrada scan ABC123 --event 7c1e… --gate 51f0…',
          'entrada scan ABC123 --session 0f3a… --direction exit --token edt_…',
        ),
    )
    .action(
      async (
        code: string,
        opts: { event?: string; gate?: string; direction?: Direction; session?: string },
        cmd: Command,
      ) => {
        const { exitCode } = await scanCode(
          {
            connection: connection(cmd, 'device'),
            code,
            eventId: opts.event,
            gateId: opts.gate,
            sessionId: opts.session,
            direction: opts.direction,
          },
          output,
        );
        setExitCode(exitCode);
      },
    );

  return program;
}

/** Runs one command line; resolves to the process exit status instead of exiting, so tests can call it. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(ctx, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    // Commander has already printed its own message (or the help).
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      ctx.output.err(`error: ${err.message}`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.output.err(`error: unexpected failure: ${message}`);
    if (ctx.env.ENTRADA_DEBUG) ctx.output.err(err instanceof Error && err.stack ? err.stack : message);
    else ctx.output.err('This is a bug in entrada; run again with ENTRADA_DEBUG=1 for the stack trace and report it.');
    return 1;
  }
}
