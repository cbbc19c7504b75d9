import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.ts';
import { generateToken, hashToken } from '../crypto/tokens.ts';
import { verifyPin as verifyPassword } from '../crypto/pin-hash.ts';
import { DomainError } from './errors.ts';
import {
  countOrganisations,
  findAdminByTokenHash,
  insertAdminToken,
  insertOrganisation,
} from '../store/organisations.ts';
import { findUserByEmail } from '../store/users.ts';
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
  demo:
    | (Pick<DemoResult, 'eventId' | 'deviceId' | 'deviceToken' | 'sampleCodes' | 'gates' | 'tickets'> &
        Partial<Pick<DemoResult, 'staff' | 'pairing'>>)
    | null;
  firstStart: boolean;
  /**
   * The first owner's console login: made by this start from ENTRADA_OWNER_EMAIL
   * (password null: the operator's, never printed), or generated for the embedded
   * quick start and kept in the data folder (shown while it still works).
   */
  owner: { email: string; password: string | null; source: 'env' | 'generated' | 'data-dir' } | null;
}

interface Saved {
  adminToken?: string;
  demo?: BootstrapInfo['demo'];
  owner?: { email: string; password: string };
}

/**
 * The first owner when the first organisation has no user: from the
 * environment, or generated when the credentials can be kept in the data folder.
 */
async function firstOwner(
  db: Database,
  services: Services,
  opts: { owner?: { email: string; password: string } | undefined },
  saved: Saved,
  savedFile: string | null,
): Promise<BootstrapInfo['owner']> {
  let made: Awaited<ReturnType<Services['accounts']['ensureFirstOwner']>>;
  try {
    made = await services.accounts.ensureFirstOwner(opts.owner ?? null, savedFile !== null);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'INVALID_BODY')
      throw new Error(`ENTRADA_OWNER_PASSWORD: ${err.message.replace(/^\/password /, '')}`);
    throw err;
  }
  if (made) {
    if (made.password === null) return { email: made.email, password: null, source: 'env' };
    if (savedFile)
      await writeFile(
        savedFile,
        JSON.stringify({ ...saved, owner: { email: made.email, password: made.password } }, null, 2) + '\n',
        { mode: 0o600 },
      );
    return { email: made.email, password: made.password, source: 'generated' };
  }
  if (!saved.owner) return null;
  // Shown again only while it still logs in (its owner may have changed it).
  const user = await findUserByEmail(db, saved.owner.email);
  const works = user !== null && user.active && (await verifyPassword(saved.owner.password, user.passwordHash));
  return works ? { ...saved.owner, source: 'data-dir' } : null;
}

/**
 * First start of an empty database: the default organisation, a platform admin
 * token and (with ENTRADA_DEMO on: the embedded quick start's default) a demo event. With the embedded database
 * the generated credentials are kept in the data folder (mode 0600) so a
 * developer sees them on every start; with a PostgreSQL server they are
 * printed once only.
 */
export async function bootstrap(
  db: Database,
  services: Services,
  opts: {
    adminToken: string | undefined;
    demo: boolean;
    dataDir: string;
    demoTickets?: number | undefined;
    persist: boolean;
    owner?: { email: string; password: string } | undefined;
  },
): Promise<BootstrapInfo> {
  const savedFile = db.kind === 'pglite' && opts.persist ? path.join(opts.dataDir, 'bootstrap.json') : null;
  const saved: Saved = savedFile
    ? await readFile(savedFile, 'utf8')
        .then((t) => JSON.parse(t) as Saved)
        .catch(() => ({}))
    : {};

  if ((await countOrganisations(db)) > 0) {
    // With the demo off (a production server), its credentials are neither refreshed nor shown.
    const demo = !opts.demo
      ? null
      : savedFile
        ? await refreshDemoPairing(services, saved, savedFile)
        : (saved.demo ?? null);
    const owner = await firstOwner(
      db,
      services,
      opts,
      savedFile ? { ...saved, ...(demo ? { demo } : {}) } : saved,
      savedFile,
    );
    if (opts.adminToken) {
      // The operator's token replaces the previous one they set (revoked at once on every instance).
      const state = await services.adminTokens.adoptEnvironmentToken(opts.adminToken);
      return {
        adminToken: null,
        adminTokenSource: state === 'revoked' ? 'env-revoked' : 'env',
        demo,
        firstStart: false,
        owner,
      };
    }
    if (!saved.adminToken) return { adminToken: null, adminTokenSource: 'unknown', demo, firstStart: false, owner };
    const active = (await findAdminByTokenHash(db, hashToken(saved.adminToken))) !== null;
    return {
      adminToken: active ? saved.adminToken : null,
      adminTokenSource: active ? 'data-dir' : 'revoked',
      demo,
      firstStart: false,
      owner,
    };
  }

  const adminToken = opts.adminToken ?? generateToken('admin');
  const orgId = await db.transaction(async (tx) => {
    const id = await insertOrganisation(tx, 'Default organisation');
    await insertAdminToken(tx, {
      organisationId: id,
      tokenHash: hashToken(adminToken),
      platform: true,
      ...(opts.adminToken
        ? { name: 'ENTRADA_ADMIN_TOKEN', origin: 'env' }
        : { name: 'bootstrap', origin: 'generated' }),
    });
    return id;
  });
  let demo: BootstrapInfo['demo'] = null;
  if (opts.demo) {
    const d = await createDemoEvent(services, orgId, { tickets: opts.demoTickets ?? 500, now: services.now() });
    demo = {
      eventId: d.eventId,
      deviceId: d.deviceId,
      deviceToken: d.deviceToken,
      sampleCodes: d.sampleCodes,
      gates: d.gates,
      tickets: d.tickets,
      staff: d.staff,
      pairing: d.pairing,
    };
  }
  const toSave: Saved = { ...(opts.adminToken ? {} : { adminToken }), demo };
  if (savedFile) {
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    await writeFile(savedFile, JSON.stringify(toSave, null, 2) + '\n', { mode: 0o600 });
  }
  const owner = await firstOwner(db, services, opts, toSave, savedFile);
  return {
    adminToken: opts.adminToken ? null : adminToken,
    adminTokenSource: opts.adminToken ? 'env' : 'generated',
    demo,
    firstStart: true,
    owner,
  };
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
  const refreshed = {
    ...demo,
    pairing: await createDemoPairing(services, ctx.event.organisationId, demo.eventId, gateId),
  };
  await writeFile(savedFile, JSON.stringify({ ...saved, demo: refreshed }, null, 2) + '\n', { mode: 0o600 });
  return refreshed;
}
