import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

/**
 * What no engine file imports: Electron and the hosts that wrap the engine. Flat config replaces a rule per block,
 * so the stages' block repeats these beside its own pattern.
 */
const ENGINE_IMPORTS = {
  paths: [{ name: 'electron', message: 'The engine runs under plain Node too: no Electron imports.' }],
  patterns: [
    {
      regex: '/(cli|serve|electron|host-node)/',
      message: 'The engine must not import the hosts that wrap it.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'test-output/**', 'resources/**', 'tmp/**', 'out/**', '.gpu/**', '.gl/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  // Layer boundaries (checked, in the spirit of VS Code's layers): the contract and the pure math are
  // shared by every process, so they reach nothing process-specific; the renderer reaches the engine only
  // through the contract; the engine never reaches the hosts that wrap it; a stage never reaches the jobs
  // that compose stages.
  {
    files: ['src-shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: 'src-(main|renderer)/',
              message: 'src-shared is imported by every process: it must not import process code.',
            },
            {
              regex: '^(node:|fs$|path$|os$|child_process$|worker_threads$)',
              message: 'src-shared runs in the browser too: no Node built-ins.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.svelte'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: 'src-main/',
              message: 'The renderer talks to the engine only through the contract in src-shared.',
            },
            { regex: '^node:', message: 'The renderer runs in a browser: no Node built-ins.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/engine/**/*.ts'],
    ignores: ['src-main/engine/jobs/**', 'src-main/engine/host/**', 'src-main/engine/entry.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...ENGINE_IMPORTS,
          patterns: [
            ...ENGINE_IMPORTS.patterns,
            {
              regex: '^\\.\\./(jobs|host)/',
              message: 'A stage must not import the jobs or the host that compose stages.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/engine/jobs/**/*.ts', 'src-main/engine/host/**/*.ts', 'src-main/engine/entry.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...ENGINE_IMPORTS,
        },
      ],
    },
  },
  {
    files: ['**/*.cts', 'bin/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
