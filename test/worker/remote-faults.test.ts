/**
 * Issue #17, remote core faults: the Open Inference Protocol client (src/runtime/oip/client.ts) against loopback servers
 * that misbehave on purpose — refuse, answer 401, 503 or 410, trickle the body, never answer, reset the connection
 * mid-answer, restart between steps. Each ends in bounded retries then a clear RemoteCoreError (or carries on, where
 * every step is self-contained), never a hang; through the worker's seam (src/worker/collabRemote.ts) a failure at
 * any step is a typed bad-input error that offers the local core, and a cancel stays a cancel.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { WorkerErrorCode } from '../../src/protocol/worker';
import { connectRemoteCore, RemoteCoreError, type RemoteCore, type RemoteCoreOptions } from '../../src/runtime/oip/client';
import { HEADER_LENGTH, decodeInferRequest, encodeInferResponse } from '../../src/runtime/oip/codec';
import { DENSE_MODEL, denseSignature, metadataParameters, type CoreModelInfo } from '../../src/runtime/oip/signature';
import { connectCollabCore } from '../../src/worker/collabRemote';
import { WorkerFailure } from '../../src/worker/service';

const INFO: CoreModelInfo = { pack: 'fake-core', vocabSize: 16, blockSize: 2, k: 5, tTrain: 10, selfConditioning: false, maxContext: 64 };
const { vocabSize: V, blockSize: B } = INFO;

/** What the fake server does with the n-th infer request (1-based): answer, or misbehave. */
type InferBehaviour = (n: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, answer: () => void) => void;

interface FakeCore {
  url: string;
  port: number;
  infers: number;
  /** A new server id, as a restarted `concert serve` would report. */
  restart(): void;
  close(): Promise<void>;
}

const servers = new Set<FakeCore>();
after(async () => {
  for (const s of servers) await s.close();
});

/** A loopback OIP v2 server for the dense core signature; `onInfer` decides what each infer request gets. */
async function fakeCore(onInfer: InferBehaviour = (_n, _q, _r, _b, answer) => answer(), port = 0): Promise<FakeCore> {
  let serverId = 'server-1';
  let restarts = 1;
  const sockets = new Set<Socket>();
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length, 'x-concert-server': serverId });
    res.end(b);
  };
  const state = { infers: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/\/+$/, '');
      if (path === '/v2/health/ready') return json(res, 200, { ready: true });
      if (path === `/v2/models/${DENSE_MODEL}`) {
        const sig = denseSignature(B, V);
        const strip = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape });
        return json(res, 200, { name: DENSE_MODEL, inputs: sig.inputs.map(strip), outputs: sig.outputs.map(strip), parameters: metadataParameters(INFO) });
      }
      if (path !== `/v2/models/${DENSE_MODEL}/infer`) return json(res, 404, { error: `no such path ${path}` });
      const body = Buffer.concat(chunks);
      const answer = () => {
        const hl = req.headers[HEADER_LENGTH];
        const parsed = decodeInferRequest(new Uint8Array(body), hl === undefined ? undefined : Number(hl));
        const R = parsed.inputs.find((t) => t.name === 'context_ids')!.shape[0]!;
        const logits = new Float32Array(R * B * V).map((_, i) => (i % V) / V);
        const enc = encodeInferResponse({ model_name: DENSE_MODEL, outputs: [{ name: 'logits', datatype: 'FP32', shape: [R, B, V], data: logits }] }, true);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': enc.body.length,
          [HEADER_LENGTH]: String(enc.headerLength),
          'x-concert-server': serverId,
        });
        res.end(Buffer.from(enc.body));
      };
      onInfer(++state.infers, req, res, body, answer);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as AddressInfo).port;
  const fake: FakeCore = {
    url: `http://127.0.0.1:${p}`,
    port: p,
    get infers() {
      return state.infers;
    },
    restart: () => {
      serverId = `server-${++restarts}`;
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        servers.delete(fake);
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  servers.add(fake);
  return fake;
}

/** Fast retries so that every case ends within a few seconds: 3 tries, 500 ms each at most. */
const FAST: Partial<RemoteCoreOptions> = { retries: 2, backoffMs: 20, timeoutMs: 500 };

async function step(core: RemoteCore, signal?: AbortSignal): Promise<Float32Array> {
  const ctx = await core.encodeContext([Int32Array.of(1, 2, 3)]);
  return core.denoise(ctx, new Float32Array(B * V), undefined, 0.5, signal);
}

/** The RemoteCoreError `p` rejects with, and after how long. */
async function failure(p: Promise<unknown>): Promise<{ e: RemoteCoreError; ms: number }> {
  const t0 = Date.now();
  const e = await p.then(
    () => assert.fail('expected a RemoteCoreError'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof RemoteCoreError, `not a RemoteCoreError: ${String(e)}`);
  return { e, ms: Date.now() - t0 };
}

const offersLocal = /You can continue with the local core/;

describe('remote core faults: bounded retries, then a clear stop (#17)', { timeout: 60_000 }, () => {
  it('connection refused: 3 tries, then "could not be reached", offering the local core', async () => {
    const gone = await fakeCore();
    const url = gone.url;
    await gone.close();
    const { e, ms } = await failure(connectRemoteCore({ url, ...FAST }));
    assert.equal(e.kind, 'refused');
    assert.equal(e.attempts, 3);
    assert.match(e.message, /could not be reached \(3 tries\): connection refused/);
    assert.match(e.message, offersLocal);
    assert.ok(e.canUseLocalCore);
    assert.ok(ms < 2000, `gave up after ${ms} ms`);
  });

  it('401 at a later step (token revoked): stops at once, no retry, names the token', async () => {
    const s = await fakeCore((n, _q, res, _b, answer) =>
      n === 1 ? answer() : (res.writeHead(401, { 'content-type': 'application/json' }), res.end('{"error":"bad token"}')),
    );
    const core = await connectRemoteCore({ url: s.url, mode: 'dense', ...FAST });
    try {
      await step(core);
      const { e } = await failure(step(core));
      assert.equal(e.kind, 'unauthorized');
      assert.equal(e.status, 401);
      assert.equal(e.attempts, 1);
      assert.match(e.message, /refused the token \(HTTP 401: bad token\): check the core token setting/);
      assert.equal(s.infers, 2, 'a refused token is not retried');
    } finally {
      core.close();
    }
  });

  it('503 (busy or broken): retried with backoff; recovers if the server does, else a bounded stop', async () => {
    const busy =
      (until: number): InferBehaviour =>
      (n, _q, res, _b, answer) => {
        if (n > until) return answer();
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end('{"error":"the server is busy: try again shortly"}');
      };
    const flaky = await fakeCore(busy(2));
    const ok = await connectRemoteCore({ url: flaky.url, mode: 'dense', ...FAST });
    assert.equal((await step(ok)).length, B * V, 'the third try succeeds');
    assert.deepEqual(
      ok.ledger.filter((r) => r.kind === 'infer').map((r) => r.status),
      [503, 503, 200],
    );
    ok.close();
    const down = await fakeCore(busy(Infinity));
    const core = await connectRemoteCore({ url: down.url, mode: 'dense', ...FAST });
    const { e, ms } = await failure(step(core));
    core.close();
    assert.equal(e.kind, 'server');
    assert.equal(e.status, 503);
    assert.equal(e.attempts, 3);
    assert.match(e.message, /failed \(3 tries\): HTTP 503: the server is busy/);
    assert.match(e.message, offersLocal);
    assert.ok(ms < 2000, `gave up after ${ms} ms`);
  });

  it('a slow body (one byte every 100 ms) and a server that never answers: each try ends at its deadline', async () => {
    const trickle: InferBehaviour = (_n, _q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 100_000 });
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 100);
      res.on('close', () => clearInterval(t));
    };
    const silent: InferBehaviour = () => {
      /* reads the request, never answers */
    };
    for (const behaviour of [trickle, silent]) {
      const s = await fakeCore(behaviour);
      const core = await connectRemoteCore({ url: s.url, mode: 'dense', ...FAST });
      const { e, ms } = await failure(step(core));
      core.close();
      assert.equal(e.kind, 'timeout');
      assert.equal(e.attempts, 3);
      assert.match(e.message, /did not answer in time \(3 tries\)/);
      // 3 tries of 500 ms plus 20 + 40 ms of backoff.
      assert.ok(ms >= 1400 && ms < 3500, `gave up after ${ms} ms`);
      assert.equal(s.infers, 3);
    }
  });

  it('the connection reset mid-answer: retried; a server that keeps doing it ends in a clear stop', async () => {
    const resetAfterHalf =
      (times: number): InferBehaviour =>
      (n, _q, res, _b, answer) => {
        if (n > times) return answer();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 4096 });
        res.write(Buffer.alloc(1024));
        setTimeout(() => res.socket?.destroy(), 20);
      };
    const once = await fakeCore(resetAfterHalf(1));
    const ok = await connectRemoteCore({ url: once.url, mode: 'dense', ...FAST });
    assert.equal((await step(ok)).length, B * V);
    const tries = ok.ledger.filter((r) => r.kind === 'infer');
    assert.equal(tries.length, 2);
    assert.ok(tries[0]!.error, 'the reset try is in the ledger');
    ok.close();
    const always = await fakeCore(resetAfterHalf(Infinity));
    const core = await connectRemoteCore({ url: always.url, mode: 'dense', ...FAST });
    const { e, ms } = await failure(step(core));
    core.close();
    assert.equal(e.attempts, 3);
    assert.equal(e.kind, 'server');
    assert.match(e.message, /failed \(3 tries\): the connection was lost mid-answer \(ECONNRESET\)/);
    assert.match(e.message, offersLocal);
    assert.ok(ms < 2000, `gave up after ${ms} ms`);
  });

  it('a server restarted between steps: the dense core carries on and the ledger says so; a lost state (410) stops at once', async () => {
    const s = await fakeCore();
    const core = await connectRemoteCore({ url: s.url, mode: 'dense', ...FAST });
    await step(core);
    s.restart();
    await step(core);
    assert.ok(core.ledger.some((r) => r.serverRestarted));
    core.close();
    const lost = await fakeCore((_n, _q, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end('{"error":"this run\'s self-conditioning state is not on this server"}');
    });
    const c2 = await connectRemoteCore({ url: lost.url, mode: 'dense', ...FAST });
    const { e } = await failure(step(c2));
    c2.close();
    assert.equal(e.kind, 'restarted');
    assert.equal(e.attempts, 1);
    assert.match(e.message, /restarted mid-run and lost this run's state/);
  });

  it('a server restarted on the same port while the client waits: the retries reach the new one', async () => {
    const first = await fakeCore();
    const port = first.port;
    const core = await connectRemoteCore({ url: first.url, mode: 'dense', retries: 5, backoffMs: 100, timeoutMs: 1000 });
    await step(core);
    await first.close();
    // Down for ~250 ms, then back (a restart): the step in between is retried, not failed.
    setTimeout(() => void fakeCore(undefined, port), 250);
    assert.equal((await step(core)).length, B * V);
    assert.ok(core.ledger.some((r) => r.error && /refused/.test(r.error)));
    core.close();
  });

  it('a cancel ends a slow try or a backoff at once, as "cancelled" (no local-core offer)', async () => {
    const s = await fakeCore(() => {
      /* never answers */
    });
    const core = await connectRemoteCore({ url: s.url, mode: 'dense', retries: 3, backoffMs: 5000, timeoutMs: 300 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const a = await failure(step(core, ac.signal));
    assert.equal(a.e.kind, 'cancelled');
    assert.equal(a.e.canUseLocalCore, false);
    assert.ok(a.ms < 500, `cancelled after ${a.ms} ms`);
    // In the backoff after a timed-out try.
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 600);
    const b = await failure(step(core, ac2.signal));
    assert.equal(b.e.kind, 'cancelled');
    assert.ok(b.ms < 1000, `cancelled after ${b.ms} ms`);
    core.close();
  });

  it("through the worker's seam: a failure at any step is a typed bad-input error, a cancel is Cancelled", async () => {
    const s = await fakeCore((n, _q, res, _b, answer) => (n <= 1 ? answer() : (res.writeHead(503), res.end())));
    const ac = new AbortController();
    const remote = await connectCollabCore({ url: s.url, mode: 'dense' }, { vocabSize: V, blockSize: B, k: INFO.k, tTrain: INFO.tTrain }, ac.signal);
    try {
      const ctx = await remote.lm.encodeContext([Int32Array.of(1, 2)]);
      await remote.lm.denoise(ctx, new Float32Array(B * V), undefined, 0.5);
      const t0 = Date.now();
      const e = await remote.lm.denoise(ctx, new Float32Array(B * V), undefined, 0.5).then(
        () => assert.fail('expected a failure'),
        (x: unknown) => x,
      );
      assert.ok(e instanceof WorkerFailure, `not a WorkerFailure: ${String(e)}`);
      assert.equal(e.code, WorkerErrorCode.BadInput);
      assert.match(e.message, /^remote core: the core server at http:\/\/127\.0\.0\.1:\d+ failed \(4 tries\): HTTP 503/);
      assert.match(e.message, offersLocal);
      assert.ok(Date.now() - t0 < 10_000);
      const ledger = remote.ledger();
      assert.ok(ledger.requests >= 6);
    } finally {
      await remote.close();
    }
    const hang = await fakeCore(() => {
      /* never answers */
    });
    const ac2 = new AbortController();
    const r2 = await connectCollabCore({ url: hang.url, mode: 'dense' }, { vocabSize: V, blockSize: B, k: INFO.k, tTrain: INFO.tTrain }, ac2.signal);
    const ctx = await r2.lm.encodeContext([Int32Array.of(1)]);
    setTimeout(() => ac2.abort(), 100);
    const e = await r2.lm.denoise(ctx, new Float32Array(B * V), undefined, 0.5).then(
      () => assert.fail('expected a cancel'),
      (x: unknown) => x,
    );
    assert.ok(e instanceof WorkerFailure);
    assert.equal(e.code, WorkerErrorCode.Cancelled);
    await r2.close();
    // A mismatched model is refused at connection, clearly.
    await assert.rejects(
      connectCollabCore({ url: s.url, mode: 'dense' }, { vocabSize: V + 1, blockSize: B, k: INFO.k, tTrain: INFO.tTrain }, new AbortController().signal),
      (x: unknown) => x instanceof WorkerFailure && x.code === WorkerErrorCode.BadInput && /cannot collaborate with the user model/.test(x.message),
    );
  });
});
