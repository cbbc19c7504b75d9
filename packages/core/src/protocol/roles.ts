import { Type, type Static } from 'typebox';

/**
 * What an organiser may do, from least to most. A role includes every role
 * below it: a manager may do all a supervisor and a viewer may.
 * - `viewer`: read only;
 * - `supervisor`: live operations (cancel / block / unblock tickets, suspend devices, pairing codes, resolve conflicts);
 * - `manager`: events, set-up, tickets, devices, staff;
 * - `owner`: everything, including users and API tokens.
 */
export const ROLES = ['viewer', 'supervisor', 'manager', 'owner'] as const;
export type Role = (typeof ROLES)[number];
// Listed literally: a mapped array would make the schema's static type `never`.
export const RoleSchema = Type.Union([
  Type.Literal('viewer'),
  Type.Literal('supervisor'),
  Type.Literal('manager'),
  Type.Literal('owner'),
]);
export type RoleValue = Static<typeof RoleSchema>;

/** Whether `held` grants what `needed` requires. */
export function roleAtLeast(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}
