/**
 * A loopback stand-in for the Hugging Face Hub (this machine cannot reach the real one). It serves fixture
 * repositories with the Hub's URL scheme, written here independently of src/runtime/hubUrls.ts so that a mistake
 * there fails the tests:
 *   GET /api/models/{ns}/{name}/tree/{rev}?recursive=true&expand=false   (what @huggingface/hub's listFiles asks)
 *   GET /{ns}/{name}/resolve/{rev}/{path}   small files: 200 with ETag = git blob id; LFS files: 302 to a CDN on a
 *       second loopback server (another origin, like cdn-lfs.hf.co) with X-Linked-Etag = sha256, X-Linked-Size
 *   both: X-Repo-Commit, Range (206 / 416), X-Error-Code RepoNotFound (401, like the Hub for anonymous callers),
 *   RevisionNotFound / EntryNotFound (404), GatedRepo (401 without the right token).
 * Knobs for failure tests: cut a transfer mid-file, corrupt a file's bytes (its ETag stays right), slow a file
 * down, refuse Range.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface FixtureRepo {
  files: Record<string, Buffer>;
  /** Files stored with LFS (default: *.onnx, *.onnx_data*). */
  lfs?: (path: string) => boolean;
  /** Requires `Authorization: Bearer <token>`. */
  gatedToken?: string;
  commit?: string;
  /** Revisions that exist besides `main` and the commit. */
  revisions?: string[];
}

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface LoopbackHub {
  endpoint: string;
  cdn: string;
  requests: HubRequest[];
  /** Cut the connection after `afterBytes` bytes of `path`'s body, `times` times (then serve normally). */
  cut: { path: string; afterBytes: number; times: number } | undefined;
  /** Serve these paths with one byte flipped (the ETag still names the right content). */
  corrupt: Set<string>;
  /** Serve `path` in chunks of `chunk` bytes, `delayMs` apart. */
  slow: { path: string; chunk: number; delayMs: number } | undefined;
  /** Answer Range requests with the whole file (200). */
  ignoreRange: boolean;
  close(): Promise<void>;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** Deterministic bytes that look like nothing in particular (a fake graph). */
export function fakeBytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const json = (o: unknown) => Buffer.from(JSON.stringify(o, null, 2));

/** A small transformers.js-style export: config files, q4 / fp16 / fp32 graphs (fp32 with external data), extras. */
export function tinyRepo(opts: { gatedToken?: string } = {}): FixtureRepo {
  return {
    commit: 'c0ffee0000000000000000000000000000000001',
    revisions: ['v1'],
    ...(opts.gatedToken && { gatedToken: opts.gatedToken }),
    files: {
      '.gitattributes': Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n*.onnx_data filter=lfs diff=lfs merge=lfs -text\n'),
      'README.md': Buffer.from('# tiny\n'),
      'config.json': json({ model_type: 'llama', num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, hidden_size: 8, vocab_size: 16 }),
      'generation_config.json': json({ eos_token_id: 2, bos_token_id: 1 }),
      'tokenizer.json': json({ version: '1.0', model: { type: 'BPE', vocab: { a: 0 }, merges: [] } }),
      'tokenizer_config.json': json({ bos_token: '<s>', eos_token: '</s>', chat_template: '{{ messages }}' }),
      'special_tokens_map.json': json({ bos_token: '<s>', eos_token: '</s>' }),
      'onnx/model_q4.onnx': fakeBytes(300 * 1024, 4),
      'onnx/model_fp16.onnx': fakeBytes(120 * 1024, 16),
      'onnx/model.onnx': fakeBytes(64 * 1024, 32),
      'onnx/model.onnx_data': fakeBytes(200 * 1024, 33),
      'onnx/model_q4f16.onnx': fakeBytes(10 * 1024, 416),
    },
  };
}

/** A repository holding the files of a local folder (e.g. a real exported model from test/fixtures/hf). */
export function repoFromFolder(dir: string, commit = 'feed000000000000000000000000000000000002'): FixtureRepo {
  const files: Record<string, Buffer> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else files[r] = readFileSync(path.join(dir, r));
    }
  };
  walk('');
  return { commit, files };
}

const defaultLfs = (p: string) => /\.onnx(_data(_\d+)?)?$/.test(p);

export async function startLoopbackHub(repos: Record<string, FixtureRepo>): Promise<LoopbackHub> {
  const blobs = new Map<string, { repo: string; path: string; data: Buffer }>();
  for (const [id, r] of Object.entries(repos))
    for (const [p, data] of Object.entries(r.files)) if ((r.lfs ?? defaultLfs)(p)) blobs.set(sha256(data), { repo: id, path: p, data });

  const state: Omit<LoopbackHub, 'endpoint' | 'cdn' | 'close'> = { requests: [], cut: undefined, corrupt: new Set(), slow: undefined, ignoreRange: false };

  /** Sends `data` honouring Range and the failure knobs. */
  const sendBody = (req: http.IncomingMessage, res: http.ServerResponse, filePath: string, dataIn: Buffer, headers: Record<string, string>) => {
    let data = dataIn;
    if (state.corrupt.has(filePath)) {
      data = Buffer.from(dataIn);
      data[Math.floor(data.length / 2)]! ^= 0xff;
    }
    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && !state.ignoreRange) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= data.length) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${data.length}` });
        res.end();
        return;
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
      status = 206;
    }
    const body = data.subarray(start, end + 1);
    res.writeHead(status, {
      ...headers,
      'Content-Length': String(body.length),
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      ...(status === 206 && { 'Content-Range': `bytes ${start}-${end}/${data.length}` }),
    });
    if (state.cut && state.cut.path === filePath && state.cut.times > 0) {
      state.cut.times--;
      const n = Math.max(0, state.cut.afterBytes - start);
      res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (state.slow && state.slow.path === filePath) {
      const { chunk, delayMs } = state.slow;
      let at = 0;
      const next = () => {
        if (res.destroyed || res.socket?.destroyed) return;
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, at + chunk));
        at += chunk;
        setTimeout(next, delayMs);
      };
      next();
      return;
    }
    res.end(body);
  };

  const error = (res: http.ServerResponse, status: number, code: string | undefined, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(code && { 'X-Error-Code': code }) });
    res.end(JSON.stringify({ error: message }));
  };

  const cdnServer = http.createServer((req, res) => {
    state.requests.push({
      server: 'cdn',
      method: req.method ?? 'GET',
      url: req.url ?? '',
      ...(req.headers.range && { range: req.headers.range }),
      ...(req.headers.authorization && { authorization: req.headers.authorization }),
    });
    const m = /^\/blobs\/([0-9a-f]{64})\?/.exec(req.url ?? '');
    const blob = m && blobs.get(m[1]!);
    if (!blob) return error(res, 403, undefined, 'bad signature');
    sendBody(req, res, blob.path, blob.data, { ETag: `"cdn-${m[1]!.slice(0, 8)}-1"` });
  });

  let cdnBase = '';
  const hubServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    state.requests.push({
      server: 'hub',
      method: req.method ?? 'GET',
      url: req.url ?? '',
      ...(req.headers.range && { range: req.headers.range }),
      ...(req.headers.authorization && { authorization: req.headers.authorization }),
    });
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = tree?.[1] ?? resolve?.[1];
    const repo = repoId ? repos[repoId] : undefined;
    if (!repoId || (!tree && !resolve)) return error(res, 404, undefined, 'Not Found');
    if (!repo) return error(res, 401, 'RepoNotFound', 'Repository Not Found');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`)
      return error(
        res,
        401,
        'GatedRepo',
        `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
    const revision = decodeURIComponent((tree ?? resolve)![2]!);
    const commit = repo.commit ?? '0'.repeat(40);
    if (revision !== 'main' && revision !== commit && !repo.revisions?.includes(revision))
      return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const lfs = repo.lfs ?? defaultLfs;
    if (tree) {
      const dirs = new Set<string>();
      const entries: unknown[] = [];
      for (const [p, data] of Object.entries(repo.files).sort(([a], [b]) => a.localeCompare(b))) {
        const parts = p.split('/');
        for (let i = 1; i < parts.length; i++) {
          const d = parts.slice(0, i).join('/');
          if (!dirs.has(d)) {
            dirs.add(d);
            entries.push({ type: 'directory', oid: gitOid(Buffer.from(d)), size: 0, path: d });
          }
        }
        if (lfs(p)) {
          const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`);
          entries.push({
            type: 'file',
            oid: gitOid(pointer),
            size: data.length,
            lfs: { oid: sha256(data), size: data.length, pointerSize: pointer.length },
            path: p,
          });
        } else entries.push({ type: 'file', oid: gitOid(data), size: data.length, path: p });
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(entries));
      return;
    }
    const filePath = decodeURIComponent(resolve![3]!);
    const data = repo.files[filePath];
    if (!data) return error(res, 404, 'EntryNotFound', `${filePath} does not exist on "${revision}"`);
    if (lfs(filePath)) {
      const sha = sha256(data);
      res.writeHead(302, {
        Location: `${cdnBase}/blobs/${sha}?sig=loopback`,
        'X-Linked-Etag': `"${sha}"`,
        'X-Linked-Size': String(data.length),
        'X-Repo-Commit': commit,
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    sendBody(req, res, filePath, data, { ETag: `"${gitOid(data)}"`, 'X-Repo-Commit': commit });
  });

  const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  const cdnPort = await listen(cdnServer);
  const hubPort = await listen(hubServer);
  // Another origin for the CDN, as on the Hub: the token must not travel there.
  cdnBase = `http://localhost:${cdnPort}`;
  const closeServer = (s: http.Server) =>
    new Promise<void>((r) => {
      s.closeAllConnections();
      s.close(() => r());
    });
  const hub = Object.assign(state, {
    endpoint: `http://127.0.0.1:${hubPort}`,
    cdn: cdnBase,
    close: async () => {
      await Promise.all([closeServer(hubServer), closeServer(cdnServer)]);
    },
  }) as LoopbackHub;
  return hub;
}
