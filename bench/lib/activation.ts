/**
 * The extension's own activation time (dist/extension.js): loading the bundle and running `activate()` against a
 * stand-in `vscode` module whose every call returns at once. Each sample is a fresh Node process, so module loading
 * is counted as VS Code would pay it. Used by bench/activation.ts and `npm run bench` (row P7).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { median } from './measure';

export const ACTIVATION_BUDGET_MS = 50;
const ROOT = join(__dirname, '..', '..');

/** Runs in the child: a stand-in `vscode` where every property is a callable, constructible no-op. */
const CHILD = String.raw`
const Module = require('node:module');
const path = require('node:path');
const handler = {
  get: (_t, p) => (p === Symbol.iterator ? function* () {} : p === Symbol.toPrimitive ? () => '' : p === 'then' ? undefined : stub()),
  apply: () => stub(),
  construct: () => stub(),
  set: () => true,
};
function stub() { return new Proxy(function () {}, handler); }
// esbuild's interop copies the module's own keys, so name every namespace the bundle uses (vscode.X or vscodeN.X).
const bundle = require('node:fs').readFileSync(path.join(process.argv[1], 'dist', 'extension.js'), 'utf8');
const vscode = {};
for (const m of bundle.matchAll(/\bvscode\d*\.([A-Za-z_$][\w$]*)/g)) vscode[m[1]] = stub();
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) { return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest); };
require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };
const root = process.argv[1];
function memento() {
  const m = new Map();
  return { get: (k, d) => (m.has(k) ? m.get(k) : d), update: async (k, v) => void m.set(k, v), keys: () => [...m.keys()], setKeysForSync: () => {} };
}
const context = {
  subscriptions: [],
  extensionUri: { fsPath: root, scheme: 'file', path: root },
  extensionPath: root,
  asAbsolutePath: (p) => path.join(root, p),
  extension: stub(),
  // Stores answer like VS Code's: a stub is not a promise (its "then" is undefined), and get() gives the default.
  globalState: memento(), workspaceState: memento(),
  secrets: { get: async () => undefined, store: async () => {}, delete: async () => {}, onDidChange: stub() },
  environmentVariableCollection: stub(),
  storageUri: undefined, globalStorageUri: { fsPath: root }, logUri: { fsPath: root },
};
const t0 = process.hrtime.bigint();
const ext = require(path.join(root, 'dist', 'extension.js'));
const t1 = process.hrtime.bigint();
ext.activate(context);
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, activateMs: Number(t2 - t1) / 1e6, disposables: context.subscriptions.length }));
`;

function sample(): { loadMs: number; activateMs: number; disposables: number } {
  const r = spawnSync(process.execPath, ['-e', CHILD, ROOT], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`activation failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as { loadMs: number; activateMs: number; disposables: number };
}

export interface ActivationResult {
  runs: number;
  budgetMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  medianLoadMs: number;
  medianActivateMs: number;
  disposables: number;
  ratio: number;
}

export function measureActivation(runs: number): ActivationResult {
  sample(); // warm the file cache
  const samples = Array.from({ length: runs }, sample);
  const totals = samples.map((s) => s.loadMs + s.activateMs);
  return {
    runs,
    budgetMs: ACTIVATION_BUDGET_MS,
    medianMs: median(totals),
    minMs: Math.min(...totals),
    maxMs: Math.max(...totals),
    medianLoadMs: median(samples.map((s) => s.loadMs)),
    medianActivateMs: median(samples.map((s) => s.activateMs)),
    disposables: samples[0]?.disposables ?? 0,
    ratio: median(totals) / ACTIVATION_BUDGET_MS,
  };
}
