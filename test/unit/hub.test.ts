/** The Hub download client (src/runtime/hub.ts) against a loopback Hub: the real Hub is unreachable from this machine. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { DOWNLOAD_MARKER, HubError, completedDownloads, pullModel, selectFiles, type PullProgress, type RepoFile } from '../../src/runtime/hub';
import { hubEndpoint, repoFolderName, repoIdProblem, resolveUrl, treeUrl } from '../../src/runtime/hubUrls';
import { gitOid, sha256, startLoopbackHub, tinyRepo, type LoopbackHub } from '../helpers/loopbackHub';

const LOOPBACK = '(loopback Hub: the real Hub is unreachable from this machine)';
const REPO = 'concert-test/tiny-lm';
const GATED = 'concert-test/gated-lm';
const TOKEN = 'hf_loopbacktoken';
const fixture = tinyRepo();

let hub: LoopbackHub;
let dest: string;
before(async () => {
  hub = await startLoopbackHub({ [REPO]: tinyRepo(), [GATED]: tinyRepo({ gatedToken: TOKEN }) });
});
after(() => hub.close());
afterEach(() => {
  hub.requests.length = 0;
  hub.cut = undefined;
  hub.slow = undefined;
  hub.corrupt.clear();
  hub.ignoreRange = false;
  if (dest) rmSync(dest, { recursive: true, force: true });
});
const freshDest = () => (dest = mkdtempSync(path.join(tmpdir(), 'concert-hub-')));
const modelDir = (repo = REPO) => path.join(dest, repoFolderName(repo));
const partials = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.partial')) : [];
const rejectsWith = async (p: Promise<unknown>, kind: HubError['kind'], message: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HubError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
};

describe('Hub URL scheme and variant choice', () => {
  const listing: RepoFile[] = Object.entries(fixture.files).map(([p, d]) => ({
    path: p,
    size: d.length,
    oid: gitOid(d),
    ...(/\.onnx/.test(p) && { lfs: { oid: sha256(d), size: d.length } }),
  }));

  it('builds /{repo}/resolve/{revision}/{path} and the tree listing under HF_ENDPOINT', () => {
    assert.equal(
      resolveUrl('https://hf-mirror.example/', 'a/b', 'refs/pr/1', 'onnx/model q4.onnx'),
      'https://hf-mirror.example/a/b/resolve/refs%2Fpr%2F1/onnx/model%20q4.onnx',
    );
    assert.equal(treeUrl('https://huggingface.co', 'a/b', 'main'), 'https://huggingface.co/api/models/a/b/tree/main?recursive=true&expand=false');
    assert.equal(hubEndpoint({}), 'https://huggingface.co');
    assert.equal(hubEndpoint({ HF_ENDPOINT: '' }), 'https://huggingface.co');
    assert.equal(hubEndpoint({ HF_ENDPOINT: 'http://127.0.0.1:9/' }), 'http://127.0.0.1:9');
    assert.equal(repoFolderName('onnx-community/SmolLM2-135M-Instruct'), 'onnx-community--SmolLM2-135M-Instruct');
    assert.equal(repoIdProblem('onnx-community/SmolLM2-135M-Instruct'), undefined);
    for (const bad of ['', '../x', 'a/../b', 'a/b/c', 'a b/c', '-a/b', 'a/b.', 'a--b/c']) assert.ok(repoIdProblem(bad), bad);
  });

  it('picks only what a dtype needs: config and tokenizer files, one graph, its external data', () => {
    const q4 = selectFiles(REPO, listing);
    assert.equal(q4.dtype, 'q4', 'q4 is the default when present');
    assert.deepEqual(
      q4.files.map((f) => f.path),
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'onnx/model_q4.onnx'],
    );
    const fp32 = selectFiles(REPO, listing, 'fp32').files.map((f) => f.path);
    assert.deepEqual(fp32.slice(-2), ['onnx/model.onnx', 'onnx/model.onnx_data']);
    assert.ok(!fp32.includes('README.md') && !fp32.includes('.gitattributes'));
    const fp16 = selectFiles(REPO, listing, 'fp16').files.map((f) => f.path);
    assert.deepEqual(fp16.slice(-1), ['onnx/model_fp16.onnx'], "fp32 external data is not fp16's");
    const chunked = selectFiles(
      REPO,
      [...listing, { path: 'onnx/model.onnx_data_10', size: 1 }, { path: 'onnx/model.onnx_data_2', size: 1 }],
      'fp32',
    ).files.map((f) => f.path);
    assert.deepEqual(chunked.slice(-3), ['onnx/model.onnx_data', 'onnx/model.onnx_data_2', 'onnx/model.onnx_data_10']);
    assert.throws(
      () => selectFiles(REPO, listing, 'int8'),
      (e: Error) => e instanceof HubError && e.kind === 'no-variant' && /available: q4, fp16, fp32/.test(e.message) && /model_q4f16\.onnx/.test(e.message),
    );
    assert.throws(
      () =>
        selectFiles(
          REPO,
          listing.filter((f) => f.path !== 'tokenizer.json'),
        ),
      /no tokenizer\.json/,
    );
    assert.throws(
      () =>
        selectFiles(
          REPO,
          listing.filter((f) => !f.path.startsWith('onnx/')),
        ),
      /no ONNX export/,
    );
    const int8 = selectFiles(REPO, [...listing, { path: 'onnx/model_int8.onnx', size: 1 }], 'int8').files.map((f) => f.path);
    assert.equal(int8.at(-1), 'onnx/model_int8.onnx');
  });
});

describe(`pullModel ${LOOPBACK}`, () => {
  it(`downloads the fp32 variant with its external data, verified, and writes the marker last ${LOOPBACK}`, async () => {
    freshDest();
    const progress: PullProgress[] = [];
    const r = await pullModel({ repo: REPO, dtype: 'fp32', dest, endpoint: hub.endpoint, onProgress: (p) => progress.push(p) });
    assert.equal(r.dir, modelDir());
    assert.equal(r.commit, fixture.commit);
    for (const f of r.files) assert.deepEqual(readFileSync(path.join(r.dir, f.path)), fixture.files[f.path], f.path);
    assert.equal(r.files.find((f) => f.path === 'onnx/model.onnx_data')!.sha256, sha256(fixture.files['onnx/model.onnx_data']!));
    assert.ok(!existsSync(path.join(r.dir, 'onnx/model_q4.onnx')) && !existsSync(path.join(r.dir, 'README.md')));
    assert.deepEqual(partials(r.dir), []);
    const marker = JSON.parse(readFileSync(path.join(r.dir, DOWNLOAD_MARKER), 'utf8'));
    assert.equal(marker.repo, REPO);
    assert.equal(marker.dtype, 'fp32');
    assert.equal(marker.commit, fixture.commit);
    assert.equal(marker.files.length, r.files.length);
    assert.deepEqual(await completedDownloads(dest), [r.dir]);
    // Progress: per file, ending at the totals.
    const last = progress.at(-1)!;
    assert.equal(last.totalDone, last.totalBytes);
    assert.equal(
      last.totalBytes,
      r.files.reduce((a, f) => a + f.bytes, 0),
    );
    assert.ok(
      progress.every((p, i) => i === 0 || p.totalDone >= progress[i - 1]!.totalDone),
      'monotone',
    );
    // LFS files went through the redirect to the CDN origin; files after the first came from the resolved commit.
    assert.ok(hub.requests.some((q) => q.server === 'cdn' && q.url.startsWith(`/blobs/${sha256(fixture.files['onnx/model.onnx']!)}`)));
    assert.ok(
      hub.requests.filter((q) => q.method === 'GET' && q.server === 'hub').every((q) => q.url.includes(fixture.commit!)),
      'everything from the resolved commit',
    );
    // The listing is what @huggingface/hub's listFiles asks for, and matches treeUrl.
    assert.ok(
      hub.requests.some((q) => hub.endpoint + q.url === treeUrl(hub.endpoint, REPO, fixture.commit!)),
      'listed at the resolved commit',
    );
  });

  it(`a second pull reuses complete files and fetches nothing ${LOOPBACK}`, async () => {
    freshDest();
    await pullModel({ repo: REPO, dest, endpoint: hub.endpoint });
    hub.requests.length = 0;
    const again = await pullModel({ repo: REPO, dest, endpoint: hub.endpoint });
    assert.equal(again.downloadedBytes, 0);
    assert.ok(again.files.every((f) => f.reused));
    assert.ok(!hub.requests.some((q) => q.method === 'GET' && q.url.includes('/resolve/')), 'no file requests');
    assert.equal(again.commit, fixture.commit, 'the commit is known without fetching a file');
  });

  it(`resumes with a Range request after the connection is cut mid-file ${LOOPBACK}`, async () => {
    freshDest();
    const size = fixture.files['onnx/model_q4.onnx']!.length;
    hub.cut = { path: 'onnx/model_q4.onnx', afterBytes: 100 * 1024, times: 1 };
    const r = await pullModel({ repo: REPO, dtype: 'q4', dest, endpoint: hub.endpoint });
    assert.deepEqual(readFileSync(path.join(r.dir, 'onnx/model_q4.onnx')), fixture.files['onnx/model_q4.onnx']);
    const ranges = hub.requests.filter((q) => q.range).map((q) => q.range);
    assert.ok(ranges.includes(`bytes=${100 * 1024}-`), `resumed at the cut: ${ranges.join(', ')}`);
    const small = r.files.filter((f) => f.path !== 'onnx/model_q4.onnx').reduce((a, f) => a + f.bytes, 0);
    assert.equal(r.downloadedBytes, small + size, 'no byte fetched twice');
  });

  it(`an interrupted pull keeps the partial file, registers nothing, and the next pull resumes it ${LOOPBACK}`, async () => {
    freshDest();
    hub.cut = { path: 'onnx/model_q4.onnx', afterBytes: 64 * 1024, times: 5 };
    await rejectsWith(
      pullModel({ repo: REPO, dtype: 'q4', dest, endpoint: hub.endpoint, retries: 0 }),
      'network',
      /connection .* was lost while downloading onnx\/model_q4\.onnx .*run the same pull again to resume/,
    );
    assert.ok(!existsSync(path.join(modelDir(), DOWNLOAD_MARKER)));
    assert.deepEqual(await completedDownloads(dest), []);
    const [partial] = partials(modelDir());
    assert.ok(partial, 'partial kept');
    assert.equal(statSync(path.join(modelDir(), partial)).size, 64 * 1024);
    hub.cut = undefined;
    hub.requests.length = 0;
    const r = await pullModel({ repo: REPO, dtype: 'q4', dest, endpoint: hub.endpoint });
    assert.ok(hub.requests.some((q) => q.range === `bytes=${64 * 1024}-`));
    assert.equal(r.downloadedBytes, fixture.files['onnx/model_q4.onnx']!.length - 64 * 1024, 'only the rest of the graph');
    assert.deepEqual(readFileSync(path.join(r.dir, 'onnx/model_q4.onnx')), fixture.files['onnx/model_q4.onnx']);
    assert.deepEqual(await completedDownloads(dest), [r.dir]);
  });

  it(`a server that ignores Range still yields the right file ${LOOPBACK}`, async () => {
    freshDest();
    hub.cut = { path: 'onnx/model_fp16.onnx', afterBytes: 50_000, times: 1 };
    hub.ignoreRange = true;
    const r = await pullModel({ repo: REPO, dtype: 'fp16', dest, endpoint: hub.endpoint });
    assert.deepEqual(readFileSync(path.join(r.dir, 'onnx/model_fp16.onnx')), fixture.files['onnx/model_fp16.onnx']);
  });

  it(`rejects a file whose sha256 differs from the Hub's ETag and removes the partial ${LOOPBACK}`, async () => {
    freshDest();
    hub.corrupt.add('onnx/model_q4.onnx');
    await rejectsWith(
      pullModel({ repo: REPO, dtype: 'q4', dest, endpoint: hub.endpoint }),
      'checksum',
      /onnx\/model_q4\.onnx .*failed its integrity check \(sha256 .* instead of .*\); the partial download was removed/,
    );
    assert.deepEqual(partials(modelDir()), []);
    assert.ok(!existsSync(path.join(modelDir(), 'onnx/model_q4.onnx')));
    assert.ok(!existsSync(path.join(modelDir(), DOWNLOAD_MARKER)));
  });

  it(`rejects a corrupted small file by its git blob id ${LOOPBACK}`, async () => {
    freshDest();
    hub.corrupt.add('tokenizer.json');
    await rejectsWith(pullModel({ repo: REPO, dest, endpoint: hub.endpoint }), 'checksum', /tokenizer\.json .*git blob id/);
    assert.deepEqual(partials(modelDir()), []);
  });

  it(`401 on a gated repository says to set HF_TOKEN; the token is sent to the Hub but not to the CDN ${LOOPBACK}`, async () => {
    freshDest();
    await rejectsWith(
      pullModel({ repo: GATED, dest, endpoint: hub.endpoint }),
      'unauthorized',
      /"concert-test\/gated-lm" is gated or private \(HTTP 401\): set HF_TOKEN .*sign in/,
    );
    await rejectsWith(pullModel({ repo: GATED, dest, endpoint: hub.endpoint, token: 'hf_wrong' }), 'unauthorized', /refused the token/);
    await rejectsWith(pullModel({ repo: GATED, dest, endpoint: hub.endpoint, token: 'not-a-token' }), 'bad-input', /start with "hf_"/);
    hub.requests.length = 0;
    const r = await pullModel({ repo: GATED, dest, endpoint: hub.endpoint, token: TOKEN });
    assert.ok(existsSync(path.join(r.dir, DOWNLOAD_MARKER)));
    assert.ok(hub.requests.filter((q) => q.server === 'hub').every((q) => q.authorization === `Bearer ${TOKEN}`));
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    assert.ok(cdn.length && cdn.every((q) => q.authorization === undefined), 'no token on the CDN origin');
  });

  it(`404s name the repository or the revision ${LOOPBACK}`, async () => {
    freshDest();
    await rejectsWith(
      pullModel({ repo: 'concert-test/nope', dest, endpoint: hub.endpoint }),
      'not-found',
      /no model repository "concert-test\/nope" .*HF_TOKEN/,
    );
    await rejectsWith(pullModel({ repo: REPO, revision: 'v9', dest, endpoint: hub.endpoint }), 'not-found', /has no revision "v9"/);
    await rejectsWith(pullModel({ repo: REPO, dtype: 'int8', dest, endpoint: hub.endpoint }), 'no-variant', /no int8 variant \(available: q4, fp16, fp32/);
    const r = await pullModel({ repo: REPO, revision: 'v1', dest, endpoint: hub.endpoint });
    assert.equal(r.revision, 'v1');
  });

  it(`an unreachable endpoint says the Hub could not be reached and that HF_ENDPOINT can name a mirror ${LOOPBACK}`, async () => {
    freshDest();
    const s = http.createServer();
    const port = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
    await new Promise<void>((r) => s.close(() => r()));
    await rejectsWith(
      pullModel({ repo: REPO, dest, endpoint: `http://127.0.0.1:${port}` }),
      'network',
      /could not reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*HF_ENDPOINT/,
    );
  });

  it(`cancel stops the transfer and leaves no registered model ${LOOPBACK}`, async () => {
    freshDest();
    hub.slow = { path: 'onnx/model_q4.onnx', chunk: 16 * 1024, delayMs: 30 };
    const ac = new AbortController();
    const p = pullModel({
      repo: REPO,
      dest,
      endpoint: hub.endpoint,
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.file === 'onnx/model_q4.onnx' && pr.bytesDone >= 48 * 1024) ac.abort();
      },
    });
    await rejectsWith(p, 'cancelled', /cancelled/);
    assert.ok(!existsSync(path.join(modelDir(), DOWNLOAD_MARKER)));
    assert.ok(!existsSync(path.join(modelDir(), 'onnx/model_q4.onnx')));
    assert.ok(!existsSync(path.join(modelDir(), '.concert-download.lock')), 'lock released');
    assert.deepEqual(await completedDownloads(dest), []);
  });

  it(`a re-pull unregisters the folder until it completes, and a stale lock of a dead process is taken over ${LOOPBACK}`, async () => {
    freshDest();
    await pullModel({ repo: REPO, dest, endpoint: hub.endpoint });
    writeFileSync(path.join(modelDir(), '.concert-download.lock'), '999999999');
    hub.corrupt.add('onnx/model_fp16.onnx');
    await assert.rejects(pullModel({ repo: REPO, dtype: 'fp16', dest, endpoint: hub.endpoint }), /integrity/);
    assert.deepEqual(await completedDownloads(dest), [], 'the failed re-pull left no marker');
    mkdirSync(path.join(dest, '.hidden'), { recursive: true });
    writeFileSync(path.join(dest, '.hidden', DOWNLOAD_MARKER), '{}');
    assert.deepEqual(await completedDownloads(dest), []);
  });
});
