/**
 * Model-pack discovery and validation. Everything here runs in the worker, before ONNX Runtime sees a byte:
 * manifest schema, file sizes and hashes, containment (no "..", absolute paths, symlinks or hard links), ONNX
 * external-data locations, operator domains, and the declared I/O against the graph's own signature.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE, MANIFEST_MAX_BYTES, ManifestError, checkRelativePath, parseManifest, type GraphIO, type PackManifest } from './manifest';
import { OnnxScanError, scanOnnxModel, type ValueSpec } from './onnxModel';
import { checkVerifiedTokenizerJson } from './tokenizer';
import { deriveHfManifest, hfPackId, isHfLayout, type HfLayoutOptions } from './hfLayout';

export interface PackLimits {
  maxOnnxBytes: number;
  maxTokenizerBytes: number;
  maxPackBytes: number;
}
export const DEFAULT_PACK_LIMITS: PackLimits = {
  maxOnnxBytes: 2 * 1024 ** 3 - 1, // protobuf's 2 GB ceiling
  maxTokenizerBytes: 32 * 1024 ** 2,
  maxPackBytes: 16 * 1024 ** 3,
};

/** Operator domains a pack may use. `ai.onnx.ml` and EPContext nodes (which reference files) are refused. */
const ALLOWED_DOMAINS = new Set(['', 'ai.onnx', 'com.microsoft']);
const EXTERNAL_DATA_SUFFIXES = ['.onnx_data', '.data', '.bin'];

export type PackSource = 'bundled' | 'user';

export class PackError extends Error {
  constructor(
    readonly pack: string,
    readonly problem: string,
  ) {
    super(`Model pack "${pack}": ${problem}`);
  }
}

export interface ValidatedPack {
  manifest: PackManifest;
  /** Real path of the pack folder. */
  dir: string;
  source: PackSource;
  manifestSha256: string;
  sizeBytes: number;
  /** Hugging Face cache snapshots (hfLayout.ts): the real blobs folder that the snapshot's symbolic links may reach. */
  linkRoot?: string;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const within = (root: string, p: string): boolean => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * Reads one file of a pack after checking that it is a plain file inside the pack (no symlink, no hard link, real
 * path inside the root), that its size matches the manifest, and that its sha256 matches.
 */
export async function readPackFile(pack: { dir: string; manifest: PackManifest; linkRoot?: string }, name: string): Promise<Buffer> {
  const { label, real, entry } = await checkedPackFile(pack, name);
  const data = await fs.readFile(real);
  if (data.length !== entry.bytes) throw new PackError(label, `file "${name}" changed while it was read`);
  checkDigest(label, name, sha256(data), entry.sha256);
  return data;
}

/** readPackFile's checks without keeping the file: the sha256 is streamed (external data may be gigabytes). */
export async function hashPackFile(pack: { dir: string; manifest: PackManifest; linkRoot?: string }, name: string): Promise<void> {
  const { label, real, entry } = await checkedPackFile(pack, name);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(real, { highWaterMark: 1024 * 1024 })) {
    bytes += (chunk as Buffer).length;
    if (bytes > entry.bytes) break;
    hash.update(chunk as Buffer);
  }
  if (bytes !== entry.bytes) throw new PackError(label, `file "${name}" changed while it was read`);
  checkDigest(label, name, hash.digest('hex'), entry.sha256);
}

function checkDigest(label: string, name: string, digest: string, want: string): void {
  if (digest !== want)
    throw new PackError(label, `file "${name}" has sha256 ${digest.slice(0, 12)}… but the manifest says ${want.slice(0, 12)}… (corrupt or modified)`);
}

async function checkedPackFile(
  pack: { dir: string; manifest: PackManifest; linkRoot?: string },
  name: string,
): Promise<{ label: string; real: string; entry: PackManifest['files'][string] }> {
  const label = pack.manifest.id;
  const entry = pack.manifest.files[name];
  if (!entry) throw new PackError(label, `"${name}" is not listed in ${MANIFEST_FILE}`);
  const abs = path.join(pack.dir, ...name.split('/'));
  let st: Stats;
  try {
    st = await fs.lstat(abs);
  } catch {
    throw new PackError(label, `file "${name}" is missing from ${pack.dir}`);
  }
  // The one exception to plain files: a Hub cache snapshot's links into the same repository's blobs (linkRoot).
  const linked = st.isSymbolicLink();
  if (linked && !pack.linkRoot) throw new PackError(label, `file "${name}" is a symbolic link; packs must contain plain files`);
  const real = await fs.realpath(abs);
  if (linked) {
    if (!within(pack.linkRoot!, real))
      throw new PackError(label, `file "${name}" is a symbolic link to ${real}, outside the Hub cache's blobs of this repository`);
    st = await fs.stat(real);
  }
  if (!st.isFile()) throw new PackError(label, `"${name}" is not a regular file`);
  if (st.nlink > 1) throw new PackError(label, `file "${name}" is a hard link (${st.nlink} links); packs must contain plain files`);
  if (!linked && !within(pack.dir, real)) throw new PackError(label, `file "${name}" resolves outside the pack (${real})`);
  if (st.size !== entry.bytes) throw new PackError(label, `file "${name}" is ${st.size} bytes but the manifest says ${entry.bytes}`);
  return { label, real, entry };
}

function compareSignature(label: string, role: string, declared: GraphIO, actual: { inputs: ValueSpec[]; outputs: ValueSpec[] }, what: string): void {
  for (const side of ['inputs', 'outputs'] as const) {
    const want = declared[side];
    const got = actual[side];
    const gotNames = got.map((v) => v.name).sort();
    const wantNames = want.map((v) => v.name).sort();
    if (gotNames.join('\u0000') !== wantNames.join('\u0000')) {
      const missing = wantNames.filter((n) => !gotNames.includes(n));
      const extra = gotNames.filter((n) => !wantNames.includes(n));
      throw new PackError(
        label,
        `I/O mismatch in graph "${role}" (${what}): ${side} ${missing.length ? `missing [${missing.join(', ')}]` : ''}${missing.length && extra.length ? ', ' : ''}${extra.length ? `undeclared [${extra.join(', ')}]` : ''}`,
      );
    }
    for (const w of want) {
      const g = got.find((v) => v.name === w.name)!;
      if (g.dtype !== w.dtype) throw new PackError(label, `I/O mismatch in graph "${role}" (${what}): ${w.name} is ${g.dtype}, manifest says ${w.dtype}`);
      if (g.shape.length !== w.shape.length)
        throw new PackError(label, `I/O mismatch in graph "${role}" (${what}): ${w.name} has rank ${g.shape.length}, manifest says ${w.shape.length}`);
      w.shape.forEach((d, i) => {
        const a = g.shape[i];
        if (typeof d === 'number' && typeof a === 'number' && a !== d) {
          throw new PackError(label, `I/O mismatch in graph "${role}" (${what}): ${w.name} dimension ${i} is ${a}, manifest says ${d}`);
        }
      });
    }
  }
}

/** Checks the I/O of a created session against the manifest (the last check, after ONNX Runtime parsed the graph). */
export function checkSessionSignature(pack: ValidatedPack, role: string, actual: { inputs: ValueSpec[]; outputs: ValueSpec[] }): void {
  compareSignature(pack.manifest.id, role, pack.manifest.io[role]!, actual, 'loaded session');
}

/** Validates the ONNX bytes of one graph statically: structure, domains, external data, declared I/O. Returns the
 *  graph's operator types (`domain.Op` outside the default domain). */
export function checkGraphBytes(pack: { manifest: PackManifest }, role: string, bytes: Uint8Array, fileSizes: Record<string, number>): string[] {
  const label = pack.manifest.id;
  const file = pack.manifest.graphs[role]!;
  let scan;
  try {
    scan = scanOnnxModel(bytes);
  } catch (e) {
    if (e instanceof OnnxScanError) throw new PackError(label, `graph "${role}" (${file}): ${e.message}`);
    throw e;
  }
  const badDomains = scan.nodeDomains.filter((d) => !ALLOWED_DOMAINS.has(d));
  if (badDomains.length)
    throw new PackError(label, `graph "${role}" uses operator domain(s) ${badDomains.map((d) => `"${d}"`).join(', ')}, which Concert does not load`);
  if (scan.opTypes.some((o) => o.endsWith('EPContext')))
    throw new PackError(label, `graph "${role}" contains EPContext nodes (precompiled engine references); export a plain ONNX graph`);
  for (const ref of scan.externalRefs) {
    const where = `graph "${role}" tensor "${ref.tensor}" external data location`;
    try {
      checkRelativePath(ref.location, where);
    } catch (e) {
      throw new PackError(label, (e as Error).message);
    }
    const base = path.posix.dirname(file);
    const resolved = path.posix.normalize(base === '.' ? ref.location : `${base}/${ref.location}`);
    if (!(resolved in pack.manifest.files)) throw new PackError(label, `${where} "${ref.location}" is not a file listed in the manifest`);
    // transformers.js also names chunks of large external data model.onnx_data_1, _2 …
    if (!EXTERNAL_DATA_SUFFIXES.some((s) => resolved.endsWith(s)) && !/\.onnx_data_\d{1,4}$/.test(resolved))
      throw new PackError(label, `${where} "${ref.location}" must end in ${EXTERNAL_DATA_SUFFIXES.join(', ')} (or .onnx_data_<n>)`);
    const size = fileSizes[resolved] ?? 0;
    const offset = ref.offset ?? 0;
    if (
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      (ref.length !== undefined && (!Number.isSafeInteger(ref.length) || ref.length < 0)) ||
      offset + (ref.length ?? 0) > size
    ) {
      throw new PackError(label, `${where} "${ref.location}" offset/length lie outside the ${size}-byte file`);
    }
  }
  compareSignature(label, role, pack.manifest.io[role]!, scan, 'ONNX file');
  return scan.opTypes;
}

/** Files ONNX Runtime must be given for a graph (its external data), relative to the pack. */
export function externalDataFiles(manifest: PackManifest, role: string, bytes: Uint8Array): { location: string; file: string }[] {
  const file = manifest.graphs[role]!;
  const base = path.posix.dirname(file);
  const seen = new Map<string, string>();
  for (const ref of scanOnnxModel(bytes).externalRefs) {
    seen.set(ref.location, path.posix.normalize(base === '.' ? ref.location : `${base}/${ref.location}`));
  }
  return [...seen].map(([location, f]) => ({ location, file: f }));
}

/**
 * How far validatePack looks. `full`: everything, every file read and hashed, graphs scanned, tokenizer checked.
 * `listing`: the manifest, and each listed file's place, kind and size, nothing read: enough to list packs and choose
 * among them, and cheap (a first request used to hash every bundled pack, 57 MB, to use one). A pack is validated
 * in full before anything of it is used (WorkerService.checked).
 */
export type PackCheck = 'full' | 'listing';

/**
 * Validation of the pack at `dir`, without ONNX Runtime. Throws PackError naming the pack and the problem.
 */
export async function validatePack(
  dir: string,
  source: PackSource,
  limits: PackLimits = DEFAULT_PACK_LIMITS,
  layout: HfLayoutOptions = {},
  check: PackCheck = 'full',
): Promise<ValidatedPack> {
  const root = await fs.realpath(dir).catch(() => undefined);
  const cached = root === undefined ? undefined : verdicts.get(root);
  const key = JSON.stringify([limits, layout]);
  // A failed listing check fails a full one too; a passed one says nothing of the files' contents.
  const answers = cached && (cached.check === 'full' || check === 'listing' || cached.result instanceof PackError);
  if (root !== undefined && cached && answers && cached.limits === key && (await stampsOf(root, cached.files)) === cached.stamps) {
    if (cached.result instanceof PackError) throw cached.result;
    return { ...cached.result, source };
  }
  // The stamps are taken before the files are read, so a file changed during validation is validated again next time.
  let files: string[] = [];
  let stamps: Promise<string> | undefined;
  const onFiles = (f: string[]) => {
    files = f;
    if (root !== undefined) stamps = stampsOf(root, f);
  };
  try {
    const pack = await validatePackUncached(dir, source, limits, onFiles, layout, check);
    if (root !== undefined && stamps) verdicts.set(root, { limits: key, check, files, stamps: await stamps, result: pack });
    return pack;
  } catch (e) {
    if (root !== undefined && stamps && e instanceof PackError) verdicts.set(root, { limits: key, check, files, stamps: await stamps, result: e });
    throw e;
  }
}

/**
 * Verdicts of validatePack for the worker's lifetime, by real pack folder: reused while the manifest and every file
 * it lists keep their (device, inode, size, mtime, ctime). Graphs are still re-read and re-hashed right before ONNX
 * Runtime loads them (readPackFile in ort.ts), so a reused verdict never vouches for bytes a session is made from.
 */
const verdicts = new Map<string, { limits: string; check: PackCheck; files: string[]; stamps: string; result: ValidatedPack | PackError }>();

/** Identity of the manifest and the listed files as lstat sees them ("-" for a missing one). */
async function stampsOf(root: string, files: readonly string[]): Promise<string> {
  const stamp = async (rel: string) => {
    try {
      const st = await fs.lstat(path.join(root, ...rel.split('/')));
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.nlink}:${st.mode}`;
    } catch {
      return '-';
    }
  };
  return (await Promise.all([MANIFEST_FILE, ...files].map(stamp))).join('|');
}

/** Clears the cache of validation verdicts (tests; a refresh the user asks for). */
export function forgetPackVerdicts(): void {
  verdicts.clear();
}

async function validatePackUncached(
  dir: string,
  source: PackSource,
  limits: PackLimits,
  onFiles: (files: string[]) => void,
  layout: HfLayoutOptions,
  check: PackCheck,
): Promise<ValidatedPack> {
  const folderLabel = path.basename(dir);
  let root: string;
  try {
    root = await fs.realpath(dir);
  } catch {
    throw new PackError(folderLabel, `folder ${dir} does not exist`);
  }
  const manifestPath = path.join(root, MANIFEST_FILE);
  let manifestBytes: Buffer;
  let manifest: PackManifest;
  let linkRoot: string | undefined;
  const mst = await fs.lstat(manifestPath).catch(() => undefined);
  if (!mst && (await isHfLayout(root))) {
    // A folder as Hugging Face publishes it: the manifest is derived in memory (hfLayout.ts), then checked as any.
    onFiles([]);
    try {
      const derived = await deriveHfManifest(root, dir, layout);
      ({ manifest, linkRoot } = derived);
      manifestBytes = Buffer.from(derived.manifestText);
    } catch (e) {
      throw new PackError(hfPackId(dir), (e as Error).message);
    }
  } else {
    if (!mst) throw new PackError(folderLabel, `no ${MANIFEST_FILE} in ${dir}`);
    if (mst.isSymbolicLink() || !mst.isFile()) throw new PackError(folderLabel, `${MANIFEST_FILE} must be a plain file`);
    onFiles([]);
    if (mst.size > MANIFEST_MAX_BYTES) throw new PackError(folderLabel, `${MANIFEST_FILE} is ${mst.size} bytes (limit ${MANIFEST_MAX_BYTES})`);
    manifestBytes = await fs.readFile(manifestPath);
    try {
      manifest = parseManifest(manifestBytes.toString('utf8'));
    } catch (e) {
      if (e instanceof ManifestError) throw new PackError(folderLabel, `invalid ${MANIFEST_FILE}: ${e.message}`);
      throw e;
    }
  }
  const label = manifest.id;
  onFiles(Object.keys(manifest.files));
  let total = 0;
  const fileSizes: Record<string, number> = {};
  for (const [name, entry] of Object.entries(manifest.files)) {
    total += entry.bytes;
    fileSizes[name] = entry.bytes;
    if (name.endsWith('.onnx') && entry.bytes > limits.maxOnnxBytes) throw new PackError(label, `"${name}" is larger than ${limits.maxOnnxBytes} bytes`);
    if (name === manifest.tokenizer && entry.bytes > limits.maxTokenizerBytes)
      throw new PackError(label, `tokenizer "${name}" is larger than ${limits.maxTokenizerBytes} bytes`);
  }
  if (total > limits.maxPackBytes) throw new PackError(label, `the pack is ${total} bytes (limit ${limits.maxPackBytes})`);

  const pack = { dir: root, manifest, ...(linkRoot && { linkRoot }) };
  const validated = { manifest, dir: root, source, manifestSha256: sha256(manifestBytes), sizeBytes: total, ...(linkRoot && { linkRoot }) };
  if (check === 'listing') {
    for (const name of Object.keys(manifest.files)) await checkedPackFile(pack, name);
    return validated;
  }
  // The files that are read whole (the graphs and the tokenizer, one at a time) are hashed as they are read; every
  // other file (external data may be gigabytes) with a streamed hash, never in memory, after them.
  const readWhole = new Set([...Object.values(manifest.graphs), ...(manifest.tokenizer ? [manifest.tokenizer] : [])]);
  for (const role of Object.keys(manifest.graphs)) checkGraphBytes(pack, role, await readPackFile(pack, manifest.graphs[role]!), fileSizes);
  if (manifest.tokenizer) {
    const tokenizerText = (await readPackFile(pack, manifest.tokenizer)).toString('utf8');
    try {
      checkVerifiedTokenizerJson(tokenizerText, manifest.files[manifest.tokenizer]!.sha256, manifest.specialTokens ?? {});
    } catch (e) {
      throw new PackError(label, `tokenizer "${manifest.tokenizer}": ${(e as Error).message}`);
    }
  }
  for (const name of Object.keys(manifest.files)) if (!readWhole.has(name)) await hashPackFile(pack, name);
  return validated;
}

export interface DiscoveredPack {
  dir: string;
  source: PackSource;
  pack?: ValidatedPack;
  error?: PackError;
}

/**
 * Finds packs in each root: the root itself if it holds a manifest or is a published Hugging Face folder
 * (hfLayout.ts), else its immediate sub-folders that are either; each validated as deep as `check` says.
 */
export async function discoverPacks(
  roots: { dir: string; source: PackSource }[],
  limits: PackLimits = DEFAULT_PACK_LIMITS,
  layout: HfLayoutOptions = {},
  check: PackCheck = 'full',
): Promise<DiscoveredPack[]> {
  const isPack = async (d: string) => (await exists(path.join(d, MANIFEST_FILE))) || (await isHfLayout(d));
  const found: DiscoveredPack[] = [];
  for (const root of roots) {
    let candidates: string[] = [];
    try {
      const st = await fs.stat(root.dir);
      if (!st.isDirectory()) throw new Error('not a folder');
      if (await isPack(root.dir)) candidates = [root.dir];
      else {
        const entries = await fs.readdir(root.dir, { withFileTypes: true });
        candidates = entries
          .filter((e) => e.isDirectory() || e.isSymbolicLink())
          .map((e) => path.join(root.dir, e.name))
          .sort();
        candidates = (await Promise.all(candidates.map(async (c) => ((await isPack(c)) ? c : undefined)))).filter((c): c is string => !!c);
      }
    } catch {
      if (root.source === 'user')
        found.push({
          dir: root.dir,
          source: root.source,
          error: new PackError(path.basename(root.dir), `model folder ${root.dir} does not exist or is not a folder (check the concert.modelFolders setting)`),
        });
      continue;
    }
    for (const dir of candidates) {
      try {
        found.push({ dir, source: root.source, pack: await validatePack(dir, root.source, limits, layout, check) });
      } catch (e) {
        found.push({ dir, source: root.source, error: e instanceof PackError ? e : new PackError(path.basename(dir), (e as Error).message) });
      }
    }
  }
  // The first pack with an id wins; later ones are reported, not silently shadowed.
  const firstById = new Map<string, string>();
  for (const f of found) {
    if (!f.pack) continue;
    const prior = firstById.get(f.pack.manifest.id);
    if (prior) {
      f.error = new PackError(f.pack.manifest.id, `duplicate pack id (also in ${prior}); this copy is ignored`);
      delete f.pack;
    } else firstById.set(f.pack.manifest.id, f.dir);
  }
  return found;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}
