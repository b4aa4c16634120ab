/**
 * The architecture's arrows are lint rules; these probes prove the rules fire, so weakening eslint.config.mjs
 * fails the tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });
async function violations(filePath: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return r!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer rules', () => {
  it('src/engine may not import onnxruntime-node', async () => {
    assert.equal((await violations('src/engine/probe.ts', "import * as ort from 'onnxruntime-node';\nexport const x = ort;\n")).length, 1);
  });
  it('src/engine may not import vscode, runtime, worker or Node built-ins', async () => {
    for (const spec of ['vscode', '../runtime/ort', '../worker/client', '../extension/extension', 'node:fs', 'fs']) {
      assert.equal((await violations('src/engine/probe.ts', `import * as m from '${spec}';\nexport const x = m;\n`)).length, 1, spec);
    }
  });
  it('src/codec is pure too', async () => {
    assert.equal((await violations('src/codec/probe.ts', "import * as v from 'vscode';\nexport const x = v;\n")).length, 1);
  });
  it('the extension host may not load ONNX Runtime or the runtime layer', async () => {
    assert.equal((await violations('src/extension/probe.ts', "import * as ort from 'onnxruntime-node';\nexport const x = ort;\n")).length, 1);
    assert.equal((await violations('src/extension/probe.ts', "import { SessionCache } from '../runtime/ort';\nexport const x = SessionCache;\n")).length, 1);
  });
  it('webview code may import only itself and the webview protocol', async () => {
    assert.equal((await violations('webview/status/probe.ts', "import { WorkerClient } from '../../src/worker/client';\nexport const x = WorkerClient;\n")).length, 1);
    assert.equal((await violations('webview/status/probe.ts', "import type { StatusViewState } from '../../src/protocol/webview';\nexport type X = StatusViewState;\n")).length, 0);
  });
  it('pure layers may import each other and relative engine files', async () => {
    assert.equal((await violations('src/engine/probe.ts', "import * as s from './sampling';\nexport const x = s;\n")).length, 0);
  });
});

describe('layer rules for the host side', () => {
  it('the extension host may import the shared webview protocol but not webview code', async () => {
    assert.equal((await violations('src/extension/probe.ts', "import type { StatusViewState } from '../protocol/webview';\nexport type X = StatusViewState;\n")).length, 0);
    assert.equal((await violations('src/extension/probe.ts', "import { render } from '../../webview/status/view';\nexport const x = render;\n")).length, 1);
  });
});
