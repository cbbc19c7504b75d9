import path from 'node:path';
import { startServer, VERSION, type Config, type RunningServer } from '@entrada/server';
import { printDemoDetails } from '../demo-details.ts';
import type { Output } from '../output.ts';
import { describeDatabase, explainStartupError, serverConfig, type ServerFlags } from '../server-config.ts';

export interface ServeOptions extends ServerFlags {
  env: NodeJS.ProcessEnv;
}

/** Starts the server in this process and prints how to use it; the caller owns shutdown. */
export async function startServe(opts: ServeOptions, output: Output): Promise<RunningServer> {
  const config = serverConfig(opts.env, opts);
  let server: RunningServer;
  try {
    server = await startServer({ config });
  } catch (err) {
    throw explainStartupError(err, config);
  }
  await printBanner(server, config, output);
  return server;
}

/** `entrada serve`: runs until SIGINT/SIGTERM, then closes connections and the database cleanly. */
export async function runServe(opts: ServeOptions, output: Output): Promise<void> {
  const server = await startServe(opts, output);
  await new Promise<void>((resolve) => {
    let closing = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (closing) {
        // A second Ctrl-C means the operator does not want to wait for the drain.
        output.err('Forced exit.');
        process.exit(1);
      }
      closing = true;
      output.out(`${signal} received: shutting down…`);
      server
        .close()
        .then(
          () => {
            output.out('Stopped.');
          },
          (err: unknown) => {
            output.err(`error: shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exitCode = 1;
          },
        )
        .finally(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function printBanner(server: RunningServer, config: Config, output: Output): Promise<void> {
  const boot = server.bootstrap;
  output.out('');
  output.out(`Entrada ${VERSION} is running`);
  output.out(`  URL          ${server.url}`);
  output.out(`  API docs     ${server.url}/docs`);
  output.out(`  Database     ${describeDatabase(config)}`);
  printOwner(server, config, output);
  if (boot.adminToken) {
    output.out(`  Admin token  ${boot.adminToken}`);
    output.out(`               ${tokenSource(boot.adminTokenSource, config)}`);
    output.out(`  CLI          export ENTRADA_URL=${server.url} ENTRADA_ADMIN_TOKEN=${boot.adminToken}`);
  } else if (boot.adminTokenSource === 'env') {
    // The operator set it: it is theirs to know, and logs and terminals are not the place for it.
    output.out('  Admin token  set by ENTRADA_ADMIN_TOKEN (not shown); a previous one set there no longer works');
    output.out(`  CLI          export ENTRADA_URL=${server.url} ENTRADA_ADMIN_TOKEN=<the token you set>`);
  } else if (boot.adminTokenSource === 'env-revoked' || boot.adminTokenSource === 'revoked') {
    const which =
      boot.adminTokenSource === 'env-revoked'
        ? 'ENTRADA_ADMIN_TOKEN'
        : `The token kept in ${path.join(config.dataDir, 'bootstrap.json')}`;
    output.out(`  Admin token  ${which} has been revoked and stays revoked.`);
    output.out(
      '               Use another admin token (`entrada tokens list`), or set a new ENTRADA_ADMIN_TOKEN (e.g. `openssl rand -base64 32`).',
    );
  } else {
    output.out('  Admin token  unknown: it was shown on the first start only.');
    output.out(
      '               To set one, start with ENTRADA_ADMIN_TOKEN=<a long random secret> (e.g. `openssl rand -base64 32`);',
    );
    output.out(
      '               it replaces any previous ENTRADA_ADMIN_TOKEN. `entrada tokens list|create|revoke` manage the others.',
    );
  }
  if (boot.demo) {
    output.out('');
    await printDemoDetails({ url: server.url, eventName: 'Demo Festival', ...boot.demo }, output);
  } else if (boot.firstStart && !config.demo) {
    output.out('');
    output.out(
      'No demo event (ENTRADA_DEMO=off: its default with DATABASE_URL or NODE_ENV=production). Create one any time with: entrada demo',
    );
  }
  output.out('');
  output.out('Press Ctrl-C to stop.');
}

/** The console and the first owner's login, when this start made it or the data folder keeps it. */
function printOwner(server: RunningServer, config: Config, output: Output): void {
  const owner = server.bootstrap.owner;
  if (!owner) return;
  output.out(`  Console      ${server.url}/console/`);
  if (owner.password === null) {
    output.out(`  Login        ${owner.email} with ENTRADA_OWNER_PASSWORD (not shown)`);
    return;
  }
  output.out(`  Login        ${owner.email}  password ${owner.password}`);
  output.out(
    owner.source === 'generated'
      ? `               (generated now; kept in ${path.join(config.dataDir, 'bootstrap.json')} until you change it)`
      : `               (from ${path.join(config.dataDir, 'bootstrap.json')}; change it in the console)`,
  );
}

function tokenSource(source: RunningServer['bootstrap']['adminTokenSource'], config: Config): string {
  const saved = path.join(config.dataDir, 'bootstrap.json');
  switch (source) {
    case 'generated':
      return config.databaseUrl
        ? '(generated now and shown this once: store it now)'
        : `(generated now; kept in ${saved} so it is shown on every start)`;
    case 'data-dir':
      return `(from the data folder: ${saved})`;
    default:
      return '';
  }
}
