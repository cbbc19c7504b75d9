export { loadConfig, ConfigError, type Config } from './config.ts';
export {
  startServer,
  openDatabase,
  createServices,
  createLogger,
  VERSION,
  type RunningServer,
  type StartOptions,
} from './server.ts';
export { migrate } from './db/migrate.ts';
export { openPglite } from './db/pglite.ts';
export { openPostgres } from './db/postgres.ts';
export type { Database, Sql } from './db/database.ts';
export { createDemoEvent, type DemoResult } from './services/demo.ts';
export { nodeVerifier, nodeSigner } from './crypto/ed25519-node.ts';
