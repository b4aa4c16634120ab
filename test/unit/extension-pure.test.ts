/**
 * The vscode-free parts of the extension host: setting coercion and paths, status-bar and doctor text, the
 * webview shell's CSP, and the check on webview messages.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { DoctorReport, PackSummary, ProviderReport } from '../../src/protocol/worker';
import { LineBuffer, doctorLines, doctorNeedsAttention, doctorSummary, statusBarLook } from '../../src/extension/present';
import { addVerdict, describePack, variantOf } from '../../src/extension/addModelVerdict';
import { WORKER_SETTING_KEYS, coerceSetting, resolveFolder, settingDef, toWorkerSettings, type SettingKey } from '../../src/extension/settingsTable';
import { isStatusViewToHost } from '../../src/extension/statusMessages';
import { contentSecurityPolicy, webviewHtml } from '../../src/extension/webviewHtml';

const root = path.resolve('/ext');
const ws = path.resolve('/ws');
const home = path.resolve('/home/u');

describe('settings values', () => {
  it('keeps valid values and falls back to the default for invalid ones', () => {
    assert.equal(coerceSetting(settingDef('concert.device'), 'cpu'), 'cpu');
    assert.equal(coerceSetting(settingDef('concert.device'), 'tpu'), 'auto');
    assert.equal(coerceSetting(settingDef('concert.threads'), 2.5), 0);
    assert.equal(coerceSetting(settingDef('concert.threads'), -1), 0);
    assert.equal(coerceSetting(settingDef('concert.idleUnloadMinutes'), 0.5), 0.5);
    assert.deepEqual(coerceSetting(settingDef('concert.modelFolders'), ['a', 3]), []);
  });

  it('resolves ~, ${userHome}, ${workspaceFolder} and relative folders', () => {
    assert.equal(resolveFolder('~/packs', { home }), path.join(home, 'packs'));
    assert.equal(resolveFolder('${userHome}/p', { home }), path.join(home, 'p'));
    assert.equal(resolveFolder('${workspaceFolder}/models', { workspaceFolder: ws, home }), path.join(ws, 'models'));
    assert.equal(resolveFolder('models', { workspaceFolder: ws, home }), path.join(ws, 'models'));
    assert.equal(resolveFolder('models', { home }), undefined);
    assert.equal(resolveFolder('${workspaceFolder}/m', { home }), undefined);
    assert.equal(resolveFolder('  ', { home }), undefined);
  });

  it('builds WorkerSettings with the bundled folder, minutes → seconds, deduplicated folders and warnings', () => {
    const values: Partial<Record<SettingKey, unknown>> = {
      'concert.device': 'gpu',
      'concert.modelFolders': ['~/a', path.join(home, 'a'), 'rel'],
      'concert.idleUnloadMinutes': 2,
      'concert.threads': 4,
    };
    const { settings, warnings } = toWorkerSettings((k) => values[k], root, { home });
    assert.deepEqual(settings, {
      device: 'auto',
      modelFolders: [path.join(home, 'a')],
      bundledModelsDir: path.join(root, 'models'),
      idleUnloadSeconds: 120,
      threads: 4,
    });
    assert.equal(warnings.length, 2);
    assert.match(warnings.join('\n'), /concert\.device/);
    assert.match(warnings.join('\n'), /"rel"/);
  });

  it('passes a named model dtype to the worker (auto is its default, so it is left out); refuses others', () => {
    assert.equal(toWorkerSettings((k) => (k === 'concert.modelDtype' ? 'q4' : undefined), root, {}).settings.modelDtype, 'q4');
    assert.equal(toWorkerSettings((k) => (k === 'concert.modelDtype' ? 'fp16' : undefined), root, {}).settings.modelDtype, 'fp16');
    assert.equal('modelDtype' in toWorkerSettings((k) => (k === 'concert.modelDtype' ? 'auto' : undefined), root, {}).settings, false);
    const bad = toWorkerSettings((k) => (k === 'concert.modelDtype' ? 'int4' : undefined), root, {});
    assert.equal('modelDtype' in bad.settings, false);
    assert.match(bad.warnings.join('\n'), /concert\.modelDtype/);
    assert.ok(WORKER_SETTING_KEYS.includes('concert.modelDtype'), 'a changed dtype reconfigures the worker');
  });

  it('uses the defaults when nothing is set, without warnings', () => {
    const { settings, warnings } = toWorkerSettings(() => undefined, root, {});
    assert.deepEqual(settings, { device: 'auto', modelFolders: [], bundledModelsDir: path.join(root, 'models'), idleUnloadSeconds: 600, threads: 0 });
    assert.deepEqual(warnings, []);
  });
});

const provider: ProviderReport = {
  available: [
    { name: 'cpu', bundled: true },
    { name: 'webgpu', bundled: true },
  ],
  requested: 'auto',
  chosen: 'cpu',
  device: 'CPU, 2 threads',
  fallbackReasons: ['webgpu: canary run failed: no adapter'],
};

describe('status bar', () => {
  it('says idle before the first request and names the provider once running', () => {
    assert.equal(statusBarLook('stopped', undefined, false).text, '$(chip) Concert: idle');
    const running = statusBarLook('running', provider, true);
    assert.match(running.text, /Concert: CPU/);
    assert.doesNotMatch(running.text, /warning/, 'with auto, falling back to the CPU is expected');
    assert.match(statusBarLook('running', { ...provider, requested: 'webgpu' }, true).text, /\$\(warning\)/, 'a missed explicit request is flagged');
    assert.match(running.tooltip, /CPU, 2 threads/);
    assert.match(running.tooltip, /no adapter/);
    assert.equal(running.background, undefined);
  });
  it('uses warning and error backgrounds for restarting and failed', () => {
    assert.equal(statusBarLook('restarting', provider, true).background, 'statusBarItem.warningBackground');
    const failed = statusBarLook('failed', undefined, true, 'crashed 5 times');
    assert.equal(failed.background, 'statusBarItem.errorBackground');
    assert.equal(failed.tooltip, 'crashed 5 times');
  });
});

describe('doctor text', () => {
  const report: DoctorReport = {
    protocolVersion: 1,
    versions: { concert: '0.1.0', node: 'v20.0.0', onnxruntime: '1.30.0', platform: 'linux-x64' },
    provider,
    packs: [
      { id: 'tiny', kind: 'causal-lm', dir: '/m/tiny', source: 'bundled', valid: true },
      { id: 'bad', kind: 'unknown', dir: '/m/bad', source: 'user', valid: false, error: 'model pack "bad": hash mismatch for model.onnx' },
    ],
    loadedSessions: [],
    workerPid: 42,
  };
  it('summarises provider and packs in one line', () => {
    const s = doctorSummary(report);
    assert.match(s, /CPU \(CPU, 2 threads\)/);
    assert.match(s, /1 valid model pack, 1 invalid/);
    assert.match(s, /1 other provider was not usable/);
    assert.doesNotMatch(s, /\n/);
    assert.ok(doctorNeedsAttention(report), 'an invalid pack needs attention');
    assert.ok(!doctorNeedsAttention({ ...report, packs: report.packs.slice(0, 1) }), 'auto falling back to the CPU does not');
    assert.match(doctorSummary({ ...report, provider: { ...provider, requested: 'webgpu' } }), /WebGPU was requested but is not usable/);
  });
  it('writes every pack and its error to the log', () => {
    const lines = doctorLines(report).join('\n');
    assert.match(lines, /onnxruntime 1\.30\.0/);
    assert.match(lines, /✓ tiny/);
    assert.match(lines, /✗ bad .*hash mismatch/);
  });
});

describe('worker stderr lines', () => {
  it('joins chunks split mid-line', () => {
    const b = new LineBuffer();
    assert.deepEqual(b.push('one\ntw'), ['one']);
    assert.deepEqual(b.push('o\r\nthree'), ['two']);
    assert.deepEqual(b.flush(), ['three']);
    assert.deepEqual(b.push('\x1b[1;31mred error\n\x1b[m\n'), ['red error'], 'colour codes and the lines they leave empty are dropped');
  });
});

describe('status webview', () => {
  it('has a strict CSP: nothing by default, one nonce for scripts, no inline or remote code', () => {
    const csp = contentSecurityPolicy('https://x.vscode-cdn.net', 'abc');
    assert.match(csp, /^default-src 'none'/);
    assert.match(csp, /script-src 'nonce-abc'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    const html = webviewHtml({
      title: 'T',
      cspSource: 'https://x.vscode-cdn.net',
      nonce: 'abc',
      scriptUri: 'https://x/status.js',
      styleUris: ['https://x/s.css'],
      codiconsUri: 'https://x/codicon.css',
    });
    assert.match(html, /<script type="module" nonce="abc" src="https:\/\/x\/status.js">/);
    assert.match(html, /id="vscode-codicon-stylesheet"/);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
  });
  it('accepts only known intents of the right shape', () => {
    assert.ok(isStatusViewToHost({ type: 'ready' }));
    assert.ok(isStatusViewToHost({ type: 'selfTestPack', packId: 'tiny' }));
    assert.ok(!isStatusViewToHost({ type: 'selfTestPack' }));
    assert.ok(!isStatusViewToHost({ type: 'runShell', cmd: 'rm' }));
    assert.ok(!isStatusViewToHost({ type: 'toString' }));
    assert.ok(!isStatusViewToHost(null));
    assert.ok(!isStatusViewToHost('ready'));
  });
});

describe('Add Model… verdicts', () => {
  const dir = path.resolve('/m/qwen2-tiny');
  const pack: PackSummary = { id: 'qwen2-tiny', kind: 'causal-lm', dir, source: 'user', valid: true, displayName: 'qwen2-tiny (fp16)' };

  it('names the model with its kind and weight variant', () => {
    assert.equal(variantOf(pack), 'fp16');
    assert.equal(describePack(pack), 'qwen2-tiny (causal-lm, fp16 weights)');
    assert.equal(describePack({ id: 'concert-lm-small', kind: 'causal-lm', displayName: 'Concert LM (small)' }), 'concert-lm-small (causal-lm)');
  });

  it('accepts exactly one valid model that is the folder itself (or its real path)', () => {
    assert.deepEqual(addVerdict(dir, dir, [pack]), { ok: true, pack });
    const linked = path.resolve('/home/u/link');
    assert.equal(addVerdict(linked, dir, [pack]).ok, true);
  });

  it('refuses with the reason: nothing found, several models, a sub-folder, an invalid model', () => {
    const why = (v: ReturnType<typeof addVerdict>) => (v.ok ? '' : v.reason);
    assert.match(why(addVerdict(dir, dir, [])), /no model found in qwen2-tiny: .*concert\.json.*config\.json/);
    assert.match(why(addVerdict(dir, dir, [pack, { ...pack, id: 'b' }])), /holds 2 models.*Add Model Folder/);
    assert.match(why(addVerdict(path.resolve('/m'), path.resolve('/m'), [pack])), /its sub-folder qwen2-tiny is: add that folder instead/);
    assert.match(
      why(addVerdict(dir, dir, [{ ...pack, valid: false, error: 'qwen2-tiny: has no onnx/model_q4.onnx (it has fp32, fp16)' }])),
      /qwen2-tiny is not usable: .*has fp32, fp16/,
    );
  });
});
