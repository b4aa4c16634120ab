/**
 * Fuzzing of Concert's parsers and validators of untrusted input (issue #17): deterministic (seeded), bounded, one
 * child process per target with a watchdog (bench/reliability/fuzzing.ts). For every input: no uncaught exception
 * or crash, no input slower than 1 s, and every rejection a clear error of our own.
 *
 *   npx tsx bench/reliability/fuzz.ts [--budget 10000] [--seed 1] [--quick] [--only a,b] [--replay N] [--in-process]
 *
 * `--quick` runs 500 inputs per target; `--replay N` (with `--only target`) runs input N alone and prints it. Prints
 * a table and, as the last line, `RESULT <json>` ({ script, seed, budget, rows }), read by bench/reliability.ts.
 *
 * Targets (extension point: a codec that lands in src/codec adds its target to TARGETS, e.g. `jpeg` for the
 * canonical JPEG stream validator and `h264` for the NAL parser, with known-bad files as seeds):
 *   manifest, pack, onnx, tokenizer-input, tokenizer-json, worker-ipc, worker-ipc-bytes, oip-http, webview.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MANIFEST_FILE, MANIFEST_MAX_BYTES, checkRelativePath, parseManifest } from '../../src/runtime/manifest';
import { buildOnnxModel, scanOnnxModel } from '../../src/runtime/onnxModel';
import { ProtoWriter } from '../../src/runtime/protobuf';
import { PackError, checkGraphBytes, forgetPackVerdicts, validatePack } from '../../src/runtime/packs';
import { PackTokenizer, checkTokenizerJson } from '../../src/runtime/tokenizer';
import { decodeInferResponse, encodeInferRequest, HEADER_LENGTH, type Tensor } from '../../src/runtime/oip/codec';
import { DENSE_MODEL, SPARSE_MODEL, PARAM } from '../../src/runtime/oip/signature';
import { CoreServer } from '../../src/worker/serve';
import type { WorkerService } from '../../src/worker/service';
import type { OnnxDiffusionLM } from '../../src/runtime/diffusionLm';
import { JpegStreamValidator, describeCanonicalStream, maskHas, streamGeometry, validateImageStream } from '../../src/codec/jpeg';
import { ImageInputError, canonicalStreamFromBytes } from '../../src/runtime/images';
import { isStatusViewToHost } from '../../src/extension/statusMessages';
import { isSummaryViewToHost } from '../../src/extension/summaryMessages';
import { isRewriteViewToHost, sanitizeControls } from '../../src/extension/rewriteMessages';
import { isCollabViewToHost, sanitizeCollabControls } from '../../src/extension/collabMessages';
import { restorePersisted as restoreSummary } from '../../src/extension/summaryState';
import { restorePersisted as restoreRewrite } from '../../src/extension/rewriteState';
import { restorePersisted as restoreCollab } from '../../src/extension/collabState';
import { FakeDiffusionLM } from '../../test/helpers/fakeDiffusion';
import { SPECIALS, bigramModel, tinyTokenizerJson } from '../../test/helpers/packs';
import {
  INTERESTING_NUMBERS,
  INTERESTING_STRINGS,
  RESULT_PREFIX,
  classifyError,
  clearMessage,
  deepJsonText,
  deepValue,
  fuzz,
  fuzzTable,
  isClearError,
  mutateBytes,
  mutateJson,
  mutateText,
  parseArgs,
  randomJsonValue,
  randomString,
  runTargetsIsolated,
  type ChildMessage,
  type FuzzRng,
  type FuzzRow,
  type FuzzTarget,
  type Verdict,
} from './fuzzing';

const ROOT = path.join(__dirname, '..', '..');
const MODELS = path.join(ROOT, 'models');
const HF_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'hf');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const ok = (): Verdict => ({ outcome: 'accepted' });
const violation = (detail: string): Verdict => ({ outcome: 'violation', detail });
/** A placeholder replaced, after JSON.stringify, by deeply nested JSON text (which JSON.stringify could not write). */
const DEEP_MARK = '"@@deep@@"';

/** `value` as JSON, with one random value replaced by JSON text nested `depth` levels deep. */
function withDeepValue(rng: FuzzRng, value: unknown, depth: number): string {
  const copy = mutateJson(rng, value, 0);
  const holders: Record<string, unknown>[] = [];
  const stack: unknown[] = [copy];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'object' && v !== null) {
      if (!Array.isArray(v)) holders.push(v as Record<string, unknown>);
      for (const x of Object.values(v)) stack.push(x);
    }
  }
  const holder = holders.length ? rng.pick(holders) : undefined;
  if (!holder) return deepJsonText(depth);
  const keys = Object.keys(holder);
  holder[keys.length && rng.chance(0.7) ? rng.pick(keys) : 'deep'] = '@@deep@@';
  return JSON.stringify(copy).replace(DEEP_MARK, deepJsonText(depth, rng.chance(0.5) ? 'array' : 'object'));
}

// ---------------------------------------------------------------------------------------------------------------
// manifest: concert.json text → parseManifest

const bundledManifests = (): string[] =>
  readdirSync(MODELS)
    .sort()
    .map((d) => readFileSync(path.join(MODELS, d, MANIFEST_FILE), 'utf8'));

function manifestInvariants(m: ReturnType<typeof parseManifest>): string | undefined {
  for (const name of Object.keys(m.files)) {
    try {
      checkRelativePath(name, name);
    } catch {
      return `accepted the file name ${JSON.stringify(name)}`;
    }
  }
  for (const [role, file] of Object.entries(m.graphs)) if (!(file in m.files) || !file.endsWith('.onnx')) return `graph ${role} → ${file}`;
  if (m.tokenizer !== undefined && !(m.tokenizer in m.files)) return `tokenizer ${m.tokenizer} not listed`;
  return undefined;
}

export function manifestTarget(): FuzzTarget<string> {
  let bases: string[] = [];
  return {
    name: 'manifest',
    what: 'concert.json text (bundled manifests mutated as JSON and as text, deep nesting within the 64 KB cap) → parseManifest',
    setup() {
      bases = bundledManifests();
    },
    generate(rng) {
      const text = rng.pick(bases);
      return rng.weighted<() => string>([
        [5, () => JSON.stringify(mutateJson(rng, JSON.parse(text), rng.range(1, 4)))],
        [3, () => mutateText(rng, text, rng.range(1, 6))],
        [1, () => withDeepValue(rng, JSON.parse(text), rng.size(30_000))],
        [1, () => JSON.stringify(randomJsonValue(rng))],
        [1, () => randomString(rng, 200)],
      ])();
    },
    run(text) {
      const m = parseManifest(text);
      const bad = manifestInvariants(m);
      return bad ? violation(bad) : ok();
    },
    describe: (t) => `${t.length} chars: ${JSON.stringify(t.slice(0, 160))}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// pack: a pack folder on disk → validatePack

type FileSpec = Uint8Array | { symlink: string } | { hardlinkTo: string } | { dir: true };
interface PackInput {
  files: Record<string, FileSpec>;
  manifest: string | { symlink: string } | { dir: true };
  /** The file-system trick this input plays (an accepted pack must not contain it). */
  trick?: string;
}

const isBytes = (f: unknown): f is Uint8Array => f instanceof Uint8Array;

/** A tiny valid pack: a bigram graph, a byte-level BPE tokenizer, a model card; and one with external data. */
function basePack(): { files: Record<string, Uint8Array>; manifest: Record<string, unknown> } {
  const m = bigramModel(64);
  const files: Record<string, Uint8Array> = {
    'model.onnx': m.bytes,
    'tokenizer.json': Buffer.from(tinyTokenizerJson()),
    'MODEL_CARD.md': Buffer.from('# fuzz\nA tiny pack made by the fuzzer.\n'),
  };
  return { files, manifest: manifestFor('fuzz-pack', files, { decoder: 'model.onnx' }, { decoder: m.io }) };
}

function manifestFor(id: string, files: Record<string, Uint8Array>, graphs: Record<string, string>, io: Record<string, unknown>): Record<string, unknown> {
  return {
    schemaVersion: 1,
    id,
    kind: 'causal-lm',
    licence: 'MIT',
    files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, { sha256: sha256(v), bytes: v.length }])),
    graphs,
    tokenizer: 'tokenizer.json',
    specialTokens: SPECIALS,
    io,
    knobs: { maxContext: 64 },
    modelCard: 'MODEL_CARD.md',
  };
}

const EXTERNAL_LOCATIONS = [
  'weights.bin',
  'model.onnx_data',
  'model.onnx_data_1',
  '../weights.bin',
  '../../etc/passwd',
  '/etc/passwd',
  'C:\\Windows\\win.ini',
  '\\\\host\\share\\x',
  'sub/../../x.bin',
  'sub/../weights.bin',
  './weights.bin',
  'weights.bin\0.txt',
  'tokenizer.json',
  'model.onnx',
  '',
  'x'.repeat(300),
  'unlisted.bin',
];

/** A graph whose one initializer lives in external data at `location` (offset/length as given). */
function externalGraph(location: string, offset?: number, length?: number): { bytes: Uint8Array; io: Record<string, unknown> } {
  const io = {
    inputs: [{ name: 'x', dtype: 'float32', shape: [4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [4] }],
  };
  const bytes = buildOnnxModel({
    inputs: io.inputs,
    outputs: io.outputs,
    nodes: [{ opType: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: [
      {
        name: 'w',
        dtype: 'float32',
        dims: [4],
        external: { location, ...(offset !== undefined && { offset }), ...(length !== undefined && { length }) },
      },
    ],
  });
  return { bytes, io };
}

export function packTarget(): FuzzTarget<PackInput> {
  let root = '';
  let base: ReturnType<typeof basePack>;
  let counter = 0;
  const rehash = (files: Record<string, FileSpec>, manifest: Record<string, unknown>) => {
    const listed = manifest.files as Record<string, unknown>;
    for (const [k, v] of Object.entries(files)) if (isBytes(v) && k in listed) listed[k] = { sha256: sha256(v), bytes: v.length };
  };
  return {
    name: 'pack',
    what: 'a pack folder written to a temp dir (manifest, graph, tokenizer, external data and file-system tricks mutated; hashes kept right) → validatePack',
    setup() {
      root = mkdtempSync(path.join(tmpdir(), 'concert-fuzz-pack-'));
      writeFileSync(path.join(root, 'outside.bin'), new Uint8Array(16));
      base = basePack();
    },
    teardown() {
      rmSync(root, { recursive: true, force: true });
    },
    generate(rng): PackInput {
      const files: Record<string, FileSpec> = { ...base.files };
      const manifest = structuredClone(base.manifest);
      const mode = rng.weighted<string>([
        [3, 'manifest'],
        [1, 'manifest-text'],
        [3, 'graph'],
        [3, 'tokenizer'],
        [2, 'external'],
        [2, 'fs'],
      ]);
      if (mode === 'manifest') return { files, manifest: JSON.stringify(mutateJson(rng, manifest, rng.range(1, 3))) };
      if (mode === 'manifest-text') {
        return {
          files,
          manifest: rng.chance(0.2)
            ? ' '.repeat(MANIFEST_MAX_BYTES + rng.int(100)) + '{}'
            : mutateText(rng, JSON.stringify(manifest, null, 2), rng.range(1, 5)),
        };
      }
      if (mode === 'graph') files['model.onnx'] = mutateBytes(rng, base.files['model.onnx']!, rng.range(1, 4));
      else if (mode === 'tokenizer') {
        const text = new TextDecoder().decode(base.files['tokenizer.json']);
        files['tokenizer.json'] = Buffer.from(
          rng.chance(0.6) ? JSON.stringify(mutateJson(rng, JSON.parse(text), rng.range(1, 3))) : mutateText(rng, text, rng.range(1, 4)),
        );
      } else if (mode === 'external') {
        const location = rng.pick(EXTERNAL_LOCATIONS);
        const offset = rng.chance(0.5) ? undefined : rng.chance(0.5) ? rng.int(20) : rng.pick(INTERESTING_NUMBERS);
        const length = rng.chance(0.5) ? undefined : rng.chance(0.5) ? rng.int(20) : rng.pick(INTERESTING_NUMBERS);
        const g = externalGraph(location, offset, length);
        files['model.onnx'] = g.bytes;
        (manifest.io as Record<string, unknown>)['decoder'] = g.io;
        const dataName = rng.pick(['weights.bin', 'model.onnx_data', 'sub/x.bin', 'weights.txt']);
        files[dataName] = new Uint8Array(rng.pick([0, 8, 16, 32]));
        if (rng.chance(0.85)) (manifest.files as Record<string, unknown>)[dataName] = {};
        if (rng.chance(0.3)) {
          // A link out of the pack, listed with the size and hash of what it points at.
          files[dataName] = { symlink: path.join(root, 'outside.bin') };
          (manifest.files as Record<string, unknown>)[dataName] = { sha256: sha256(new Uint8Array(16)), bytes: 16 };
          rehash(files, manifest);
          return { files, manifest: JSON.stringify(manifest), trick: 'external data through a link' };
        }
      } else {
        const trick = rng.pick(['symlink-out', 'symlink-in', 'hardlink', 'dir', 'missing', 'manifest-symlink', 'manifest-dir', 'resize', 'empty']);
        const victim = rng.pick(Object.keys(files));
        if (trick === 'symlink-out') files[victim] = { symlink: rng.pick([path.join(root, 'outside.bin'), '/etc/hostname', '../outside.bin', '/nonexistent']) };
        else if (trick === 'symlink-in') files[victim] = { symlink: rng.pick(Object.keys(base.files)) };
        else if (trick === 'hardlink') files[victim] = { hardlinkTo: path.join(root, 'outside.bin') };
        else if (trick === 'dir') files[victim] = { dir: true };
        else if (trick === 'missing') delete files[victim];
        else if (trick === 'resize') files[victim] = Buffer.concat([Buffer.from(files[victim] as Uint8Array), Buffer.from('x')]);
        else if (trick === 'empty') files[victim] = new Uint8Array();
        rehash({}, manifest);
        if (trick === 'manifest-symlink') return { files, manifest: { symlink: path.join(root, 'outside.bin') }, trick };
        if (trick === 'manifest-dir') return { files, manifest: { dir: true }, trick };
        return { files, manifest: JSON.stringify(manifest), trick };
      }
      rehash(files, manifest);
      return { files, manifest: JSON.stringify(manifest) };
    },
    async run(input) {
      const dir = path.join(root, `p${counter++}`);
      mkdirSync(dir);
      try {
        for (const [name, spec] of Object.entries(input.files)) {
          const p = path.join(dir, name);
          mkdirSync(path.dirname(p), { recursive: true });
          if (isBytes(spec)) writeFileSync(p, spec);
          else if ('symlink' in spec) symlinkSync(spec.symlink, p);
          else if ('hardlinkTo' in spec) linkSync(spec.hardlinkTo, p);
          else mkdirSync(p);
        }
        const mp = path.join(dir, MANIFEST_FILE);
        if (typeof input.manifest === 'string') writeFileSync(mp, input.manifest);
        else if ('symlink' in input.manifest) symlinkSync(input.manifest.symlink, mp);
        else mkdirSync(mp);
        forgetPackVerdicts();
        let pack;
        try {
          pack = await validatePack(dir, 'user');
        } catch (e) {
          if (!(e instanceof PackError)) return classifyError(e);
          return isClearError(e) && !/Model pack "[^"]*": $/.test(e.message) ? { outcome: 'rejected' } : classifyError(new TypeError(e.message));
        }
        // Containment: every listed file of an accepted pack is a plain, single-link file inside the folder.
        for (const name of [MANIFEST_FILE, ...Object.keys(pack.manifest.files)]) {
          const st = lstatSync(path.join(pack.dir, name));
          if (!st.isFile() || st.nlink !== 1) return violation(`accepted ${name} (${input.trick ?? 'no trick'})`);
        }
        return ok();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    describe: (i) =>
      `${i.trick ?? ''} manifest=${typeof i.manifest === 'string' ? JSON.stringify(i.manifest.slice(0, 120)) : JSON.stringify(i.manifest)} files=${Object.entries(
        i.files,
      )
        .map(([k, v]) => `${k}:${isBytes(v) ? v.length : JSON.stringify(v)}`)
        .join(',')}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// onnx: graph bytes → scanOnnxModel and checkGraphBytes

/** Subgraphs nested `depth` levels deep (If.then_branch), built from the inside out. */
function nestedGraphModel(depth: number): Uint8Array {
  let g = new ProtoWriter().string(2, 'leaf');
  for (let d = 0; d < depth; d++) {
    const attr = new ProtoWriter().string(1, 'then_branch').message(6, g).int(20, 5);
    const node = new ProtoWriter().string(4, 'If').message(5, attr);
    g = new ProtoWriter().message(1, node).string(2, `g${d}`);
  }
  return new ProtoWriter().int(1, 8).message(7, g).message(8, new ProtoWriter().string(1, '').int(2, 14)).finish();
}

/** A main graph with `n` nodes. */
function manyNodesModel(n: number): Uint8Array {
  const node = new ProtoWriter().string(1, 'x').string(2, 'x').string(4, 'Identity').finish();
  const g = new ProtoWriter();
  for (let i = 0; i < n; i++) g.bytes(1, node);
  return new ProtoWriter().int(1, 8).message(7, g).finish();
}

export function onnxTarget(): FuzzTarget<{ base: number; bytes: Uint8Array }> {
  let bases: { name: string; bytes: Uint8Array; io: ReturnType<typeof scanOnnxModel> }[] = [];
  return {
    name: 'onnx',
    what: 'ONNX protobuf bytes (bundled and Hugging Face fixture graphs mutated and truncated; nested subgraphs; many nodes) → scanOnnxModel, checkGraphBytes',
    setup() {
      const files = [
        path.join(MODELS, 'concert-ssd-user', 'context.onnx'),
        path.join(MODELS, 'concert-ssd-user', 'denoiser.onnx'),
        path.join(HF_FIXTURES, 'llama-tiny', 'onnx', 'model.onnx'),
        path.join(HF_FIXTURES, 'qwen2-tiny', 'onnx', 'model.onnx'),
        path.join(HF_FIXTURES, 'gpt2-tiny', 'onnx', 'decoder_model_merged.onnx'),
      ];
      bases = files.map((f) => {
        const bytes = new Uint8Array(readFileSync(f));
        return { name: path.relative(ROOT, f), bytes, io: scanOnnxModel(bytes) };
      });
      const small = bigramModel(16).bytes;
      bases.push({ name: 'bigram', bytes: small, io: scanOnnxModel(small) });
    },
    generate(rng) {
      const base = rng.int(bases.length);
      const b = bases[base]!.bytes;
      const bytes = rng.weighted<() => Uint8Array>([
        [10, () => mutateBytes(rng, b, rng.range(1, 8))],
        [2, () => b.slice(0, rng.int(b.length))],
        [1, () => nestedGraphModel(rng.range(1, 40))],
        [1, () => (rng.chance(0.1) ? manyNodesModel(200_001) : manyNodesModel(rng.size(5000)))],
        [1, () => rng.bytes(rng.size(4096))],
      ])();
      return { base, bytes };
    },
    run({ base, bytes }) {
      scanOnnxModel(bytes);
      const { io } = bases[base]!;
      const manifest = {
        id: 'fuzz',
        graphs: { g: 'model.onnx' },
        files: Object.fromEntries(['model.onnx', 'model.onnx_data', 'weights.bin'].map((f) => [f, { sha256: '0'.repeat(64), bytes: 1 << 30 }])),
        io: { g: { inputs: io.inputs, outputs: io.outputs } },
      };
      checkGraphBytes({ manifest: manifest as never }, 'g', bytes, { 'model.onnx_data': 1 << 30, 'weights.bin': 1 << 30 });
      return ok();
    },
    describe: (i) => `${bases[i.base]?.name} mutated: ${i.bytes.length} bytes, head ${Buffer.from(i.bytes.subarray(0, 24)).toString('hex')}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// tokenizer-input: user text → PackTokenizer.encodePlain / encodeControl / decode on bundled packs

/** Long inputs stay well inside the 1-s budget per input (the encodings of a 2M-character document take seconds). */
const LONG_TEXT_MAX = 20_000;

export function tokenizerInputTarget(): FuzzTarget<{ tok: number; text: string }> {
  let toks: { tok: PackTokenizer; specials: string[]; specialIds: Set<number> }[] = [];
  return {
    name: 'tokenizer-input',
    what: `text (special-token strings, lone surrogates, control characters, up to ${LONG_TEXT_MAX / 1000}k characters) → PackTokenizer.encodePlain/encodePlainAsync/encodeControl/decode of a bundled pack`,
    setup() {
      const load = (dir: string) => {
        const m = JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as { tokenizer: string; specialTokens?: Record<string, string> };
        const json = readFileSync(path.join(dir, m.tokenizer), 'utf8');
        const tok = new PackTokenizer(json, m.specialTokens ?? {});
        const added = (JSON.parse(json) as { added_tokens?: { content: string; id: number; special?: boolean }[] }).added_tokens ?? [];
        return {
          tok,
          specials: [...new Set([...added.map((a) => a.content), ...Object.values(m.specialTokens ?? {})])],
          specialIds: new Set([...added.filter((a) => a.special).map((a) => a.id), ...Object.values(tok.specialIds)]),
        };
      };
      toks = [load(path.join(MODELS, 'concert-ssd-user')), load(path.join(MODELS, 'concert-lm-small'))];
    },
    generate(rng) {
      const tok = rng.int(toks.length);
      const { specials } = toks[tok]!;
      const piece = () =>
        rng.weighted<() => string>([
          [3, () => rng.pick(specials)],
          [1, () => rng.pick(specials).slice(0, rng.range(1, 4))],
          [
            1,
            () =>
              rng
                .pick(specials)
                .split('')
                .join(rng.pick(['', '\u200b', ' ', '\ufeff'])),
          ],
          [3, () => rng.pick(INTERESTING_STRINGS)],
          [4, () => randomString(rng, 40)],
          [2, () => rng.pick(['the ', 'cat ', 'Hello, world. ', '  ', '\n\n', "don't ", '123 ', 'naïve ', '日本語 ', '🎉 '])],
        ])();
      if (rng.chance(0.03)) {
        // Long input: repeated words, a character run, or random text.
        const n = rng.range(8193, LONG_TEXT_MAX);
        const unit = rng.pick(['lorem ipsum dolor ', 'a', ' ', '</s>', '\ud800', 'ab ', randomString(rng, 16)]);
        return { tok, text: unit.repeat(Math.ceil(n / unit.length)).slice(0, n) };
      }
      let text = '';
      for (let k = rng.size(40); k > 0; k--) text += piece();
      return { tok, text };
    },
    async run({ tok: t, text }) {
      const { tok, specialIds } = toks[t]!;
      const ids = tok.encodePlain(text);
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) return violation(`id ${id} outside [0, ${tok.vocabSize})`);
        if (specialIds.has(id)) return violation(`plain text produced special id ${id}`);
      }
      if (typeof tok.decode(ids) !== 'string') return violation('decode returned no string');
      if (text.length > 8192) {
        const async = await tok.encodePlainAsync(text);
        if (async.length !== ids.length || async.some((x, i) => x !== ids[i])) return violation('encodePlainAsync differs from encodePlain');
      } else tok.encodeControl(text);
      return ok();
    },
    describe: (i) => `tokenizer ${i.tok}, ${i.text.length} chars: ${JSON.stringify(i.text.slice(0, 120))}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// tokenizer-json: tokenizer.json text → checkTokenizerJson, then PackTokenizer and a few encodes

/** Regexes that backtrack badly (or do not compile) in a pre-tokenizer Split or a normalizer Replace. */
const NASTY_REGEXES = [
  '(a|a)*b',
  '(a+)+b',
  '(a|aa)+$',
  '(.*a){12}',
  '(\\w+\\s?)+$',
  '([a-z]+)*=',
  '(a|b|ab)*c',
  '(?:a|a?)+b',
  '(x+x+)+y',
  '(a*)*$',
  '(a|a?)+$',
  '^(a?){25}a{25}$',
  '(\\s|\\S)*x',
  '(.|\\n)*z',
  '((a+)|b)+c',
  '(?:\\p{L}|\\p{Ll})+!',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  '\\s+',
  '(',
  '[',
  'a{99999}',
  '(?<=a)b',
  '(a)\\1*',
  '',
  // Polynomial, not exponential: not refused by safeRegex; harmless on the short probes here (docs/reliability.md).
  '.*.*.*=',
  '\\s*\\s*\\s*x',
];

function tinyUnigramJson(): string {
  const pieces = ['<unk>', '<s>', '</s>', '▁', ...'abcdefghijklmnopqrstuvwxyz'.split(''), '▁the', '▁a'];
  return JSON.stringify({
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces.map((p, i) => [p, -1 - i / 10]), byte_fallback: false },
  });
}

function tinyWordPieceJson(): string {
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3 };
  for (const w of ['the', 'a', 'cat', '##s', '##ing', ...'abcdefghijklmnopqrstuvwxyz'.split('')]) vocab[w] = Object.keys(vocab).length;
  return JSON.stringify({
    version: '1.0',
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({ id, content, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  });
}

const PROBES = ['hello world', `${'a'.repeat(28)}!`, '</s><s><pad> the cat', `${'ab'.repeat(40)}c`, '\ud800\u0000\u202e x', `${' '.repeat(40)}x`];

export function tokenizerJsonTarget(): FuzzTarget<{ base: number; text: string }> {
  let bases: { text: string; specials: Record<string, string> }[] = [];
  return {
    name: 'tokenizer-json',
    what: 'tokenizer.json text (BPE/Unigram/WordPiece bases mutated; Split/Replace regexes that backtrack; deep nesting up to 200k) → checkTokenizerJson, PackTokenizer, encode/decode probes',
    setup() {
      bases = [
        { text: tinyTokenizerJson(), specials: SPECIALS },
        { text: readFileSync(path.join(HF_FIXTURES, 'gpt2-tiny', 'tokenizer.json'), 'utf8'), specials: { eos: '<|endoftext|>' } },
        { text: tinyUnigramJson(), specials: { unk: '<unk>', bos: '<s>', eos: '</s>' } },
        { text: tinyWordPieceJson(), specials: { pad: '[PAD]', unk: '[UNK]' } },
      ];
    },
    generate(rng) {
      const base = rng.int(bases.length);
      const text = bases[base]!.text;
      const json = () => JSON.parse(text) as Record<string, unknown>;
      const regexSplice = () => {
        const j = json();
        const pattern = rng.chance(0.5) ? { Regex: rng.pick(NASTY_REGEXES) } : { String: rng.pick(INTERESTING_STRINGS) };
        const split = {
          type: 'Split',
          pattern,
          behavior: rng.pick(['Isolated', 'Removed', 'MergedWithPrevious', 'Contiguous', 'Bogus']),
          invert: rng.chance(0.3),
        };
        if (rng.chance(0.6)) j['pre_tokenizer'] = rng.chance(0.5) ? split : { type: 'Sequence', pretokenizers: [split, j['pre_tokenizer']] };
        else j['normalizer'] = { type: 'Replace', pattern, content: rng.pick(['', ' ', '▁', 'aa']) };
        return JSON.stringify(rng.chance(0.3) ? mutateJson(rng, j, 1) : j);
      };
      const out = rng.weighted<() => string>([
        [5, () => JSON.stringify(mutateJson(rng, json(), rng.range(1, 4)))],
        [3, regexSplice],
        [2, () => mutateText(rng, text, rng.range(1, 5))],
        [1, () => withDeepValue(rng, json(), rng.chance(0.2) ? rng.range(100_000, 200_000) : rng.size(5000))],
        [1, () => JSON.stringify(randomJsonValue(rng))],
      ])();
      return { base, text: out };
    },
    run({ base, text }) {
      const { specials } = bases[base]!;
      // The tokenizer library warns on the console about patterns it does not know (and then fails or ignores them).
      const warn = console.warn;
      console.warn = () => {};
      try {
        checkTokenizerJson(text, specials);
        const tok = new PackTokenizer(text, specials);
        for (const p of PROBES) {
          const ids = tok.encodePlain(p);
          tok.decode(ids);
          tok.encodeControl(p);
        }
        return ok();
      } finally {
        console.warn = warn;
      }
    },
    describe: (i) => `base ${i.base}, ${i.text.length} chars: ${JSON.stringify(i.text.slice(0, 200))}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// worker-ipc: JSON-RPC messages → the real worker process (Node IPC, vscode-jsonrpc's IPCMessageReader, handlers)

/**
 * Methods whose requests the fuzzer sends with mutated params. Left out on purpose: `worker/exit` and
 * `worker/shutdown` (they end the worker, by design), `worker/configure` (device changes probe providers),
 * `models/pull` (network), `server/start`/`server/stop` (the oip-http target covers the server), and the model runs
 * (`cad/run`, `diffusion/run`, `collab/run`, `models/selfTest`: valid params run a model for seconds).
 */
const IPC_METHODS = [
  'models/tokenize',
  'models/validate',
  'worker/ping',
  'models/list',
  'worker/doctor',
  '$/cancelRequest',
  '$/setTrace',
  '$/logTrace',
  '$/progress',
  'worker/status',
  'progress/steps',
  'models/unknown',
  '',
  'rpc.foo',
  '__proto__',
  'constructor',
  'toString',
] as const;

interface IpcInput {
  message: unknown;
  /** The id a response must come back for (a request with a string or number id and a string method). */
  expect?: string | number;
}

export function workerIpcTarget(): FuzzTarget<IpcInput> {
  let worker: ChildProcess | undefined;
  let scratch = '';
  let stderr = '';
  let exited: string | undefined;
  const waiting = new Map<string | number, (m: Record<string, unknown>) => void>();
  let pingSeq = 0;

  const start = async () => {
    exited = undefined;
    stderr = '';
    const w = fork(path.join(ROOT, 'src', 'worker', 'main.ts'), ['--client-pid', String(process.pid)], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, CONCERT_PROGRESS_INTERVAL_MS: '0' },
    });
    w.stderr!.on('data', (c: Buffer) => void (stderr = (stderr + c.toString()).slice(-2000)));
    w.on('message', (m: Record<string, unknown>) => {
      if (m && (typeof m.id === 'string' || typeof m.id === 'number') && ('result' in m || 'error' in m)) {
        const f = waiting.get(m.id);
        if (f) {
          waiting.delete(m.id);
          f(m);
        }
      }
    });
    w.on('exit', (code, signal) => void (exited = `the worker exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    worker = w;
    const settings = { device: 'cpu', modelFolders: [], bundledModelsDir: MODELS, idleUnloadSeconds: 0, threads: 1 };
    await call('worker/configure', { settings }, 60_000);
    await call('models/list', undefined, 60_000);
    await call('models/tokenize', { packId: 'concert-ssd-user', text: 'warm up' }, 60_000);
  };
  const reply = (id: string | number, ms: number) =>
    new Promise<Record<string, unknown> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(undefined);
      }, ms);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  const call = async (method: string, params: unknown, ms: number) => {
    const id = `setup-${pingSeq++}`;
    const r = reply(id, ms);
    worker!.send({ jsonrpc: '2.0', id, method, ...(params !== undefined && { params }) });
    const m = await r;
    if (!m || 'error' in m) throw new Error(`${method} failed in set-up: ${JSON.stringify(m?.error ?? 'no answer')}`);
    return m.result;
  };

  return {
    name: 'worker-ipc',
    what: 'JSON-RPC messages (envelopes, ids, methods, params mutated; deep nesting; responses for unknown ids) → the real worker process over Node IPC',
    async setup() {
      scratch = mkdtempSync(path.join(tmpdir(), 'concert-fuzz-ipc-'));
      writeFileSync(path.join(scratch, 'file.txt'), 'not a folder');
      mkdirSync(path.join(scratch, 'empty'));
      mkdirSync(path.join(scratch, 'broken'));
      writeFileSync(path.join(scratch, 'broken', MANIFEST_FILE), '{"schemaVersion": 1, "id": "x"');
      await start();
    },
    async teardown() {
      worker?.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    },
    generate(rng): IpcInput {
      const method = rng.weighted<() => unknown>([
        [12, () => rng.pick(IPC_METHODS)],
        [1, () => randomString(rng, 40)],
        [1, () => randomJsonValue(rng)],
        [1, () => 'm'.repeat(rng.size(200_000))],
      ])();
      const dirs = () => [
        rng.pick([
          '/nonexistent/concert-fuzz',
          path.join(scratch, 'file.txt'),
          path.join(scratch, 'empty'),
          path.join(scratch, 'broken'),
          '',
          'relative/x',
          '\0',
          scratch,
        ]),
      ];
      const params = rng.weighted<() => unknown>([
        [4, () => ({ packId: rng.pick(['concert-ssd-user', 'concert-lm-small', 'nope', '', '/nonexistent', '../x']), text: randomString(rng, 200) })],
        [3, () => ({ dirs: dirs() })],
        [2, () => ({ id: rng.pick([1, 2, 'x', null, -1]) })],
        [3, () => mutateJson(rng, { packId: 'concert-ssd-user', text: 'hello', dirs: dirs() }, rng.range(1, 3), 1500)],
        [2, () => randomJsonValue(rng)],
        [1, () => deepValue(rng.size(2000), rng.chance(0.5) ? 'array' : 'object')],
        [1, () => undefined],
      ])();
      const id = rng.weighted<() => unknown>([
        [8, () => rng.int(1_000_000)],
        [2, () => `fuzz-${rng.int(1_000_000)}`],
        [1, () => rng.pick([null, -1, 0.5, 2 ** 53, 1e308, true, {}, [], '', 'ping-1'])],
        [1, () => undefined],
      ])();
      const kind = rng.weighted<string>([
        [8, 'request'],
        [2, 'notification'],
        [1, 'response'],
        [1, 'garbage'],
      ]);
      let message: Record<string, unknown> | unknown;
      if (kind === 'request') message = { jsonrpc: '2.0', id, method, ...(params !== undefined && { params }) };
      else if (kind === 'notification') message = { jsonrpc: '2.0', method, ...(params !== undefined && { params }) };
      else if (kind === 'response')
        message = {
          jsonrpc: '2.0',
          id,
          ...(rng.chance(0.5) ? { result: params ?? null } : { error: { code: rng.pick(INTERESTING_NUMBERS), message: randomString(rng) } }),
        };
      else message = rng.chance(0.5) ? randomJsonValue(rng) : rng.pick([null, 0, '', 'Content-Length: -1\r\n\r\n{', [], [1, 2, 3]]);
      if (kind !== 'garbage' && rng.chance(0.15)) message = mutateJson(rng, message, 1, 1500);
      const m = message as Record<string, unknown> | null;
      const expect =
        m && typeof m === 'object' && !Array.isArray(m) && typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number')
          ? m.id
          : undefined;
      // Ids of our own pings are left to the pings.
      return expect !== undefined && String(expect).startsWith('ping-')
        ? { message: { ...m, id: 'fuzz-ping' }, expect: 'fuzz-ping' }
        : { message, ...(expect !== undefined && { expect }) };
    },
    async beforeEach() {
      if (exited || !worker?.connected) await start();
    },
    async run({ message, expect }) {
      const answer = expect !== undefined ? reply(expect, 1500) : undefined;
      try {
        worker!.send(message as never);
      } catch (e) {
        // Node's own serialiser refused it (the message never reached the channel).
        return { outcome: 'rejected', detail: `not sendable: ${(e as Error).message}` };
      }
      const pingId = `ping-${pingSeq++}`;
      const pong = reply(pingId, 1500);
      worker!.send({ jsonrpc: '2.0', id: pingId, method: 'worker/ping' });
      const [r, p] = await Promise.all([answer, pong]);
      if (exited) return { outcome: 'crash', detail: exited };
      if (!p) return { outcome: 'crash', detail: 'the worker stopped answering worker/ping' };
      if (expect === undefined) return ok();
      if (!r) return { outcome: 'unclear', detail: `no response to request ${JSON.stringify(expect)}` };
      if (!('error' in r)) return ok();
      return clearMessage((r.error as { message?: unknown } | undefined)?.message);
    },
    describe: (i) => {
      try {
        return (
          JSON.stringify(i.message, (_k, v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v))?.slice(0, 300) ??
          String(i.message)
        );
      } catch {
        return '(deeply nested message)';
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// worker-ipc-bytes: raw bytes on the worker's IPC channel (Node's own newline-delimited JSON framing)

/**
 * The bytes of one input: garbage lines, partial frames, lines of megabytes, invalid UTF-8, Content-Length framing
 * (what a stream transport would send), JSON nested 200,000 deep, several messages in one write.
 */
function ipcBytes(rng: FuzzRng): Buffer {
  const line = (m: unknown) => Buffer.from(`${JSON.stringify(m)}\n`);
  const request = () => ({
    jsonrpc: '2.0',
    id: rng.int(1_000_000),
    method: rng.pick(['worker/ping', 'models/tokenize', 'models/unknown']),
    params: { packId: 'concert-ssd-user', text: 'hi' },
  });
  const piece = () =>
    rng.weighted<() => Buffer>([
      [3, () => Buffer.from(mutateBytes(rng, line(request()), rng.range(1, 4)))],
      [2, () => Buffer.from(rng.bytes(rng.size(2048)))],
      [2, () => line(request()).subarray(0, rng.int(40))],
      [1, () => Buffer.from(`Content-Length: ${rng.pick(['-1', '9007199254740993', 'abc', '', '12'])}\r\n\r\n${JSON.stringify(request())}`)],
      [1, () => Buffer.from(`{"jsonrpc":"2.0","method":"models/tokenize","params":{"text":${deepJsonText(rng.size(200_000))}}}\n`)],
      [1, () => Buffer.from(`{"jsonrpc":"2.0","id":${rng.int(1000)},"result":${deepJsonText(rng.size(200_000), 'object')}}\n`)],
      [
        1,
        () =>
          Buffer.concat([
            Buffer.from('{"jsonrpc":"2.0","method":"x","params":"'),
            Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]),
            Buffer.from('"}\n'),
          ]),
      ],
      [1, () => Buffer.from(`"${'x'.repeat(rng.size(2_000_000))}"\n`)],
      [1, () => Buffer.from(rng.pick(['\n', '\n\n\n', 'null\n', '[]\n', '1\n', '"str"\n', '{}\n', '{"cmd":"NODE_HANDLE"}\n', '{"cmd":"NODE_x","msg":1}\n']))],
      [2, () => line(request())],
    ])();
  return Buffer.concat(Array.from({ length: rng.range(1, 3) }, piece));
}

export function workerIpcBytesTarget(): FuzzTarget<Buffer> {
  let worker: ChildProcess | undefined;
  let exited: string | undefined;
  let stderr = '';
  let buffered = '';
  let seq = 0;
  const waiting = new Map<string, () => void>();
  const start = async () => {
    exited = undefined;
    buffered = '';
    // The worker's IPC channel is fd 3 (NODE_CHANNEL_FD, as fork sets it up), here a plain socket this end writes raw.
    const w = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker', 'main.ts'), '--client-pid', String(process.pid)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
    });
    w.stderr!.on('data', (c: Buffer) => void (stderr = (stderr + c.toString()).slice(-2000)));
    const channel = w.stdio[3] as net.Socket;
    channel.on('error', () => undefined);
    channel.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
        try {
          const m = JSON.parse(text) as { id?: unknown };
          if (typeof m.id === 'string') waiting.get(m.id)?.();
        } catch {
          // not ours to judge here
        }
      }
    });
    w.on('exit', (code, signal) => void (exited = `the worker exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-2).join(' | ')}`));
    worker = w;
    if (!(await ping(20_000))) throw new Error(`the worker did not answer its first ping: ${exited ?? stderr.slice(-300)}`);
  };
  const ping = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const id = `ping-${seq++}`;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(false);
      }, ms);
      waiting.set(id, () => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(true);
      });
      (worker!.stdio[3] as net.Socket).write(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'worker/ping' })}\n`);
    });
  return {
    name: 'worker-ipc-bytes',
    what: "raw bytes on the worker process's IPC channel: garbage, partial frames, Content-Length framing, invalid UTF-8, 2 MB lines, JSON nested 200,000 deep",
    setup: start,
    async beforeEach() {
      if (exited) await start();
    },
    teardown() {
      worker?.kill('SIGKILL');
    },
    generate: ipcBytes,
    async run(bytes) {
      const channel = worker!.stdio[3] as net.Socket;
      await new Promise<void>((r) => channel.write(bytes, () => r()));
      // End a partial frame, then ask. A ping that shares a read with a bad line is lost with it (Node drops the rest
      // of that read), so the first ping waits for the worker to have read the bytes, and there are 3 tries.
      await new Promise<void>((r) => channel.write('\n', () => r()));
      for (let tries = 0; tries < 3; tries++) {
        await new Promise((r) => setTimeout(r, 5 + tries * 20));
        if (await ping(tries === 0 ? 200 : 300)) return ok();
        if (exited) return { outcome: 'crash', detail: exited };
      }
      return exited ? { outcome: 'crash', detail: exited } : { outcome: 'crash', detail: 'the worker stopped answering worker/ping' };
    },
    describe: (b) => `${b.length} bytes: ${JSON.stringify(b.subarray(0, 160).toString('latin1'))}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// oip-http: raw HTTP requests → `concert serve`'s OIP v2 handler on loopback (a fake core model behind it)

const OIP = { V: 32, B: 2, K: 5, T: 100, maxContext: 64, maxBodyBytes: 64 * 1024 };

function validOipBody(rng: FuzzRng, sparse: boolean): { inputs: Tensor[]; parameters?: Record<string, unknown> } {
  const R = rng.range(1, 3);
  const L = rng.range(1, 6);
  const ids = new BigInt64Array(R * L).map(() => BigInt(rng.int(OIP.V)));
  const mask = new BigInt64Array(R * L).fill(1n);
  const ctx: Tensor[] = [
    { name: 'context_ids', datatype: 'INT64', shape: [R, L], data: ids },
    { name: 'context_mask', datatype: 'INT64', shape: [R, L], data: mask },
  ];
  const t = rng.pick([0.5, 1, 0.01, Number.NaN, 0, -1, Infinity]);
  if (!sparse) {
    const block = () =>
      Float32Array.from({ length: R * OIP.B * OIP.V }, () =>
        rng.weighted<number>([
          [20, rng.next()],
          [1, Number.NaN],
          [1, Infinity],
          [1, -Infinity],
          [1, 3.4e38],
        ]),
      );
    return {
      inputs: [
        ...ctx,
        { name: 'noisy_logits', datatype: 'FP32', shape: [R, OIP.B, OIP.V], data: block() },
        { name: 'self_cond_logits', datatype: 'FP32', shape: [R, OIP.B, OIP.V], data: block() },
        { name: 't_frac', datatype: 'FP32', shape: [R], data: new Float32Array(R).fill(rng.chance(0.8) ? 0.5 : t) },
      ],
    };
  }
  return {
    inputs: [
      ...ctx,
      { name: 'block_ids', datatype: 'INT32', shape: [OIP.B], data: Int32Array.from({ length: OIP.B }, () => (rng.chance(0.5) ? -1 : rng.int(OIP.V))) },
      { name: 'noise_seed', datatype: 'UINT32', shape: [1], data: Uint32Array.of(rng.int(2 ** 32)) },
      { name: 'noise_at', datatype: 'INT32', shape: [2], data: Int32Array.of(rng.int(4), rng.int(100)) },
      { name: 'alpha_bar', datatype: 'FP64', shape: [1], data: Float64Array.of(rng.chance(0.8) ? rng.next() : t) },
      { name: 'top_k', datatype: 'INT32', shape: [1], data: Int32Array.of(rng.chance(0.8) ? rng.range(1, OIP.V) : rng.pick(INTERESTING_NUMBERS) | 0) },
      { name: 't_frac', datatype: 'FP32', shape: [R], data: new Float32Array(R).fill(rng.chance(0.8) ? 0.5 : t) },
    ],
    parameters: { [PARAM.selfCond]: rng.chance(0.8) ? 'zeros' : rng.pick(['', 'stale-state', 1, null]) },
  };
}

interface HttpInput {
  raw: Buffer;
  label: string;
}

export function oipHttpTarget(): FuzzTarget<HttpInput> {
  let server: CoreServer | undefined;
  let port = 0;
  let count = 0;
  const send = (raw: Uint8Array, ms: number) =>
    new Promise<{ bytes: Buffer; timedOut: boolean }>((resolve) => {
      const chunks: Buffer[] = [];
      const sock = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ bytes: Buffer.concat(chunks), timedOut: true });
      }, ms);
      sock.on('data', (c) => chunks.push(c));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        clearTimeout(timer);
        resolve({ bytes: Buffer.concat(chunks), timedOut: false });
      });
      sock.end(Buffer.from(raw));
    });
  const request = (method: string, p: string, headers: Record<string, string>, body: Uint8Array = new Uint8Array()) => {
    const head = `${method} ${p} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
  };
  const status = (bytes: Buffer) => {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(bytes.subarray(0, 20).toString('latin1'));
    return m ? Number(m[1]) : undefined;
  };
  /** The head and body of the first response on the connection (a second, e.g. Node's 400 for an unread body, is cut). */
  const parts = (bytes: Buffer) => {
    const at = bytes.indexOf('\r\n\r\n');
    if (at < 0) return { head: bytes.toString('latin1'), body: Buffer.alloc(0) };
    const head = bytes.subarray(0, at).toString('latin1');
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    return { head, body: bytes.subarray(at + 4, cl ? at + 4 + Number(cl[1]) : undefined) };
  };
  const bodyOf = (bytes: Buffer) => parts(bytes).body;
  /** A valid sparse inference (one row, self-conditioning from zeros). */
  const validInfer = () => {
    const inputs: Tensor[] = [
      { name: 'context_ids', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(1n, 5n, 7n) },
      { name: 'context_mask', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(1n, 1n, 1n) },
      { name: 'block_ids', datatype: 'INT32', shape: [OIP.B], data: new Int32Array(OIP.B).fill(-1) },
      { name: 'noise_seed', datatype: 'UINT32', shape: [1], data: Uint32Array.of(7) },
      { name: 'noise_at', datatype: 'INT32', shape: [2], data: Int32Array.of(0, 1) },
      { name: 'alpha_bar', datatype: 'FP64', shape: [1], data: Float64Array.of(0.5) },
      { name: 'top_k', datatype: 'INT32', shape: [1], data: Int32Array.of(OIP.K) },
      { name: 't_frac', datatype: 'FP32', shape: [1], data: Float32Array.of(0.5) },
    ];
    const enc = encodeInferRequest({ inputs, parameters: { [PARAM.selfCond]: 'zeros' } }, true);
    return request(
      'POST',
      `/v2/models/${SPARSE_MODEL}/infer`,
      {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/octet-stream',
        'content-length': String(enc.body.length),
        [HEADER_LENGTH]: String(enc.headerLength),
        connection: 'close',
      },
      enc.body,
    );
  };

  return {
    name: 'oip-http',
    what: `raw HTTP requests (routes, methods, headers, Content-Length, chunking, OIP JSON and binary bodies with wrong shapes, dtypes, sizes, NaN; bodies over the ${OIP.maxBodyBytes / 1024} KB cap) → concert serve's handler on loopback`,
    async setup() {
      const lm = new FakeDiffusionLM(OIP.V, OIP.B, OIP.K, OIP.T, true, OIP.maxContext);
      const model = { pack: { manifest: { id: 'fuzz-core' } }, tok: { specialIds: { bos: 1 } }, lm: lm as unknown as OnnxDiffusionLM };
      const service = { diffusionModel: async () => model } as unknown as WorkerService;
      server = await CoreServer.start(service, { host: '127.0.0.1', port: 0, maxBodyBytes: OIP.maxBodyBytes, maxConcurrent: 4, requestTimeoutMs: 5000 });
      port = server.port;
    },
    async teardown() {
      await server?.close();
    },
    generate(rng): HttpInput {
      const host = `127.0.0.1:${port}`;
      const sparse = rng.chance(0.5);
      const route = rng.weighted<() => string>([
        [8, () => `/v2/models/${sparse ? SPARSE_MODEL : DENSE_MODEL}/infer`],
        [
          1,
          () =>
            rng.pick([
              '/v2',
              '/v2/health/live',
              '/v2/health/ready',
              `/v2/models/${DENSE_MODEL}`,
              `/v2/models/${SPARSE_MODEL}/ready`,
              `/v2/models/${DENSE_MODEL}/versions/1/infer`,
            ]),
        ],
        [1, () => mutateText(rng, `/v2/models/${DENSE_MODEL}/infer`, rng.range(1, 3)).replace(/[\s]/g, '%20')],
        [
          1,
          () =>
            rng.pick([
              '/',
              '*',
              '/v2/models/../../etc/passwd',
              '/v2//models///x',
              `/v2/models/${'a'.repeat(5000)}/infer`,
              '/%00',
              '/v2?x=1#y',
              'http://evil/v2',
            ]),
        ],
      ])();
      const method = rng.weighted<string>([
        [10, 'POST'],
        [2, 'GET'],
        [1, rng.pick(['PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'post', 'P0ST', 'GET /x'])],
      ]);
      const base = validOipBody(rng, sparse);
      const binary = rng.chance(0.6);
      let body: Uint8Array;
      let headerLength: number | undefined;
      const bodyKind = rng.weighted<string>([
        [4, 'valid'],
        [6, 'json-mutated'],
        [2, 'bytes-mutated'],
        [1, 'deep'],
        [1, 'oversized'],
        [1, 'garbage'],
        [1, 'empty'],
      ]);
      if (bodyKind === 'valid' || bodyKind === 'bytes-mutated') {
        const enc = encodeInferRequest({ inputs: base.inputs, ...(base.parameters && { parameters: base.parameters }) }, binary);
        body = bodyKind === 'valid' ? enc.body : mutateBytes(rng, enc.body, rng.range(1, 4));
        headerLength = enc.headerLength;
      } else if (bodyKind === 'json-mutated') {
        // JSON form (numbers as lists) mutated structurally; then sent as JSON or with a stale binary header length.
        const enc = encodeInferRequest(
          { inputs: base.inputs.filter((t) => t.datatype !== 'FP16'), ...(base.parameters && { parameters: base.parameters }) },
          false,
        );
        const j = JSON.parse(new TextDecoder().decode(enc.body)) as unknown;
        body = Buffer.from(JSON.stringify(mutateJson(rng, j, rng.range(1, 4), 3000)));
        if (rng.chance(0.2)) headerLength = rng.int(body.length + 10);
      } else if (bodyKind === 'deep')
        body = Buffer.from(withDeepValue(rng, { inputs: [{ name: 't_frac', datatype: 'FP32', shape: [1], data: [0.5] }] }, rng.size(40_000)));
      else if (bodyKind === 'oversized') body = new Uint8Array(OIP.maxBodyBytes + rng.range(1, 100_000)).fill(0x20);
      else if (bodyKind === 'garbage') body = rng.chance(0.5) ? rng.bytes(rng.size(4096)) : Buffer.from(randomString(rng, 500));
      else body = new Uint8Array();
      const headers: Record<string, string> = {};
      if (rng.chance(0.95))
        headers['host'] = rng.chance(0.9) ? host : rng.pick(['evil.example', `localhost:${port}`, '[::1]', '', '127.0.0.1.evil', 'x'.repeat(300)]);
      if (rng.chance(0.03)) headers['origin'] = 'http://evil.example';
      if (rng.chance(0.05)) headers['authorization'] = rng.pick(['Bearer x', 'Basic Zm9vOmJhcg==', `Bearer ${'a'.repeat(5000)}`]);
      headers['content-type'] = rng.pick(['application/json', 'application/octet-stream', 'text/plain', '']);
      let chunked = false;
      const cl = rng.weighted<() => string | undefined>([
        [12, () => String(body.length)],
        [1, () => undefined],
        [
          1,
          () =>
            rng.pick([
              '-1',
              '1e9',
              '99999999999999999999',
              'abc',
              '0x10',
              ' 5',
              '',
              String(2 ** 53),
              String(body.length + 10),
              String(Math.max(0, body.length - 10)),
            ]),
        ],
        [
          1,
          () => {
            chunked = true;
            return undefined;
          },
        ],
      ])();
      if (cl !== undefined) headers['content-length'] = cl;
      if (chunked) headers['transfer-encoding'] = rng.pick(['chunked', 'chunked', 'gzip, chunked', 'identity']);
      if (headerLength !== undefined || rng.chance(0.1)) {
        headers[HEADER_LENGTH] = rng.weighted<() => string>([
          [6, () => String(headerLength ?? body.length)],
          [1, () => rng.pick(['-1', 'NaN', '1e300', '', String(body.length + 1), '0', '1.5', String(2 ** 53)])],
          [1, () => String(rng.int(body.length + 1))],
        ])();
      }
      if (rng.chance(0.03)) headers['x-big'] = 'y'.repeat(rng.range(1000, 20_000));
      if (rng.chance(0.05)) headers['expect'] = '100-continue';
      headers['connection'] = rng.pick(['close', 'close', 'keep-alive']);
      let payload: Uint8Array = body;
      if (chunked) {
        const parts: Buffer[] = [];
        for (let o = 0; o < body.length; ) {
          const n = Math.min(body.length - o, rng.range(1, 8192));
          parts.push(
            Buffer.from(`${rng.chance(0.95) ? n.toString(16) : rng.pick(['-1', 'zz', 'ffffffffffffffff', ''])}\r\n`),
            Buffer.from(body.subarray(o, o + n)),
            Buffer.from('\r\n'),
          );
          o += n;
        }
        if (rng.chance(0.9)) parts.push(Buffer.from('0\r\n\r\n'));
        payload = Buffer.concat(parts);
      }
      let raw = request(method, route, headers, payload);
      const edit = rng.next();
      if (edit < 0.05) raw = Buffer.from(mutateBytes(rng, raw.subarray(0, Math.min(raw.length, 400)), rng.range(1, 4)));
      else if (edit < 0.1) raw = raw.subarray(0, rng.int(raw.length));
      return { raw, label: `${method} ${route.slice(0, 80)} ${bodyKind}${binary ? ' binary' : ''}${chunked ? ' chunked' : ''} ${body.length} B` };
    },
    async run({ raw }) {
      const r = await send(raw, 1500);
      let verdict: Verdict;
      const code = status(r.bytes);
      if (r.timedOut && code === undefined) verdict = { outcome: 'unclear', detail: 'no response within 1.5 s' };
      else if (code === undefined) verdict = { outcome: 'rejected', detail: 'connection closed (malformed or incomplete request)' };
      else if (code >= 200 && code < 300) {
        verdict = ok();
        if (/\/infer/.test(raw.subarray(0, 120).toString())) {
          const { head, body: b } = parts(r.bytes);
          const hl = /inference-header-content-length: (\d+)/i.exec(head);
          try {
            decodeInferResponse(new Uint8Array(b), hl ? Number(hl[1]) : undefined);
          } catch (e) {
            verdict = violation(`a 2xx response that does not decode: ${(e as Error).message}`);
          }
        }
      } else {
        const { head, body: b } = parts(r.bytes);
        let message: unknown = `HTTP ${code}`;
        if (b.length && /content-type: application\/json/i.test(head)) {
          try {
            message = (JSON.parse(b.toString('utf8')) as { error?: unknown }).error;
          } catch {
            message = undefined;
          }
        }
        // A response to HEAD has no body by definition: its status is the whole answer.
        if (message === undefined && /^HEAD /.test(raw.subarray(0, 5).toString('latin1'))) message = `HTTP ${code}`;
        verdict = code >= 500 && code !== 503 ? { outcome: 'unclear', detail: `HTTP ${code}: ${String(message)}` } : clearMessage(message);
        if (verdict.outcome === 'unclear' && verdict.detail) verdict.detail = `HTTP ${code}: ${verdict.detail}`;
      }
      // The server must still be alive, and (every 20 inputs) still admit and answer a valid inference.
      const live = await send(request('GET', '/v2/health/live', { host: `127.0.0.1:${port}`, connection: 'close' }), 1000);
      if (status(live.bytes) !== 200)
        return { outcome: 'crash', detail: `the server stopped answering /v2/health/live (${status(live.bytes) ?? 'no response'})` };
      if (++count % 20 === 0) {
        const probe = await send(validInfer(), 1000);
        const s = status(probe.bytes);
        if (s !== 200) return violation(`a valid inference after this input got ${s ?? 'no response'}: ${bodyOf(probe.bytes).toString().slice(0, 120)}`);
      }
      return verdict;
    },
    describe: (i) => `${i.label}: ${JSON.stringify(Buffer.from(i.raw.subarray(0, 200)).toString('latin1'))}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// jpeg-stream: canonical image-only streams (the fixture corpus mutated) → the incremental validator and the
// structure check; image-file: user image files (PNG/JPEG fixtures mutated) → decode, crop, resize, encode

const JPEG_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'jpeg');

/** Files of the JPEG fixture corpus whose names end with one of `suffixes` (top level and inputs/). */
function jpegFixtureFiles(suffixes: readonly string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const dir of [JPEG_FIXTURES, path.join(JPEG_FIXTURES, 'inputs')]) {
    for (const name of readdirSync(dir).sort()) if (suffixes.some((x) => name.endsWith(x))) out.push(new Uint8Array(readFileSync(path.join(dir, name))));
  }
  return out;
}

export function jpegStreamTarget(): FuzzTarget<Uint8Array> {
  let bases: Uint8Array[] = [];
  return {
    name: 'jpeg-stream',
    what: 'canonical image-only JPEG streams (the fixture corpus, mutated, truncated, spliced) → streamGeometry, the incremental validator, closingBytes, describeCanonicalStream',
    setup() {
      bases = jpegFixtureFiles(['.bin']).filter((b) => b.length < 8192);
    },
    generate(rng) {
      const base = rng.pick(bases);
      return rng.weighted<() => Uint8Array>([
        [6, () => mutateBytes(rng, base, rng.range(1, 4))],
        [2, () => base.subarray(0, rng.int(base.length + 1))],
        [1, () => Uint8Array.from([...base.subarray(0, rng.int(base.length)), ...rng.pick(bases).subarray(rng.int(200))])],
        [1, () => base],
      ])();
    },
    run(stream) {
      // The header must name a size the validator can take; anything else is a clear refusal.
      const geometry = streamGeometry(stream);
      const verdict = validateImageStream(stream, geometry);
      // Every state the validator accepted can be finished: the accepted prefix plus closingBytes validates.
      const v = new JpegStreamValidator(geometry);
      const accepted = v.feedAll(stream.subarray(0, verdict.accepted));
      if (accepted !== verdict.accepted) return violation(`incremental feed accepted ${accepted}, whole-stream check ${verdict.accepted}`);
      if (!v.isComplete()) {
        const closed = Uint8Array.from([...stream.subarray(0, accepted), ...v.clone().closingBytes()]);
        if (!validateImageStream(closed, geometry).ok) return violation(`closing after ${accepted} accepted bytes gives an invalid stream`);
      }
      if (verdict.ok) {
        // An accepted stream passes the structure check, and the allowed-byte masks contained each of its bytes.
        describeCanonicalStream(stream);
        const w = new JpegStreamValidator(geometry);
        for (let i = 0; i < stream.length; i++) {
          if (!maskHas(w.allowedNextBytes(), stream[i]!)) return violation(`byte ${i} (${stream[i]}) was not in the allowed mask`);
          w.feed(stream[i]!);
        }
        return ok();
      }
      return verdict.rejection?.reason ? clearMessage(verdict.rejection.reason) : violation('a refusal without a reason');
    },
    describe: (b) => `${b.length} bytes: ${Buffer.from(b.subarray(0, 80)).toString('hex')}`,
  };
}

export function imageFileTarget(): FuzzTarget<Uint8Array> {
  let bases: Uint8Array[] = [];
  return {
    name: 'image-file',
    what: 'user image files (the PNG and JPEG fixtures, mutated, truncated, with huge header sizes) → canonicalStreamFromBytes (limits, decode, crop, resize, encode)',
    setup() {
      bases = jpegFixtureFiles(['.png', '.jpg', '.jpeg']).filter((b) => b.length < 256 * 1024);
    },
    generate(rng) {
      const base = rng.pick(bases);
      return rng.weighted<() => Uint8Array>([
        [6, () => mutateBytes(rng, base, rng.range(1, 6))],
        [2, () => base.subarray(0, rng.int(base.length + 1))],
        [1, () => new Uint8Array(0)],
        [1, () => base],
      ])();
    },
    async run(bytes) {
      try {
        const stream = await canonicalStreamFromBytes(bytes, { width: 32, height: 32 });
        // What comes out is always a canonical stream of the model's size.
        const verdict = validateImageStream(stream, { width: 32, height: 32 });
        return verdict.ok ? ok() : violation(`the encoder wrote a stream the validator refuses: ${verdict.rejection?.reason}`);
      } catch (e) {
        return e instanceof ImageInputError ? clearMessage(e.message) : classifyError(e);
      }
    },
    describe: (b) => `${b.length} bytes: ${Buffer.from(b.subarray(0, 64)).toString('hex')}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// webview: messages from each panel → the host's validators (and what workspaceState hands back → restore*)

const PANEL_TYPES = {
  status: ['ready', 'refresh', 'restartWorker', 'openSettings', 'showLog', 'addModelFolder', 'selectDevice', 'selfTestPack'],
  summary: ['ready', 'rerun', 'cancel', 'reveal', 'copy', 'insert', 'sweep', 'model'],
  rewrite: ['ready', 'rerun', 'cancel', 'accept', 'reject'],
  collab: ['ready', 'run', 'cancel', 'copy', 'insert', 'setToken', 'openSettings', 'showKnowledge'],
} as const;
type Panel = keyof typeof PANEL_TYPES;

const REWRITE_CONTROLS = {
  targets: [{ attribute: 'sentiment', label: 'positive', lambda: 100 }],
  strength: 0.5,
  steps: 20,
  topP: 0.9,
  projection: 'sampling',
  tokens: 32,
  minTokens: 8,
  seed: 7,
};
const COLLAB_CONTROLS = { instruction: 'Summarise my notes', lambdaUser: 0.5, alpha: 1, core: 'local', compare: false, userOnly: false };

const VALID_MESSAGES: Record<Panel, unknown[]> = {
  status: [...PANEL_TYPES.status.filter((t) => t !== 'selfTestPack').map((type) => ({ type })), { type: 'selfTestPack', packId: 'concert-lm-small' }],
  summary: [
    { type: 'ready' },
    { type: 'rerun', alpha: 1, compareRegular: true },
    { type: 'cancel' },
    { type: 'reveal', variant: 'cad', index: 3 },
    { type: 'copy', variant: 'regular' },
    { type: 'insert', variant: 'cad', mode: 'comment' },
    { type: 'sweep' },
    { type: 'model', packId: 'concert-lm-small' },
  ],
  rewrite: [{ type: 'ready' }, { type: 'rerun', controls: REWRITE_CONTROLS }, { type: 'cancel' }, { type: 'accept' }, { type: 'reject' }],
  collab: [
    { type: 'ready' },
    { type: 'run', controls: COLLAB_CONTROLS },
    { type: 'cancel' },
    { type: 'copy', variant: 'collab' },
    { type: 'insert', variant: 'user' },
    { type: 'setToken' },
    { type: 'openSettings' },
    { type: 'showKnowledge' },
  ],
};

const VALIDATORS: Record<Panel, (m: unknown) => boolean> = {
  status: isStatusViewToHost,
  summary: isSummaryViewToHost,
  rewrite: isRewriteViewToHost,
  collab: isCollabViewToHost,
};

export function webviewTarget(): FuzzTarget<{ panel: Panel; message: unknown }> {
  return {
    name: 'webview',
    what: 'messages from the status, summary, rewrite and collaborate webviews (unknown types, wrong payloads, command ids, __proto__ keys, deep nesting) → the host validators and restorePersisted',
    generate(rng) {
      const panel = rng.pick(Object.keys(PANEL_TYPES) as Panel[]);
      const valid = rng.pick(VALID_MESSAGES[panel]);
      const message = rng.weighted<() => unknown>([
        [6, () => mutateJson(rng, valid, rng.range(1, 3))],
        [2, () => ({ ...(valid as object), type: rng.pick([...Object.values(PANEL_TYPES).flat(), ...INTERESTING_STRINGS]) })],
        [
          2,
          () => ({
            ...(valid as object),
            command: rng.pick(['workbench.action.terminal.new', 'vscode.open', 'concert.restartWorker', '']),
            args: randomJsonValue(rng),
          }),
        ],
        [
          1,
          () =>
            JSON.parse(
              `{"__proto__": {"type": "ready", "polluted": true}, "constructor": {"prototype": {"x": 1}}, "type": ${JSON.stringify(rng.pick(PANEL_TYPES[panel]))}}`,
            ),
        ],
        [1, () => randomJsonValue(rng)],
        [1, () => deepValue(rng.size(20_000), rng.chance(0.5) ? 'array' : 'object')],
        [1, () => ({ type: rng.pick(PANEL_TYPES[panel]), controls: deepValue(rng.size(20_000), 'object'), packId: 'x'.repeat(rng.size(1_000_000)) })],
      ])();
      return { panel, message };
    },
    run({ panel, message }) {
      const accepted = VALIDATORS[panel](message);
      if (typeof accepted !== 'boolean') return violation(`validator returned ${typeof accepted}`);
      // The other panels' validators see it too (a message posted to the wrong panel), and the state restorers.
      for (const p of Object.keys(VALIDATORS) as Panel[]) {
        const a = VALIDATORS[p](message);
        const type = (message as { type?: unknown } | null)?.type;
        if (a && !(PANEL_TYPES[p] as readonly unknown[]).includes(type)) return violation(`${p} accepted type ${JSON.stringify(type)}`);
        if (a && Object.getPrototypeOf(message) !== Object.prototype) return violation(`${p} accepted a message that is not a plain object`);
      }
      const c = sanitizeControls((message as { controls?: unknown } | null)?.controls ?? message);
      if (c && Object.keys(c).some((k) => !(k in REWRITE_CONTROLS))) return violation(`sanitizeControls kept keys ${Object.keys(c).join(',')}`);
      const cc = sanitizeCollabControls((message as { controls?: unknown } | null)?.controls ?? message);
      if (cc && Object.keys(cc).some((k) => !(k in COLLAB_CONTROLS))) return violation(`sanitizeCollabControls kept keys ${Object.keys(cc).join(',')}`);
      for (const restore of [restoreSummary, restoreRewrite, restoreCollab]) {
        restore(message);
        restore({ version: 1, request: message, state: message, controls: (message as { controls?: unknown } | null)?.controls ?? message, run: message });
      }
      return accepted ? ok() : { outcome: 'rejected' };
    },
    describe: (i) => {
      try {
        return `${i.panel}: ${JSON.stringify(i.message)?.slice(0, 250)}`;
      } catch {
        return `${i.panel}: (deeply nested)`;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Registry and command line

/** Every target, by name. Codecs (src/codec: JPEG, H.264) add theirs here when they land. */
export const TARGETS: Record<string, () => FuzzTarget<never>> = {
  manifest: manifestTarget as () => FuzzTarget<never>,
  pack: packTarget as () => FuzzTarget<never>,
  onnx: onnxTarget as () => FuzzTarget<never>,
  'tokenizer-input': tokenizerInputTarget as () => FuzzTarget<never>,
  'tokenizer-json': tokenizerJsonTarget as () => FuzzTarget<never>,
  'worker-ipc': workerIpcTarget as () => FuzzTarget<never>,
  'worker-ipc-bytes': workerIpcBytesTarget as () => FuzzTarget<never>,
  'oip-http': oipHttpTarget as () => FuzzTarget<never>,
  webview: webviewTarget as () => FuzzTarget<never>,
  'jpeg-stream': jpegStreamTarget as () => FuzzTarget<never>,
  'image-file': imageFileTarget as () => FuzzTarget<never>,
};

export const DEFAULT_BUDGET = 10_000;
export const QUICK_BUDGET = 500;

/** `--child <target>`: runs one target's inputs and reports each to the parent (runTargetsIsolated). */
async function child(name: string, seed: number, budget: number, from: number): Promise<void> {
  const send = (m: ChildMessage) => new Promise<void>((r) => process.send!(m, () => r()));
  const make = TARGETS[name];
  let last: ChildMessage = { type: 'done' };
  if (!make) last = { type: 'error', message: `no target ${name}` };
  else {
    try {
      await fuzz(make(), {
        seed,
        budget,
        from,
        onInput: (index) => void send({ type: 'input', index }),
        onResult: (index, outcome, ms, detail, input) => void send({ type: 'result', index, outcome, ms, detail, input }),
      });
    } catch (e) {
      last = { type: 'error', message: `set-up or tear-down failed: ${(e as Error)?.stack ?? String(e)}` };
    }
  }
  // The last message is sent once every earlier one has been written.
  await send(last);
  process.exit(0);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const seed = Number(args.get('seed') ?? 1);
  const quick = args.has('quick');
  const budget = Number(args.get('budget') ?? (quick ? QUICK_BUDGET : DEFAULT_BUDGET));
  if (args.has('child')) return child(args.get('child')!, seed, budget, Number(args.get('from') ?? 0));
  const only = args.get('only')?.split(',').filter(Boolean);
  const names = only?.length ? only : Object.keys(TARGETS);
  for (const n of names) if (!TARGETS[n]) throw new Error(`unknown target ${n} (targets: ${Object.keys(TARGETS).join(', ')})`);

  if (args.has('replay')) {
    const index = Number(args.get('replay'));
    for (const n of names) {
      const row = await fuzz(TARGETS[n]!(), { seed, budget: index + 1, from: index });
      console.log(fuzzTable([row]));
      for (const f of row.failures) console.log(`  #${f.index} ${f.outcome}: ${f.detail}\n    ${f.input}`);
    }
    return;
  }
  const started = performance.now();
  console.log(`fuzzing ${names.length} targets, ${budget} inputs each, seed ${seed}`);
  let rows: FuzzRow[];
  if (args.has('in-process')) {
    rows = [];
    for (const n of names) rows.push(await fuzz(TARGETS[n]!(), { seed, budget }));
  } else {
    rows = await runTargetsIsolated(__filename, names, { seed, budget, stallMs: 10_000, log: (l) => console.log(l) });
  }
  console.log(fuzzTable(rows));
  for (const r of rows) {
    for (const f of r.failures.slice(0, 5)) console.log(`  ${r.target} #${f.index} ${f.outcome} (${f.ms} ms): ${f.detail}\n      ${f.input}`);
  }
  const failed = rows.reduce((s, r) => s + r.crashes + r.hangs + r.unclear + r.violations, 0);
  console.log(`${failed === 0 ? 'ok' : `${failed} failing inputs`}; ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const result = {
    script: 'fuzz',
    seed,
    budget,
    rows: rows.map((r) => ({
      target: r.target,
      inputs: r.inputs,
      crashes: r.crashes,
      hangs: r.hangs,
      maxMs: Math.round(r.maxMs),
      p99Ms: Math.round(r.p99Ms),
      clearRejections: r.rejected,
      unclear: r.unclear,
      violations: r.violations,
      accepted: r.accepted,
      seconds: Number(r.seconds.toFixed(1)),
      failures: r.failures.slice(0, 5),
      ok: r.crashes + r.hangs + r.unclear + r.violations === 0,
    })),
  };
  console.log(RESULT_PREFIX + JSON.stringify(result));
  process.exitCode = failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}
