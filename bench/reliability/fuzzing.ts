// reliability: library (bench/reliability.ts runs the other files of this folder as scripts, not this one)
/**
 * A small, deterministic fuzzing harness: seeded inputs (engine/random.ts, addressed by target, seed and input
 * index, so any one input can be regenerated alone), mutators for bytes, text and JSON values, and a loop that runs
 * a target's inputs one at a time and classifies each:
 *
 * - accepted: the code under test took the input;
 * - rejected: it refused it with a clear error (an Error of our own with a non-empty message; never a raw
 *   TypeError/RangeError/SyntaxError, nor a message of the JavaScript engine such as "Maximum call stack size
 *   exceeded" or "Cannot read properties of undefined");
 * - unclear: it refused it with anything else;
 * - violation: it accepted it but a property of the result does not hold (the target's own oracle);
 * - crash: an uncaught exception or unhandled rejection while the input ran, or the target saw its process or
 *   server die;
 * - hang: the input took longer than `hangMs` (1 s). An input that never returns is caught one level up, by the
 *   watchdog of `runTargetsIsolated` (each target runs in its own child process).
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { uniformAt } from '../../src/engine/random';

// ---------------------------------------------------------------------------------------------------------------
// Randomness

/** FNV-1a of a string, for per-target streams. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Draws for one input: (seed, target, input index) address the stream, so input i is reproducible on its own. */
export class FuzzRng {
  private index = 0;
  private readonly stream: number;
  constructor(
    readonly seed: number,
    target: string,
    readonly input: number,
  ) {
    this.stream = (hashString(target) ^ Math.imul(input + 1, 0x9e3779b1)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return uniformAt(this.seed, this.stream, this.index++);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    let r = this.next() * xs.reduce((s, [w]) => s + w, 0);
    for (const [w, v] of xs) {
      if ((r -= w) < 0) return v;
    }
    return xs[xs.length - 1]![1];
  }
  /** A length skewed towards small values, up to `max`. */
  size(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1))));
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Interesting values and mutators

export const INTERESTING_NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  7,
  8,
  15,
  16,
  31,
  32,
  63,
  64,
  127,
  128,
  255,
  256,
  1023,
  1024,
  32767,
  32768,
  65535,
  65536,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 63,
  1e308,
  -1e308,
  5e-324,
  0.5,
  -0.5,
  1.5,
  1e-7,
  3.4028235e38,
] as const;

/** Strings that have broken parsers: special tokens, path tricks, Unicode edge cases, format characters. */
export const INTERESTING_STRINGS = [
  '',
  ' ',
  '\0',
  '\n',
  '\r\n',
  '\t',
  '\u001b[31m',
  '\u007f',
  '\ufeff',
  '\u202e',
  '\u200b',
  '\ud800',
  '\udc00',
  '\udc00\ud800',
  '\ud83d\ude00',
  'e\u0301',
  '\u00e9',
  'İ',
  'ß',
  '<s>',
  '</s>',
  '<pad>',
  '<unk>',
  '<|endoftext|>',
  '<|im_start|>',
  '[CLS]',
  '▁',
  'Ġ',
  '..',
  '../..',
  '../../etc/passwd',
  '/etc/passwd',
  'C:\\Windows\\win.ini',
  '\\\\host\\share\\x',
  'a/../../x',
  'a/./b',
  'a//b',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  'null',
  'true',
  '%00',
  '%2e%2e%2f',
  '${workspaceFolder}',
  '{{7*7}}',
  "'; DROP TABLE x; --",
  'workbench.action.terminal.new',
  '(a|a)*b',
  '(a+)+$',
] as const;

export function randomString(rng: FuzzRng, maxLen = 64): string {
  const n = rng.size(maxLen);
  const alphabet = rng.weighted<() => number>([
    [4, () => rng.range(0x20, 0x7e)],
    [1, () => rng.range(0, 0x1f)],
    [1, () => rng.range(0x80, 0x7ff)],
    [1, () => rng.range(0x800, 0xffff)],
    [1, () => rng.range(0x10000, 0x10ffff)],
    [1, () => rng.range(0xd800, 0xdfff)],
  ]);
  let s = '';
  for (let i = 0; i < n; i++) {
    const cp = alphabet();
    s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return s;
}

/** A value of any JSON type, small. */
export function randomJsonValue(rng: FuzzRng, depth = 0): unknown {
  const leaf = depth > 3 || rng.chance(0.6);
  if (leaf) {
    return rng.weighted<() => unknown>([
      [2, () => rng.pick(INTERESTING_NUMBERS)],
      [2, () => rng.pick(INTERESTING_STRINGS)],
      [1, () => randomString(rng, 32)],
      [1, () => null],
      [1, () => rng.chance(0.5)],
      [1, () => rng.int(1000)],
    ])();
  }
  if (rng.chance(0.5)) return Array.from({ length: rng.size(6) }, () => randomJsonValue(rng, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = rng.size(5); i > 0; i--) o[rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : randomString(rng, 12)] = randomJsonValue(rng, depth + 1);
  return o;
}

/** JSON text of an array or object nested `depth` levels deep (built as text: no recursion). */
export function deepJsonText(depth: number, kind: 'array' | 'object' = 'array', leaf = '1'): string {
  return kind === 'array' ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

/** A value nested `depth` levels deep, built iteratively (no recursion). */
export function deepValue(depth: number, kind: 'array' | 'object' = 'array'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

/** A value to put in place of another: a different type, an edge value, a deep or huge one. */
export function replacementValue(rng: FuzzRng, deepMax = 2000): unknown {
  return rng.weighted<() => unknown>([
    [6, () => randomJsonValue(rng)],
    [2, () => rng.pick(INTERESTING_NUMBERS)],
    [2, () => rng.pick(INTERESTING_STRINGS)],
    [1, () => -rng.pick(INTERESTING_NUMBERS)],
    [1, () => deepValue(rng.size(deepMax), rng.chance(0.5) ? 'array' : 'object')],
    [1, () => 'x'.repeat(rng.size(100_000))],
    [1, () => Array.from({ length: rng.size(5000) }, () => rng.int(300))],
    [1, () => ({})],
    [1, () => []],
  ])();
}

type Container = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Container => typeof v === 'object' && v !== null;

/** Every container in `root` with the number of levels above it (iterative; stops after `limit` containers). */
function containers(root: unknown, limit = 5000): { node: Container; depth: number }[] {
  const out: { node: Container; depth: number }[] = [];
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  while (stack.length && out.length < limit) {
    const { node, depth } = stack.pop()!;
    if (!isContainer(node)) continue;
    out.push({ node, depth });
    for (const v of Object.values(node)) if (isContainer(v)) stack.push({ node: v, depth: depth + 1 });
  }
  return out;
}

/**
 * Mutates a JSON value in place (a structured copy is made first) with `count` edits: replace a value with one of
 * another type or an edge value, delete a key or element, add an unknown key, duplicate an element, wrap or unwrap
 * a value, swap two values. `focus` (keys of interest) biases which containers are edited.
 */
export function mutateJson(rng: FuzzRng, value: unknown, count = 1, deepMax = 2000): unknown {
  const root: { v: unknown } = { v: structuredClone(value) };
  for (let c = 0; c < count; c++) {
    const all = containers(root);
    const { node } = rng.pick(all);
    const keys = Object.keys(node);
    const key = keys.length ? rng.pick(keys) : undefined;
    const get = (k: string) => (node as Record<string, unknown>)[k];
    // An own property, as JSON.parse makes it: assigning "__proto__" would change the prototype instead.
    const set = (k: string, v: unknown) => Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
    const op = rng.int(8);
    if (key === undefined || op === 0) {
      if (Array.isArray(node)) node.push(replacementValue(rng, deepMax));
      else set(rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : randomString(rng, 16), replacementValue(rng, deepMax));
    } else if (op === 1) {
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete (node as Record<string, unknown>)[key];
    } else if (op === 2 && Array.isArray(node)) {
      node.splice(Number(key), 0, structuredCloneSafe(get(key)));
    } else if (op === 3) {
      set(key, rng.chance(0.5) ? [get(key)] : { [rng.pick(['value', 'type', key])]: get(key) });
    } else if (op === 4) {
      const other = rng.pick(keys);
      const t = get(key);
      set(key, get(other));
      set(other, t);
    } else if (op === 5) {
      const v = get(key);
      if (typeof v === 'number') set(key, rng.pick([v + 1, v - 1, -v, v * 2 ** rng.range(1, 40), v + 0.5, Number.MAX_SAFE_INTEGER + 2]));
      else if (typeof v === 'string') set(key, mutateText(rng, v, 1));
      else set(key, replacementValue(rng, deepMax));
    } else set(key, replacementValue(rng, deepMax));
  }
  return root.v === undefined ? null : root.v;
}

function structuredCloneSafe(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return null;
  }
}

/** Character-level edits of text (JSON text included): flip, insert, delete, duplicate, truncate, splice specials. */
export function mutateText(rng: FuzzRng, text: string, count = 1): string {
  let s = text;
  for (let c = 0; c < count; c++) {
    const at = rng.int(s.length + 1);
    const op = rng.int(9);
    if (op === 0) s = s.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + s.slice(at + 1);
    else if (op === 1) s = s.slice(0, at) + s.slice(at + rng.size(64));
    else if (op === 2) s = s.slice(0, at) + rng.pick(INTERESTING_STRINGS) + s.slice(at);
    else if (op === 3) s = s.slice(0, at);
    else if (op === 4) {
      const len = rng.size(256);
      s = s.slice(0, at) + s.slice(at, at + len).repeat(rng.range(2, 8)) + s.slice(at);
    } else if (op === 5) s = s.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\\u', '\\ud800', 'e9999', '-', '.']) + s.slice(at);
    else if (op === 6) s = s.slice(0, at) + randomString(rng, 16) + s.slice(at);
    else if (op === 7) {
      const d = rng.size(300);
      s = s.slice(0, at) + '['.repeat(d) + s.slice(at);
    } else {
      const from = rng.int(s.length + 1);
      s = s.slice(0, at) + s.slice(from, from + rng.size(128)) + s.slice(at);
    }
  }
  return s;
}

/** Byte-level edits: bit flips, interesting bytes, inserted/removed/duplicated runs, truncation, varint-like runs. */
export function mutateBytes(rng: FuzzRng, bytes: Uint8Array, count = 1): Uint8Array {
  let b = Uint8Array.from(bytes);
  const splice = (at: number, del: number, ins: Uint8Array) => {
    const out = new Uint8Array(b.length - del + ins.length);
    out.set(b.subarray(0, at), 0);
    out.set(ins, at);
    out.set(b.subarray(at + del), at + ins.length);
    b = out;
  };
  for (let c = 0; c < count; c++) {
    const at = rng.int(b.length + 1);
    const op = rng.int(8);
    if (op === 0 && at < b.length) b[at] = b[at]! ^ (1 << rng.int(8));
    else if (op === 1 && at < b.length) b[at] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a, 0x22]);
    else if (op === 2) splice(at, 0, rng.bytes(rng.size(32)));
    else if (op === 3) splice(at, Math.min(b.length - at, rng.size(64)), new Uint8Array());
    else if (op === 4) b = b.slice(0, at);
    else if (op === 5) {
      const len = Math.min(b.length - at, rng.size(512));
      splice(at, 0, b.slice(at, at + len));
    } else if (op === 6) splice(at, 0, new Uint8Array(rng.range(1, 11)).fill(0xff));
    else if (at < b.length) {
      // Overwrite with a large varint: length fields that run past the end.
      const v = rng.pick([0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff]);
      const enc: number[] = [];
      let x = v;
      while (x >= 0x80) {
        enc.push((x % 128) | 0x80);
        x = Math.floor(x / 128);
      }
      enc.push(x);
      b.set(Uint8Array.from(enc).subarray(0, b.length - at), at);
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Classification

export type Outcome = 'accepted' | 'rejected' | 'unclear' | 'violation' | 'crash' | 'hang';

/** What a target's `run` reports; a thrown error is classified by `classifyError` instead. */
export interface Verdict {
  outcome: 'accepted' | 'rejected' | 'unclear' | 'violation' | 'crash';
  detail?: string;
}

/** Messages the JavaScript engine writes (not ours): a rejection that starts with one of these is not clear. */
const ENGINE_MESSAGES = [
  /Maximum call stack size exceeded/,
  /^Cannot read propert/,
  /^Cannot set propert/,
  /^Cannot convert /,
  /^Cannot destructure/,
  /^[\w$.[\]'"()]+ is not (a function|iterable|a constructor)/,
  /^Invalid array length/,
  /^Invalid typed array length/,
  /^Invalid string length/,
  /^Array buffer allocation failed/,
  /^Unexpected token/,
  /^Unexpected end of JSON/,
  /^(Unexpected|Expected|Bad control|Bad escaped|Unterminated|Exponent part|No number after)[^]*in JSON at position/,
  /^[a-zA-Z_$][\w$]* is not defined/,
  /^undefined$/,
  /^null$/,
  /^\[object Object\]$/,
];
const ENGINE_ERRORS = new Set<unknown>([TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]);

/** Whether a message is one the engine writes (anywhere for a stack overflow, at the start for the others). */
export function isEngineMessage(message: string): boolean {
  return ENGINE_MESSAGES.some((re) => re.test(message));
}

/** A clear rejection: an Error of our own (not an engine error class) whose message is ours and not empty. */
export function isClearError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (ENGINE_ERRORS.has(e.constructor)) return false;
  const m = e.message;
  return typeof m === 'string' && m.trim().length > 0 && !isEngineMessage(m);
}

export function classifyError(e: unknown): Verdict {
  if (isClearError(e)) return { outcome: 'rejected' };
  const err = e as Error | undefined;
  return { outcome: 'unclear', detail: `${err?.constructor?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 200)}` };
}

/** A rejection message that came back over a wire (JSON-RPC error, HTTP error body): clear if ours and non-empty. */
export function clearMessage(message: unknown): Verdict {
  if (typeof message === 'string' && message.trim() && !isEngineMessage(message)) return { outcome: 'rejected' };
  return { outcome: 'unclear', detail: `message ${JSON.stringify(String(message)).slice(0, 200)}` };
}

// ---------------------------------------------------------------------------------------------------------------
// The loop

export interface FuzzTarget<I = unknown> {
  name: string;
  /** One line for the docs and the table's legend. */
  what: string;
  setup?(): Promise<void> | void;
  /** Untimed work before each input (e.g. restarting a process an earlier input crashed). */
  beforeEach?(): Promise<void> | void;
  generate(rng: FuzzRng): I;
  run(input: I): Verdict | Promise<Verdict>;
  teardown?(): Promise<void> | void;
  /** A short description of an input for failure reports. */
  describe?(input: I): string;
}

export interface Failure {
  index: number;
  outcome: Outcome;
  ms: number;
  detail: string;
  input: string;
}

export interface FuzzRow {
  target: string;
  inputs: number;
  accepted: number;
  rejected: number;
  unclear: number;
  violations: number;
  crashes: number;
  hangs: number;
  maxMs: number;
  p99Ms: number;
  seconds: number;
  /** The first failures (up to 20), each reproducible with `--seed S --only target --replay index`. */
  failures: Failure[];
}

export interface FuzzOptions {
  seed: number;
  budget: number;
  /** An input slower than this is a hang (default 1000 ms). */
  hangMs?: number;
  /** Start at this input index (inputs before it are not run; used to resume after a watchdog kill). */
  from?: number;
  /** Called before each input (the watchdog's heartbeat). */
  onInput?: (index: number) => void;
  /** Called after each input with its outcome. */
  onResult?: (index: number, outcome: Outcome, ms: number, detail: string, input: string) => void;
}

export const emptyRow = (target: string): FuzzRow => ({
  target,
  inputs: 0,
  accepted: 0,
  rejected: 0,
  unclear: 0,
  violations: 0,
  crashes: 0,
  hangs: 0,
  maxMs: 0,
  p99Ms: 0,
  seconds: 0,
  failures: [],
});

const MAX_FAILURES = 20;

function describeInput<I>(target: FuzzTarget<I>, input: I): string {
  try {
    if (target.describe) return target.describe(input).slice(0, 300);
    if (typeof input === 'string') return JSON.stringify(input.slice(0, 200));
    if (input instanceof Uint8Array) return `${input.length} bytes`;
    return JSON.stringify(input)?.slice(0, 300) ?? String(input);
  } catch (e) {
    return `(not printable: ${(e as Error).message})`;
  }
}

export function record(row: FuzzRow, index: number, outcome: Outcome, ms: number, detail: string, input: string): void {
  row.inputs++;
  row.maxMs = Math.max(row.maxMs, ms);
  if (outcome === 'accepted') row.accepted++;
  else if (outcome === 'rejected') row.rejected++;
  else {
    if (outcome === 'unclear') row.unclear++;
    else if (outcome === 'violation') row.violations++;
    else if (outcome === 'crash') row.crashes++;
    else row.hangs++;
    if (row.failures.length < MAX_FAILURES) row.failures.push({ index, outcome, ms: Math.round(ms), detail, input });
  }
}

/**
 * Runs `budget` inputs of `target` in this process, one at a time. Uncaught exceptions and unhandled rejections
 * raised while an input runs count as crashes of that input.
 */
export async function fuzz<I>(target: FuzzTarget<I>, opts: FuzzOptions): Promise<FuzzRow> {
  const hangMs = opts.hangMs ?? 1000;
  const row = emptyRow(target.name);
  const times: number[] = [];
  let stray: unknown[] = [];
  const onStray = (e: unknown) => void stray.push(e);
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  const t0 = performance.now();
  try {
    await target.setup?.();
    for (let i = opts.from ?? 0; i < opts.budget; i++) {
      opts.onInput?.(i);
      const input = target.generate(new FuzzRng(opts.seed, target.name, i));
      await target.beforeEach?.();
      stray = [];
      const start = performance.now();
      let verdict: Verdict;
      try {
        verdict = await target.run(input);
      } catch (e) {
        verdict = classifyError(e);
      }
      const ms = performance.now() - start;
      // Let stray errors of this input surface before the next one starts.
      await new Promise<void>((r) => setImmediate(r));
      times.push(ms);
      let outcome: Outcome = verdict.outcome;
      let detail = verdict.detail ?? '';
      if (stray.length) {
        outcome = 'crash';
        const e = stray[0] as Error | undefined;
        detail = `uncaught ${e?.constructor?.name ?? typeof e}: ${String(e?.message ?? e).slice(0, 200)}`;
      } else if (ms > hangMs && outcome !== 'crash') {
        outcome = 'hang';
        detail = `${Math.round(ms)} ms (${verdict.outcome}${verdict.detail ? `: ${verdict.detail}` : ''})`;
      }
      const shown = outcome === 'accepted' || outcome === 'rejected' ? '' : describeInput(target, input);
      record(row, i, outcome, ms, detail, shown);
      opts.onResult?.(i, outcome, ms, detail, shown);
    }
  } finally {
    await target.teardown?.();
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
  }
  times.sort((a, b) => a - b);
  row.p99Ms = times.length ? times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! : 0;
  row.seconds = (performance.now() - t0) / 1000;
  return row;
}

// ---------------------------------------------------------------------------------------------------------------
// Isolation: each target in a child process, with a watchdog

/** Messages from a child running one target. */
export type ChildMessage =
  | { type: 'input'; index: number }
  | { type: 'result'; index: number; outcome: Outcome; ms: number; detail: string; input: string }
  | { type: 'done' }
  | { type: 'error'; message: string };

/**
 * Runs each target in a child process (`script --child <target> …`), so that a target that crashes the process or
 * never returns from one input cannot take the others down. The child reports each input before running it and
 * its outcome after; if nothing arrives for `stallMs`, the child is killed, the input it was running is counted as
 * a hang, and a new child resumes after it. A child that dies is counted as a crash of the input it was running,
 * and resumed the same way.
 */
export async function runTargetsIsolated(
  script: string,
  targets: readonly string[],
  opts: { seed: number; budget: number; stallMs: number; extraArgs?: string[]; log?: (line: string) => void },
): Promise<FuzzRow[]> {
  const rows: FuzzRow[] = [];
  for (const name of targets) {
    const row = emptyRow(name);
    const times: number[] = [];
    let from = 0;
    const started = performance.now();
    for (let attempt = 0; from < opts.budget && attempt < 50; attempt++) {
      const r = await runChild(script, name, from, opts, (m) => {
        times.push(m.ms);
        record(row, m.index, m.outcome, m.ms, m.detail, m.input);
      });
      if (r.done) break;
      if (r.setupFailed) {
        record(row, from, 'crash', 0, r.detail, 'set-up');
        break;
      }
      // The child stalled or died while running input r.index: count it, then resume after it.
      const index = r.index ?? from;
      times.push(r.ms);
      record(row, index, r.outcome, r.ms, r.detail, `replay: --seed ${opts.seed} --only ${name} --replay ${index}`);
      opts.log?.(`  ${name}: input ${index} ${r.outcome} (${r.detail}); resuming at ${index + 1}`);
      from = index + 1;
    }
    times.sort((a, b) => a - b);
    row.p99Ms = times.length ? times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! : 0;
    row.seconds = (performance.now() - started) / 1000;
    rows.push(row);
  }
  return rows;
}

function runChild(
  script: string,
  name: string,
  from: number,
  opts: { seed: number; budget: number; stallMs: number; extraArgs?: string[] },
  onResult: (m: Extract<ChildMessage, { type: 'result' }>) => void,
): Promise<{ done?: boolean; setupFailed?: boolean; index?: number; outcome: Outcome; ms: number; detail: string }> {
  return new Promise((resolve) => {
    const args = ['--child', name, '--seed', String(opts.seed), '--budget', String(opts.budget), '--from', String(from), ...(opts.extraArgs ?? [])];
    const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let running: number | undefined;
    let next = from;
    let started = performance.now();
    let last = performance.now();
    let done = false;
    let error: string | undefined;
    let settled = false;
    const finish = (r: { done?: boolean; setupFailed?: boolean; index?: number; outcome: Outcome; ms: number; detail: string }) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      resolve(r);
    };
    child.on('message', (m: ChildMessage) => {
      last = performance.now();
      if (m.type === 'input') {
        running = m.index;
        started = last;
      } else if (m.type === 'result') {
        running = undefined;
        next = m.index + 1;
        onResult(m);
      } else if (m.type === 'done') done = true;
      else error = m.message;
    });
    // Set-up (a worker process, a server) may take a while before the first input; after that, `stallMs` per input.
    const timer = setInterval(() => {
      const limit = running === undefined ? Math.max(opts.stallMs, 60_000) : opts.stallMs;
      if (performance.now() - last > limit) {
        child.kill('SIGKILL');
        finish({ index: running ?? next, outcome: 'hang', ms: performance.now() - started, detail: `no answer for ${Math.round(limit / 1000)} s: killed` });
      }
    }, 250);
    child.on('exit', (code, signal) => {
      if (done) return finish({ done: true, outcome: 'accepted', ms: 0, detail: '' });
      if (running === undefined && error !== undefined) return finish({ setupFailed: true, outcome: 'crash', ms: 0, detail: error });
      finish({
        index: running ?? next,
        outcome: 'crash',
        ms: performance.now() - started,
        detail: error ?? `the fuzzing process exited (${signal ?? `code ${code}`})`,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

export const RESULT_PREFIX = 'RESULT ';

/** A plain-text table with a header row; numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[], raw: readonly (string | number)[] | undefined) =>
    r.map((v, c) => (typeof raw?.[c] === 'number' ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ');
  return [line(cells[0]!, undefined), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r, i) => line(cells[i + 1]!, r))].join('\n');
}

export function fuzzTable(rows: readonly FuzzRow[]): string {
  return table(
    ['target', 'inputs', 'crashes', 'hangs>1s', 'max ms', 'p99 ms', 'clear rejections', 'unclear', 'violations', 'accepted', 's'],
    rows.map((r) => [
      r.target,
      r.inputs,
      r.crashes,
      r.hangs,
      Math.round(r.maxMs),
      Math.round(r.p99Ms),
      r.rejected,
      r.unclear,
      r.violations,
      r.accepted,
      Number(r.seconds.toFixed(1)),
    ]),
  );
}

/** Parses `--name value` and `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(a.slice(2), next);
      i++;
    } else out.set(a.slice(2), '');
  }
  return out;
}
