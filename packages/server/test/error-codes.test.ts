import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { API_ERRORS, PAIRING_ERRORS } from '@entrada/core';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const DOCS = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
const CLOSED_LIST: Record<string, number> = { ...API_ERRORS, ...PAIRING_ERRORS };

/**
 * Codes the server's source answers with: `new DomainError('CODE'` and
 * `error: 'CODE'` (a body sent as it is). TypeScript already holds
 * DomainError and the framework tables to the list; a body sent by hand is
 * what it cannot check (`CLIENT_GONE` was one).
 */
async function codesUsedInSource(): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = await readFile(SRC + file, 'utf8');
    for (const m of text.matchAll(/(?:DomainError\(\s*|\berror:\s*)'([A-Z][A-Z0-9_]+)'/g)) {
      used.set(m[1]!, [...(used.get(m[1]!) ?? []), file]);
    }
  }
  return used;
}

/** `| \`CODE\` | 400 | … |` rows of docs/errors.md. */
async function documentedCodes(): Promise<Record<string, number>> {
  const text = await readFile(DOCS, 'utf8');
  return Object.fromEntries(
    [...text.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
}

describe('the closed list of error codes', () => {
  it('every error code the server answers with is in the list', async () => {
    const used = await codesUsedInSource();
    expect(used.size).toBeGreaterThan(15);
    const unlisted = [...used]
      .filter(([code]) => !(code in CLOSED_LIST))
      .map(([code, files]) => `${code} (${files.join(', ')})`);
    expect(unlisted).toEqual([]);
  });

  it('docs/errors.md documents exactly the list, each code with its status', async () => {
    expect(await documentedCodes()).toEqual(CLOSED_LIST);
  });
});
