/**
 * Organiser accounts (users of the console), their sessions and passwords.
 * A user belongs to one organisation and acts with one role (roles.ts).
 */
import { Type, type Static } from 'typebox';
import { RoleSchema } from './roles.ts';
import { Text, Uuid } from './values.ts';

/** Bounded text the database can hold: every text field an organiser types. */
const text = (maxLength: number, opts: { minLength?: number; description?: string } = {}) =>
  Text({ minLength: opts.minLength ?? 1, maxLength, ...(opts.description ? { description: opts.description } : {}) });

/** Passwords are at least this long, and not on the common-password list the server ships. */
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 200;

export const Email = Text({
  minLength: 3,
  maxLength: 254,
  pattern: '^[^\\s@\\u0000\\uD800-\\uDFFF]+@[^\\s@\\u0000\\uD800-\\uDFFF]+$',
  description: 'One account per email in the installation, whatever its case',
});
/** Checked for length here only loosely, so the server can name the rule it breaks (too short, too common). */
const Password = Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
const NewPassword = Text({
  minLength: 1,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `At least ${PASSWORD_MIN_LENGTH} characters and not a common password`,
});
const Timestamp = Type.String({ description: 'ISO 8601 instant' });

export const LoginBody = Type.Object({ email: text(254), password: Password }, { additionalProperties: false });
export type LoginBody = Static<typeof LoginBody>;

/** The logged-in user, as login and /auth/me answer it. */
export const SessionUser = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  organisation_id: Uuid,
});
export type SessionUser = Static<typeof SessionUser>;

export const SessionResponse = Type.Object({
  user: SessionUser,
  csrf_token: Type.Union([Type.String(), Type.Null()], {
    description:
      'Send it as the x-csrf-token header on every POST, PUT, PATCH and DELETE made with the session cookie; null for an admin token, which needs none',
  }),
  credential: Type.Optional(
    Type.Union([Type.Literal('session'), Type.Literal('token')], {
      description:
        'token: the request used an admin token (user.id is the token\'s id, user.name "API token", user.role its role)',
    }),
  ),
});
export type SessionResponse = Static<typeof SessionResponse>;

export const ChangePasswordBody = Type.Object(
  { current_password: Password, new_password: NewPassword },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const CreateUserBody = Type.Object(
  {
    email: Email,
    name: text(200),
    role: RoleSchema,
    password: NewPassword,
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    name: Type.Optional(text(200)),
    role: Type.Optional(RoleSchema),
    active: Type.Optional(Type.Boolean({ description: "false ends the user's sessions at once, on every instance" })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

/** An owner sets a new password for a user (the CLI's reset-password); the user's sessions end. */
export const ResetPasswordBody = Type.Object({ password: NewPassword }, { additionalProperties: false });
export type ResetPasswordBody = Static<typeof ResetPasswordBody>;

export const UserView = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type UserView = Static<typeof UserView>;

export const UserListResponse = Type.Object({ users: Type.Array(UserView) });
export type UserListResponse = Static<typeof UserListResponse>;
