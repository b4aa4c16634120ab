// Lint, including the architecture's import arrows (see ARCHITECTURE.md). A test lints a probe file to prove the
// zones really fail, so weakening a rule here breaks `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'child_process', 'os', 'net', 'http', 'https', 'worker_threads', 'crypto'];
const layer = (name) => [`**/${name}`, `**/${name}/**`];
/** The browser tree is a folder; `../protocol/webview` (the shared message types) is not part of it. */
const webviewTree = ['**/webview/**'];

/** Pure layers: algorithms only, models reached through interfaces. */
const pureRestrictions = {
  paths: [
    { name: 'vscode', message: 'src/engine and src/codec are pure: no vscode.' },
    { name: 'onnxruntime-node', message: 'src/engine and src/codec are pure: reach models through the engine interfaces.' },
    { name: 'onnxruntime-common', message: 'src/engine and src/codec are pure: no onnxruntime types.' },
    { name: 'vscode-jsonrpc', message: 'src/engine and src/codec are pure: no transport.' },
  ],
  patterns: [
    { group: [...layer('runtime'), ...layer('worker'), ...layer('extension'), ...layer('cli'), ...layer('protocol'), ...layer('webview')], message: 'src/engine and src/codec import nothing from the outer layers.' },
    { group: nodeBuiltins, message: 'src/engine and src/codec are pure TypeScript: no Node built-ins.' },
    { group: ['vscode-jsonrpc/*', 'onnxruntime-node/*'], message: 'pure layer' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', '.cache/**', 'data/**', 'tools/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', __dirname: 'readonly', Buffer: 'readonly' } },
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
  { files: ['src/engine/**/*.ts', 'src/codec/**/*.ts'], rules: { 'no-restricted-imports': ['error', pureRestrictions] } },
  {
    // The protocol module is shared by host, CLI, worker and (its webview half) the browser.
    files: ['src/protocol/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['vscode', 'onnxruntime-node'], patterns: [{ group: [...layer('runtime'), ...layer('worker'), ...layer('extension'), ...layer('cli'), ...layer('webview')], message: 'the protocol depends on nothing but types' }] }] },
  },
  {
    files: ['src/runtime/**/*.ts', 'src/worker/**/*.ts', 'src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'runtime, worker and CLI run outside VS Code.' }], patterns: [{ group: [...layer('extension'), ...webviewTree], message: 'runtime, worker and CLI do not depend on the VS Code glue or the webviews.' }] }] },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'onnxruntime-node', message: 'The extension host never loads ONNX Runtime: inference runs in the worker process.' }], patterns: [{ group: [...layer('cli'), ...webviewTree, ...layer('runtime')], message: 'The extension host talks to the worker through src/worker/client and src/protocol only.' }] }] },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['vscode', 'onnxruntime-node', 'vscode-jsonrpc'],
        patterns: [
          { regex: '(^|/)src/(?!protocol/webview(\\.ts)?$)', message: 'webview/ imports only its own code and the shared webview protocol (src/protocol/webview).' },
          { group: nodeBuiltins, message: 'webview/ is browser code.' },
        ],
      }],
    },
  },
);
