/**
 * Downloads a published ONNX model folder (a transformers.js-style export, e.g. onnx-community/*) from the Hugging
 * Face Hub, on an explicit request only. The listing comes from @huggingface/hub's `listFiles` (the tree API); the
 * files are fetched here, following @huggingface/hub's and huggingface_hub's conventions (URLs in hubUrls.ts):
 * - only what the chosen variant needs: config/tokenizer files and the one onnx/model*.onnx of the dtype with its
 *   external data (model*.onnx_data, model*.onnx_data_1, …);
 * - each file goes to `<name>.partial` first (LFS files: `<name>.<sha256 prefix>.partial`, so a later pull resumes
 *   only the same content) and resumes with an HTTP Range request after a lost connection, within a pull and
 *   across pulls;
 * - LFS files are checked against the sha256 the Hub gives (X-Linked-Etag / ETag of the resolve response, and the
 *   listing's lfs.oid), other files against their git blob id; a mismatch removes the partial file;
 * - `.concert-download.json` is written last, only when every file is in place: a folder without it (a cancelled or
 *   failed pull) is not a model, and the worker does not list it.
 * The token goes only to the Hub's own origin; redirects to a CDN carry their own signature.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { listFiles } from '@huggingface/hub';
import { HUB_DTYPES, type HubDtype } from '../protocol/worker';
import { hubEndpoint, normaliseEndpoint, repoFolderName, repoIdProblem, repoPageUrl, resolveUrl, revisionProblem } from './hubUrls';

/** Written last into a downloaded folder: its presence means "complete". */
export const DOWNLOAD_MARKER = '.concert-download.json';
const LOCK_FILE = '.concert-download.lock';

export type HubErrorKind = 'bad-input' | 'unauthorized' | 'not-found' | 'unsupported' | 'no-variant' | 'checksum' | 'network' | 'http' | 'cancelled' | 'busy';

/** A failed pull with a one-line message a user can act on. */
export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface PullProgress {
  /** Repository path of the file being fetched. */
  file: string;
  /** 1-based index of the file among `files`. */
  fileIndex: number;
  files: number;
  bytesDone: number;
  bytesTotal: number;
  /** Over all files of the pull (files already on disk count as done). */
  totalDone: number;
  totalBytes: number;
}

export interface PullOptions {
  repo: string;
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** Default: the first of q4, int8, fp32, fp16 that the repository has. */
  dtype?: HubDtype;
  /** Concert's downloads folder; the model lands in `<dest>/<namespace>--<name>/`. */
  dest: string;
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** A Hugging Face access token (`hf_…`) for gated or private repositories. */
  token?: string;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Extra attempts per file after a lost connection, each resuming where the last stopped (default 3). */
  retries?: number;
  /** A transfer that receives nothing for this long is dropped and resumed (default 60 s). */
  stallTimeoutMs?: number;
}

export interface PulledFile {
  path: string;
  bytes: number;
  sha256?: string;
  /** True when the file was already complete on disk. */
  reused: boolean;
}

export interface PullResult {
  repo: string;
  revision: string;
  /** The commit the files came from (X-Repo-Commit), when the Hub said. */
  commit?: string;
  dtype: HubDtype;
  /** The model folder. */
  dir: string;
  endpoint: string;
  files: PulledFile[];
  /** Bytes fetched by this pull (resumed and reused bytes excluded). */
  downloadedBytes: number;
}

export interface DownloadMarker {
  format: 1;
  repo: string;
  revision: string;
  commit?: string;
  dtype: HubDtype;
  endpoint: string;
  files: { path: string; bytes: number; sha256?: string }[];
  completedAt: string;
}

/** One file of the Hub's tree listing. */
export interface RepoFile {
  path: string;
  size: number;
  /** git blob id (for LFS files, the pointer's). */
  oid?: string;
  lfs?: { oid: string; size: number };
}

/** Files read next to the graph; the first three are required. */
const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const OPTIONAL_FILES = ['generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

/** The graph file of each dtype, in order of preference (transformers.js names). */
export const DTYPE_GRAPHS: Record<HubDtype, string[]> = {
  fp32: ['onnx/model.onnx'],
  fp16: ['onnx/model_fp16.onnx'],
  int8: ['onnx/model_quantized.onnx', 'onnx/model_int8.onnx'],
  q4: ['onnx/model_q4.onnx'],
};
/** Without --dtype: the smallest variant that runs well on a CPU first. */
export const DEFAULT_DTYPE_ORDER: readonly HubDtype[] = ['q4', 'int8', 'fp32', 'fp16'];

const SHA256 = /^[0-9a-f]{64}$/;
const GIT_OID = /^[0-9a-f]{40}$/;

/** The dtypes whose graph `files` contains, and the other onnx/*.onnx graphs (variants Concert does not offer). */
export function availableVariants(files: readonly RepoFile[]): { dtypes: HubDtype[]; others: string[] } {
  const names = new Set(files.map((f) => f.path));
  const dtypes = HUB_DTYPES.filter((d) => DTYPE_GRAPHS[d].some((g) => names.has(g)));
  const known = new Set(Object.values(DTYPE_GRAPHS).flat());
  const others = [...names]
    .filter((n) => /^onnx\/[^/]+\.onnx$/.test(n) && !known.has(n))
    .map((n) => n.slice('onnx/'.length))
    .sort();
  return { dtypes, others };
}

/** The files a pull of `dtype` needs, in download order (small files first, the graph and its data last). */
export function selectFiles(repo: string, files: readonly RepoFile[], dtype?: HubDtype): { dtype: HubDtype; files: RepoFile[] } {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const missing = REQUIRED_FILES.filter((f) => !byPath.has(f));
  const { dtypes, others } = availableVariants(files);
  if (!dtypes.length && !others.length)
    throw new HubError(
      'unsupported',
      `"${repo}" has no ONNX export in onnx/ (Concert downloads transformers.js-style exports; look for an onnx-community/… version of the model)`,
    );
  if (missing.length) throw new HubError('unsupported', `"${repo}" is not a model folder Concert can run: it has no ${missing.join(', ')}`);
  const describe = () =>
    (dtypes.length ? `available: ${dtypes.join(', ')}` : 'none of q4, int8, fp16, fp32 is available') +
    (others.length ? `; other graphs Concert does not download: ${others.join(', ')}` : '');
  const chosen = dtype ?? DEFAULT_DTYPE_ORDER.find((d) => dtypes.includes(d));
  if (!chosen || !dtypes.includes(chosen)) throw new HubError('no-variant', `"${repo}" has no ${dtype ?? 'supported'} variant (${describe()})`);
  const graph = DTYPE_GRAPHS[chosen].find((g) => byPath.has(g))!;
  const base = graph.slice(0, -'.onnx'.length);
  const dataRe = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.onnx_data(?:_\\d+)?$`);
  const data = files.filter((f) => dataRe.test(f.path)).sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  const small = [...REQUIRED_FILES, ...OPTIONAL_FILES].filter((f) => byPath.has(f)).map((f) => byPath.get(f)!);
  return { dtype: chosen, files: [...small, byPath.get(graph)!, ...data] };
}

const isAbort = (e: unknown): boolean => (e as Error)?.name === 'AbortError';

interface Ctx {
  repo: string;
  revision: string;
  endpoint: string;
  token: string | undefined;
  signal: AbortSignal | undefined;
  retries: number;
  stallTimeoutMs: number;
  /** The commit learnt from the first resolve response; later files are fetched from it. */
  commit?: string;
}

/** Turns an HTTP failure into a HubError that says what to do. */
function httpFailure(ctx: Ctx, status: number, errorCode: string | null, file?: string): HubError {
  const where = ctx.endpoint;
  const tokenHint = ctx.token ? '' : ' (if it is private or gated, set HF_TOKEN to a Hugging Face access token)';
  if (errorCode === 'GatedRepo' || status === 401 || status === 403) {
    if (errorCode === 'RepoNotFound') return new HubError('not-found', `no model repository "${ctx.repo}" on ${where}${tokenHint}`);
    const gate = `accept its terms on ${repoPageUrl(ctx.endpoint, ctx.repo)}`;
    return ctx.token
      ? new HubError(
          'unauthorized',
          `"${ctx.repo}" is gated or private and the Hub refused the token (HTTP ${status}): check that HF_TOKEN is valid and has access, and ${gate}`,
        )
      : new HubError(
          'unauthorized',
          `"${ctx.repo}" is gated or private (HTTP ${status}): set HF_TOKEN to a Hugging Face access token / sign in (in VS Code, Download Model… asks for the token), and ${gate}`,
        );
  }
  if (errorCode === 'RepoNotFound') return new HubError('not-found', `no model repository "${ctx.repo}" on ${where}${tokenHint}`);
  if (errorCode === 'RevisionNotFound') return new HubError('not-found', `"${ctx.repo}" has no revision "${ctx.revision}" on ${where}`);
  if (errorCode === 'EntryNotFound') return new HubError('not-found', `"${ctx.repo}" has no file ${file ?? ''} at revision "${ctx.revision}"`);
  if (status === 404)
    return new HubError(
      'not-found',
      `"${ctx.repo}" (revision "${ctx.revision}") was not found on ${where}${file ? ` (while fetching ${file})` : ''}${tokenHint}`,
    );
  if (status === 429) return new HubError('http', `the Hub at ${where} is rate-limiting requests (HTTP 429); wait a minute and run the pull again`);
  return new HubError('http', `the Hub at ${where} answered HTTP ${status}${file ? ` for ${file}` : ''}; try again later, or set HF_ENDPOINT to a mirror`);
}

function networkFailure(ctx: Ctx, e: unknown): HubError {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
  return new HubError(
    'network',
    `could not reach the Hugging Face Hub at ${ctx.endpoint} (${why}): check the network connection, or set HF_ENDPOINT to a mirror`,
  );
}

function cancelled(ctx: Ctx): HubError {
  return new HubError('cancelled', `download of "${ctx.repo}" cancelled; what was fetched is kept, and the same pull resumes it`);
}

const normaliseEtag = (v: string | null): string | undefined => {
  if (!v) return undefined;
  const m = /^(?:W\/)?"?([^"]*)"?$/.exec(v.trim());
  return m?.[1]?.toLowerCase();
};

/** Lists the repository with @huggingface/hub's listFiles (the tree API, paginated). */
async function listRepo(ctx: Ctx): Promise<RepoFile[]> {
  let last: { status: number; errorCode: string | null } | undefined;
  const signal = ctx.signal;
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, { ...init, ...(signal && { signal }) });
    last = { status: res.status, errorCode: res.headers.get('X-Error-Code') };
    return res;
  };
  const out: RepoFile[] = [];
  try {
    for await (const e of listFiles({
      repo: { type: 'model', name: ctx.repo },
      revision: ctx.commit ?? ctx.revision,
      recursive: true,
      hubUrl: ctx.endpoint,
      fetch: recordingFetch,
      ...(ctx.token && { accessToken: ctx.token }),
    })) {
      if (e.type !== 'file') continue;
      out.push({ path: e.path, size: e.size, ...(e.oid && { oid: e.oid }), ...(e.lfs && { lfs: { oid: e.lfs.oid, size: e.lfs.size } }) });
    }
  } catch (e) {
    if (signal?.aborted) throw cancelled(ctx);
    if (e instanceof HubError) throw e;
    const status = (e as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && last) throw httpFailure(ctx, status, last.errorCode);
    if (e instanceof TypeError && (e.message === 'fetch failed' || (e as { cause?: unknown }).cause)) throw networkFailure(ctx, e);
    throw new HubError('http', `could not read the file list of "${ctx.repo}" from ${ctx.endpoint}: ${(e as Error).message}`);
  }
  return out;
}

interface Fetched {
  res: Response;
  /** sha256 from X-Linked-Etag / ETag, when it is one. */
  sha256?: string;
  commit?: string;
}

/** GET with redirects followed by hand: the Hub's own headers (X-Linked-Etag, X-Repo-Commit) are on the 302. */
async function hubGet(ctx: Ctx, url: string, headers: Record<string, string>, signal: AbortSignal, method: 'GET' | 'HEAD' = 'GET'): Promise<Fetched> {
  const origin = new URL(ctx.endpoint).origin;
  let current = url;
  let linked: string | undefined;
  let commit: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const sameOrigin = new URL(current).origin === origin;
    const res = await fetch(current, {
      method,
      headers: { ...headers, ...(ctx.token && sameOrigin && { Authorization: `Bearer ${ctx.token}` }) },
      redirect: 'manual',
      signal,
    });
    if (method === 'HEAD') return { res, ...((res.headers.get('X-Repo-Commit') ?? undefined) && { commit: res.headers.get('X-Repo-Commit')! }) };
    linked ??= normaliseEtag(res.headers.get('X-Linked-Etag'));
    commit ??= res.headers.get('X-Repo-Commit') ?? undefined;
    const location = res.headers.get('Location');
    if ([301, 302, 303, 307, 308].includes(res.status) && location) {
      await res.body?.cancel().catch(() => undefined);
      current = new URL(location, current).href;
      continue;
    }
    const etag = linked ?? normaliseEtag(res.headers.get('ETag'));
    return { res, ...(etag && SHA256.test(etag) && { sha256: etag }), ...(commit && { commit }) };
  }
  throw new HubError('http', `too many redirects fetching ${url}`);
}

async function fileSize(p: string): Promise<number | undefined> {
  try {
    const st = await fs.lstat(p);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** sha256 of a file, and its git blob id (sha1 of `blob <size>\0<content>`). */
async function digests(p: string, size: number): Promise<{ sha256: string; gitOid: string }> {
  const h = createHash('sha256');
  const g = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(p)) {
    h.update(chunk as Buffer);
    g.update(chunk as Buffer);
  }
  return { sha256: h.digest('hex'), gitOid: g.digest('hex') };
}

/** Whether a file's content is what the listing says (sha256 for LFS files, the git blob id otherwise). */
function matchesListing(f: RepoFile, d: { sha256: string; gitOid: string }, sha256?: string): boolean {
  if (sha256) return d.sha256 === sha256;
  if (f.oid && GIT_OID.test(f.oid)) return d.gitOid === f.oid;
  return true;
}

async function downloadFile(ctx: Ctx, dir: string, f: RepoFile, report: (done: number) => void): Promise<PulledFile & { fetched: number }> {
  if (!/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(f.path) || f.path.split('/').some((s) => s === '..' || s === '.'))
    throw new HubError('http', `the Hub listed an unsafe file name "${f.path}"`);
  const target = path.join(dir, ...f.path.split('/'));
  await fs.mkdir(path.dirname(target), { recursive: true });
  const listingSha = f.lfs && SHA256.test(f.lfs.oid.toLowerCase()) ? f.lfs.oid.toLowerCase() : undefined;
  const expectedSize = f.lfs?.size ?? f.size;

  // Already complete (an earlier pull of the same content)?
  if ((await fileSize(target)) === expectedSize) {
    const d = await digests(target, expectedSize);
    if (matchesListing(f, d, listingSha)) {
      report(expectedSize);
      return { path: f.path, bytes: expectedSize, ...(listingSha && { sha256: d.sha256 }), reused: true, fetched: 0 };
    }
  }
  await fs.rm(target, { force: true });

  // LFS content is named by its hash, so only the same content is ever resumed; stale partials of this file go.
  const base = path.basename(target);
  const partial = listingSha ? `${target}.${listingSha.slice(0, 16)}.partial` : `${target}.partial`;
  for (const name of await fs.readdir(path.dirname(target))) {
    if (name.startsWith(`${base}.`) && name.endsWith('.partial') && path.join(path.dirname(target), name) !== partial)
      await fs.rm(path.join(path.dirname(target), name), { force: true });
  }
  if (!listingSha) await fs.rm(partial, { force: true });

  let fetched = 0;
  let expectedSha = listingSha;

  /** One request: `complete`, `restart` (from byte 0, e.g. a range the server did not honour) or `lost`. */
  const transfer = async (offset: number): Promise<{ outcome: 'complete' } | { outcome: 'restart' } | { outcome: 'lost'; why: string }> => {
    const attemptCtl = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, attemptCtl.signal]) : attemptCtl.signal;
    let stall: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(stall);
      stall = setTimeout(() => attemptCtl.abort(), ctx.stallTimeoutMs);
    };
    const lostWhy = (e: unknown) =>
      attemptCtl.signal.aborted
        ? `nothing received for ${Math.round(ctx.stallTimeoutMs / 1000)} s`
        : ((e as { cause?: { code?: string } })?.cause?.code ?? (e as Error)?.message ?? String(e));
    try {
      arm();
      let got: Fetched;
      try {
        got = await hubGet(
          ctx,
          resolveUrl(ctx.endpoint, ctx.repo, ctx.commit ?? ctx.revision, f.path),
          offset > 0 ? { Range: `bytes=${offset}-` } : {},
          signal,
        );
      } catch (e) {
        if (e instanceof HubError) throw e;
        if (ctx.signal?.aborted) throw cancelled(ctx);
        return { outcome: 'lost', why: lostWhy(e) };
      }
      const { res } = got;
      if (got.commit && !ctx.commit && GIT_OID.test(got.commit)) ctx.commit = got.commit;
      if (got.sha256) {
        if (listingSha && got.sha256 !== listingSha)
          throw new HubError(
            'checksum',
            `the Hub's listing and its download of ${f.path} disagree on the sha256 (${listingSha.slice(0, 12)}… vs ${got.sha256.slice(0, 12)}…); try again later`,
          );
        expectedSha = got.sha256;
      }
      if (res.status === 416) {
        await res.body?.cancel().catch(() => undefined);
        return { outcome: 'restart' };
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel().catch(() => undefined);
        throw httpFailure(ctx, res.status, res.headers.get('X-Error-Code'), f.path);
      }
      let append = false;
      if (res.status === 206) {
        const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('Content-Range') ?? '');
        if (!m || Number(m[1]) !== offset) {
          // Not the range asked for: start again from zero.
          await res.body?.cancel().catch(() => undefined);
          return { outcome: 'restart' };
        }
        append = offset > 0;
      }
      // A 200 answer to a Range request is the whole file: write from the start.
      const fh = await fs.open(partial, append ? 'a' : 'w');
      let done = append ? offset : 0;
      try {
        if (res.body) {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            arm();
            await fh.write(chunk);
            done += chunk.length;
            fetched += chunk.length;
            report(done);
          }
        }
      } catch (e) {
        if (ctx.signal?.aborted) throw cancelled(ctx);
        return { outcome: 'lost', why: lostWhy(e) };
      } finally {
        await fh.close();
      }
      if (done < expectedSize) return { outcome: 'lost', why: `the transfer ended after ${done} of ${expectedSize} bytes` };
      return { outcome: 'complete' };
    } catch (e) {
      if (e instanceof HubError) throw e;
      if (ctx.signal?.aborted || isAbort(e)) throw cancelled(ctx);
      throw e;
    } finally {
      clearTimeout(stall);
    }
  };

  let failures = 0;
  let restarts = 0;
  for (;;) {
    if (ctx.signal?.aborted) throw cancelled(ctx);
    let offset = (await fileSize(partial)) ?? 0;
    if (offset > expectedSize) {
      await fs.rm(partial, { force: true });
      offset = 0;
    }
    report(offset);
    // A partial of hash-named content that is already whole only needs its check.
    if (offset === expectedSize && expectedSize > 0 && listingSha) break;
    const r = await transfer(offset);
    if (r.outcome === 'complete') break;
    if (r.outcome === 'restart') {
      await fs.rm(partial, { force: true });
      if (++restarts > 2) throw new HubError('http', `the Hub did not honour the byte range of ${f.path}; run the pull again`);
      continue;
    }
    if (++failures > ctx.retries) {
      const have = (await fileSize(partial)) ?? 0;
      throw new HubError(
        'network',
        `the connection to ${new URL(ctx.endpoint).host} was lost while downloading ${f.path} (${r.why}); ${have} of ${expectedSize} bytes are kept: run the same pull again to resume (HF_ENDPOINT can point at a mirror)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** failures)));
  }

  const got = (await fileSize(partial)) ?? 0;
  const d = await digests(partial, got);
  const bad =
    got !== expectedSize
      ? `${got} bytes instead of ${expectedSize}`
      : !matchesListing(f, d, expectedSha)
        ? expectedSha
          ? `sha256 ${d.sha256.slice(0, 12)}… instead of ${expectedSha.slice(0, 12)}…`
          : `git blob id ${d.gitOid.slice(0, 12)}… instead of ${f.oid!.slice(0, 12)}…`
        : undefined;
  if (bad) {
    await fs.rm(partial, { force: true });
    throw new HubError(
      'checksum',
      `${f.path} of "${ctx.repo}" failed its integrity check (${bad}); the partial download was removed, run the pull again to retry`,
    );
  }
  await fs.rename(partial, target);
  return { path: f.path, bytes: expectedSize, ...(expectedSha && { sha256: d.sha256 }), reused: false, fetched };
}

/**
 * The commit `revision` names now (X-Repo-Commit of a HEAD on config.json), so that every file comes from one
 * commit, files already on disk included; undefined when the Hub does not say (the file requests report errors).
 */
async function resolveCommit(ctx: Ctx): Promise<string | undefined> {
  if (GIT_OID.test(ctx.revision)) return ctx.revision;
  try {
    const { res, commit } = await hubGet(
      ctx,
      resolveUrl(ctx.endpoint, ctx.repo, ctx.revision, 'config.json'),
      {},
      ctx.signal ?? new AbortController().signal,
      'HEAD',
    );
    await res.body?.cancel().catch(() => undefined);
    return res.ok && commit && GIT_OID.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** One pull per model folder at a time, across processes (the CLI's and the editor's workers). */
async function lock(ctx: Ctx, dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, LOCK_FILE);
  for (let tries = 0; tries < 2; tries++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return () => fs.rm(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await fs.readFile(file, 'utf8').catch(() => ''));
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new HubError('busy', `another download of "${ctx.repo}" is in progress (process ${pid})`);
      await fs.rm(file, { force: true });
    }
  }
  throw new HubError('busy', `could not lock ${dir} for the download of "${ctx.repo}"`);
}

/** Downloads the files of one variant of a Hub model repository into `<dest>/<namespace>--<name>/`. */
export async function pullModel(opts: PullOptions): Promise<PullResult> {
  const problem = repoIdProblem(opts.repo) ?? (opts.revision !== undefined ? revisionProblem(opts.revision) : undefined);
  if (problem) throw new HubError('bad-input', problem);
  if (opts.dtype !== undefined && !HUB_DTYPES.includes(opts.dtype))
    throw new HubError('bad-input', `dtype must be one of ${HUB_DTYPES.join(', ')} (got "${String(opts.dtype)}")`);
  if (opts.token && !opts.token.startsWith('hf_'))
    throw new HubError('bad-input', 'HF_TOKEN does not look like a Hugging Face access token (they start with "hf_")');
  const endpoint = normaliseEndpoint(opts.endpoint || hubEndpoint());
  try {
    if (!/^https?:$/.test(new URL(endpoint).protocol)) throw new Error('not http(s)');
  } catch {
    throw new HubError('bad-input', `HF_ENDPOINT "${endpoint}" is not an http(s) URL`);
  }
  const ctx: Ctx = {
    repo: opts.repo,
    revision: opts.revision ?? 'main',
    endpoint,
    token: opts.token || undefined,
    signal: opts.signal,
    retries: opts.retries ?? 3,
    stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
  };
  if (ctx.signal?.aborted) throw cancelled(ctx);

  // One commit for the listing and every file, files already on disk included.
  const commit = await resolveCommit(ctx);
  if (commit) ctx.commit = commit;
  const listing = await listRepo(ctx);
  const { dtype, files } = selectFiles(ctx.repo, listing, opts.dtype);
  const dir = path.join(opts.dest, repoFolderName(ctx.repo));
  await fs.mkdir(dir, { recursive: true });
  const unlock = await lock(ctx, dir);
  try {
    // The folder stops being a model until this pull completes.
    await fs.rm(path.join(dir, DOWNLOAD_MARKER), { force: true });
    const sizes = files.map((f) => f.lfs?.size ?? f.size);
    const totalBytes = sizes.reduce((a, b) => a + b, 0);
    let finished = 0;
    const pulled: PulledFile[] = [];
    let downloadedBytes = 0;
    for (const [i, f] of files.entries()) {
      const report = (done: number) =>
        opts.onProgress?.({
          file: f.path,
          fileIndex: i + 1,
          files: files.length,
          bytesDone: done,
          bytesTotal: sizes[i]!,
          totalDone: finished + done,
          totalBytes,
        });
      const r = await downloadFile(ctx, dir, f, report);
      downloadedBytes += r.fetched;
      finished += sizes[i]!;
      const { fetched: _f, ...file } = r;
      pulled.push(file);
    }
    if (ctx.signal?.aborted) throw cancelled(ctx);
    const marker: DownloadMarker = {
      format: 1,
      repo: ctx.repo,
      revision: ctx.revision,
      ...(ctx.commit && { commit: ctx.commit }),
      dtype,
      endpoint,
      files: pulled.map((p) => ({ path: p.path, bytes: p.bytes, ...(p.sha256 && { sha256: p.sha256 }) })),
      completedAt: new Date().toISOString(),
    };
    const tmp = path.join(dir, `${DOWNLOAD_MARKER}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(marker, null, 2) + '\n');
    await fs.rename(tmp, path.join(dir, DOWNLOAD_MARKER));
    return { repo: ctx.repo, revision: ctx.revision, ...(ctx.commit && { commit: ctx.commit }), dtype, dir, endpoint, files: pulled, downloadedBytes };
  } finally {
    await unlock();
  }
}

/** The marker of a downloaded folder, or undefined when the folder is not a complete download. */
export async function readDownloadMarker(dir: string): Promise<DownloadMarker | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, DOWNLOAD_MARKER), 'utf8')) as DownloadMarker;
    return m && m.format === 1 && typeof m.repo === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The complete downloads in Concert's downloads folder (sub-folders that carry the marker), sorted. */
export async function completedDownloads(dest: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dest, { withFileTypes: true });
  } catch {
    return [];
  }
  const dirs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(dest, e.name))
    .sort();
  const ok = await Promise.all(dirs.map(async (d) => ((await readDownloadMarker(d)) ? d : undefined)));
  return ok.filter((d): d is string => !!d);
}
