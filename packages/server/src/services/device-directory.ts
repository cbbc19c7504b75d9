import { Lru } from '../cache/lru.ts';
import type { Sql } from '../db/database.ts';
import { deviceName } from '../store/devices.ts';

/** Device display names for verdicts ("already used at Gate North by Scanner 3"); cached, names rarely change. */
export class DeviceDirectory {
  private readonly names = new Lru<string, string | null>(10_000);
  constructor(private readonly sql: Sql) {}

  /** Pass `sql` when inside a transaction: with embedded PGlite another connection would wait for it forever. */
  async name(organisationId: string, deviceId: string, sql: Sql = this.sql): Promise<string | undefined> {
    const key = `${organisationId}:${deviceId}`;
    let name = this.names.get(key);
    if (name === undefined) {
      name = await deviceName(sql, organisationId, deviceId);
      this.names.set(key, name);
    }
    return name ?? undefined;
  }

  /** After a rename on this instance (others see it when their cached copy is evicted). */
  forget(organisationId: string, deviceId: string): void {
    this.names.delete(`${organisationId}:${deviceId}`);
  }
}
