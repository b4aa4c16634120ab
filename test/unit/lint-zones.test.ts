/**
 * The architecture's arrows are one allow-list table (eslint/layers.mjs) enforced by the lint rule `concert/layers`.
 * These probes lint small files placed in each zone: every allowed arrow must pass, every forbidden one must fail
 * with a message naming the allow-list, and ARCHITECTURE.md must show exactly the table lint enforces.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { LAYERS, type Zone } from '../../eslint/layers.mjs';

const table: Record<string, Zone> = LAYERS;
const zones = Object.keys(table);

const eslint = new ESLint({ cwd: process.cwd() });
async function violations(filePath: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  assert.ok(r, filePath);
  const fatal = r.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${filePath} did not parse`);
  return r.messages.filter((m) => m.ruleId === 'concert/layers').map((m) => m.message);
}
const importOf = (spec: string) => `import * as m from '${spec}';\nexport const x = m;\n`;

/** A file linted as if it lived in the zone (a module zone is linted as that module). */
const isModuleZone = (key: string) => !(statSync(key, { throwIfNoEntry: false })?.isDirectory() ?? false);
const probeFile = (key: string) => (isModuleZone(key) ? `${key}.ts` : `${key}/probe.ts`);
/** The relative specifier from `fromFile` to a module of `target` (a folder gets a `probe` module inside it). */
function relativeSpec(fromFile: string, target: string): string {
  const from = fromFile.split('/').slice(0, -1);
  const to = (isModuleZone(target) ? target : `${target}/probe`).split('/');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  const up = from.length - common;
  return `${up ? '../'.repeat(up) : './'}${to.slice(common).join('/')}`;
}
const covered = (target: string, allowed: string[]) => allowed.some((a) => target === a || target.startsWith(`${a}/`));

describe('concert/layers: forbidden arrows', () => {
  const forbidden: Array<[file: string, spec: string, reason: string]> = [
    ['src/extension/probe.ts', '../worker/service', 'the worker service loads ONNX Runtime'],
    ['src/extension/probe.ts', '../worker/main', 'the worker process entry'],
    ['src/extension/probe.ts', '../worker/cadJob', 'a worker job'],
    ['src/extension/probe.ts', '../worker/diffusionJob', 'a worker job'],
    ['src/extension/probe.ts', '../engine/cad', 'algorithms run in the worker'],
    ['src/extension/probe.ts', '../runtime/ort', 'ONNX Runtime sessions'],
    ['src/extension/probe.ts', 'onnxruntime-node', 'ONNX Runtime itself'],
    ['src/extension/probe.ts', 'onnxruntime-node/dist/index.js', 'a deep import of ONNX Runtime'],
    ['src/extension/probe.ts', '../cli/main', 'the CLI'],
    ['src/extension/probe.ts', '../../webview/status/view', 'webview code'],
    ['src/cli/probe.ts', '../runtime/ort', 'the CLI talks to the worker process'],
    ['src/cli/probe.ts', '../worker/service', 'the CLI talks to the worker process'],
    ['src/cli/probe.ts', 'vscode', 'the CLI runs outside VS Code'],
    ['src/runtime/probe.ts', '../worker/service', 'an upward arrow'],
    ['src/runtime/probe.ts', 'onnxruntime-node', 'only ort.ts loads ONNX Runtime'],
    ['src/runtime/probe.ts', 'vscode', 'the runtime runs outside VS Code'],
    ['src/worker/probe.ts', '../cli/main', 'an upward arrow'],
    ['src/worker/probe.ts', '../extension/extension', 'an upward arrow'],
    ['src/worker/probe.ts', 'onnxruntime-node', 'only runtime/ort.ts loads ONNX Runtime'],
    ['src/worker/client.ts', './service', 'the client must not pull the service into the host bundle'],
    ['src/worker/client.ts', '../runtime/packs', 'the client must not pull the runtime into the host bundle'],
    ['src/protocol/probe.ts', 'node:fs', 'the protocol is types and constants'],
    ['src/protocol/probe.ts', 'fs', 'the protocol is types and constants'],
    ['src/protocol/probe.ts', '../runtime/manifest', 'an upward arrow'],
    ['src/protocol/webview.ts', './worker', 'the webview protocol is compiled into the browser bundles'],
    ['src/protocol/webview.ts', 'vscode-jsonrpc/node', 'the webview protocol is compiled into the browser bundles'],
    ['src/engine/probe.ts', 'onnxruntime-node', 'the engine is pure'],
    ['src/engine/probe.ts', 'vscode', 'the engine is pure'],
    ['src/engine/probe.ts', 'node:fs', 'the engine is pure'],
    ['src/engine/probe.ts', 'path', 'the engine is pure'],
    ['src/engine/probe.ts', '../runtime/ort', 'the engine is pure'],
    ['src/engine/probe.ts', '../protocol/worker', 'the engine is pure'],
    ['src/codec/probe.ts', 'vscode', 'the codec is pure'],
    ['src/codec/probe.ts', '../runtime/ort', 'the codec is pure'],
    ['webview/status/probe.ts', '../../src/worker/client', 'browser code'],
    ['webview/status/probe.ts', '../../src/protocol/worker', 'browser code'],
    ['webview/status/probe.ts', 'vscode', 'browser code'],
    ['webview/status/probe.ts', 'vscode-jsonrpc', 'browser code'],
    ['webview/status/probe.ts', 'node:path', 'browser code'],
    ['src/extension/probe.ts', '../../package.json', 'outside every layer'],
    ['src/extension/probe.ts', '/etc/passwd', 'an absolute path'],
  ];
  for (const [file, spec, reason] of forbidden) {
    it(`${file.split('/').slice(0, -1).join('/')} ↛ ${spec} (${reason})`, async () => {
      const v = await violations(file, importOf(spec));
      assert.equal(v.length, 1, `${file} → ${spec} passed lint`);
      assert.match(v[0]!, / may import only: .*\(layers table in eslint\/layers\.mjs\)$/);
    });
  }

  it('names the importing zone and its whole allow-list', async () => {
    const [m] = await violations('src/extension/probe.ts', importOf('../worker/service'));
    assert.equal(
      m,
      "'../worker/service' is src/worker/service: src/extension may import only: src/extension, src/worker/client, src/protocol, vscode, node built-ins (layers table in eslint/layers.mjs)",
    );
  });

  it('catches every import form: type-only, re-export, dynamic import, require, import = require, import()', async () => {
    const forms = [
      "import type { ModelService } from '../worker/service';\nexport type X = ModelService;\n",
      "export { WorkerService } from '../worker/service';\n",
      "export * from '../worker/service';\n",
      "export const load = () => import('../worker/service');\n",
      "// eslint-disable-next-line @typescript-eslint/no-require-imports\nexport const s = require('../worker/service');\n",
      "import s = require('../worker/service');\nexport const x = s;\n",
      "export type S = typeof import('../worker/service');\n",
    ];
    for (const code of forms) assert.equal((await violations('src/extension/probe.ts', code)).length, 1, code);
  });

  it('every other zone, package and built-in is forbidden unless the table allows it', async () => {
    const packages = [
      'vscode',
      'vscode-jsonrpc',
      'vscode-jsonrpc/node',
      'onnxruntime-node',
      'onnxruntime-node/dist/index.js',
      'onnxruntime-common',
      '@huggingface/tokenizers',
      '@vscode-elements/elements/dist/vscode-button/index.js',
    ];
    for (const key of zones) {
      const z = table[key]!;
      const file = probeFile(key);
      for (const other of zones) {
        if (covered(other, [key, ...z.layers])) continue;
        // A module zone inside an allowed folder is reachable through that folder.
        assert.equal((await violations(file, importOf(relativeSpec(file, other)))).length, 1, `${key} → ${other}`);
      }
      for (const p of packages) {
        const allowed = z.packages.some((a) => (a.endsWith('/*') ? p.startsWith(a.slice(0, -1)) : a === p));
        if (!allowed) assert.equal((await violations(file, importOf(p))).length, 1, `${key} → ${p}`);
      }
      if (!z.node) assert.equal((await violations(file, importOf('node:fs'))).length, 1, `${key} → node:fs`);
    }
  });

  it('every source file belongs to a zone', async () => {
    assert.deepEqual(await violations('src/probe.ts', 'export const x = 1;\n'), [
      'src/probe.ts belongs to no layer: add its folder to the layers table in eslint/layers.mjs and ARCHITECTURE.md.',
    ]);
  });
});

describe('concert/layers: allowed arrows', () => {
  for (const key of zones) {
    const z = table[key]!;
    const file = probeFile(key);
    it(`${key} → ${[...z.layers, ...z.packages, ...(z.node ? ['node built-ins'] : [])].join(', ') || 'itself only'}`, async () => {
      if (!isModuleZone(key)) assert.deepEqual(await violations(file, importOf('./sibling')), [], `${key} → itself`);
      for (const layer of z.layers) assert.deepEqual(await violations(file, importOf(relativeSpec(file, layer))), [], `${key} → ${layer}`);
      for (const p of z.packages) {
        const spec = p.endsWith('/*') ? `${p.slice(0, -2)}/dist/probe/index.js` : p;
        assert.deepEqual(await violations(file, importOf(spec)), [], `${key} → ${spec}`);
      }
      if (z.node) {
        for (const b of ['node:fs', 'node:path', 'fs/promises']) assert.deepEqual(await violations(file, importOf(b)), [], `${key} → ${b}`);
      }
    });
  }

  it('the arrows the architecture names are allowed', async () => {
    const allowed: Array<[string, string]> = [
      ['src/extension/probe.ts', '../worker/client'],
      ['src/extension/probe.ts', '../protocol/worker'],
      ['src/extension/probe.ts', '../protocol/webview'],
      ['src/extension/probe.ts', 'vscode'],
      ['src/cli/probe.ts', '../worker/client'],
      ['src/cli/probe.ts', '../protocol/worker'],
      ['src/worker/client.ts', './restartPolicy'],
      ['src/worker/client.ts', 'vscode-jsonrpc/node'],
      ['src/worker/probe.ts', '../runtime/ort'],
      ['src/worker/probe.ts', '../engine/cad'],
      ['src/worker/probe.ts', './service'],
      ['src/runtime/probe.ts', '../engine/models'],
      ['src/runtime/probe.ts', './ort'],
      ['src/runtime/ort.ts', 'onnxruntime-node'],
      ['src/runtime/ort.ts', 'onnxruntime-node/package.json'],
      ['src/engine/diffusion/probe.ts', '../random'],
      ['src/codec/probe.ts', '../engine/random'],
      ['src/protocol/probe.ts', 'vscode-jsonrpc/node'],
      ['webview/status/probe.ts', '../../src/protocol/webview'],
      ['webview/status/probe.ts', '../common/vdom'],
      ['webview/status/probe.ts', '@vscode-elements/elements/dist/vscode-button/index.js'],
    ];
    for (const [file, spec] of allowed) assert.deepEqual(await violations(file, importOf(spec)), [], `${file} → ${spec}`);
  });
});

describe('ARCHITECTURE.md', () => {
  it('shows exactly the allow-list table that lint enforces', () => {
    const md = readFileSync('ARCHITECTURE.md', 'utf8');
    const start = md.indexOf('| zone | may import (besides itself) | packages | Node built-ins |');
    assert.ok(start >= 0, 'ARCHITECTURE.md has the allow-list table');
    const rows = md
      .slice(start)
      .split('\n')
      .slice(2)
      .filter((l) => l.startsWith('|'));
    const ticks = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const shown: Record<string, Zone> = {};
    for (const row of rows) {
      const cells = row
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      assert.equal(cells.length, 4, row);
      const [zone, layers, packages, node] = cells as [string, string, string, string];
      assert.ok(/^(yes|no)$/.test(node), row);
      shown[ticks(zone)[0]!] = { layers: ticks(layers), packages: ticks(packages), node: node === 'yes' };
    }
    assert.deepEqual(shown, table);
  });
});
