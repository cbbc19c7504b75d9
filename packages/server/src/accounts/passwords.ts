import { readFileSync } from 'node:fs';
import { PASSWORD_MIN_LENGTH } from '@entrada/core';
import { invalid, type DomainError } from '../services/errors.ts';

let common: ReadonlySet<string> | null = null;

/**
 * The common-password list shipped with the server (common-passwords.txt: the
 * 5,000 most common passwords of at least PASSWORD_MIN_LENGTH characters from
 * a public breach corpus), read once, compared lowercase.
 */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.trim().toLowerCase()),
  );
  return common;
}

/** Why `password` may not be used (400 naming the rule), or null when it may. */
export function passwordProblem(password: string, field = 'password'): DomainError | null {
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    return invalid(`/${field} is too short: a password needs at least ${PASSWORD_MIN_LENGTH} characters`);
  }
  if (commonPasswords().has(password.toLowerCase())) {
    return invalid(`/${field} is on the list of common passwords, which are guessed first: choose another`);
  }
  return null;
}

export function assertPasswordAllowed(password: string, field = 'password'): void {
  const problem = passwordProblem(password, field);
  if (problem) throw problem;
}
