// Builds the four bundles of Concert. `npm ci` runs this through `prepare`, so a fresh clone is runnable at once.
// Every build writes a metafile and is checked by build/checkBundles.mjs: the extension host and CLI bundles must not
// contain ONNX Runtime or the inference layers, the webview bundles nothing Node-only; a violation fails the build.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { bundleCheck } from './build/checkBundles.mjs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Native or host-provided modules stay outside the bundles. */
const nodeExternals = ['vscode', 'onnxruntime-node'];

/** The one place the version lives: package.json. Sources read it as `CONCERT_VERSION` (src/protocol/version.ts). */
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;

const common = {
  bundle: true,
  metafile: true,
  define: { __CONCERT_VERSION__: JSON.stringify(version) },
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
};

const builds = [
  // Extension host: CommonJS, loaded by VS Code.
  {
    ...common,
    entryPoints: { extension: 'src/extension/extension.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outdir: 'dist',
    external: nodeExternals,
    plugins: [bundleCheck('extension')],
  },
  // Inference worker: a separate Node process forked by the host and by the CLI.
  {
    ...common,
    entryPoints: { worker: 'src/worker/main.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outdir: 'dist',
    external: nodeExternals,
    plugins: [bundleCheck('worker')],
  },
  // CLI: `concert` (bin/concert.js loads it).
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outdir: 'dist',
    external: nodeExternals,
    plugins: [bundleCheck('cli')],
  },
  // Webviews: one browser bundle per panel.
  {
    ...common,
    entryPoints: {
      status: 'webview/status/main.ts',
      summary: 'webview/summary/main.ts',
      rewrite: 'webview/rewrite/main.ts',
      collab: 'webview/collab/main.ts',
      images: 'webview/images/main.ts',
      video: 'webview/video/main.ts',
    },
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outdir: 'dist/webview',
    plugins: [bundleCheck('webview')],
  },
];

if (!watch) rmSync('dist', { recursive: true, force: true });
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('esbuild: watching');
} else {
  // A failed bundle check is a build error: esbuild prints it and build() rejects.
  const results = await Promise.allSettled(builds.map((b) => esbuild.build(b)));
  if (results.some((r) => r.status === 'rejected')) {
    console.error('esbuild: build failed (see the errors above)');
    process.exit(1);
  }
}
// The codicon font ships inside dist/ (devDependencies are not packaged); webviews load it from there.
mkdirSync('dist/webview/codicons', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) cpSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/webview/codicons/${f}`);
