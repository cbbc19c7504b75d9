import { migrate, openDatabase } from '@entrada/server';
import type { Output } from '../output.ts';
import { describeDatabase, explainStartupError, serverConfig, type ServerFlags } from '../server-config.ts';

export interface MigrateOptions extends Pick<ServerFlags, 'dataDir'> {
  env: NodeJS.ProcessEnv;
}

/** Applies pending migrations without starting the server (`entrada serve` also does it on start). */
export async function runMigrate(
  opts: MigrateOptions,
  output: Output,
): Promise<{ applied: string[]; current: string | null }> {
  const config = serverConfig(opts.env, opts);
  output.out(`Database: ${describeDatabase(config)}`);
  try {
    const db = await openDatabase(config);
    try {
      const report = await migrate(db);
      if (report.applied.length === 0)
        output.out(`Up to date: nothing to apply (schema ${report.current ?? 'empty'}).`);
      else for (const version of report.applied) output.out(`Applied ${version}`);
      if (report.applied.length > 0) output.out(`Schema is now at ${report.current}.`);
      return report;
    } finally {
      await db.close();
    }
  } catch (err) {
    throw explainStartupError(err, config);
  }
}
