/**
 * The model-pack manifest (`concert.json`) and its strict schema. Unknown keys are errors: a typo in a manifest
 * must not silently change behaviour.
 */
import { PACK_KINDS, type PackKind } from '../protocol/worker';
import type { Dim, ValueSpec } from './onnxModel';

export const MANIFEST_FILE = 'concert.json';
export const MANIFEST_MAX_BYTES = 64 * 1024;
export const SCHEMA_VERSION = 1;

export interface FileEntry {
  sha256: string;
  bytes: number;
}
export interface GraphIO {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
}
export type Knob = number | string | boolean | number[] | string[];

export interface PackManifest {
  schemaVersion: number;
  id: string;
  kind: PackKind;
  displayName?: string;
  description?: string;
  licence: string;
  /** Every file of the pack, relative to the pack folder, with its size and sha256. */
  files: Record<string, FileEntry>;
  /** ONNX graphs by role (e.g. `decoder`, `denoiser`, `context`, `classifier`), each a key of `files`. */
  graphs: Record<string, string>;
  /** The tokenizer file (a key of `files`); absent only for byte-level codec packs. */
  tokenizer?: string;
  io: Record<string, GraphIO>;
  specialTokens?: Record<string, string>;
  /** Default decoding knobs and model constants (K, block size, labels …). */
  knobs?: Record<string, Knob>;
  modelCard?: string;
  /** Prompt templates (a JSON file listed in `files`) that the model was trained with; see prompts.ts. */
  prompts?: string;
  provenance?: Record<string, string | number>;
  /** codec-lm packs (and only they): the byte stream the model reads and writes, and its token ids. */
  codec?: CodecSpec;
  /** simplex-diffusion-lm packs (and only they): how the denoiser reads context and block; absent = `ssd2`. */
  diffusion?: DiffusionSpec;
}

/**
 * The layout of a simplex-diffusion-lm (src/runtime/diffusionLm.ts):
 * - `ssd2` (Concert's bundled packs, the default when the block is absent): a causal `context` graph whose keys and
 *   values are reused across steps, and a `denoiser` graph (optionally with self-conditioning, `knobs.selfConditioning`).
 * - `ssd-lm` (the official SSD-LM checkpoint, tools/export): one `denoiser` graph that reads the context ids with every
 *   step (context_ids, context_mask, noisy_logits, t_frac → logits), attention bidirectional over context and block,
 *   RoBERTa positions from `positionOffset`, no self-conditioning.
 */
export interface DiffusionSpec {
  layout: 'ssd2' | 'ssd-lm';
  contextAttention: 'causal' | 'bidirectional';
  /** Position id of the first token (RoBERTa: 2 = padding id + 1; Concert's packs: 0). */
  positionOffset: number;
}

/** How a codec-lm's tokens stand for stream bytes (src/codec/jpeg/tokens.ts). */
export type CodecTokenMapping =
  /** token id = byte + offset (the special tokens sit below the offset); no tokenizer. */
  | { mapping: 'bytes'; offset: number }
  /**
   * Plain byte tokens plus byte-pair merges (the thesis' AVC-LM and JPEG-LM BPE variants): ids offset…offset + 255
   * are the bytes, merge r (0-based, a JSON file of `[left, right]` id pairs listed in `files`) makes id
   * offset + 256 + r, standing for the bytes of left then right. Streams are encoded by applying the merges in rank
   * order (lowest rank first), as BPE does.
   */
  | { mapping: 'bytes-bpe'; offset: number; merges: string }
  /** the official JPEG-LM checkpoint's text form: byte b is U+2800 + b, tokenised by the pack's tokenizer (pieces). */
  | { mapping: 'braille' };

/** What every codec block has: the model's frame size and its sequence, [bos] + stream + [eos]. */
interface CodecCommon {
  width: number;
  height: number;
  tokens: CodecTokenMapping;
  bos: number;
  eos: number;
  pad: number;
  /** Longest sequence the model handles, [bos] + stream + [eos]. */
  maxTokens: number;
}

/**
 * The `codec` block of a JPEG-LM manifest: the canonical JPEG stream of the thesis (src/codec/README.md) at the
 * model's image size, and the sequence the model was trained on: [bos] + image-only stream + [eos].
 */
export interface JpegCodecSpec extends CodecCommon {
  format: 'jpeg';
  stream: 'image-only';
  quality: number;
  subsampling: '4:2:0';
  restartInterval: number;
}

/**
 * The `codec` block of an AVC-LM manifest: Annex-B H.264 of the thesis' x264 settings (constrained baseline, fixed
 * QP, no B-frames, one macroblock per slice; tools/video/README.md) at the model's frame size and rate.
 */
export interface H264CodecSpec extends CodecCommon {
  format: 'h264';
  stream: 'annex-b';
  /** Frames per second of the canonical clips. */
  fps: number;
  /** Frames per training clip (a continuation's prompt plus generated frames may not exceed it by much). */
  frames: number;
  profile: 'constrained-baseline';
  qp: number;
  sliceMaxMbs: 1;
}

export type CodecSpec = JpegCodecSpec | H264CodecSpec;
export type CodecFormat = CodecSpec['format'];

/** Largest side of a codec-lm's images (a 256×256 stream is already ~4–12 k tokens). */
export const CODEC_MAX_SIDE = 1024;

export class ManifestError extends Error {}

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SHA_RE = /^[0-9a-f]{64}$/;
const DTYPES = new Set(['float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool', 'float64']);
const TOP_KEYS = new Set([
  'schemaVersion',
  'id',
  'kind',
  'displayName',
  'description',
  'licence',
  'files',
  'graphs',
  'tokenizer',
  'io',
  'specialTokens',
  'knobs',
  'modelCard',
  'prompts',
  'provenance',
  'codec',
  'diffusion',
]);

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, what: string): never {
  throw new ManifestError(`${where}: ${what}`);
}

/** A found value for a message: primitives as JSON, containers by kind (serialising a deeply nested one overflows the stack). */
const shown = (v: Json): string => (Array.isArray(v) ? 'an array' : isObj(v) ? 'an object' : (JSON.stringify(v) ?? String(v)));

/**
 * A relative path inside the pack: forward slashes, no `..`, no absolute or drive paths, no NUL.
 * Realpath containment is checked again against the file system by the pack validator.
 */
export function checkRelativePath(p: string, where: string): void {
  if (typeof p !== 'string' || p.length === 0 || p.length > 255) fail(where, 'must be a non-empty relative path of at most 255 characters');
  if (p.includes('\0')) fail(where, 'contains a NUL byte');
  if (p.includes('\\')) fail(where, `"${p}" uses a backslash; use forward slashes`);
  if (p.startsWith('/') || /^[a-zA-Z]:/.test(p) || p.startsWith('//')) fail(where, `"${p}" is an absolute path; pack paths must stay inside the pack`);
  for (const part of p.split('/')) {
    if (part === '..') fail(where, `"${p}" points outside the pack ("..")`);
    if (part === '' || part === '.') fail(where, `"${p}" has an empty or "." component`);
  }
}

function checkValueSpec(v: Json, where: string): ValueSpec {
  if (!isObj(v)) fail(where, 'must be an object {name, dtype, shape}');
  for (const k of Object.keys(v)) if (!['name', 'dtype', 'shape'].includes(k)) fail(where, `unknown key "${k}"`);
  if (typeof v.name !== 'string' || !v.name) fail(`${where}.name`, 'must be a non-empty string');
  if (typeof v.dtype !== 'string' || !DTYPES.has(v.dtype)) fail(`${where}.dtype`, `must be one of ${[...DTYPES].join(', ')}`);
  if (!Array.isArray(v.shape) || v.shape.length > 8) fail(`${where}.shape`, 'must be an array of at most 8 dimensions');
  const shape: Dim[] = v.shape.map((d, i) => {
    if (typeof d === 'number' && Number.isInteger(d) && d >= 0) return d;
    if (typeof d === 'string' && /^[A-Za-z_][\w.+\- ]{0,63}$/.test(d)) return d;
    return fail(`${where}.shape[${i}]`, 'must be a non-negative integer or a symbolic name');
  });
  return { name: v.name, dtype: v.dtype, shape };
}

/** Parses and validates manifest text. Errors name the JSON path and the problem. */
export function parseManifest(text: string): PackManifest {
  let raw: Json;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(MANIFEST_FILE, `is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(raw)) fail(MANIFEST_FILE, 'must be a JSON object');
  for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) fail(MANIFEST_FILE, `unknown key "${k}"`);
  if (raw.schemaVersion !== SCHEMA_VERSION) fail('schemaVersion', `must be ${SCHEMA_VERSION} (found ${shown(raw.schemaVersion)})`);
  if (typeof raw.id !== 'string' || !ID_RE.test(raw.id)) fail('id', 'must be 1–64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
  if (typeof raw.kind !== 'string' || !(PACK_KINDS as readonly string[]).includes(raw.kind)) fail('kind', `must be one of ${PACK_KINDS.join(', ')}`);
  if (typeof raw.licence !== 'string' || !raw.licence.trim()) fail('licence', 'is required (an SPDX id or a short licence name)');
  for (const k of ['displayName', 'description', 'tokenizer', 'modelCard', 'prompts'] as const) {
    if (raw[k] !== undefined && typeof raw[k] !== 'string') fail(k, 'must be a string');
  }

  if (!isObj(raw.files) || Object.keys(raw.files).length === 0) fail('files', 'must list every file of the pack');
  if (Object.keys(raw.files).length > 64) fail('files', 'lists more than 64 files');
  const files: Record<string, FileEntry> = {};
  for (const [name, entry] of Object.entries(raw.files)) {
    checkRelativePath(name, `files["${name}"]`);
    if (name === MANIFEST_FILE) fail(`files["${name}"]`, 'the manifest does not list itself');
    if (!isObj(entry)) fail(`files["${name}"]`, 'must be {sha256, bytes}');
    for (const k of Object.keys(entry)) if (!['sha256', 'bytes'].includes(k)) fail(`files["${name}"]`, `unknown key "${k}"`);
    if (typeof entry.sha256 !== 'string' || !SHA_RE.test(entry.sha256)) fail(`files["${name}"].sha256`, 'must be 64 lowercase hex digits');
    if (typeof entry.bytes !== 'number' || !Number.isSafeInteger(entry.bytes) || entry.bytes < 0)
      fail(`files["${name}"].bytes`, 'must be a non-negative integer');
    files[name] = { sha256: entry.sha256, bytes: entry.bytes };
  }

  if (!isObj(raw.graphs) || Object.keys(raw.graphs).length === 0) fail('graphs', 'must name at least one ONNX graph by role');
  const graphs: Record<string, string> = {};
  for (const [role, file] of Object.entries(raw.graphs)) {
    if (!/^[a-z][a-zA-Z0-9_-]{0,31}$/.test(role)) fail(`graphs.${role}`, 'role names are short identifiers');
    if (typeof file !== 'string' || !(file in files)) fail(`graphs.${role}`, `${typeof file === 'string' ? `"${file}"` : shown(file)} is not listed in files`);
    if (!file.endsWith('.onnx')) fail(`graphs.${role}`, `"${file}" must be an .onnx file`);
    graphs[role] = file;
  }
  const tokenizer = raw.tokenizer as string | undefined;
  if (tokenizer !== undefined && !(tokenizer in files)) fail('tokenizer', `"${tokenizer}" is not listed in files`);
  if (tokenizer === undefined && raw.kind !== 'codec-lm') fail('tokenizer', `is required for kind ${raw.kind}`);
  const modelCard = raw.modelCard as string | undefined;
  if (modelCard !== undefined && !(modelCard in files)) fail('modelCard', `"${modelCard}" is not listed in files`);
  const prompts = raw.prompts as string | undefined;
  if (prompts !== undefined && !(prompts in files)) fail('prompts', `"${prompts}" is not listed in files`);

  if (!isObj(raw.io)) fail('io', 'must describe the inputs and outputs of every graph');
  const io: Record<string, GraphIO> = {};
  for (const role of Object.keys(graphs)) {
    const g = raw.io[role];
    if (!isObj(g)) fail(`io.${role}`, 'is missing (every graph declares its inputs and outputs)');
    for (const k of Object.keys(g)) if (!['inputs', 'outputs'].includes(k)) fail(`io.${role}`, `unknown key "${k}"`);
    if (!Array.isArray(g.inputs) || !Array.isArray(g.outputs) || g.outputs.length === 0)
      fail(`io.${role}`, 'needs arrays "inputs" and "outputs" (at least one output)');
    io[role] = {
      inputs: g.inputs.map((v, i) => checkValueSpec(v, `io.${role}.inputs[${i}]`)),
      outputs: g.outputs.map((v, i) => checkValueSpec(v, `io.${role}.outputs[${i}]`)),
    };
  }
  for (const role of Object.keys(raw.io)) if (!(role in graphs)) fail(`io.${role}`, 'describes a graph that "graphs" does not list');

  const specialTokens = raw.specialTokens;
  if (specialTokens !== undefined) {
    if (!isObj(specialTokens)) fail('specialTokens', 'must map roles (bos, eos, pad, sep …) to token strings');
    for (const [k, v] of Object.entries(specialTokens)) if (typeof v !== 'string' || !v) fail(`specialTokens.${k}`, 'must be a non-empty token string');
  }
  const knobs = raw.knobs;
  if (knobs !== undefined) {
    if (!isObj(knobs)) fail('knobs', 'must be an object');
    for (const [k, v] of Object.entries(knobs)) {
      const ok =
        ['number', 'string', 'boolean'].includes(typeof v) ||
        (Array.isArray(v) && v.length <= 1024 && (v.every((x) => typeof x === 'number') || v.every((x) => typeof x === 'string')));
      if (!ok) fail(`knobs.${k}`, 'must be a number, string, boolean or a flat array of numbers or strings');
    }
  }
  const provenance = raw.provenance;
  if (provenance !== undefined) {
    if (!isObj(provenance)) fail('provenance', 'must be an object of strings and numbers');
    for (const [k, v] of Object.entries(provenance)) if (typeof v !== 'string' && typeof v !== 'number') fail(`provenance.${k}`, 'must be a string or number');
  }

  if (raw.codec !== undefined && raw.kind !== 'codec-lm') fail('codec', `only codec-lm packs have a codec block (this pack is a ${raw.kind})`);
  if (raw.codec === undefined && raw.kind === 'codec-lm') fail('codec', 'is required for kind codec-lm (the stream format and token ids)');
  const codec = raw.codec === undefined ? undefined : checkCodec(raw.codec, files, graphs, io, tokenizer);
  if (raw.diffusion !== undefined && raw.kind !== 'simplex-diffusion-lm')
    fail('diffusion', `only simplex-diffusion-lm packs have a diffusion block (this pack is a ${raw.kind})`);
  const diffusion = raw.diffusion === undefined ? undefined : checkDiffusion(raw.diffusion, graphs, io, raw.knobs);

  return {
    schemaVersion: SCHEMA_VERSION,
    id: raw.id,
    kind: raw.kind as PackKind,
    ...(raw.displayName !== undefined && { displayName: raw.displayName as string }),
    ...(raw.description !== undefined && { description: raw.description as string }),
    licence: raw.licence,
    files,
    graphs,
    ...(tokenizer !== undefined && { tokenizer }),
    io,
    ...(specialTokens !== undefined && { specialTokens: specialTokens as Record<string, string> }),
    ...(knobs !== undefined && { knobs: knobs as Record<string, Knob> }),
    ...(modelCard !== undefined && { modelCard }),
    ...(prompts !== undefined && { prompts }),
    ...(provenance !== undefined && { provenance: provenance as Record<string, string | number> }),
    ...(codec && { codec }),
    ...(diffusion && { diffusion }),
  };
}

const DIFFUSION_KEYS = ['layout', 'contextAttention', 'positionOffset'];
const SSD_LM_DENOISER_INPUTS = ['context_ids', 'context_mask', 'noisy_logits', 't_frac'];

/**
 * The diffusion block: a known layout, the attention and self-conditioning that layout implies (an `ssd-lm` pack reads
 * its context bidirectionally and without self-conditioning; an `ssd2` pack causally), and the graphs it needs.
 */
function checkDiffusion(v: Json, graphs: Record<string, string>, io: Record<string, GraphIO>, knobs: Json): DiffusionSpec {
  if (!isObj(v)) fail('diffusion', 'must be an object {layout, contextAttention, positionOffset}');
  for (const k of Object.keys(v)) if (!DIFFUSION_KEYS.includes(k)) fail('diffusion', `unknown key "${k}"`);
  for (const k of DIFFUSION_KEYS) if (v[k] === undefined) fail(`diffusion.${k}`, 'is required');
  if (v.layout !== 'ssd2' && v.layout !== 'ssd-lm') fail('diffusion.layout', `must be "ssd2" or "ssd-lm" (found ${shown(v.layout)})`);
  if (v.contextAttention !== 'causal' && v.contextAttention !== 'bidirectional')
    fail('diffusion.contextAttention', `must be "causal" or "bidirectional" (found ${shown(v.contextAttention)})`);
  const offset = v.positionOffset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > 1024)
    fail('diffusion.positionOffset', `must be an integer from 0 to 1024 (found ${shown(offset)})`);
  const selfConditioning = isObj(knobs) && knobs['selfConditioning'] === true;
  if (v.layout === 'ssd-lm') {
    if (v.contextAttention !== 'bidirectional') fail('diffusion.contextAttention', 'an ssd-lm pack reads its context bidirectionally (with the block)');
    if (selfConditioning) fail('knobs.selfConditioning', 'an ssd-lm pack has no self-conditioning input');
    if (graphs['context']) fail('graphs.context', 'an ssd-lm pack has no context graph: its denoiser reads the context ids at every step');
    const den = io['denoiser'];
    if (!den) fail('graphs', 'an ssd-lm pack needs a "denoiser" graph');
    const names = new Set(den.inputs.map((i) => i.name));
    for (const n of SSD_LM_DENOISER_INPUTS) if (!names.has(n)) fail('io.denoiser', `an ssd-lm denoiser needs input "${n}"`);
  } else if (v.contextAttention !== 'causal')
    fail('diffusion.contextAttention', 'an ssd2 pack encodes its context causally (the cached keys/values are reused)');
  return { layout: v.layout, contextAttention: v.contextAttention, positionOffset: offset };
}

const CODEC_COMMON_KEYS = ['format', 'stream', 'width', 'height', 'tokens', 'bos', 'eos', 'pad', 'maxTokens'];
const CODEC_FORMAT_KEYS: Record<CodecFormat, string[]> = {
  jpeg: ['quality', 'subsampling', 'restartInterval'],
  h264: ['fps', 'frames', 'profile', 'qp', 'sliceMaxMbs'],
};

/**
 * The codec block: only what the runtime can restore and validate — the thesis' canonical JPEG stream (image-only,
 * quality 25, 4:2:0, a restart marker after every MCU) or its canonical H.264 (Annex-B, constrained baseline, one
 * macroblock per slice) — sizes in whole 16×16 blocks, and token ids inside the decoder's vocabulary (the width of
 * its logits) that do not overlap the byte tokens.
 */
function checkCodec(
  v: Json,
  files: Record<string, FileEntry>,
  graphs: Record<string, string>,
  io: Record<string, GraphIO>,
  tokenizer: string | undefined,
): CodecSpec {
  if (!isObj(v)) fail('codec', 'must be an object');
  if (v.format !== 'jpeg' && v.format !== 'h264') fail('codec.format', `must be "jpeg" or "h264" (found ${shown(v.format)})`);
  const format = v.format;
  const keys = [...CODEC_COMMON_KEYS, ...CODEC_FORMAT_KEYS[format]];
  for (const k of Object.keys(v)) if (!keys.includes(k)) fail('codec', `unknown key "${k}" for format ${format}`);
  for (const k of keys) if (v[k] === undefined) fail(`codec.${k}`, 'is required');
  const int = (k: string, min: number, max: number): number => {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(`codec.${k}`, `must be an integer from ${min} to ${max} (found ${shown(n)})`);
    return n;
  };
  const width = int('width', 16, CODEC_MAX_SIDE);
  const height = int('height', 16, CODEC_MAX_SIDE);
  const block = format === 'jpeg' ? 'whole 4:2:0 MCUs' : 'whole macroblocks';
  if (width % 16) fail('codec.width', `must be a multiple of 16 (${block}; found ${width})`);
  if (height % 16) fail('codec.height', `must be a multiple of 16 (${block}; found ${height})`);
  const t = v.tokens;
  if (!isObj(t))
    fail('codec.tokens', 'must be {"mapping": "bytes", "offset": n}, {"mapping": "bytes-bpe", "offset": n, "merges": file} or {"mapping": "braille"}');
  const offsetOf = (): number => {
    if (typeof t.offset !== 'number' || !Number.isInteger(t.offset) || t.offset < 0 || t.offset > 1 << 20)
      fail('codec.tokens.offset', 'must be a non-negative integer (the id of byte 0)');
    return t.offset;
  };
  let tokens: CodecTokenMapping;
  if (t.mapping === 'bytes') {
    for (const k of Object.keys(t)) if (k !== 'mapping' && k !== 'offset') fail('codec.tokens', `unknown key "${k}"`);
    tokens = { mapping: 'bytes', offset: offsetOf() };
  } else if (t.mapping === 'bytes-bpe') {
    for (const k of Object.keys(t)) if (!['mapping', 'offset', 'merges'].includes(k)) fail('codec.tokens', `unknown key "${k}"`);
    if (typeof t.merges !== 'string' || !(t.merges in files))
      fail('codec.tokens.merges', `${shown(t.merges)} is not listed in files (a JSON file of [left, right] id pairs)`);
    if (!t.merges.endsWith('.json')) fail('codec.tokens.merges', `"${t.merges}" must be a .json file`);
    tokens = { mapping: 'bytes-bpe', offset: offsetOf(), merges: t.merges };
  } else if (t.mapping === 'braille') {
    for (const k of Object.keys(t)) if (k !== 'mapping') fail('codec.tokens', `unknown key "${k}" (braille tokens come from the tokenizer)`);
    if (tokenizer === undefined) fail('codec.tokens', 'the braille mapping needs the pack\'s tokenizer (manifest key "tokenizer")');
    tokens = { mapping: 'braille' };
  } else {
    fail('codec.tokens.mapping', `must be "bytes", "bytes-bpe" or "braille" (found ${shown(t.mapping)})`);
  }
  const ids = { bos: int('bos', 0, 1 << 24), eos: int('eos', 0, 1 << 24), pad: int('pad', 0, 1 << 24) };
  if (ids.bos === ids.eos) fail('codec.eos', 'must differ from codec.bos');
  const maxTokens = int('maxTokens', 64, 1 << 20);
  if (!graphs['decoder']) fail('graphs', 'a codec-lm needs a "decoder" graph (optimum decoder layout)');
  const vocab = io['decoder']?.outputs.find((o) => o.name === 'logits')?.shape[2];
  if (typeof vocab === 'number') {
    for (const [k, id] of Object.entries(ids)) if (id >= vocab) fail(`codec.${k}`, `id ${id} is outside the decoder's vocabulary of ${vocab}`);
    if (tokens.mapping !== 'braille' && tokens.offset + 256 > vocab)
      fail('codec.tokens.offset', `byte tokens ${tokens.offset}…${tokens.offset + 255} do not fit the decoder's vocabulary of ${vocab}`);
  }
  if (tokens.mapping !== 'braille') {
    const { offset } = tokens;
    for (const [k, id] of Object.entries(ids))
      if (id >= offset && id < offset + 256) fail(`codec.${k}`, `id ${id} is a byte token (bytes are ${offset}…${offset + 255})`);
  }
  const common = { width, height, tokens, ...ids, maxTokens };
  if (format === 'jpeg') {
    if (v.stream !== 'image-only') fail('codec.stream', `must be "image-only": the quantisation and Huffman tables stripped (found ${shown(v.stream)})`);
    if (v.quality !== 25) fail('codec.quality', `must be 25: the runtime restores the quality-25 tables of the canonical stream (found ${shown(v.quality)})`);
    if (v.subsampling !== '4:2:0') fail('codec.subsampling', `must be "4:2:0" (found ${shown(v.subsampling)})`);
    if (v.restartInterval !== 1) fail('codec.restartInterval', `must be 1 (a restart marker after every MCU; found ${shown(v.restartInterval)})`);
    return { format: 'jpeg', stream: 'image-only', quality: 25, subsampling: '4:2:0', restartInterval: 1, ...common };
  }
  if (v.stream !== 'annex-b') fail('codec.stream', `must be "annex-b": NAL units after start codes, as x264 writes raw .h264 (found ${shown(v.stream)})`);
  if (v.profile !== 'constrained-baseline') fail('codec.profile', `must be "constrained-baseline" (found ${shown(v.profile)})`);
  if (v.sliceMaxMbs !== 1) fail('codec.sliceMaxMbs', `must be 1 (one macroblock per slice; found ${shown(v.sliceMaxMbs)})`);
  const fps = int('fps', 1, 120);
  const frames = int('frames', 1, 10_000);
  const qp = int('qp', 0, 51);
  return { format: 'h264', stream: 'annex-b', fps, frames, profile: 'constrained-baseline', qp, sliceMaxMbs: 1, ...common };
}
