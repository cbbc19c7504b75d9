import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.ts';
import { generateToken, hashToken } from '../crypto/tokens.ts';
import { countOrganisations, findAdminByTokenHash, insertAdminToken, insertOrganisation } from '../store/organisations.ts';
import { createDemoEvent, createDemoPairing, type DemoResult } from './demo.ts';
import type { Services } from './container.ts';

export interface BootstrapInfo {
  /**
   * The admin token to show: made by this start, or kept in the embedded data
   * folder. Never one the operator set (ENTRADA_ADMIN_TOKEN): it is not printed.
   */
  adminToken: string | null;
  /** env-revoked: ENTRADA_ADMIN_TOKEN was revoked and stays so; revoked: the data folder's token was. */
  adminTokenSource: 'env' | 'env-revoked' | 'generated' | 'data-dir' | 'revoked' | 'unknown';
  demo: (Pick<DemoResult, 'eventId' | 'deviceId' | 'deviceToken' | 'sampleCodes' | 'gates' | 'tickets'> & Partial<Pick<DemoResult, 'staff' | 'pairing'>>) | null;
  firstStart: boolean;
}

interface Saved { adminToken?: string; demo?: BootstrapInfo['demo'] }

/**
 * First start of an empty database: the default organisation, a platform admin
 * token and (with ENTRADA_DEMO on: the embedded quick start's default) a demo event. With the embedded database
 * the generated credentials are kept in the data folder (mode 0600) so a
 * developer sees them on every start; with a PostgreSQL server they are
 * printed once only.
 */
export async function bootstrap(
  db: Database, services: Services,
  opts: { adminToken: string | undefined; demo: boolean; dataDir: string; demoTickets?: number | undefined; persist: boolean },
): Promise<BootstrapInfo> {
  const savedFile = db.kind === 'pglite' && opts.persist ? path.join(opts.dataDir, 'bootstrap.json') : null;
  const saved: Saved = savedFile ? await readFile(savedFile, 'utf8').then((t) => JSON.parse(t) as Saved).catch(() => ({})) : {};

  if ((await countOrganisations(db)) > 0) {
    // With the demo off (a production server), its credentials are neither refreshed nor shown.
    const demo = !opts.demo ? null : savedFile ? await refreshDemoPairing(services, saved, savedFile) : (saved.demo ?? null);
    if (opts.adminToken) {
      // The operator's token replaces the previous one they set (revoked at once on every instance).
      const state = await services.adminTokens.adoptEnvironmentToken(opts.adminToken);
      return { adminToken: null, adminTokenSource: state === 'revoked' ? 'env-revoked' : 'env', demo, firstStart: false };
    }
    if (!saved.adminToken) return { adminToken: null, adminTokenSource: 'unknown', demo, firstStart: false };
    const active = (await findAdminByTokenHash(db, hashToken(saved.adminToken))) !== null;
    return { adminToken: active ? saved.adminToken : null, adminTokenSource: active ? 'data-dir' : 'revoked', demo, firstStart: false };
  }

  const adminToken = opts.adminToken ?? generateToken('admin');
  const orgId = await db.transaction(async (tx) => {
    const id = await insertOrganisation(tx, 'Default organisation');
    await insertAdminToken(tx, {
      organisationId: id, tokenHash: hashToken(adminToken), platform: true,
      ...(opts.adminToken ? { name: 'ENTRADA_ADMIN_TOKEN', origin: 'env' } : { name: 'bootstrap', origin: 'generated' }),
    });
    return id;
  });
  let demo: BootstrapInfo['demo'] = null;
  if (opts.demo) {
    const d = await createDemoEvent(services, orgId, { tickets: opts.demoTickets ?? 500, now: services.now() });
    demo = {
      eventId: d.eventId, deviceId: d.deviceId, deviceToken: d.deviceToken, sampleCodes: d.sampleCodes, gates: d.gates, tickets: d.tickets,
      staff: d.staff, pairing: d.pairing,
    };
  }
  if (savedFile) {
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    const toSave: Saved = { ...(opts.adminToken ? {} : { adminToken }), demo };
    await writeFile(savedFile, JSON.stringify(toSave, null, 2) + '\n', { mode: 0o600 });
  }
  return { adminToken: opts.adminToken ? null : adminToken, adminTokenSource: opts.adminToken ? 'env' : 'generated', demo, firstStart: true };
}

/**
 * The demo's pairing code is printed on every start: once it has been used or
 * has expired, a new one replaces it (and is saved with the rest).
 */
async function refreshDemoPairing(services: Services, saved: Saved, savedFile: string): Promise<BootstrapInfo['demo']> {
  const demo = saved.demo ?? null;
  if (!demo?.pairing || (await services.pairing.redeemable(demo.pairing.code))) return demo;
  const ctx = await services.contexts.get(demo.eventId);
  if (!ctx) return demo;
  const gateId = demo.pairing.gateId !== null && ctx.gates.has(demo.pairing.gateId) ? demo.pairing.gateId : null;
  const refreshed = { ...demo, pairing: await createDemoPairing(services, ctx.event.organisationId, demo.eventId, gateId) };
  await writeFile(savedFile, JSON.stringify({ ...saved, demo: refreshed }, null, 2) + '\n', { mode: 0o600 });
  return refreshed;
}
