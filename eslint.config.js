// Flat config: ESLint's and typescript-eslint's recommended rules everywhere;
// `any` is an error in domain code (deciders, sagas, modules), where a hole in
// the types is a hole in the audit trail, and a warning at the edges.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// No `globals` package in the tree: the few Node globals that plain .js/.mjs scripts use.
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'AbortController',
    'AbortSignal',
    'fetch',
    'performance',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  globalIgnores([
    'dist/',
    'node_modules/',
    'data/',
    'coverage/',
    'guest/build/',
    '.ci-tmp/',
    '.dependency-cruiser.cjs',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: nodeGlobals },
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      // `_`-prefixed names are deliberate placeholders (unused parameters of a port method, destructured-away fields).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: [
      'src/modules/**/*.ts',
      'src/sagas/**/*.ts',
      'src/domain/**/*.ts',
      'src/application/**/*.ts',
      'src/projections/**/*.ts',
    ],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
);
