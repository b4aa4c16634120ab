/**
 * build/checkBundles.mjs fails the build when a bundle holds what its process must not load: probes bundle small
 * entries that break each rule (and the real entry points, which must pass).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import { bundleCheck, checkBundle, type BundleKind } from '../../build/checkBundles.mjs';

const NODE_EXTERNALS = ['vscode', 'onnxruntime-node'];
const node: esbuild.BuildOptions = { platform: 'node', format: 'cjs', target: 'node20', external: NODE_EXTERNALS };
const browser: esbuild.BuildOptions = { platform: 'browser', format: 'esm', target: 'es2022' };
const options = (kind: BundleKind) => (kind === 'webview' ? browser : node);

/** Bundles `contents` as if it were a module in `dir` (in memory) and returns the check's problems. */
async function probe(kind: BundleKind, dir: string, contents: string, external: string[] = []): Promise<string[]> {
  const r = await esbuild.build({
    ...options(kind),
    external: [...(kind === 'webview' ? [] : NODE_EXTERNALS), ...external],
    bundle: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: 'dist',
    stdin: { contents, resolveDir: dir, sourcefile: 'probe.ts', loader: 'ts' },
  });
  assert.ok(r.metafile);
  return checkBundle(kind, r.metafile);
}

describe('bundle check', () => {
  it('the real bundles pass', async () => {
    const entries: Array<[BundleKind, Record<string, string>]> = [
      ['extension', { extension: 'src/extension/extension.ts' }],
      ['worker', { worker: 'src/worker/main.ts' }],
      ['cli', { cli: 'src/cli/main.ts' }],
      ['webview', { status: 'webview/status/main.ts', summary: 'webview/summary/main.ts', rewrite: 'webview/rewrite/main.ts' }],
    ];
    for (const [kind, entryPoints] of entries) {
      const r = await esbuild.build({ ...options(kind), bundle: true, write: false, metafile: true, logLevel: 'silent', outdir: 'dist', entryPoints });
      assert.ok(r.metafile);
      assert.deepEqual(checkBundle(kind, r.metafile), [], kind);
    }
  });

  it('the extension bundle may not contain the runtime (and so ONNX Runtime)', async () => {
    const problems = await probe('extension', 'src/extension', "import { ortVersion } from '../runtime/ort';\nexport const v = ortVersion;\n");
    assert.ok(
      problems.some((p) => /^dist\/stdin\.js contains src\/runtime\/ort\.ts \(via src\/extension\/probe\.ts → src\/runtime\/ort\.ts\): /.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /loads 'onnxruntime-node' \(imported by src\/runtime\/ort\.ts\): the extension host never loads ONNX Runtime/.test(p)),
      problems.join('\n'),
    );
  });

  it('the extension bundle may not contain the worker service, even through another module', async () => {
    const problems = await probe('extension', 'src/extension', "import { WorkerService } from '../worker/service';\nexport const s = WorkerService;\n");
    assert.ok(
      problems.some((p) => p.startsWith('dist/stdin.js contains src/worker/service.ts')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /contains src\/runtime\/packs\.ts \(via src\/extension\/probe\.ts → src\/worker\/service\.ts → /.test(p)),
      problems.join('\n'),
    );
  });

  it('the extension bundle may not contain the engine', async () => {
    const problems = await probe('extension', 'src/extension', "import { decodeCad } from '../engine/cad';\nexport const c = decodeCad;\n");
    assert.ok(
      problems.some((p) => p.startsWith('dist/stdin.js contains src/engine/')),
      problems.join('\n'),
    );
  });

  it('the CLI bundle may not contain the runtime', async () => {
    const problems = await probe('cli', 'src/cli', "import { ortVersion } from '../runtime/ort';\nexport const v = ortVersion;\n");
    assert.ok(
      problems.some((p) => p.startsWith('dist/stdin.js contains src/runtime/ort.ts')),
      problems.join('\n'),
    );
  });

  it('a webview bundle may not contain src/ modules besides the webview protocol', async () => {
    const problems = await probe('webview', 'webview/status', "import { uniformAt } from '../../src/engine/random';\nexport const r = uniformAt;\n");
    assert.ok(
      problems.some((p) =>
        p.startsWith('dist/stdin.js contains src/engine/random.ts (via webview/status/probe.ts → src/engine/random.ts): webview bundles contain only'),
      ),
      problems.join('\n'),
    );
  });

  it('a webview bundle may not load Node built-ins', async () => {
    // esbuild refuses Node built-ins on the browser platform unless they are marked external; the check catches that.
    const problems = await probe('webview', 'webview/status', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", ['node:fs']);
    assert.deepEqual(problems, [
      "dist/stdin.js loads the Node built-in 'node:fs' (imported by webview/status/probe.ts): webview bundles are self-contained browser code (an external import is a Node built-in or a package left to `require`).",
    ]);
  });

  it('checks a metafile by itself', () => {
    const metafile = {
      inputs: { 'webview/status/main.ts': { bytes: 1, imports: [{ path: 'node:fs', kind: 'import-statement' as const, external: true }] } },
      outputs: {
        'dist/webview/status.js': {
          bytes: 1,
          inputs: { 'webview/status/main.ts': { bytesInOutput: 1 } },
          imports: [{ path: 'node:fs', kind: 'import-statement' as const, external: true }],
          exports: [],
          entryPoint: 'webview/status/main.ts',
        },
      },
    };
    assert.deepEqual(checkBundle('webview', metafile), [
      "dist/webview/status.js loads the Node built-in 'node:fs' (imported by webview/status/main.ts): webview bundles are self-contained browser code (an external import is a Node built-in or a package left to `require`).",
    ]);
  });

  it('fails the build through the esbuild plugin', async () => {
    await assert.rejects(
      esbuild.build({
        ...node,
        bundle: true,
        write: false,
        logLevel: 'silent',
        outdir: 'dist',
        plugins: [bundleCheck('extension')],
        stdin: { contents: "import '../runtime/ort';\n", resolveDir: 'src/extension', sourcefile: 'probe.ts', loader: 'ts' },
      }),
      (e: Error) => /bundle check: dist\/stdin\.js contains src\/runtime\/ort\.ts/.test(e.message),
    );
  });
});
