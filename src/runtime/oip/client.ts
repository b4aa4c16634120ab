/**
 * The remote core: a `DiffusionLM` whose denoising steps run on an Open Inference Protocol v2 server (`concert serve`,
 * or a Triton repository exposing signature.ts). `connectRemoteCore` checks readiness and the model's signature,
 * then each `denoise` is one `infer` request (binary tensor extension):
 *
 * - dense: exact; the noisy block and the core's own previous logits go as `[R, B, V]` tensors.
 * - sparse (default): the block's token ids, the noise seed/address and ᾱ go (`NoisyRecipe`, checked here against
 *   the tensor the engine made), self-conditioning names the server's previous output, and the top-k logits per
 *   position come back with a tail logit that keeps the rest of the probability mass.
 *
 * Privacy: only the core's context token ids (instruction and generated blocks), the block ids, seeds and the core's
 * own logits are sent. A self-conditioning input that is not the core's own previous output (e.g. SSD-2's combined
 * logits, which include the user model's knowledge-conditioned logits) is never sent: the core's own previous output
 * is used instead. Every request is recorded (`ledger`, `onWire`) with its byte counts and what it carried.
 *
 * Failures: every step is idempotent, so refused connections, resets, timeouts and 5xx are retried a bounded number
 * of times with backoff; 401/403, protocol errors and a server that lost this run's state (restarted mid-run) stop at
 * once. Each ends as a RemoteCoreError whose message says what happened and that the local core can take over.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ContextState, DiffusionLM, NoisyRecipe } from '../../engine/models';
import { rebuildNoisy, rowsEqual } from '../../engine/diffusion/recipe';
import { HEADER_LENGTH, decodeInferResponse, encodeInferRequest, tensorNamed, type Tensor } from './codec';
import {
  DEFAULT_TOP_K,
  DENSE_MODEL,
  MAX_TOP_K,
  PARAM,
  SPARSE_MODEL,
  denseSignature,
  parseModelInfo,
  sparseSignature,
  type CoreModelInfo,
  type TensorSpec,
} from './signature';

export type RemoteFailureKind = 'refused' | 'unauthorized' | 'server' | 'timeout' | 'restarted' | 'protocol' | 'cancelled';

export class RemoteCoreError extends Error {
  constructor(
    readonly kind: RemoteFailureKind,
    message: string,
    readonly url: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteCoreError';
  }
  /** Whether running the core locally instead is a sensible offer (anything but a cancel). */
  get canUseLocalCore(): boolean {
    return this.kind !== 'cancelled';
  }
}

/** One HTTP exchange with the core server: what it carried (never text) and its size. */
export interface WireRecord {
  seq: number;
  kind: 'health' | 'metadata' | 'infer';
  method: 'GET' | 'POST';
  path: string;
  attempt: number;
  status?: number;
  error?: string;
  ms: number;
  /** Whole request (headers excluded) and response body sizes in bytes. */
  bytesSent: number;
  bytesReceived: number;
  /** infer: what the request carried. */
  sent?: {
    mode: 'dense' | 'sparse';
    contextIds: number[][];
    blockIds?: number[];
    noise?: { seed: number; block: number; step: number; alphaBar: number };
    tFrac: number;
    topK?: number;
    /** zeros, the core's own previous logits (`own`), or the server's copy of them (`state`). */
    selfCond: 'zeros' | 'own' | 'state';
    /** Set when the engine offered a self-conditioning input that was not the core's own (it was not sent). */
    withheld?: string;
    tensors: { name: string; datatype: string; shape: number[]; bytes: number }[];
  };
  /** The server process id changed since the first answer (it restarted). */
  serverRestarted?: boolean;
}

export interface RemoteCoreOptions {
  url: string;
  token?: string;
  /** Default sparse (bandwidth-light). */
  mode?: 'sparse' | 'dense';
  /** sparse: logits returned per position (default DEFAULT_TOP_K, at most MAX_TOP_K and V). */
  topK?: number;
  signal?: AbortSignal;
  onWire?: (r: WireRecord) => void;
  /** Retries of a failed idempotent request (default 3, so 4 tries at most). */
  retries?: number;
  /** Per-try deadline (default 30 s). */
  timeoutMs?: number;
  /** First backoff; doubled per retry (default 200 ms). */
  backoffMs?: number;
}

export interface RemoteCore extends DiffusionLM {
  readonly url: string;
  readonly mode: 'sparse' | 'dense';
  readonly topK: number;
  readonly info: CoreModelInfo;
  readonly ledger: readonly WireRecord[];
  totals(): { requests: number; bytesSent: number; bytesReceived: number };
  close(): void;
}

const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

class Failure extends Error {
  constructor(
    readonly kind: RemoteFailureKind,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface RemoteContext extends ContextState {
  rows: number;
  ids: Int32Array[];
}

function checkUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RemoteCoreError('protocol', `the core URL "${raw}" is not a URL (e.g. http://127.0.0.1:8000)`, raw, 0);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new RemoteCoreError('protocol', `the core URL must be http:// or https:// (got ${u.protocol})`, raw, 0);
  if (u.username || u.password) throw new RemoteCoreError('protocol', 'put the core token in the token setting, not in the URL', raw, 0);
  if (u.search || u.hash) throw new RemoteCoreError('protocol', 'the core URL may not have a query or fragment', raw, 0);
  return u;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Failure('cancelled', 'cancelled', false));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Failure('cancelled', 'cancelled', false));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function allZero(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

class OipCore implements RemoteCore {
  readonly vocabSize: number;
  readonly blockSize: number;
  readonly k: number;
  readonly tTrain: number;
  readonly selfConditioning: boolean;
  readonly maxContext: number;
  readonly ledger: WireRecord[] = [];
  private seq = 0;
  private serverId: string | undefined;
  private readonly agent: http.Agent;
  private readonly base: string;
  /** The last logits this core returned (and the server's id for them, sparse). */
  private last: { array: Float32Array; rows: number; state?: string } | undefined;

  constructor(
    private readonly u: URL,
    readonly url: string,
    readonly mode: 'sparse' | 'dense',
    readonly topK: number,
    private readonly o: RemoteCoreOptions,
    readonly info: CoreModelInfo,
    agent: http.Agent,
  ) {
    this.agent = agent;
    this.base = u.pathname.replace(/\/+$/, '');
    ({
      vocabSize: this.vocabSize,
      blockSize: this.blockSize,
      k: this.k,
      tTrain: this.tTrain,
      selfConditioning: this.selfConditioning,
      maxContext: this.maxContext,
    } = info);
  }

  /** Takes over the handshake's records, numbering and server id. */
  adopt(probe: OipCore): void {
    this.ledger.push(...probe.ledger);
    this.seq = probe.seq;
    this.serverId = probe.serverId;
  }

  totals() {
    return {
      requests: this.ledger.length,
      bytesSent: this.ledger.reduce((s, r) => s + r.bytesSent, 0),
      bytesReceived: this.ledger.reduce((s, r) => s + r.bytesReceived, 0),
    };
  }

  close(): void {
    this.agent.destroy();
  }

  async encodeContext(rows: readonly Int32Array[]): Promise<ContextState> {
    if (!rows.length) throw new RemoteCoreError('protocol', 'a context needs at least one row', this.url, 0);
    for (const r of rows) {
      if (!r.length) throw new RemoteCoreError('protocol', 'every context row needs at least one token', this.url, 0);
      if (r.length + this.blockSize > this.maxContext)
        throw new RemoteCoreError('protocol', `a core context of ${r.length} tokens plus a block exceeds the model's ${this.maxContext}`, this.url, 0);
    }
    // Nothing is sent yet: each step carries the context (stateless, so any step can be retried on any server).
    const ctx: RemoteContext = { rows: rows.length, ids: rows.map((r) => Int32Array.from(r)) };
    return ctx;
  }

  async denoise(
    context: ContextState,
    noisy: Float32Array,
    selfCond: Float32Array | undefined,
    tFrac: number,
    signal?: AbortSignal,
    recipe?: NoisyRecipe,
  ): Promise<Float32Array> {
    const ctx = context as RemoteContext;
    const { blockSize: B, vocabSize: V } = this;
    const R = ctx.rows;
    if (noisy.length !== R * B * V) throw new RemoteCoreError('protocol', `noisy logits must be [${R}, ${B}, ${V}]`, this.url, 0);
    const L = Math.max(...ctx.ids.map((r) => r.length));
    const ids = new BigInt64Array(R * L);
    const mask = new BigInt64Array(R * L);
    ctx.ids.forEach((row, r) => {
      const pad = L - row.length;
      for (let j = 0; j < row.length; j++) {
        ids[r * L + pad + j] = BigInt(row[j]!);
        mask[r * L + pad + j] = 1n;
      }
    });
    const contextTensors: Tensor[] = [
      { name: 'context_ids', datatype: 'INT64', shape: [R, L], data: ids },
      { name: 'context_mask', datatype: 'INT64', shape: [R, L], data: mask },
    ];
    const tf = new Float32Array(R).fill(tFrac);
    // Self-conditioning: zeros, or the core's own previous logits; anything else is withheld (see the file comment).
    const own = this.last && this.last.rows === R ? this.last : undefined;
    let sc: 'zeros' | 'own' = 'zeros';
    let withheld: string | undefined;
    if (this.selfConditioning && selfCond && !allZero(selfCond)) {
      if (own && selfCond === own.array) sc = 'own';
      else {
        withheld =
          "the engine's self-conditioning input was not the core's own logits (it may derive from knowledge): the core's own previous logits were used";
        sc = own ? 'own' : 'zeros';
      }
    }
    const contextIds = ctx.ids.map((r) => Array.from(r));
    if (this.mode === 'dense') {
      const scData = sc === 'own' ? own!.array : new Float32Array(R * B * V);
      const inputs: Tensor[] = [
        ...contextTensors,
        { name: 'noisy_logits', datatype: 'FP32', shape: [R, B, V], data: noisy },
        { name: 'self_cond_logits', datatype: 'FP32', shape: [R, B, V], data: scData },
        { name: 't_frac', datatype: 'FP32', shape: [R], data: tf },
      ];
      const res = await this.infer(DENSE_MODEL, inputs, [], signal, {
        mode: 'dense',
        contextIds,
        tFrac,
        selfCond: sc,
        ...(withheld && { withheld }),
      });
      const logits = tensorNamed(res.outputs, 'logits', 'FP32').data as Float32Array;
      if (logits.length !== R * B * V) throw new RemoteCoreError('protocol', `the core returned ${logits.length} logits, expected ${R * B * V}`, this.url, 1);
      this.last = { array: logits, rows: R };
      return logits;
    }
    if (!recipe)
      throw new RemoteCoreError(
        'protocol',
        "the bandwidth-light core needs the engine's seeded noise and a sampling projection: use the dense mode",
        this.url,
        0,
      );
    // The server rebuilds the noisy block from the recipe: check here that it is exactly what the engine made.
    if (!rowsEqual(noisy, rebuildNoisy(recipe, B, V, this.k)))
      throw new RemoteCoreError('protocol', 'the noisy block does not match its recipe (custom noise?): use the dense mode', this.url, 0);
    const state = sc === 'own' ? own?.state : undefined;
    const blockIds = recipe.tokens ? Int32Array.from(recipe.tokens) : new Int32Array(B).fill(-1);
    const inputs: Tensor[] = [
      ...contextTensors,
      { name: 'block_ids', datatype: 'INT32', shape: [B], data: blockIds },
      { name: 'noise_seed', datatype: 'UINT32', shape: [1], data: Uint32Array.of(recipe.seed >>> 0) },
      { name: 'noise_at', datatype: 'INT32', shape: [2], data: Int32Array.of(recipe.at.block, recipe.at.step) },
      { name: 'alpha_bar', datatype: 'FP64', shape: [1], data: Float64Array.of(recipe.alphaBar) },
      { name: 't_frac', datatype: 'FP32', shape: [R], data: tf },
      { name: 'top_k', datatype: 'INT32', shape: [1], data: Int32Array.of(this.topK) },
    ];
    const res = await this.infer(SPARSE_MODEL, inputs, [[PARAM.selfCond, state ?? 'zeros']], signal, {
      mode: 'sparse',
      contextIds,
      blockIds: Array.from(blockIds),
      noise: { seed: recipe.seed, block: recipe.at.block, step: recipe.at.step, alphaBar: recipe.alphaBar },
      tFrac,
      topK: this.topK,
      selfCond: state ? 'state' : 'zeros',
      ...(withheld && { withheld }),
    });
    const kIds = tensorNamed(res.outputs, 'topk_ids', 'INT32');
    const kLogits = tensorNamed(res.outputs, 'topk_logits', 'FP32');
    const tail = tensorNamed(res.outputs, 'tail_logit', 'FP32').data as Float32Array;
    const k = kIds.shape[2] ?? 0;
    const idData = kIds.data as Int32Array;
    const valData = kLogits.data as Float32Array;
    if (kIds.shape[0] !== R || kIds.shape[1] !== B || k < 1 || k > V || valData.length !== R * B * k || tail.length !== R * B)
      throw new RemoteCoreError('protocol', 'the core returned top-k tensors of the wrong shape', this.url, 1);
    const out = new Float32Array(R * B * V);
    for (let p = 0; p < R * B; p++) {
      out.fill(tail[p]!, p * V, (p + 1) * V);
      for (let j = 0; j < k; j++) {
        const id = idData[p * k + j]!;
        if (!(id >= 0 && id < V)) throw new RemoteCoreError('protocol', `the core returned token id ${id} outside the vocabulary`, this.url, 1);
        out[p * V + id] = valData[p * k + j]!;
      }
    }
    const newState = res.parameters?.[PARAM.state];
    this.last = { array: out, rows: R, ...(typeof newState === 'string' && { state: newState }) };
    return out;
  }

  private async infer(
    model: string,
    inputs: Tensor[],
    params: [string, string][],
    signal: AbortSignal | undefined,
    sent: Omit<NonNullable<WireRecord['sent']>, 'tensors'>,
  ) {
    const outputs = (model === DENSE_MODEL ? denseSignature(1, 1) : sparseSignature(1)).outputs.map((t) => ({ name: t.name, binary: true }));
    const { body, headerLength } = encodeInferRequest({ ...(params.length && { parameters: Object.fromEntries(params) }), inputs, outputs }, true);
    const tensors = inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      bytes: (t.data as { byteLength: number }).byteLength,
    }));
    const a = await this.call(
      'infer',
      'POST',
      `/v2/models/${model}/infer`,
      signal,
      body,
      {
        'content-type': 'application/octet-stream',
        [HEADER_LENGTH]: String(headerLength),
      },
      { ...sent, tensors },
    );
    const hl = a.headers[HEADER_LENGTH];
    try {
      const res = decodeInferResponse(new Uint8Array(a.body.buffer, a.body.byteOffset, a.body.length), hl === undefined ? undefined : Number(hl));
      return res;
    } catch (e) {
      throw new RemoteCoreError('protocol', `the core server at ${this.url} sent an answer this client cannot read: ${(e as Error).message}`, this.url, 1);
    }
  }

  /** One request with bounded retries of retryable failures; records every try. */
  async call(
    kind: WireRecord['kind'],
    method: 'GET' | 'POST',
    path: string,
    signal?: AbortSignal,
    body?: Uint8Array,
    headers: Record<string, string> = {},
    sent?: WireRecord['sent'],
  ): Promise<HttpAnswer> {
    const retries = this.o.retries ?? 3;
    const backoff = this.o.backoffMs ?? 200;
    const signals = [signal, this.o.signal].filter((s): s is AbortSignal => !!s);
    const sig = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let last: Failure | undefined;
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      const t0 = performance.now();
      const rec: WireRecord = { seq: ++this.seq, kind, method, path, attempt, ms: 0, bytesSent: body?.length ?? 0, bytesReceived: 0, ...(sent && { sent }) };
      try {
        const a = await this.once(method, path, sig, body, headers);
        rec.status = a.status;
        rec.bytesReceived = a.body.length;
        const failure = this.classify(a);
        if (!failure) {
          const sid = this.serverIdOf(a);
          if (sid) {
            if (this.serverId && sid !== this.serverId) rec.serverRestarted = true;
            this.serverId = sid;
          }
          rec.ms = performance.now() - t0;
          this.record(rec);
          return a;
        }
        throw failure;
      } catch (e) {
        const f = e instanceof Failure ? e : new Failure('protocol', (e as Error).message, false);
        rec.error = f.message;
        rec.ms = performance.now() - t0;
        this.record(rec);
        last = f;
        if (!f.retryable || attempt > retries) return this.fail(f, attempt);
        try {
          await sleep(Math.min(backoff * 2 ** (attempt - 1), 5000), sig);
        } catch (c) {
          return this.fail(c as Failure, attempt);
        }
      }
    }
    return this.fail(last!, retries + 1);
  }

  private record(r: WireRecord): void {
    this.ledger.push(r);
    this.o.onWire?.(r);
  }

  private serverIdOf(a: HttpAnswer): string | undefined {
    const h = a.headers['x-concert-server'];
    return typeof h === 'string' ? h : undefined;
  }

  private classify(a: HttpAnswer): Failure | undefined {
    if (a.status >= 200 && a.status < 300) return undefined;
    let msg = '';
    try {
      const j = JSON.parse(a.body.toString('utf8')) as { error?: unknown };
      if (typeof j.error === 'string') msg = j.error.slice(0, 300);
    } catch {
      msg = '';
    }
    const detail = `HTTP ${a.status}${msg ? `: ${msg}` : ''}`;
    if (a.status === 401 || a.status === 403) return new Failure('unauthorized', detail, false, a.status);
    if (a.status === 410) return new Failure('restarted', detail, false, a.status);
    if (a.status >= 500) return new Failure('server', detail, true, a.status);
    return new Failure('protocol', detail, false, a.status);
  }

  private fail(f: Failure, attempts: number): never {
    const at = `the core server at ${this.url}`;
    const local = ' You can continue with the local core.';
    const tries = attempts > 1 ? ` (${attempts} tries)` : '';
    const messages: Record<RemoteFailureKind, string> = {
      refused: `${at} could not be reached${tries}: ${f.message}. Is "concert serve" running there?${local}`,
      unauthorized: `${at} refused the token (${f.message}): check the core token setting.${local}`,
      server: `${at} failed${tries}: ${f.message}.${local}`,
      timeout: `${at} did not answer in time${tries}.${local}`,
      restarted: `${at} restarted mid-run and lost this run's state (${f.message}): run again, or continue with the local core.`,
      protocol: `${at} answered something this client does not understand: ${f.message}.${local}`,
      cancelled: 'cancelled',
    };
    throw new RemoteCoreError(f.kind, messages[f.kind], this.url, attempts, f.status);
  }

  private once(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    body: Uint8Array | undefined,
    headers: Record<string, string>,
  ): Promise<HttpAnswer> {
    const timeoutMs = this.o.timeoutMs ?? 30_000;
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (signal?.aborted) return reject(new Failure('cancelled', 'cancelled', false));
      const lib = this.u.protocol === 'https:' ? https : http;
      const req = lib.request(
        {
          protocol: this.u.protocol,
          hostname: this.u.hostname.replace(/^\[|\]$/g, ''),
          port: this.u.port || (this.u.protocol === 'https:' ? 443 : 80),
          method,
          path: `${this.base}${path}`,
          agent: this.agent,
          headers: {
            ...headers,
            ...(body && { 'content-length': String(body.length) }),
            ...(this.o.token && { authorization: `Bearer ${this.o.token}` }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n > MAX_RESPONSE_BYTES) {
              req.destroy(new Failure('protocol', `the answer is larger than ${MAX_RESPONSE_BYTES} bytes`, false));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            done();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', (e) => {
            done();
            reject(this.networkFailure(e, true));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new Failure('timeout', `no answer within ${timeoutMs} ms`, true)), timeoutMs);
      const onAbort = () => req.destroy(new Failure('cancelled', 'cancelled', false));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      req.on('error', (e) => {
        done();
        reject(this.networkFailure(e));
      });
      req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined);
    });
  }

  /** A transport error as a Failure; `midAnswer`: the answer had begun (its connection broke while it came). */
  private networkFailure(e: unknown, midAnswer = false): Failure {
    if (e instanceof Failure) return e;
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? '';
    if (midAnswer) return new Failure('server', `the connection was lost mid-answer (${code || err.message})`, true);
    if (code === 'ECONNREFUSED') return new Failure('refused', 'connection refused', true);
    if (RETRYABLE_CODES.has(code) || /socket hang up/i.test(err.message)) return new Failure('refused', `${code || 'connection lost'}: ${err.message}`, true);
    if (code === 'ENOTFOUND') return new Failure('refused', `host not found (${this.u.hostname})`, false);
    return new Failure('protocol', err.message, false);
  }
}

function checkSignature(model: string, meta: Record<string, unknown>, expected: TensorSpec[], url: string): void {
  const inputs = Array.isArray(meta['inputs']) ? (meta['inputs'] as { name?: unknown; datatype?: unknown }[]) : [];
  for (const spec of expected) {
    const got = inputs.find((i) => i.name === spec.name);
    if (!got || got.datatype !== spec.datatype)
      throw new RemoteCoreError('protocol', `the core server at ${url} does not expose input ${spec.name} (${spec.datatype}) on model ${model}`, url, 1);
  }
}

/** Connects to a core server: readiness (a canary inference on `concert serve`), then the model's signature and knobs. */
export async function connectRemoteCore(o: RemoteCoreOptions): Promise<RemoteCore> {
  const u = checkUrl(o.url);
  const url = u.toString().replace(/\/+$/, '');
  const mode = o.mode ?? 'sparse';
  if (mode !== 'sparse' && mode !== 'dense') throw new RemoteCoreError('protocol', `mode must be "sparse" or "dense" (got "${String(mode)}")`, url, 0);
  const topK = o.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) throw new RemoteCoreError('protocol', `top-k must be an integer from 1 to ${MAX_TOP_K}`, url, 0);
  // `timeout` makes the agent honour the server's Keep-Alive hint: an idle socket is dropped a second before the server
  // would close it, instead of being reused as it closes (a needless reset and retry). Deadlines of requests are ours.
  const agent = new (u.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 4, timeout: 60_000 });
  // A provisional core to run the handshake with the same retry/ledger machinery.
  const probe = new OipCore(u, url, mode, topK, o, { pack: '', vocabSize: 1, blockSize: 1, k: 1, tTrain: 1, selfConditioning: false, maxContext: 2 }, agent);
  try {
    await probe.call('health', 'GET', '/v2/health/ready');
    let mode2 = mode;
    let m: HttpAnswer;
    try {
      m = await probe.call('metadata', 'GET', `/v2/models/${mode === 'dense' ? DENSE_MODEL : SPARSE_MODEL}`);
    } catch (e) {
      // A server with only the dense model (e.g. Triton serving the repository of `tools/export --triton`): without an
      // explicit mode, the exact dense signature is used instead of the bandwidth-light one.
      if (o.mode !== undefined || !(e instanceof RemoteCoreError) || e.status !== 404) throw e;
      mode2 = 'dense';
      m = await probe.call('metadata', 'GET', `/v2/models/${DENSE_MODEL}`);
    }
    const model = mode2 === 'dense' ? DENSE_MODEL : SPARSE_MODEL;
    let meta: Record<string, unknown>;
    try {
      meta = JSON.parse(m.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new RemoteCoreError('protocol', `the core server at ${url} sent model metadata that is not JSON`, url, 1);
    }
    // Triton reports a model's parameters in its configuration (`/v2/models/{name}/config`, the model configuration
    // extension), not in the metadata that `concert serve` fills.
    let params = meta['parameters'];
    if (params === undefined) {
      const c = await probe.call('metadata', 'GET', `/v2/models/${model}/config`).catch(() => undefined);
      try {
        params = c && (JSON.parse(c.body.toString('utf8')) as Record<string, unknown>)['parameters'];
      } catch {
        params = undefined;
      }
    }
    let info: CoreModelInfo;
    try {
      info = parseModelInfo(params);
    } catch (e) {
      throw new RemoteCoreError('protocol', `the core server at ${url}: ${(e as Error).message}`, url, 1);
    }
    if (mode2 === 'sparse' && topK > info.vocabSize) throw new RemoteCoreError('protocol', `top-k ${topK} exceeds the vocabulary (${info.vocabSize})`, url, 0);
    checkSignature(model, meta, (mode2 === 'dense' ? denseSignature(info.blockSize, info.vocabSize) : sparseSignature(info.blockSize)).inputs, url);
    const core = new OipCore(u, url, mode2, topK, o, info, agent);
    core.adopt(probe);
    return core;
  } catch (e) {
    agent.destroy();
    throw e;
  }
}
