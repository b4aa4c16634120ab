/**
 * Builds real, tiny model packs for tests: ONNX graphs made with the runtime's own builder, a byte-level BPE
 * tokenizer.json, a model card and a manifest with correct hashes. Tests then break one thing at a time.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOnnxModel, type ValueSpec } from '../../src/runtime/onnxModel';

export const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** GPT-2's byte → printable-character map, so that every byte has a vocabulary entry. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i]!)));
  return out;
}

export const SPECIALS = { pad: '<pad>', bos: '<s>', eos: '</s>' };

/** A byte-level BPE tokenizer: 3 specials, 256 bytes, and a few merges. Vocabulary size 262. */
export function tinyTokenizerJson(): string {
  const vocab: Record<string, number> = { '<pad>': 0, '<s>': 1, '</s>': 2 };
  const chars = bytesToUnicode();
  chars.forEach((c, i) => (vocab[c] = 3 + i));
  const merges = [
    ['Ġ', 't'],
    ['h', 'e'],
    ['Ġt', 'he'],
  ] as const;
  let next = 259;
  for (const [a, b] of merges) vocab[a + b] = next++;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: Object.entries(SPECIALS).map(([, content], id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  });
}
export const TINY_VOCAB = 262;

/** A bigram "causal LM": logits[b, s, :] = E[input_ids[b, s], :]. */
export function bigramModel(vocab = TINY_VOCAB, seed = 7): { bytes: Uint8Array; io: { inputs: ValueSpec[]; outputs: ValueSpec[] } } {
  let s = seed;
  const table = Float32Array.from({ length: vocab * vocab }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  });
  const io = {
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch_size', 'sequence_length', vocab] }],
  };
  const bytes = buildOnnxModel({
    inputs: io.inputs,
    outputs: io.outputs,
    nodes: [{ opType: 'Gather', inputs: ['embedding', 'input_ids'], outputs: ['logits'], attributes: [{ name: 'axis', int: 0 }] }],
    initializers: [{ name: 'embedding', dtype: 'float32', dims: [vocab, vocab], data: table }],
  });
  return { bytes, io };
}

/** A graph that takes a few milliseconds per run (a chain of matmuls), for cancellation tests. */
export function slowModel(width = 768, depth = 16, batch = 64): { bytes: Uint8Array; io: { inputs: ValueSpec[]; outputs: ValueSpec[] } } {
  const w = Float32Array.from({ length: width * width }, (_, i) => ((i % 13) - 6) / (width * 6));
  const nodes = Array.from({ length: depth }, (_, i) => ({
    opType: 'MatMul',
    inputs: [i === 0 ? 'x' : `h${i}`, 'w'],
    outputs: [i === depth - 1 ? 'y' : `h${i + 1}`],
  }));
  const io = { inputs: [{ name: 'x', dtype: 'float32', shape: [batch, width] }], outputs: [{ name: 'y', dtype: 'float32', shape: [batch, width] }] };
  return { bytes: buildOnnxModel({ ...io, nodes, initializers: [{ name: 'w', dtype: 'float32', dims: [width, width], data: w }] }), io };
}

export interface PackSpec {
  id: string;
  kind?: string;
  graphs: Record<string, { file: string; bytes: Uint8Array; io: { inputs: ValueSpec[]; outputs: ValueSpec[] } }>;
  extraFiles?: Record<string, Uint8Array | string>;
  tokenizer?: string | null;
  /** Edit the manifest object before it is written (to break it on purpose). */
  mutate?: (manifest: Record<string, unknown>) => void;
}

/** Writes a pack folder with a correct manifest (unless `mutate` breaks it). */
export function writePack(parent: string, spec: PackSpec): string {
  const dir = path.join(parent, spec.id);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, { sha256: string; bytes: number }> = {};
  const put = (name: string, data: Uint8Array | string) => {
    const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), buf);
    files[name] = { sha256: sha(buf), bytes: buf.length };
  };
  const graphs: Record<string, string> = {};
  const io: Record<string, unknown> = {};
  for (const [role, g] of Object.entries(spec.graphs)) {
    put(g.file, g.bytes);
    graphs[role] = g.file;
    io[role] = g.io;
  }
  const tokenizer = spec.tokenizer === null ? undefined : (spec.tokenizer ?? tinyTokenizerJson());
  if (tokenizer) put('tokenizer.json', tokenizer);
  put('MODEL_CARD.md', `# ${spec.id}\nA tiny model made by the test suite.\n`);
  for (const [name, data] of Object.entries(spec.extraFiles ?? {})) put(name, data);
  const manifest: Record<string, unknown> = {
    schemaVersion: 1,
    id: spec.id,
    kind: spec.kind ?? 'causal-lm',
    displayName: `Test pack ${spec.id}`,
    licence: 'MIT',
    files,
    graphs,
    ...(tokenizer && { tokenizer: 'tokenizer.json', specialTokens: SPECIALS }),
    io,
    knobs: { maxContext: 64 },
    modelCard: 'MODEL_CARD.md',
  };
  spec.mutate?.(manifest);
  writeFileSync(path.join(dir, 'concert.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

export function tempDir(prefix = 'concert-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function bigramPack(parent: string, id = 'tiny-bigram', mutate?: PackSpec['mutate']): string {
  const m = bigramModel();
  return writePack(parent, { id, graphs: { decoder: { file: 'model.onnx', ...m } }, ...(mutate && { mutate }) });
}

/** The repository's models/ folder: the packs the extension bundles. */
export const BUNDLED_MODELS = fileURLToPath(new URL('../../models', import.meta.url));

/** What the tests read of a bundled pack's concert.json. */
export interface BundledManifest {
  id: string;
  kind: string;
  prompts?: string;
}

/** The manifests of the bundled packs (each folder of models/ with a concert.json). */
export function bundledManifests(): BundledManifest[] {
  return readdirSync(BUNDLED_MODELS)
    .map((d) => path.join(BUNDLED_MODELS, d, 'concert.json'))
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as BundledManifest);
}
