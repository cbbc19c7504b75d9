import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '@entrada/server';
import { CliError } from './errors.ts';

/** Flags that override the environment variables the server reads, for one run. */
export interface ServerFlags {
  port?: string;
  host?: string;
  dataDir?: string;
}

export function serverConfig(env: NodeJS.ProcessEnv, flags: ServerFlags = {}): Config {
  const merged: NodeJS.ProcessEnv = {
    ...env,
    ...(flags.port !== undefined ? { PORT: flags.port } : {}),
    ...(flags.host !== undefined ? { HOST: flags.host } : {}),
    ...(flags.dataDir !== undefined ? { DATA_DIR: flags.dataDir } : {}),
  };
  try {
    return loadConfig(merged);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`configuration: ${err.message}`);
    throw err;
  }
}

export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded PGlite in ${path.join(config.dataDir, 'pglite')}`;
  try {
    // Never echo the password.
    const url = new URL(config.databaseUrl);
    return `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname} (DATABASE_URL)`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

/** Startup failures the operator can fix, as one line instead of a stack trace. */
export function explainStartupError(err: unknown, config: Config): unknown {
  if (err instanceof CliError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new CliError(
      `port ${config.port} is already in use on ${config.host}: stop the other process, or set PORT (or --port)`,
    );
  if (code === 'EACCES' && /listen/.test(err.message))
    return new CliError(
      `not allowed to listen on ${config.host}:${config.port}; use a port above 1024 (PORT or --port)`,
    );
  if (config.databaseUrl && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000')) {
    return new CliError(`cannot use the database at ${describeDatabase(config)}: ${err.message}`);
  }
  return err;
}
