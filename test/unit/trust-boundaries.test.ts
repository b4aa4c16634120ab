/**
 * Issue #17, trust boundaries, where the logic is pure:
 * - untrusted workspaces: settings that name files or servers (model folders, pack folders, the remote core URL) are
 *   restricted in package.json and read at user level only; no model folder or pack path, from any setting, may lead
 *   into an untrusted workspace (`${workspaceFolder}`, relative or absolute); Concert has no setting that names an
 *   executable (worker binary, ffmpeg) at all;
 * - webviews: `localResourceRoots` are the extension's own folders; the host runs only fixed command ids, never one
 *   taken from a message, and the message guards refuse anything else;
 * - `concert serve` (the real CoreServer, in process, with a fake model): a non-loopback address needs a token of
 *   ≥ 16 characters, the token is compared in constant time (timingSafeEqual of digests), bodies over the limit are
 *   refused with or without Content-Length, excess concurrent requests get 503, and a client that goes away frees its
 *   slot at once; browser requests and foreign Host headers are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { isCollabViewToHost } from '../../src/extension/collabMessages';
import {
  RESTRICTED_SETTINGS,
  SETTINGS,
  isInsideAny,
  settingValue,
  toWorkerSettings,
  trustedPackId,
  type ConfigLike,
  type SettingKey,
} from '../../src/extension/settingsTable';
import { isStatusViewToHost } from '../../src/extension/statusMessages';
import { CODICONS_DIR, WEBVIEW_RESOURCE_DIRS } from '../../src/extension/webviewHtml';
import { WorkerErrorCode } from '../../src/protocol/worker';
import { HEADER_LENGTH, encodeInferRequest } from '../../src/runtime/oip/codec';
import { CoreServer, isLoopback } from '../../src/worker/serve';
import { WorkerFailure, type WorkerService } from '../../src/worker/service';
import { FakeDiffusionLM } from '../helpers/fakeDiffusion';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  capabilities: { untrustedWorkspaces: { supported: string | boolean; restrictedConfigurations: string[] } };
  contributes: { configuration: { properties: Record<string, { type: string; scope?: string }> } };
};

describe('untrusted workspaces: settings', () => {
  it('every setting that names a folder, a pack, a URL or an executable is restricted; the core URL is machine-scoped', () => {
    const caps = pkg.capabilities.untrustedWorkspaces;
    assert.equal(caps.supported, 'limited');
    const names = /folder|path|pack|url|uri|exec|binary|ffmpeg|worker|command|server|host/i;
    const sensitive = SETTINGS.filter((s) => (s.type === 'string' || s.type === 'array') && names.test(s.key)).map((s) => s.key);
    assert.ok(sensitive.length >= 4, `found ${sensitive.join(', ')}`);
    for (const key of sensitive) assert.ok(caps.restrictedConfigurations.includes(key), `${key} is not in restrictedConfigurations`);
    for (const key of ['concert.modelFolders', 'concert.cad.modelPack', 'concert.diffusion.modelPack', 'concert.collab.coreUrl'])
      assert.ok(caps.restrictedConfigurations.includes(key), key);
    assert.deepEqual([...RESTRICTED_SETTINGS].sort(), [...caps.restrictedConfigurations].sort());
    // A workspace cannot even set the core URL (machine scope: user or remote settings only).
    assert.ok(['machine', 'application'].includes(pkg.contributes.configuration.properties['concert.collab.coreUrl']!.scope ?? ''));
    // Nothing configures an executable, its arguments or its environment — but ffmpeg (issue #15), which only user or
    // remote settings may name (machine scope: a workspace cannot), restricted besides.
    const ffmpeg = pkg.contributes.configuration.properties['concert.ffmpegPath'];
    assert.equal(ffmpeg?.scope, 'machine');
    assert.ok(caps.restrictedConfigurations.includes('concert.ffmpegPath'));
    for (const key of Object.keys(pkg.contributes.configuration.properties))
      if (key !== 'concert.ffmpegPath')
        assert.doesNotMatch(key, /exec|binary|ffmpeg|workerPath|worker\.path|args|env/i, `${key} would let settings name a program`);
  });

  it('untrusted: a restricted setting keeps only its user-level (or default) value; others read normally', () => {
    const values: Record<string, { effective: unknown; globalValue?: unknown; defaultValue?: unknown }> = {
      'concert.modelFolders': { effective: ['/repo/.evil-models'], globalValue: ['/home/u/packs'], defaultValue: [] },
      'concert.collab.coreUrl': { effective: 'https://attacker.example', defaultValue: '' },
      'concert.diffusion.steps': { effective: 12, defaultValue: 50 },
    };
    const config: ConfigLike = {
      get: (k) => values[k]?.effective,
      inspect: (k) => values[k] && { ...(values[k].globalValue !== undefined && { globalValue: values[k].globalValue }), defaultValue: values[k].defaultValue },
    };
    assert.deepEqual(settingValue(config, 'concert.modelFolders', false), ['/home/u/packs']);
    assert.equal(settingValue(config, 'concert.collab.coreUrl', false), '');
    assert.equal(settingValue(config, 'concert.diffusion.steps', false), 12);
    assert.deepEqual(settingValue(config, 'concert.modelFolders', true), ['/repo/.evil-models']);
    assert.equal(settingValue(config, 'concert.collab.coreUrl', true), 'https://attacker.example');
  });

  it('untrusted: no model folder leads into the workspace, however it is written (user-level entries included)', () => {
    const ws = path.resolve('/work/untrusted-repo');
    const home = path.resolve('/home/u');
    const folders = [
      '${workspaceFolder}/models',
      'models',
      './packs/../models',
      path.join(ws, 'sub', 'packs'),
      ws,
      '~/packs',
      '${userHome}/more',
      '/opt/packs',
    ];
    const read = (k: SettingKey) => (k === 'concert.modelFolders' ? folders : undefined);
    const untrusted = toWorkerSettings(read, '/ext', { workspaceFolder: ws, home, untrustedFolders: [ws] });
    assert.deepEqual(untrusted.settings.modelFolders, [path.join(home, 'packs'), path.join(home, 'more'), path.resolve('/opt/packs')]);
    assert.equal(untrusted.warnings.filter((w) => /leads into this workspace, which is not trusted; skipped/.test(w)).length, 5, untrusted.warnings.join('\n'));
    assert.equal(untrusted.settings.bundledModelsDir, path.join('/ext', 'models'));
    // Trusted (or no untrusted folders): the same entries resolve.
    const trusted = toWorkerSettings(read, '/ext', { workspaceFolder: ws, home });
    assert.ok(trusted.settings.modelFolders.includes(path.join(ws, 'models')));
    assert.ok(trusted.settings.modelFolders.includes(path.join(ws, 'sub', 'packs')));
    assert.deepEqual(trusted.warnings, []);
    // A prefix is not containment.
    assert.equal(isInsideAny(`${ws}-other/models`, [ws]), false);
    assert.equal(isInsideAny(ws, [ws]), true);
  });

  it('untrusted: a pack named by a folder inside the workspace falls back to the default model, with a warning', () => {
    const ws = path.resolve('/work/untrusted-repo');
    const warnings: string[] = [];
    assert.equal(trustedPackId('concert.diffusion.modelPack', path.join(ws, 'pack'), { untrustedFolders: [ws] }, warnings), undefined);
    assert.match(warnings[0]!, /concert\.diffusion\.modelPack: ".*pack" is inside this workspace, which is not trusted/);
    assert.equal(trustedPackId('concert.cad.modelPack', 'concert-lm-small', { untrustedFolders: [ws] }, warnings), 'concert-lm-small');
    assert.equal(trustedPackId('concert.cad.modelPack', '/opt/packs/x', { untrustedFolders: [ws] }, warnings), '/opt/packs/x');
    assert.equal(trustedPackId('concert.cad.modelPack', path.join(ws, 'pack'), { untrustedFolders: [] }, warnings), path.join(ws, 'pack'));
    assert.equal(warnings.length, 1);
  });
});

describe('webviews', () => {
  const extensionSources = () =>
    readdirSync('src/extension')
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: f, text: readFileSync(path.join('src/extension', f), 'utf8') }));

  it("localResourceRoots: the extension's bundles, styles and fonts only, and every webview uses that list", () => {
    const root = path.resolve('/ext/concert');
    assert.deepEqual(WEBVIEW_RESOURCE_DIRS, [['dist', 'webview'], ['media'], CODICONS_DIR]);
    for (const d of WEBVIEW_RESOURCE_DIRS) {
      assert.ok(d.every((seg) => seg && seg !== '..' && !seg.includes('/') && !seg.includes('\\') && !path.isAbsolute(seg)));
      assert.ok(isInsideAny(path.join(root, ...d), [root]));
    }
    const uses = extensionSources().flatMap(({ file, text }) => [...text.matchAll(/localResourceRoots:\s*([^\n]+)/g)].map((m) => `${file}: ${m[1]}`));
    assert.ok(uses.length >= 2, uses.join('\n'));
    for (const u of uses) assert.match(u, /: WEBVIEW_RESOURCE_DIRS\.map\(\(d\) => vscode\.Uri\.joinPath\([^,]*(extensionUri|root), \.\.\.d\)\)/, u);
  });

  it('the host runs fixed command ids only, never one taken from a message', () => {
    const allowed = [/^'[\w.]+'$/, /^COMMANDS\.\w+\.id$/, /^`\$\{[A-Z_]+\}\.focus`$/];
    const calls = extensionSources().flatMap(({ file, text }) => [...text.matchAll(/executeCommand\(\s*([^,)]+)/g)].map((m) => ({ file, arg: m[1]!.trim() })));
    assert.ok(calls.length >= 5);
    for (const { file, arg } of calls) {
      if (file === 'statusView.ts' && arg === 'id') continue; // the `run` helper; its callers are checked below
      assert.ok(
        allowed.some((re) => re.test(arg)),
        `${file}: executeCommand(${arg}) — not a fixed command id`,
      );
    }
    const status = readFileSync('src/extension/statusView.ts', 'utf8');
    const runs = [...status.matchAll(/\brun\(\s*([^,)]+)/g)].map((m) => m[1]!.trim());
    assert.ok(runs.length >= 5);
    for (const arg of runs)
      assert.ok(
        allowed.some((re) => re.test(arg)),
        `statusView.ts: run(${arg})`,
      );
  });

  it('the message guards refuse command-like and unknown messages', () => {
    for (const m of [
      { type: 'executeCommand', command: 'workbench.action.terminal.new' },
      { type: 'runCommand', id: 'workbench.action.terminal.new' },
      { type: '__proto__' },
      { type: 'toString' },
      { type: 'selfTestPack', packId: 42 },
      null,
      'refresh',
    ]) {
      assert.equal(isStatusViewToHost(m), false, JSON.stringify(m));
      assert.equal(isCollabViewToHost(m), false, JSON.stringify(m));
    }
    assert.equal(isStatusViewToHost({ type: 'refresh' }), true);
  });
});

// ── concert serve ──────────────────────────────────────────────────────────────────────────────────────────────

const TOKEN = 'a-long-enough-token-0123';
const lm = new FakeDiffusionLM(16, 2, 5, 10, false, 64);
const service = {
  diffusionModel: async () => ({ pack: { manifest: { id: 'fake-core' } }, lm, tok: { specialIds: { bos: 1 } }, modelSha256: 'x' }),
} as unknown as WorkerService;
const servers: CoreServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function start(p: Parameters<typeof CoreServer.start>[1]): Promise<CoreServer> {
  const s = await CoreServer.start(service, { port: 0, ...p });
  servers.push(s);
  return s;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}
/** One request on its own connection; `body` as chunks (no Content-Length unless given in headers). */
function request(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: Buffer | Buffer[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false, timeout: 10_000 }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of body === undefined ? [] : Array.isArray(body) ? body : [body]) req.write(c);
    req.end();
  });
}

describe('concert serve: server-mode limits', () => {
  it('loopback names only count as loopback', () => {
    for (const h of ['127.0.0.1', '127.5.6.7', 'localhost', '::1', '[::1]', 'LOCALHOST']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.4', '127.0.0.1.nip.io', '::ffff:127.0.0.1', 'example.com', '127.1']) assert.equal(isLoopback(h), false, h);
  });

  it('a non-loopback address needs a token of ≥ 16 characters; with one, every request must carry it', async () => {
    for (const token of [undefined, '', 'short-token']) {
      await assert.rejects(
        CoreServer.start(service, { host: '0.0.0.0', port: 0, ...(token !== undefined && { token }) }),
        (e: unknown) => e instanceof WorkerFailure && e.code === WorkerErrorCode.BadInput && /needs a bearer token of at least 16 characters/.test(e.message),
      );
    }
    const s = await start({ host: '0.0.0.0', token: TOKEN });
    assert.equal(s.describe().auth, true);
    const no = await request(s.port, 'GET', '/v2/health/live');
    assert.equal(no.status, 401);
    assert.equal(no.headers['www-authenticate'], 'Bearer');
    // Same length, last character different; a prefix; a longer one; another scheme.
    for (const auth of [`Bearer ${TOKEN.slice(0, -1)}X`, `Bearer ${TOKEN.slice(0, 8)}`, `Bearer ${TOKEN}0`, `Basic ${TOKEN}`, `Bearer  ${TOKEN}`])
      assert.equal((await request(s.port, 'GET', '/v2/health/live', { authorization: auth })).status, 401, auth);
    assert.equal((await request(s.port, 'GET', '/v2/health/live', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('the token is compared in constant time (timingSafeEqual over fixed-length digests), never with ===', () => {
    const src = readFileSync('src/worker/serve.ts', 'utf8');
    const authorised = /private authorised\([\s\S]*?\n {2}\}/.exec(src)?.[0] ?? '';
    assert.match(authorised, /timingSafeEqual\(digest\(m\[1\]!\), this\.tokenDigest\)/);
    assert.doesNotMatch(authorised, /===|!==|==/);
    assert.doesNotMatch(src, /token\s*===|===\s*token|tokenDigest\s*===|\.equals\(this\.tokenDigest/);
  });

  it('bodies over the limit are refused, announced (Content-Length) or not (chunked)', async () => {
    const s = await start({ maxBodyBytes: 1024 });
    const infer = '/v2/models/concert-core/infer';
    const big = await request(s.port, 'POST', infer, { 'content-length': '4096' }, Buffer.alloc(4096, 0x20));
    assert.equal(big.status, 413);
    assert.match(big.body, /exceeds 1024 bytes/);
    const chunked = await request(s.port, 'POST', infer, {}, [Buffer.alloc(600, 0x20), Buffer.alloc(600, 0x20), Buffer.alloc(600, 0x20)]);
    assert.equal(chunked.status, 413);
    // Under the limit: read, then refused for what it is (not JSON), not for its size.
    assert.equal((await request(s.port, 'POST', infer, {}, Buffer.from('{"inputs": 1'))).status, 400);
  });

  it('at most maxConcurrent requests are admitted (more get 503 + Retry-After); a client that goes away frees its slot', async () => {
    const s = await start({ maxConcurrent: 1 });
    const infer = '/v2/models/concert-core/infer';
    // A: announces 100 bytes, sends 10, and waits (it holds the only slot).
    const a = http.request({ host: '127.0.0.1', port: s.port, method: 'POST', path: infer, headers: { 'content-length': '100' }, agent: false });
    a.on('error', () => {});
    a.write(Buffer.alloc(10, 0x20));
    await new Promise((r) => setTimeout(r, 200));
    const busy = await request(s.port, 'POST', infer, {}, Buffer.from('{}'));
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '1');
    assert.match(busy.body, /busy/);
    // GETs (health) are not infer requests: still answered.
    assert.equal((await request(s.port, 'GET', '/v2/health/live')).status, 200);
    a.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const next = await request(s.port, 'POST', infer, {}, Buffer.from('{"inputs": 1'));
    assert.equal(next.status, 400, 'admitted (and refused for its content), not 503');
  });

  it('a request whose client left while it waited for its turn is dropped unrun, and its slot is free at once', async () => {
    // A model whose steps wait for a gate: the first request holds the (serial) model while others queue behind it.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let runs = 0;
    const gated = new FakeDiffusionLM(16, 2, 5, 10, false, 64);
    const denoise = gated.denoise.bind(gated);
    gated.denoise = async (...args: Parameters<FakeDiffusionLM['denoise']>) => {
      runs++;
      await gate;
      return denoise(...args);
    };
    const gatedService = {
      diffusionModel: async () => ({ pack: { manifest: { id: 'gated' } }, lm: gated, tok: { specialIds: { bos: 1 } }, modelSha256: 'x' }),
    } as unknown as WorkerService;
    const s = await CoreServer.start(gatedService, { port: 0, maxConcurrent: 2 });
    servers.push(s);
    const B = 2;
    const V = 16;
    const { body, headerLength } = encodeInferRequest(
      {
        inputs: [
          { name: 'context_ids', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(1n, 2n, 3n) },
          { name: 'context_mask', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(1n, 1n, 1n) },
          { name: 'noisy_logits', datatype: 'FP32', shape: [1, B, V], data: new Float32Array(B * V) },
          { name: 'self_cond_logits', datatype: 'FP32', shape: [1, B, V], data: new Float32Array(B * V) },
          { name: 't_frac', datatype: 'FP32', shape: [1], data: Float32Array.of(0.5) },
        ],
        outputs: [{ name: 'logits', binary: true }],
      },
      true,
    );
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length), [HEADER_LENGTH]: String(headerLength) };
    const infer = '/v2/models/concert-core/infer';
    const first = request(s.port, 'POST', infer, headers, Buffer.from(body));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(runs, 1, 'the first request is running');
    // The second waits for its turn, then its client gives up.
    const second = http.request({ host: '127.0.0.1', port: s.port, method: 'POST', path: infer, headers, agent: false });
    second.on('error', () => {});
    second.end(Buffer.from(body));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await request(s.port, 'POST', infer, {}, Buffer.from('{}'))).status, 503, 'two admitted: full');
    second.destroy();
    await new Promise((r) => setTimeout(r, 150));
    const third = request(s.port, 'POST', infer, headers, Buffer.from(body));
    await new Promise((r) => setTimeout(r, 150));
    open();
    assert.equal((await first).status, 200);
    assert.equal((await third).status, 200, 'admitted: the slot of the client that left was free');
    assert.equal(runs, 2, "the abandoned request's inference never ran");
  });

  it('browser requests (Origin) and foreign Host headers (DNS rebinding) are refused on loopback', async () => {
    const s = await start({});
    assert.equal((await request(s.port, 'GET', '/v2', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await request(s.port, 'GET', '/v2', { host: 'evil.example' })).status, 403);
    assert.equal((await request(s.port, 'GET', '/v2', { host: `localhost:${s.port}` })).status, 200);
    assert.equal(s.describe().auth, false);
    assert.equal(s.host, '127.0.0.1');
    const addr = (s as unknown as { server: http.Server }).server.address() as AddressInfo;
    assert.equal(addr.address, '127.0.0.1', 'bound to loopback by default');
  });
});
