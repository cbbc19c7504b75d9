// One lint config for every workspace. The core package must stay pure: no I/O modules.
// The server's layers (routes → services → store → db) are held by the import rules below.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

/** A statement's opening words (upper case, as every statement here is written), for the SQL-outside-store rule. */
const SQL = String.raw`/^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS)\s/`;
const SQL_MESSAGE = 'SQL belongs in packages/server/src/store (or db/): move the statement into a store function.';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Plain Node scripts (no TypeScript, so no-undef applies): Node's globals.
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The scanner app: hooks must follow React's rules (dependency lists included).
    files: ['packages/web/src/**/*.{ts,tsx}', 'packages/console/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['packages/core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'net',
                'http',
                'https',
                'pg',
                'fastify',
                'crypto',
                'dexie',
                '@electric-sql/*',
                'ioredis',
              ],
              message: 'core is pure: no I/O or platform modules (time, randomness and keys are parameters).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'core does no I/O' },
        { name: 'process', message: 'core does no I/O' },
        { name: 'localStorage', message: 'core does no I/O' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'core takes time as a parameter' },
        { object: 'Math', property: 'random', message: 'core takes randomness as a parameter' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'core takes time as a parameter',
        },
      ],
    },
  },
  {
    // Routes decode, call a service, encode: no SQL handle, no store function.
    // A store's record type may still name a route's input or output (`import type`).
    files: ['packages/server/src/routes/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/store/**'],
              allowTypeImports: true,
              message: 'routes call services, not stores (import type of a record is allowed).',
            },
            { group: ['**/db/**'], message: 'routes do not touch the database: call a service.' },
          ],
        },
      ],
    },
  },
  {
    // Services receive a Database/Sql handle (a type) and call stores; they open no connection themselves.
    files: ['packages/server/src/services/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/postgres*', '**/db/pglite*', '**/db/migrate*'],
              message: 'services receive a database handle; they do not open one.',
            },
            { group: ['**/routes/**'], message: 'services do not depend on routes.' },
            // DomainError is services/errors.ts; the manifest's concurrency limit is the one http/ helper a service still uses.
            {
              group: ['**/http/**', '!**/http/concurrency-limit.ts'],
              message: 'services do not depend on the HTTP layer (DomainError is in services/errors.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    // Stores are SQL and rows only: nothing from the layers above them.
    files: ['packages/server/src/store/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/services/**', '**/routes/**', '**/http/**'],
              message: 'store may import only db/, other stores and @entrada/core.',
            },
          ],
        },
      ],
    },
  },
  {
    // SQL text lives in store/ and db/ only (migrations are .sql files; tests are outside src/).
    files: ['packages/server/src/**/*.ts'],
    ignores: ['packages/server/src/store/**', 'packages/server/src/db/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=${SQL}]`, message: SQL_MESSAGE },
        { selector: `TemplateLiteral[quasis.0.value.raw=${SQL}]`, message: SQL_MESSAGE },
      ],
    },
  },
);
