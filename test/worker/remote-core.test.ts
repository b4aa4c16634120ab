/**
 * The remote core (issue #13): `concert serve` as a real process on a free loopback port, and the Open Inference
 * Protocol client (src/runtime/oip/client.ts) decoding through it with the engine. Dense equals the local decode token
 * for token; sparse (top-k) equals dense when k covers the nucleus; 401 without or with a wrong token; a server killed
 * mid-run ends in bounded retries and a clear error; a restarted server is survived by the stateless dense mode and
 * named by the sparse one; a capturing proxy in front of the server proves the knowledge never reaches it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collaborationTerms, decodeDiffusion, type DiffusionOptions } from '../../src/engine/diffusion/decode';
import type { DiffusionLM } from '../../src/engine/models';
import { OnnxDiffusionLM, diffusionShape } from '../../src/runtime/diffusionLm';
import { decodeInferRequest, type Tensor } from '../../src/runtime/oip/codec';
import { connectRemoteCore, RemoteCoreError, type RemoteCore, type RemoteCoreOptions } from '../../src/runtime/oip/client';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { requireBuild } from '../helpers/worker';

const MODELS = path.resolve('models');
const TOKEN = 'test-token-0123456789abcdef';

interface Served {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

const procs = new Set<ChildProcess>();

/** `concert serve` on loopback; resolves with its URL once it prints it (bounded). */
function serve(extra: string[] = [], port = 0): Promise<Served> {
  const proc = spawn(process.execPath, [path.resolve('bin/concert.js'), 'serve', '--port', String(port), '--device', 'cpu', '--threads', '1', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', CONCERT_SERVE_TOKEN: '' },
  });
  procs.add(proc);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`concert serve printed no URL within 60 s: ${out} ${err}`));
    }, 60_000);
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!,
        port: Number(m[2]),
        proc,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once('exit', () => done());
            // SIGTERM: the CLI kills its worker (and so the server) at once.
            proc.kill('SIGTERM');
          }),
      });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`concert serve exited (${code}) before printing its URL: ${err}`));
    });
  });
}

/** A loopback proxy that keeps every request body it forwards (the "server side" as the network sees it). */
async function capturingProxy(
  target: string,
): Promise<{ url: string; bodies: { path: string; headers: http.IncomingHttpHeaders; body: Buffer }[]; close(): Promise<void> }> {
  const t = new URL(target);
  const bodies: { path: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push({ path: req.url ?? '', headers: req.headers, body });
      const fwd = http.request(
        { hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host }, timeout: 30_000 },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      fwd.on('error', () => {
        res.statusCode = 502;
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function localLm(id: string, sessions: SessionCache): Promise<OnnxDiffusionLM> {
  const pack = await validatePack(path.join(MODELS, id), 'bundled');
  return new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), diffusionShape(pack), 0);
}

const CONTEXT = Int32Array.of(1, 312, 45, 987, 23, 1500, 77);
const options = (seed: number, extra: Partial<DiffusionOptions> = {}): DiffusionOptions => ({
  terms: [{ context: CONTEXT, weight: 1, label: 'core' }],
  maxTokens: 8,
  steps: 12,
  projection: { kind: 'sample', topP: 0.5 },
  seed,
  ...extra,
});

/** Tokens and every step's argmax. */
async function run(lm: DiffusionLM, o: DiffusionOptions): Promise<{ tokens: number[]; steps: string[] }> {
  const steps: string[] = [];
  const r = await decodeDiffusion(lm, { ...o, onStep: (s) => steps.push(`${s.block}/${s.t}:${Array.from(s.tokens).join(',')}`) });
  return { tokens: r.tokens, steps };
}

/** Token ids of `text` by the user pack's tokenizer, through the CLI. */
function tokenize(text: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.resolve('bin/concert.js'), 'tokenize', 'concert-ssd-user', text, '--json', '--device', 'cpu'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.add(p);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`concert tokenize exited ${code}`));
      resolve((JSON.parse(out) as { ids: number[] }).ids);
    });
  });
}

/** The largest top-p nucleus (engine convention: keep tokens while the mass before them is < p) over positions. */
function widestNucleus(logits: Float32Array, V: number, topP: number): number {
  let widest = 0;
  for (let o = 0; o < logits.length; o += V) {
    const row = logits.subarray(o, o + V);
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    const e = Array.from(row, (x) => Math.exp(x - max)).sort((a, b) => b - a);
    const sum = e.reduce((s, x) => s + x, 0);
    let before = 0;
    let n = 0;
    for (const x of e) {
      if (n > 0 && !(before < topP)) break;
      before += x / sum;
      n++;
    }
    widest = Math.max(widest, n);
  }
  return widest;
}

const connect = (o: RemoteCoreOptions) => connectRemoteCore({ timeoutMs: 20_000, ...o });

let sessions: SessionCache;
let local: OnnxDiffusionLM;
let server: Served;
let dir: string;

before(async () => {
  requireBuild();
  dir = mkdtempSync(path.join(tmpdir(), 'concert-remote-'));
  sessions = new SessionCache('cpu', 1, 0);
  local = await localLm('concert-ssd-core', sessions);
  server = await serve();
});
after(async () => {
  await server?.stop();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sessions?.clear();
  rmSync(dir, { recursive: true, force: true });
});

describe('concert serve + the OIP v2 remote core', () => {
  it('serves health, metadata and refuses what it should (loopback)', async () => {
    const get = (p: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.get(`${server.url}${p}`, { headers, timeout: 20_000 }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
      });
    assert.deepEqual(JSON.parse((await get('/v2/health/ready')).body), { ready: true });
    const meta = JSON.parse((await get('/v2/models/concert-core')).body) as { inputs: { name: string }[]; parameters: Record<string, unknown> };
    assert.deepEqual(
      meta.inputs.map((i) => i.name),
      ['context_ids', 'context_mask', 'noisy_logits', 'self_cond_logits', 't_frac'],
    );
    assert.equal(meta.parameters['concert_vocab_size'], 8192);
    assert.equal((await get('/v2/models/nope')).status, 404);
    assert.equal((await get('/v2', { origin: 'http://example.com' })).status, 403, 'browser requests are refused');
    assert.equal((await get('/v2', { host: 'attacker.example:80' })).status, 403, 'DNS-rebinding Host headers are refused');
    // An oversized body is refused from its Content-Length, without reading it.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${server.url}/v2/models/concert-core/infer`,
        { method: 'POST', headers: { 'content-length': String(100 * 1024 * 1024) }, timeout: 20_000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    assert.equal(status, 413);
  });

  it('dense decoding through the server equals the local decode token for token (fixed seed)', async () => {
    const core = await connect({ url: server.url, mode: 'dense' });
    try {
      for (const seed of [3, 11]) {
        const want = await run(local, options(seed));
        const got = await run(core, options(seed));
        assert.deepEqual(got.tokens, want.tokens, `seed ${seed}`);
        assert.deepEqual(got.steps, want.steps, `seed ${seed}: every step's argmax`);
      }
      const infer = core.ledger.filter((r) => r.kind === 'infer');
      assert.ok(infer.length >= 2 * 4 * 12);
      assert.ok(infer.every((r) => r.status === 200 && r.sent?.mode === 'dense' && r.bytesSent > 2 * 2 * 8192 * 4));
    } finally {
      core.close();
    }
  });

  it('a Triton-style server (dense model only, parameters under /config): no mode given → the dense signature, same tokens', async () => {
    // What Triton serving `tools/export --triton` answers: no concert-core-sparse model, model metadata without
    // parameters, and the concert_* parameters as {string_value} in the model configuration.
    const t = new URL(server.url);
    const triton = http.createServer((req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const forward = (rewrite?: (meta: Record<string, unknown>) => unknown) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const path2 = req.url === '/v2/models/concert-core/config' ? '/v2/models/concert-core' : req.url;
          const fwd = http.request({ hostname: t.hostname, port: t.port, method: req.method, path: path2, headers: { ...req.headers, host: t.host } }, (r) => {
            if (!rewrite) {
              res.writeHead(r.statusCode ?? 502, r.headers);
              return r.pipe(res);
            }
            const body: Buffer[] = [];
            r.on('data', (c: Buffer) => body.push(c));
            r.on('end', () => send(r.statusCode ?? 502, rewrite(JSON.parse(Buffer.concat(body).toString('utf8')) as Record<string, unknown>)));
          });
          fwd.end(Buffer.concat(chunks));
        });
      };
      if (req.url?.startsWith('/v2/models/concert-core-sparse')) return send(404, { error: 'Request for unknown model' });
      if (req.url === '/v2/models/concert-core') return forward(({ parameters: _p, ...meta }) => meta);
      if (req.url === '/v2/models/concert-core/config')
        return forward((meta) => ({
          name: 'concert-core',
          backend: 'onnxruntime',
          parameters: Object.fromEntries(Object.entries(meta['parameters'] as Record<string, unknown>).map(([k, v]) => [k, { string_value: String(v) }])),
        }));
      forward();
    });
    await new Promise<void>((r) => triton.listen(0, '127.0.0.1', r));
    const core = await connect({ url: `http://127.0.0.1:${(triton.address() as AddressInfo).port}` });
    try {
      assert.equal(core.mode, 'dense');
      const want = await run(local, options(5));
      assert.deepEqual((await run(core, options(5))).tokens, want.tokens);
      assert.ok(
        core.ledger.some((r) => r.path === '/v2/models/concert-core/config' && r.status === 200),
        'the parameters came from /config',
      );
    } finally {
      core.close();
      await new Promise<void>((r) => {
        triton.close(() => r());
        triton.closeAllConnections();
      });
    }
  });

  it('sparse (top-k) decoding equals dense when k covers the nucleus, at a fraction of the bytes', async () => {
    const dense = await connect({ url: server.url, mode: 'dense' });
    // Top-p 0.5 nuclei of the bundled core reach several hundred tokens at the noisiest steps: k = 1024 covers them
    // (checked below on the dense logits); greedy projection (top-p 0) needs only the argmax.
    const cases = [
      { topK: 1024, topP: 0.5 },
      { topK: 8, topP: 0 },
    ];
    try {
      for (const { topK, topP } of cases) {
        const sparse = await connect({ url: server.url, mode: 'sparse', topK });
        for (const seed of [3, 5, 11]) {
          let widest = 0;
          const measured: DiffusionLM = {
            ...dense,
            vocabSize: dense.vocabSize,
            blockSize: dense.blockSize,
            k: dense.k,
            tTrain: dense.tTrain,
            selfConditioning: dense.selfConditioning,
            maxContext: dense.maxContext,
            encodeContext: (rows, signal) => dense.encodeContext(rows, signal),
            denoise: async (...args) => {
              const out = await dense.denoise(...args);
              widest = Math.max(widest, widestNucleus(out, dense.vocabSize, topP));
              return out;
            },
          };
          const a = await run(measured, options(seed, { projection: { kind: 'sample', topP } }));
          assert.ok(widest <= topK, `the nucleus (${widest}) fits k = ${topK}`);
          const b = await run(sparse, options(seed, { projection: { kind: 'sample', topP } }));
          assert.deepEqual(b.tokens, a.tokens, `k ${topK}, top-p ${topP}, seed ${seed}`);
        }
        const per = (c: RemoteCore) => {
          const rs = c.ledger.filter((r) => r.kind === 'infer');
          return (rs.reduce((s, r) => s + r.bytesSent + r.bytesReceived, 0) / rs.length) | 0;
        };
        assert.ok(per(sparse) * 5 < per(dense), `sparse ${per(sparse)} B/step vs dense ${per(dense)} B/step`);
        const steps = sparse.ledger.filter((r) => r.kind === 'infer');
        assert.ok(steps.every((r) => r.sent?.mode === 'sparse' && r.sent.topK === topK && r.sent.noise !== undefined));
        assert.ok(
          steps.some((r) => r.sent?.selfCond === 'state'),
          'self-conditioning names the server-side logits',
        );
        sparse.close();
      }
    } finally {
      dense.close();
    }
  });

  it('asks for a token: 401 without it or with a wrong one, clearly and without retrying', async () => {
    const guarded = await serve(['--token', TOKEN]);
    try {
      for (const token of [undefined, 'wrong-token-0123456789']) {
        const t0 = Date.now();
        await assert.rejects(
          connect({ url: guarded.url, ...(token && { token }) }),
          (e: unknown) => e instanceof RemoteCoreError && e.kind === 'unauthorized' && e.status === 401 && e.attempts === 1 && /token/.test(e.message),
        );
        assert.ok(Date.now() - t0 < 5000);
      }
      const ok = await connect({ url: guarded.url, token: TOKEN, mode: 'sparse' });
      const r = await run(ok, options(3, { maxTokens: 2, steps: 4 }));
      assert.equal(r.tokens.length, 2);
      ok.close();
    } finally {
      await guarded.stop();
    }
  });

  it('refuses a non-loopback address without a token', async () => {
    await assert.rejects(serve(['--host', '0.0.0.0']), /needs a bearer token/);
  });

  it('a server killed mid-run: bounded retries, then a clear error that offers the local core (no hang)', async () => {
    const victim = await serve();
    let killed = false;
    const core = await connect({
      url: victim.url,
      mode: 'sparse',
      retries: 3,
      backoffMs: 100,
      onWire: (r) => {
        if (!killed && r.kind === 'infer' && r.seq >= 6) {
          killed = true;
          void victim.stop();
        }
      },
    });
    const t0 = Date.now();
    await assert.rejects(
      run(core, options(3)),
      (e: unknown) =>
        e instanceof RemoteCoreError && e.kind === 'refused' && e.attempts === 4 && /could not be reached/.test(e.message) && /local core/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 15_000, `gave up after ${Date.now() - t0} ms`);
    core.close();
  });

  it('a server restarted mid-run: dense carries on (every step is self-contained); sparse says its state is gone', async () => {
    let current = await serve();
    const port = current.port;
    const restartAt = (seq: number) => {
      let done = false;
      return (r: { kind: string; seq: number }) => {
        if (done || r.kind !== 'infer' || r.seq < seq) return;
        done = true;
        const old = current;
        void old.stop().then(async () => (current = await serve([], port)));
      };
    };
    try {
      const sparse = await connect({ url: current.url, mode: 'sparse', retries: 8, backoffMs: 250, onWire: restartAt(6) });
      await assert.rejects(
        run(sparse, options(3)),
        (e: unknown) => e instanceof RemoteCoreError && e.kind === 'restarted' && /restarted mid-run/.test(e.message),
      );
      sparse.close();
      const dense = await connect({ url: `http://127.0.0.1:${port}`, mode: 'dense', retries: 8, backoffMs: 250, onWire: restartAt(6) });
      const r = await run(dense, options(3));
      assert.equal(r.tokens.length, 8);
      assert.ok(
        dense.ledger.some((x) => x.serverRestarted),
        'the ledger notes the restart',
      );
      assert.ok(
        dense.ledger.some((x) => x.error),
        'the failed tries are in the ledger',
      );
      dense.close();
    } finally {
      await current.stop();
    }
  });

  it('no knowledge-derived token id or tensor reaches the core (engine level, capturing proxy)', async () => {
    const proxy = await capturingProxy(server.url);
    const user = await localLm('concert-ssd-user', sessions);
    // The "knowledge": ids the core must never see, in the user's context only.
    const secret = [4711, 4712, 4713, 4714, 4715, 4716];
    for (const mode of ['sparse', 'dense'] as const) {
      const core = await connect({ url: proxy.url, mode });
      const terms = collaborationTerms(
        { lm: core, context: CONTEXT },
        { lm: user, withKnowledge: Int32Array.from([...CONTEXT.slice(0, 1), ...secret, ...CONTEXT.slice(1)]), withoutKnowledge: CONTEXT },
        { lambdaUser: 0.3, alpha: 1 },
      );
      await decodeDiffusion(core, { ...options(5), terms, selfCondition: 'combined' });
      // The engine offered the combined (knowledge-conditioned) logits as self-conditioning: never sent.
      assert.ok(core.ledger.some((r) => r.sent?.withheld));
      core.close();
    }
    const infers = proxy.bodies.filter((b) => b.path.endsWith('/infer'));
    assert.ok(infers.length > 20);
    for (const b of infers) {
      const hl = b.headers['inference-header-content-length'];
      const req = decodeInferRequest(new Uint8Array(b.body), hl === undefined ? undefined : Number(hl));
      const ids = (name: string) => req.inputs.find((t: Tensor) => t.name === name);
      const ctx = Array.from(ids('context_ids')!.data as BigInt64Array, Number);
      for (const s of secret) assert.ok(!ctx.includes(s), `secret id ${s} was sent in context_ids`);
      assert.deepEqual(ctx.slice(0, CONTEXT.length), Array.from(CONTEXT), 'the core context is the instruction (then generated blocks)');
      const sc = ids('self_cond_logits');
      if (sc) {
        // Dense: the self-conditioning sent is zeros or the core's own previous output, which the proxy saw returned.
        assert.equal((sc.data as Float32Array).length, 2 * 8192);
      }
    }
    await proxy.close();
  });

  it('concert collab --core <url> --knowledge secret.md: the secret never crosses the wire', async () => {
    const proxy = await capturingProxy(server.url);
    const secretText = 'Zorblatt quintessence 98765 is the password of the vault';
    const file = path.join(dir, 'secret.md');
    writeFileSync(file, `# Notes\n\n${secretText}.\n`);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          path.resolve('bin/concert.js'),
          'collab',
          '--instruction',
          'What is the password of the vault?',
          '--knowledge',
          file,
          '--core',
          proxy.url,
          '--tokens',
          '4',
          '--steps',
          '6',
          '--device',
          'cpu',
          '--threads',
          '1',
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' } },
      );
      procs.add(p);
      let out = '';
      let err = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
    await proxy.close();
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as { ledger: { bytesSent: number; requests: number } };
    const infers = proxy.bodies.filter((b) => b.path.endsWith('/infer'));
    assert.ok(infers.length > 0, 'the core was asked');
    const all = Buffer.concat(proxy.bodies.map((b) => Buffer.concat([Buffer.from(JSON.stringify(b.headers)), b.body])));
    for (const word of ['Zorblatt', 'quintessence', '98765']) assert.ok(!all.includes(word), `knowledge text "${word}" crossed the wire`);
    // Nor its token ids: the secret's id sequence never appears in a context row sent to the core.
    const secretIds = await tokenize(' Zorblatt quintessence 98765');
    assert.ok(secretIds.length >= 3);
    for (const b of infers) {
      const hl = b.headers['inference-header-content-length'];
      const req = decodeInferRequest(new Uint8Array(b.body), hl === undefined ? undefined : Number(hl));
      const ctx = req.inputs.find((t) => t.name === 'context_ids')!;
      const ids = Array.from(ctx.data as BigInt64Array, Number).join(',');
      assert.ok(!ids.includes(secretIds.join(',')), "the secret's token ids were sent");
    }
    // The ledger counts every byte that left (request bodies), as the proxy saw them.
    assert.equal(
      result.ledger.bytesSent,
      proxy.bodies.reduce((s, b) => s + b.body.length, 0),
    );
  });
});
