// One lint config for every workspace. The core package must stay pure: no I/O modules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

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
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'https', 'pg', 'fastify', 'crypto', 'dexie', '@electric-sql/*', 'ioredis'],
            message: 'core is pure: no I/O or platform modules (time, randomness and keys are parameters).' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'fetch', message: 'core does no I/O' },
        { name: 'process', message: 'core does no I/O' },
        { name: 'localStorage', message: 'core does no I/O' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core takes time as a parameter' },
        { object: 'Math', property: 'random', message: 'core takes randomness as a parameter' },
      ],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'core takes time as a parameter' },
      ],
    },
  },
);
