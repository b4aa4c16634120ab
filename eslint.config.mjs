// Lint, including the architecture's import arrows: the rule `concert/layers` checks every import in src/ and
// webview/ against the allow-list table in eslint/layers.mjs (shown in ARCHITECTURE.md). test/unit/lint-zones.test.ts
// lints probe files to prove each allowed arrow passes and each forbidden one fails, so weakening the table or the
// rule breaks `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import concert from './eslint/layers.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', '.cache/**', 'data/**', 'tools/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        __dirname: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/**/*.{ts,mts,cts,js,mjs,cjs}', 'webview/**/*.{ts,mts,cts,js,mjs,cjs}'],
    plugins: { concert },
    rules: { 'concert/layers': 'error' },
  },
);
