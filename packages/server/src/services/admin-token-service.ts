import type { Database } from '../db/database.ts';
import { generateToken, hashToken } from '../crypto/tokens.ts';
import { DomainError, notFound } from './errors.ts';
import {
  findAdminTokenRecordByHash,
  firstOrganisationId,
  insertAdminToken,
  insertOrganisation,
  listAdminTokens,
  lockActiveAdminTokenCount,
  replaceEnvAdminToken,
  revokeAdminToken,
  type AdminPrincipal,
  type AdminTokenRecord,
} from '../store/organisations.ts';
import { lockActiveOwnerCount } from '../store/users.ts';
import type { Role } from '@entrada/core';
import type { Bus } from './bus.ts';

/** What became of ENTRADA_ADMIN_TOKEN at start-up. */
export type EnvironmentTokenState = 'active' | 'revoked' | 'no-organisation';

/**
 * Admin tokens of an organisation: listed, made (shown once) and revoked,
 * and the environment's token, which replaces the previous environment token.
 * A revocation reaches every instance through the bus at once, and within
 * the authenticator's admin cache time (10 s) without it.
 */
export class AdminTokenService {
  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly now: () => number,
  ) {}

  list(organisationId: string): Promise<AdminTokenRecord[]> {
    return listAdminTokens(this.db, organisationId);
  }

  /**
   * A new token of the creator's organisation with `role` (tokens are made by
   * owners only, so any role may be given), platform only if the creator's is
   * (no token makes a stronger one).
   */
  async create(
    creator: AdminPrincipal,
    name: string,
    role: Role = 'owner',
  ): Promise<{ record: AdminTokenRecord; token: string }> {
    const token = generateToken('admin');
    const record = await insertAdminToken(this.db, {
      organisationId: creator.organisationId,
      tokenHash: hashToken(token),
      name,
      platform: creator.platform,
      origin: 'api',
      role,
    });
    // 256 random bits never collide; if they did, the token would not be usable.
    if (!record) throw new Error('a new admin token collided with an existing one');
    return { record, token };
  }

  /** A new organisation with its first admin token (shown once); a platform admin's call. */
  async createOrganisation(name: string): Promise<{ id: string; token: string }> {
    const token = generateToken('admin');
    const id = await this.db.transaction(async (tx) => {
      const orgId = await insertOrganisation(tx, name);
      await insertAdminToken(tx, {
        organisationId: orgId,
        tokenHash: hashToken(token),
        name: 'initial',
        platform: false,
        origin: 'api',
      });
      return orgId;
    });
    return { id, token };
  }

  /**
   * Revokes one of the organisation's tokens. The last one is refused while
   * the organisation has no active owner account: with neither, nobody could
   * manage the organisation (a new token can only come from
   * ENTRADA_ADMIN_TOKEN, for the first organisation).
   */
  async revoke(organisationId: string, id: string): Promise<AdminTokenRecord> {
    const revoked = await this.db.transaction(async (tx) => {
      const active = await lockActiveAdminTokenCount(tx, organisationId);
      const owners = await lockActiveOwnerCount(tx, organisationId);
      const record = await revokeAdminToken(tx, organisationId, id, this.now());
      if (!record) throw notFound('Admin token');
      if (active <= 1 && owners === 0) {
        throw new DomainError(
          'CONFLICT',
          "This is the organisation's last admin token and it has no owner account: make another token (POST /api/v1/tokens, `entrada tokens create`) or an owner (POST /api/v1/users) first, then revoke this one",
        );
      }
      return record;
    });
    this.bus.publish({ type: 'admin_tokens_changed' });
    return revoked;
  }

  /**
   * ENTRADA_ADMIN_TOKEN on an existing installation: it becomes the first
   * organisation's platform token and every previous environment token is
   * revoked. A token that was revoked stays revoked: restarting an instance
   * with an old environment must not bring it back (nor revoke its successor).
   */
  async adoptEnvironmentToken(token: string): Promise<EnvironmentTokenState> {
    const tokenHash = hashToken(token);
    const { state, revoked } = await this.db.transaction(async (tx) => {
      let record = await findAdminTokenRecordByHash(tx, tokenHash);
      if (record?.revokedAt != null) return { state: 'revoked' as const, revoked: [] };
      if (!record) {
        const organisationId = await firstOrganisationId(tx);
        if (!organisationId) return { state: 'no-organisation' as const, revoked: [] };
        record =
          (await insertAdminToken(tx, {
            organisationId,
            tokenHash,
            name: 'ENTRADA_ADMIN_TOKEN',
            platform: true,
            origin: 'env',
          })) ??
          // Another instance starting with the same token got there first.
          (await findAdminTokenRecordByHash(tx, tokenHash));
        if (!record) throw new Error('ENTRADA_ADMIN_TOKEN could not be stored');
      }
      return { state: 'active' as const, revoked: await replaceEnvAdminToken(tx, record.id, this.now()) };
    });
    if (revoked.length > 0) this.bus.publish({ type: 'admin_tokens_changed' });
    return state;
  }
}
