/**
 * `server/start` (`concert serve`): the worker's core diffusion LM as an Open Inference Protocol v2 HTTP server
 * (signature in src/runtime/oip/signature.ts, docs/remote-core.md). node:http, one process, inference serialised
 * (ONNX Runtime sessions run one call at a time here, and the context cache mirrors the local decoder's).
 *
 * Security and limits: 127.0.0.1 by default; any other address needs a bearer token (≥ 16 characters), compared in
 * constant time; a token set on loopback is required too. Requests from browsers (an `Origin` header) and, on
 * loopback, Host headers other than the loopback names (DNS rebinding) are refused. Bodies are capped
 * (`maxBodyBytes`), at most `maxConcurrent` requests are admitted at once (more get 503 + Retry-After), headers and
 * whole requests have deadlines; a request whose client went away while it waited for its turn is dropped unrun (its
 * slot is free at once). Readiness (`/v2/health/ready`, `/v2/models/{m}/ready`) is a canary inference (concurrent
 * readiness checks share one).
 *
 * Test only: CONCERT_TEST_LEAK_BYTES_PER_REQUEST=<n> makes every infer request keep n bytes for the server's lifetime,
 * a deliberate leak that the soak's memory check (bench/reliability/soak.ts --leak-control) must catch. Concert never
 * sets it; nothing else reads it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkerErrorCode, type ServerStartParams, type ServerStartResult } from '../protocol/worker';
import type { ContextState } from '../engine/models';
import { rebuildNoisy } from '../engine/diffusion/recipe';
import { HEADER_LENGTH, OipCodecError, decodeInferRequest, encodeInferResponse, tensorNamed, type Tensor } from '../runtime/oip/codec';
import {
  DENSE_MODEL,
  MAX_ROWS,
  MAX_TOP_K,
  PARAM,
  SPARSE_MODEL,
  denseSignature,
  metadataParameters,
  sparseSignature,
  type CoreModelInfo,
} from '../runtime/oip/signature';
import type { OnnxDiffusionLM } from '../runtime/diffusionLm';
import { CONCERT_VERSION } from '../protocol/version';
import { WorkerFailure, type WorkerService } from './service';

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  /** Triton's --http-max-input-size default. */
  maxBodyBytes: 64 * 1024 * 1024,
  maxConcurrent: 8,
  requestTimeoutMs: 60_000,
};
const MIN_TOKEN_CHARS = 16;
/** Server-side self-conditioning states kept for sparse clients (least recently used dropped first). */
const STATE_BYTES = 256 * 1024 * 1024;
const CANARY_TTL_MS = 2000;
const CANARY_TIMEOUT_MS = 20_000;
/** Test only (see the file comment): bytes each infer request leaks on purpose; 0 unless a test sets it. */
const TEST_LEAK_ENV = 'CONCERT_TEST_LEAK_BYTES_PER_REQUEST';
function testLeakBytes(): number {
  const n = Number(process.env[TEST_LEAK_ENV] ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 256 * 1024 * 1024) : 0;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The top-k (descending logit, then ascending id) of one position, and the tail logit of the rest. */
export function topKOf(logits: Float32Array, offset: number, V: number, k: number, ids: Int32Array, vals: Float32Array, at: number): number {
  // Partial selection: a small sorted buffer (k ≤ 1024) is enough and exact.
  const bi = new Int32Array(k);
  const bv = new Float32Array(k);
  let n = 0;
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = logits[offset + v]!;
    if (x > max) max = x;
    if (n === k && !(x > bv[k - 1]!)) continue;
    let j = n < k ? n++ : k - 1;
    while (j > 0 && x > bv[j - 1]!) {
      bv[j] = bv[j - 1]!;
      bi[j] = bi[j - 1]!;
      j--;
    }
    bv[j] = x;
    bi[j] = v;
  }
  ids.set(bi.subarray(0, k), at);
  vals.set(bv.subarray(0, k), at);
  if (k >= V) return bv[k - 1]!;
  let all = 0;
  for (let v = 0; v < V; v++) all += Math.exp(logits[offset + v]! - max);
  let top = 0;
  for (let j = 0; j < k; j++) top += Math.exp(bv[j]! - max);
  const tailMass = all - top;
  const floor = bv[k - 1]! - 100;
  if (!(tailMass > 0)) return floor;
  const tail = max + Math.log(tailMass / (V - k));
  return Math.min(bv[k - 1]!, Math.max(floor, tail));
}

export class CoreServer {
  private readonly server: http.Server;
  private readonly serverId = randomBytes(8).toString('hex');
  private readonly tokenDigest: Buffer | undefined;
  private readonly allowedHosts: Set<string> | undefined;
  private admitted = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private canaryOk = 0;
  private canaryRun: Promise<true | string> | undefined;
  private readonly leakBytes = testLeakBytes();
  private readonly leaked: Buffer[] = [];
  private readonly contexts = new Map<string, ContextState>();
  private readonly states = new Map<string, { rows: number; logits: Float32Array }>();
  private stateBytes = 0;
  url = '';
  port = 0;

  private constructor(
    private readonly lm: OnnxDiffusionLM,
    private readonly canaryLm: OnnxDiffusionLM,
    private readonly info: CoreModelInfo,
    private readonly bos: number,
    readonly host: string,
    private readonly limits: typeof SERVE_DEFAULTS,
    token: string | undefined,
  ) {
    this.tokenDigest = token ? digest(token) : undefined;
    this.server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => void this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = limits.requestTimeoutMs;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxConnections = Math.max(16, limits.maxConcurrent * 4);
    this.allowedHosts = isLoopback(host) ? new Set(['127.0.0.1', 'localhost', '[::1]', host.toLowerCase()]) : undefined;
  }

  static async start(service: WorkerService, p: ServerStartParams): Promise<CoreServer> {
    const bad = (m: string) => new WorkerFailure(WorkerErrorCode.BadInput, m);
    const host = p.host ?? SERVE_DEFAULTS.host;
    const port = p.port ?? SERVE_DEFAULTS.port;
    if (typeof host !== 'string' || !host || /[\s/]/.test(host)) throw bad('host must be an address such as 127.0.0.1');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad('port must be an integer from 0 to 65535');
    const token = p.token || undefined;
    if (token !== undefined && (typeof token !== 'string' || /[\s]/.test(token))) throw bad('the token may not contain spaces');
    if (!isLoopback(host) && !(token && token.length >= MIN_TOKEN_CHARS))
      throw bad(`serving on ${host} (not loopback) needs a bearer token of at least ${MIN_TOKEN_CHARS} characters (--token, or $CONCERT_SERVE_TOKEN)`);
    const limits = { ...SERVE_DEFAULTS };
    const lim = (key: 'maxBodyBytes' | 'maxConcurrent' | 'requestTimeoutMs', min: number, max: number) => {
      const v = p[key];
      if (v === undefined) return;
      if (!Number.isInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`);
      limits[key] = v;
    };
    lim('maxBodyBytes', 1024, 1024 * 1024 * 1024);
    lim('maxConcurrent', 1, 256);
    lim('requestTimeoutMs', 1000, 3_600_000);
    const model = await service.diffusionModel(p.packId);
    const canary = await service.diffusionModel(model.pack.manifest.id);
    const bos = model.tok.specialIds['bos'] ?? model.tok.specialIds['pad'] ?? 0;
    const lm = model.lm;
    const info: CoreModelInfo = {
      pack: model.pack.manifest.id,
      vocabSize: lm.vocabSize,
      blockSize: lm.blockSize,
      k: lm.k,
      tTrain: lm.tTrain,
      selfConditioning: lm.selfConditioning,
      maxContext: lm.maxContext,
    };
    const s = new CoreServer(lm, canary.lm, info, bos, host, limits, token);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new WorkerFailure(
            WorkerErrorCode.BadInput,
            e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use: pick another with --port` : `cannot listen on ${host}:${port}: ${e.message}`,
          ),
        ),
      );
      s.server.listen({ host, port }, () => resolve());
    });
    const addr = s.server.address() as AddressInfo;
    s.port = addr.port;
    s.url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    return s;
  }

  describe(): ServerStartResult {
    return {
      url: this.url,
      host: this.host,
      port: this.port,
      packId: this.info.pack,
      models: [DENSE_MODEL, SPARSE_MODEL],
      auth: !!this.tokenDigest,
      limits: { ...this.limits },
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Runs `fn` after every earlier inference (one at a time). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private authorised(req: http.IncomingMessage): boolean {
    if (!this.tokenDigest) return true;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (\S+)$/.exec(h);
    return !!m && timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('x-concert-server', this.serverId);
    try {
      if (req.headers.origin !== undefined) throw new HttpError(403, 'requests from web pages are not accepted');
      if (this.allowedHosts) {
        const hostHeader = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
        if (!this.allowedHosts.has(hostHeader)) throw new HttpError(403, `unexpected Host header "${req.headers.host ?? ''}"`);
      }
      if (!this.authorised(req)) {
        req.resume();
        throw new HttpError(401, 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
      }
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/\/+$/, '');
      const method = req.method ?? 'GET';
      const get = (fn: () => unknown | Promise<unknown>) => {
        if (method !== 'GET') throw new HttpError(405, `${method} is not allowed here`, { allow: 'GET' });
        return fn();
      };
      if (path === '/v2/health/live') return this.json(res, 200, await get(() => ({ live: true })));
      if (path === '/v2/health/ready') {
        await get(() => undefined);
        const ready = await this.canary();
        return this.json(res, ready === true ? 200 : 503, ready === true ? { ready: true } : { ready: false, error: ready });
      }
      if (path === '/v2') return this.json(res, 200, await get(() => ({ name: 'concert', version: CONCERT_VERSION, extensions: ['binary_tensor_data'] })));
      const m = /^\/v2\/models\/([^/]+)(?:\/versions\/1)?(\/ready|\/infer)?$/.exec(path);
      if (!m || (m[1] !== DENSE_MODEL && m[1] !== SPARSE_MODEL)) throw new HttpError(404, `no such model or path: ${path}`);
      const model = m[1];
      if (!m[2]) return this.json(res, 200, await get(() => this.metadata(model)));
      if (m[2] === '/ready') {
        await get(() => undefined);
        const ready = await this.canary();
        return this.json(res, 200, { name: model, ready: ready === true });
      }
      if (method !== 'POST') throw new HttpError(405, `${method} is not allowed here`, { allow: 'POST' });
      if (this.admitted >= this.limits.maxConcurrent) {
        req.resume();
        throw new HttpError(503, 'the server is busy: try again shortly', { 'retry-after': '1' });
      }
      // A slot is held until the answer is sent or the client goes away (a cancelled request frees it at once; its
      // inference, if already running, finishes unheard, and one still queued is dropped unrun).
      this.admitted++;
      let held = true;
      const release = () => {
        if (held) {
          held = false;
          this.admitted--;
        }
      };
      res.once('close', release);
      try {
        const body = await this.readBody(req);
        // Test only: the deliberate leak of the soak's control run (touched, so it shows in the RSS).
        if (this.leakBytes) this.leaked.push(Buffer.alloc(this.leakBytes, 0xa5));
        const hl = req.headers[HEADER_LENGTH];
        const parsed = decodeInferRequest(new Uint8Array(body.buffer, body.byteOffset, body.length), hl === undefined ? undefined : Number(hl));
        const out = await this.serial(() => {
          // The client gave up (cancelled, timed out) while this request waited: no one would read the answer.
          if (res.destroyed || req.socket.destroyed) throw new HttpError(499, 'the client closed the connection before its turn');
          return model === DENSE_MODEL ? this.inferDense(parsed.inputs) : this.inferSparse(parsed.inputs, parsed.parameters);
        });
        const binary = parsed.binaryAll ? true : parsed.binaryOutputs;
        const enc = encodeInferResponse(
          {
            model_name: model,
            model_version: '1',
            ...(parsed.id !== undefined && { id: parsed.id }),
            parameters: { ...out.parameters, [PARAM.server]: this.serverId },
            outputs: out.outputs,
          },
          binary,
        );
        res.statusCode = 200;
        if (enc.headerLength !== undefined) {
          res.setHeader(HEADER_LENGTH, String(enc.headerLength));
          res.setHeader('content-type', 'application/octet-stream');
        } else res.setHeader('content-type', 'application/json');
        res.setHeader('content-length', String(enc.body.length));
        res.end(Buffer.from(enc.body.buffer, enc.body.byteOffset, enc.body.length));
      } finally {
        release();
      }
    } catch (e) {
      const err =
        e instanceof HttpError ? e : e instanceof OipCodecError ? new HttpError(400, e.message) : new HttpError(500, (e as Error)?.message ?? String(e));
      if (res.headersSent || res.destroyed) return void res.destroy();
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      this.json(res, err.status, { error: err.message });
    }
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    const b = Buffer.from(JSON.stringify(body));
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', String(b.length));
    res.end(b);
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    const max = this.limits.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > max) {
      req.resume();
      return Promise.reject(new HttpError(413, `the request body exceeds ${max} bytes`, { connection: 'close' }));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          req.removeAllListeners('data');
          req.resume();
          reject(new HttpError(413, `the request body exceeds ${max} bytes`, { connection: 'close' }));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private metadata(model: string) {
    const sig = model === DENSE_MODEL ? denseSignature(this.info.blockSize, this.info.vocabSize) : sparseSignature(this.info.blockSize);
    const strip = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape });
    return {
      name: model,
      versions: ['1'],
      platform: 'concert_worker',
      inputs: sig.inputs.map(strip),
      outputs: sig.outputs.map(strip),
      parameters: metadataParameters(this.info),
    };
  }

  /** true, or why not: one tiny inference (a 1-token context, one step) on its own model instance; shared by callers. */
  private canary(): Promise<true | string> {
    if (Date.now() - this.canaryOk < CANARY_TTL_MS) return Promise.resolve(true);
    this.canaryRun ??= this.runCanary().finally(() => (this.canaryRun = undefined));
    return this.canaryRun;
  }

  private async runCanary(): Promise<true | string> {
    const { blockSize: B, vocabSize: V } = this.info;
    let timer: NodeJS.Timeout | undefined;
    try {
      const run = this.serial(async () => {
        const ctx = await this.canaryLm.encodeContext([Int32Array.of(this.bos)]);
        const out = await this.canaryLm.denoise(ctx, new Float32Array(B * V), undefined, 1);
        if (out.length !== B * V || !Number.isFinite(out[0]!)) throw new Error('the canary inference returned no finite logits');
      });
      await Promise.race([run, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the canary inference timed out')), CANARY_TIMEOUT_MS)))]);
      this.canaryOk = Date.now();
      return true;
    } catch (e) {
      this.canaryOk = 0;
      return (e as Error).message;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** The rows of context_ids/context_mask (left padding dropped), checked against the model. */
  private rowsOf(inputs: Tensor[]): Int32Array[] {
    const ids = tensorNamed(inputs, 'context_ids', 'INT64');
    const mask = tensorNamed(inputs, 'context_mask', 'INT64');
    const [R, L] = ids.shape;
    if (ids.shape.length !== 2 || !R || !L || R > MAX_ROWS) throw new HttpError(400, `context_ids must be [R, L] with 1 ≤ R ≤ ${MAX_ROWS}`);
    if (mask.shape.length !== 2 || mask.shape[0] !== R || mask.shape[1] !== L) throw new HttpError(400, 'context_mask must have the shape of context_ids');
    const idData = ids.data as BigInt64Array;
    const maskData = mask.data as BigInt64Array;
    const { vocabSize: V, blockSize: B, maxContext } = this.info;
    const rows: Int32Array[] = [];
    for (let r = 0; r < R; r++) {
      const row: number[] = [];
      for (let j = 0; j < L; j++) {
        const mk = maskData[r * L + j]!;
        if (mk !== 0n && mk !== 1n) throw new HttpError(400, 'context_mask values must be 0 or 1');
        if (mk === 0n) {
          if (row.length) throw new HttpError(400, 'context rows must be left-padded');
          continue;
        }
        const id = Number(idData[r * L + j]!);
        if (!(id >= 0 && id < V)) throw new HttpError(400, `context token ${id} is not in the vocabulary`);
        row.push(id);
      }
      if (!row.length) throw new HttpError(400, 'every context row needs at least one token');
      if (row.length + B > maxContext) throw new HttpError(400, `a context of ${row.length} tokens plus a block exceeds the model's ${maxContext}`);
      rows.push(Int32Array.from(row));
    }
    return rows;
  }

  /** The encoded context of these rows: cached by content; a new one extends the previous when it can (as locally). */
  private async context(rows: Int32Array[]): Promise<ContextState> {
    const key = rows.map((r) => r.join(',')).join('|');
    const hit = this.contexts.get(key);
    if (hit) {
      this.contexts.delete(key);
      this.contexts.set(key, hit);
      return hit;
    }
    const ctx = await this.lm.encodeContext(rows);
    this.contexts.set(key, ctx);
    while (this.contexts.size > 8) this.contexts.delete(this.contexts.keys().next().value!);
    return ctx;
  }

  private tFrac(inputs: Tensor[], R: number): number {
    const t = tensorNamed(inputs, 't_frac', 'FP32');
    const d = t.data as Float32Array;
    if (t.shape.length !== 1 || t.shape[0] !== R) throw new HttpError(400, `t_frac must be [${R}]`);
    const v = d[0]!;
    if (!(v > 0 && v <= 1) || d.some((x) => x !== v)) throw new HttpError(400, 't_frac must be one value in (0, 1] for every row');
    return v;
  }

  private blockTensor(inputs: Tensor[], name: string, R: number): Float32Array {
    const { blockSize: B, vocabSize: V } = this.info;
    const t = tensorNamed(inputs, name, 'FP32');
    if (t.shape.length !== 3 || t.shape[0] !== R || t.shape[1] !== B || t.shape[2] !== V) throw new HttpError(400, `${name} must be [${R}, ${B}, ${V}]`);
    const data = t.data as Float32Array;
    // NaN or ±Infinity would run through the model into logits that the JSON form cannot even carry (null).
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) throw new HttpError(400, `${name} must hold finite numbers (no NaN or Infinity)`);
    return data;
  }

  private async inferDense(inputs: Tensor[]): Promise<{ outputs: Tensor[]; parameters: Record<string, unknown> }> {
    const rows = this.rowsOf(inputs);
    const R = rows.length;
    const noisy = this.blockTensor(inputs, 'noisy_logits', R);
    const sc = this.blockTensor(inputs, 'self_cond_logits', R);
    const tFrac = this.tFrac(inputs, R);
    const ctx = await this.context(rows);
    const out = await this.lm.denoise(ctx, noisy, this.info.selfConditioning ? sc : undefined, tFrac);
    const { blockSize: B, vocabSize: V } = this.info;
    return { outputs: [{ name: 'logits', datatype: 'FP32', shape: [R, B, V], data: out }], parameters: {} };
  }

  private async inferSparse(
    inputs: Tensor[],
    params: Record<string, unknown> | undefined,
  ): Promise<{ outputs: Tensor[]; parameters: Record<string, unknown> }> {
    const { blockSize: B, vocabSize: V, k: K } = this.info;
    const rows = this.rowsOf(inputs);
    const R = rows.length;
    const scalar = (name: string, datatype: 'UINT32' | 'INT32' | 'FP64', n: number) => {
      const t = tensorNamed(inputs, name, datatype);
      if (t.shape.length !== 1 || t.shape[0] !== n) throw new HttpError(400, `${name} must be [${n}]`);
      return t.data as Uint32Array | Int32Array | Float64Array;
    };
    const blockIds = scalar('block_ids', 'INT32', B) as Int32Array;
    const seed = scalar('noise_seed', 'UINT32', 1)[0]!;
    const at = scalar('noise_at', 'INT32', 2);
    const alphaBar = scalar('alpha_bar', 'FP64', 1)[0]!;
    const k = scalar('top_k', 'INT32', 1)[0]!;
    if (!(Number.isInteger(k) && k >= 1 && k <= Math.min(MAX_TOP_K, V))) throw new HttpError(400, `top_k must be from 1 to ${Math.min(MAX_TOP_K, V)}`);
    if (!(at[0]! >= 0 && at[1]! >= 0)) throw new HttpError(400, 'noise_at must be two non-negative integers');
    if (!(alphaBar >= 0 && alphaBar <= 1)) throw new HttpError(400, 'alpha_bar must be in [0, 1]');
    const pure = blockIds.every((t) => t === -1);
    if (!pure && blockIds.some((t) => !(t >= 0 && t < V))) throw new HttpError(400, 'block_ids must be token ids (or all −1 for pure noise)');
    const tFrac = this.tFrac(inputs, R);
    const row = rebuildNoisy({ seed, at: { block: at[0]!, step: at[1]! }, alphaBar, ...(!pure && { tokens: blockIds }) }, B, V, K);
    const noisy = new Float32Array(R * B * V);
    for (let r = 0; r < R; r++) noisy.set(row, r * B * V);
    const ref = params?.[PARAM.selfCond] ?? 'zeros';
    let selfCond: Float32Array | undefined;
    if (ref !== 'zeros') {
      const st = typeof ref === 'string' ? this.states.get(ref) : undefined;
      if (!st) throw new HttpError(410, "this run's self-conditioning state is not on this server (it restarted, or the state expired)");
      if (st.rows !== R) throw new HttpError(400, 'the self-conditioning state has another number of rows');
      selfCond = st.logits;
    }
    const ctx = await this.context(rows);
    const out = await this.lm.denoise(ctx, noisy, this.info.selfConditioning ? selfCond : undefined, tFrac);
    const state = randomBytes(12).toString('hex');
    this.keepState(state, R, out);
    const ids = new Int32Array(R * B * k);
    const vals = new Float32Array(R * B * k);
    const tail = new Float32Array(R * B);
    for (let p = 0; p < R * B; p++) tail[p] = topKOf(out, p * V, V, k, ids, vals, p * k);
    return {
      outputs: [
        { name: 'topk_ids', datatype: 'INT32', shape: [R, B, k], data: ids },
        { name: 'topk_logits', datatype: 'FP32', shape: [R, B, k], data: vals },
        { name: 'tail_logit', datatype: 'FP32', shape: [R, B], data: tail },
      ],
      parameters: { [PARAM.state]: state },
    };
  }

  private keepState(id: string, rows: number, logits: Float32Array): void {
    this.states.set(id, { rows, logits });
    this.stateBytes += logits.byteLength;
    while (this.stateBytes > STATE_BYTES || this.states.size > 1024) {
      const [oldest, s] = this.states.entries().next().value!;
      this.states.delete(oldest);
      this.stateBytes -= s.logits.byteLength;
    }
  }
}
