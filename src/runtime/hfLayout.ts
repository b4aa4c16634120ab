/**
 * Folders in the layout Hugging Face publishes for ONNX decoders (transformers.js / optimum): config.json,
 * generation_config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json and onnx/model*.onnx (or an
 * older decoder_model_merged*.onnx) with optional external data. Nothing is written into such a folder: the pack
 * manifest is derived in memory, and packs.ts then runs the same checks as for a concert.json pack (every file a
 * plain file inside the folder with the derived size and sha256, the graph's external data, operator domains, I/O,
 * tokenizer). One exception to "plain files": the Hub's own cache (models--org--name/snapshots/<commit>/…) stores
 * files as symbolic links into ../../blobs of the same repository; links resolving there are allowed (`linkRoot`).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ProviderName } from '../protocol/worker';
import { checkRelativePath, parseManifest, type Knob, type PackManifest } from './manifest';
import { scanOnnxModel, type ValueSpec } from './onnxModel';

/** Weight variants of a published folder, by file-name suffix. */
export const HF_DTYPES = ['fp32', 'fp16', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type HfDtype = (typeof HF_DTYPES)[number];
const SUFFIXES: Record<HfDtype, string[]> = {
  fp32: [''],
  fp16: ['_fp16'],
  int8: ['_quantized', '_int8'],
  uint8: ['_uint8'],
  q4: ['_q4'],
  q4f16: ['_q4f16'],
  bnb4: ['_bnb4'],
};
/** Variant preference when none is asked for: quantized weights on CPU, half precision on GPU providers. */
const AUTO_ORDER: Record<'cpu' | 'gpu', HfDtype[]> = {
  cpu: ['q4', 'int8', 'fp32', 'uint8', 'bnb4', 'fp16', 'q4f16'],
  gpu: ['fp16', 'q4f16', 'fp32', 'q4', 'int8', 'uint8', 'bnb4'],
};
const GRAPH_BASES = ['model', 'decoder_model_merged'];
const GRAPH_DIRS = ['onnx', ''];
const JSON_MAX_BYTES = 4 * 1024 * 1024;

export interface HfLayoutOptions {
  /** The weight variant; `auto` (default) picks by provider. */
  dtype?: HfDtype | 'auto';
  /** The provider sessions will run on (decides `auto`). */
  provider?: ProviderName;
}

export interface HfVariant {
  dtype: HfDtype;
  file: string;
}

export interface DerivedHfPack {
  manifest: PackManifest;
  /** The manifest as JSON (its sha256 identifies the derived pack in run records and session caches). */
  manifestText: string;
  /** Real path of the Hub cache's blobs folder when the folder is a Hub snapshot (symlinks into it are allowed). */
  linkRoot?: string;
  variant: HfVariant;
  variants: HfVariant[];
}

export class HfLayoutError extends Error {}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The weight variants present in `dir` (relative paths), in HF_DTYPES order, merged decoders after model*.onnx. */
export async function hfVariants(dir: string): Promise<HfVariant[]> {
  const out: HfVariant[] = [];
  for (const base of GRAPH_BASES) {
    for (const sub of GRAPH_DIRS) {
      for (const dtype of HF_DTYPES) {
        for (const suffix of SUFFIXES[dtype]) {
          const rel = `${sub ? `${sub}/` : ''}${base}${suffix}.onnx`;
          if (!out.some((v) => v.dtype === dtype) && (await exists(path.join(dir, ...rel.split('/'))))) out.push({ dtype, file: rel });
        }
      }
    }
  }
  return out;
}

/** Whether `dir` looks like a published ONNX decoder folder (config.json and at least one known graph file). */
export async function isHfLayout(dir: string): Promise<boolean> {
  if (!(await exists(path.join(dir, 'config.json')))) return false;
  return (await hfVariants(dir)).length > 0;
}

/** The variant to load: the one asked for (an error naming the available ones when absent) or the provider's choice. */
export function chooseVariant(variants: readonly HfVariant[], options: HfLayoutOptions = {}): HfVariant {
  const want = options.dtype ?? 'auto';
  const names = variants.map((v) => v.dtype).join(', ');
  if (want !== 'auto') {
    const hit = variants.find((v) => v.dtype === want);
    if (!hit) throw new HfLayoutError(`has no ${want} weights (available: ${names || 'none'})`);
    return hit;
  }
  const order = AUTO_ORDER[!options.provider || options.provider === 'cpu' ? 'cpu' : 'gpu'];
  for (const d of order) {
    const hit = variants.find((v) => v.dtype === d);
    if (hit) return hit;
  }
  throw new HfLayoutError('has no ONNX graph (onnx/model.onnx, onnx/model_<dtype>.onnx or decoder_model_merged.onnx)');
}

/** The pack id of a folder: its name, or `org--name` for a Hub cache snapshot, reduced to the manifest's id alphabet. */
export function hfPackId(dir: string): string {
  const parts = path.resolve(dir).split(path.sep);
  const snap = parts.lastIndexOf('snapshots');
  const repo = snap >= 1 && snap === parts.length - 2 ? /^models--(.+)$/.exec(parts[snap - 1]!)?.[1] : undefined;
  const raw = (repo ?? parts[parts.length - 1] ?? 'model').toLowerCase();
  const id = raw
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  return id || 'model';
}

/** The Hub cache's blobs folder when `dir` is `…/models--org--name/snapshots/<commit>`. */
function hubBlobs(dir: string): string | undefined {
  const abs = path.resolve(dir);
  const parts = abs.split(path.sep);
  if (parts.length < 3 || parts[parts.length - 2] !== 'snapshots' || !parts[parts.length - 3]!.startsWith('models--')) return undefined;
  return path.resolve(abs, '..', '..', 'blobs');
}

const within = (root: string, p: string): boolean => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * Size and sha256 of a file of the folder, after the containment checks readPackFile repeats later: a plain file
 * inside the folder, or (Hub cache) a symbolic link resolving inside the repository's blobs folder.
 */
async function fileEntry(root: string, linkRoot: string | undefined, rel: string): Promise<{ sha256: string; bytes: number }> {
  checkRelativePath(rel, `file "${rel}"`);
  const abs = path.join(root, ...rel.split('/'));
  const st = await fs.lstat(abs).catch(() => undefined);
  if (!st) throw new HfLayoutError(`file "${rel}" is missing`);
  const real = await fs.realpath(abs);
  if (st.isSymbolicLink()) {
    if (!linkRoot || !within(linkRoot, real))
      throw new HfLayoutError(
        `file "${rel}" is a symbolic link to ${real}, outside the folder (only Hub-cache links into the same repository's blobs are allowed)`,
      );
  } else if (!within(root, real)) throw new HfLayoutError(`file "${rel}" resolves outside the folder (${real})`);
  const target = await fs.stat(real);
  if (!target.isFile()) throw new HfLayoutError(`"${rel}" is not a regular file`);
  if (target.nlink > 1) throw new HfLayoutError(`file "${rel}" is a hard link (${target.nlink} links)`);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(real, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex'), bytes: target.size };
}

async function readJson(root: string, rel: string, required: boolean): Promise<Json | undefined> {
  const abs = path.join(root, rel);
  const st = await fs.stat(abs).catch(() => undefined);
  if (!st) {
    if (required) throw new HfLayoutError(`has no ${rel}`);
    return undefined;
  }
  if (st.size > JSON_MAX_BYTES) throw new HfLayoutError(`${rel} is ${st.size} bytes (limit ${JSON_MAX_BYTES})`);
  try {
    const j: unknown = JSON.parse(await fs.readFile(abs, 'utf8'));
    if (!isObj(j)) throw new Error('not an object');
    return j;
  } catch (e) {
    throw new HfLayoutError(`${rel} is not a JSON object (${(e as Error).message})`);
  }
}

/** A token string of tokenizer_config (a string, an AddedToken object {content}, or null). */
export function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string' && v) return v;
  if (isObj(v) && typeof v.content === 'string' && v.content) return v.content;
  return undefined;
}

/** The chat template of tokenizer_config (a string, or a list of {name, template}: the "default" one). */
export function chatTemplateOf(tokenizerConfig: Json | undefined): string | undefined {
  const t = tokenizerConfig?.chat_template;
  if (typeof t === 'string' && t.trim()) return t;
  if (Array.isArray(t)) {
    const named = t.filter(isObj);
    const hit = named.find((x) => x.name === 'default') ?? named[0];
    if (hit && typeof hit.template === 'string') return hit.template;
  }
  return undefined;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
const ids = (v: unknown): number[] =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0
    ? [v]
    : Array.isArray(v)
      ? v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0)
      : [];

/**
 * Derives the manifest of the published folder at `root` (a real path; `dir` as the user named it decides the Hub
 * cache case): chooses the variant, hashes its files, reads the graph's I/O and model constants.
 */
export async function deriveHfManifest(root: string, dir: string, options: HfLayoutOptions = {}): Promise<DerivedHfPack> {
  const blobs = hubBlobs(dir);
  const linkRoot = blobs ? await fs.realpath(blobs).catch(() => undefined) : undefined;
  const variants = await hfVariants(root);
  const variant = chooseVariant(variants, options);
  const config = (await readJson(root, 'config.json', true))!;
  const generation = await readJson(root, 'generation_config.json', false);
  const tokConfig = await readJson(root, 'tokenizer_config.json', false);
  if (!(await exists(path.join(root, 'tokenizer.json'))))
    throw new HfLayoutError('has no tokenizer.json (Concert reads Hugging Face fast-tokenizer files only)');
  const tokenizerText = await fs.readFile(path.join(root, 'tokenizer.json'), 'utf8');

  const files: PackManifest['files'] = {};
  const add = async (rel: string) => {
    files[rel] ??= await fileEntry(root, linkRoot, rel);
  };
  await add(variant.file);
  const graphBytes = await fs.readFile(path.join(root, ...variant.file.split('/')));
  let scan;
  try {
    scan = scanOnnxModel(graphBytes);
  } catch (e) {
    throw new HfLayoutError(`${variant.file}: ${(e as Error).message}`);
  }
  const base = path.posix.dirname(variant.file);
  for (const ref of scan.externalRefs) {
    checkRelativePath(ref.location, `external data of ${variant.file}`);
    await add(path.posix.normalize(base === '.' ? ref.location : `${base}/${ref.location}`));
  }
  for (const f of [
    'tokenizer.json',
    'config.json',
    'generation_config.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'chat_template.jinja',
    'README.md',
  ]) {
    if (await exists(path.join(root, f))) await add(f);
  }

  // Model constants from config.json (names differ per architecture; text_config for multimodal wrappers).
  const cfg = isObj(config.text_config) ? { ...config, ...config.text_config } : config;
  const heads = num(cfg.num_attention_heads) ?? num(cfg.n_head) ?? num(cfg.num_heads);
  const kvHeads = num(cfg.num_key_value_heads) ?? num(cfg.multi_query === true ? 1 : undefined) ?? heads;
  const hidden = num(cfg.hidden_size) ?? num(cfg.n_embd) ?? num(cfg.d_model);
  const headDim = num(cfg.head_dim) ?? (hidden && heads ? hidden / heads : undefined);
  const layers = num(cfg.num_hidden_layers) ?? num(cfg.n_layer) ?? num(cfg.num_layers);
  const logits = scan.outputs.find((o) => o.name === 'logits');
  const vocab = (typeof logits?.shape[2] === 'number' ? logits.shape[2] : undefined) ?? num(cfg.vocab_size);
  const tokMax = num(tokConfig?.model_max_length);
  const positions = num(cfg.max_position_embeddings) ?? num(cfg.n_positions) ?? num(cfg.n_ctx) ?? num(cfg.seq_length);
  const maxContext = positions ?? (tokMax && tokMax < 1_000_000 ? tokMax : undefined);
  const missing = Object.entries({
    num_attention_heads: heads,
    'hidden_size or head_dim': headDim,
    num_hidden_layers: layers,
    vocab_size: vocab,
    max_position_embeddings: maxContext,
  })
    .filter(([, v]) => !v || !Number.isInteger(v))
    .map(([k]) => k);
  if (missing.length) throw new HfLayoutError(`config.json does not give ${missing.join(', ')}`);

  // Special tokens: the strings the tokenizer knows, from tokenizer_config, else by id from generation_config/config.
  let tokJson: Json;
  try {
    tokJson = JSON.parse(tokenizerText) as Json;
  } catch (e) {
    throw new HfLayoutError(`tokenizer.json is not valid JSON (${(e as Error).message})`);
  }
  const added = Array.isArray(tokJson.added_tokens) ? tokJson.added_tokens.filter(isObj) : [];
  const vocabObj = isObj(tokJson.model) && isObj(tokJson.model.vocab) ? tokJson.model.vocab : {};
  const byId = new Map<number, string>();
  for (const [k, v] of Object.entries(vocabObj)) if (typeof v === 'number') byId.set(v, k);
  for (const t of added) if (typeof t.id === 'number' && typeof t.content === 'string') byId.set(t.id, t.content);
  const known = new Set(byId.values());
  const eosIds = [...new Set([...ids(generation?.eos_token_id), ...ids(config.eos_token_id)])];
  const bosId = ids(generation?.bos_token_id)[0] ?? ids(config.bos_token_id)[0];
  const specialTokens: Record<string, string> = {};
  const put = (role: string, s: string | undefined) => {
    if (s && known.has(s)) specialTokens[role] = s;
  };
  put('eos', tokenString(tokConfig?.eos_token) ?? (eosIds[0] !== undefined ? byId.get(eosIds[0]) : undefined));
  put('bos', tokenString(tokConfig?.bos_token) ?? (bosId !== undefined ? byId.get(bosId) : undefined));
  put('pad', tokenString(tokConfig?.pad_token));
  put('unk', tokenString(tokConfig?.unk_token));
  if (!specialTokens['eos'] && !eosIds.length)
    throw new HfLayoutError('names no end-of-sequence token (generation_config.json eos_token_id or tokenizer_config.json eos_token)');
  const eosFromToken = specialTokens['eos'] ? [...byId].find(([, s]) => s === specialTokens['eos'])?.[0] : undefined;
  const allEos = [...new Set([...eosIds, ...(eosFromToken !== undefined ? [eosFromToken] : [])])];

  const chat = chatTemplateOf(tokConfig) ?? ((await exists(path.join(root, 'chat_template.jinja'))) ? 'file' : undefined);
  const knobs: Record<string, Knob> = {
    numLayers: layers!,
    numHeads: kvHeads!,
    headDim: headDim!,
    vocabSize: vocab!,
    maxContext: maxContext!,
    eosTokenIds: allEos,
    addBosToken: tokConfig?.add_bos_token === true,
    chatTemplate: !!chat,
    dtype: variant.dtype,
  };
  const readme = files['README.md'] ? await fs.readFile(path.join(root, 'README.md'), 'utf8').catch(() => '') : '';
  const licence = /^---[\s\S]*?^license:\s*["']?([^\s"']+)/m.exec(readme)?.[1] ?? 'unknown (see the model card)';
  const id = hfPackId(dir);
  const io: { inputs: ValueSpec[]; outputs: ValueSpec[] } = { inputs: scan.inputs, outputs: scan.outputs };
  const draft = {
    schemaVersion: 1,
    id,
    kind: 'causal-lm',
    displayName: `${id} (${variant.dtype})`,
    description: `Hugging Face ONNX decoder folder ${dir}`,
    licence,
    files,
    graphs: { decoder: variant.file },
    tokenizer: 'tokenizer.json',
    io: { decoder: io },
    ...(Object.keys(specialTokens).length && { specialTokens }),
    knobs,
    ...(files['README.md'] && { modelCard: 'README.md' }),
    provenance: { format: 'hf-onnx', modelType: String(cfg.model_type ?? 'unknown'), variant: variant.file },
  };
  const manifestText = JSON.stringify(draft);
  let manifest: PackManifest;
  try {
    manifest = parseManifest(manifestText);
  } catch (e) {
    throw new HfLayoutError(`the derived manifest is invalid: ${(e as Error).message}`);
  }
  return { manifest, manifestText, ...(linkRoot && { linkRoot }), variant, variants };
}

/** Whether a validated manifest was derived from a published folder (not a concert.json pack). */
export const isHfManifest = (m: PackManifest): boolean => m.provenance?.['format'] === 'hf-onnx';
