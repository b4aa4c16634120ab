// Builds the four bundles of Concert. `npm ci` runs this through `prepare`, so a fresh clone is runnable at once.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Native or host-provided modules stay outside the bundles. */
const nodeExternals = ['vscode', 'onnxruntime-node'];

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
};

const builds = [
  // Extension host: CommonJS, loaded by VS Code.
  { ...common, entryPoints: { extension: 'src/extension/extension.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: 'dist', external: nodeExternals },
  // Inference worker: a separate Node process forked by the host and by the CLI.
  { ...common, entryPoints: { worker: 'src/worker/main.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: 'dist', external: nodeExternals },
  // CLI: `concert` (bin/concert.js loads it).
  { ...common, entryPoints: { cli: 'src/cli/main.ts' }, platform: 'node', format: 'cjs', target: 'node20', outdir: 'dist', external: nodeExternals },
  // Webviews: one browser bundle per panel.
  { ...common, entryPoints: { 'status': 'webview/status/main.ts', 'summary': 'webview/summary/main.ts', 'rewrite': 'webview/rewrite/main.ts' }, platform: 'browser', format: 'esm', target: 'es2022', outdir: 'dist/webview' },
];

if (!watch) rmSync('dist', { recursive: true, force: true });
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
// The codicon font ships inside dist/ (devDependencies are not packaged); webviews load it from there.
mkdirSync('dist/webview/codicons', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) cpSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/webview/codicons/${f}`);
