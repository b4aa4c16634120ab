/**
 * `concert models pull <repo-id> [--revision R] [--dtype q4|int8|fp16|fp32]`: the worker downloads the variant into
 * Concert's downloads folder (models/pull); a progress line on a terminal (stderr), Ctrl-C cancels (what was fetched
 * is kept and the same command resumes it). HF_ENDPOINT names a mirror, HF_TOKEN opens gated or private models.
 */
import { HUB_DTYPES, Requests, WorkerErrorCode, type HubDtype, type ModelPullParams, type ModelPullResult } from '../protocol/worker';
import { UsageError, type Parsed } from './args';
import type { RunContext } from './commands';

const mb = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MB`;

export function checkPull(args: Parsed): void {
  const [, repo, ...rest] = args.positionals;
  if (!repo || rest.length)
    throw new UsageError('models pull needs exactly one Hub model id, e.g. "concert models pull onnx-community/SmolLM2-135M-Instruct --dtype q4"');
  if (args.pull.dtype !== undefined && !HUB_DTYPES.includes(args.pull.dtype as HubDtype))
    throw new UsageError(`--dtype must be one of ${HUB_DTYPES.join(', ')} (got "${args.pull.dtype}")`);
  if (args.pull.revision !== undefined && !args.pull.revision.trim()) throw new UsageError('--revision must not be empty');
}

export async function runPull(ctx: RunContext): Promise<void> {
  const { revision, dtype, endpoint, token } = ctx.args.pull;
  const params: ModelPullParams = {
    repo: ctx.args.positionals[1] ?? '',
    progressToken: 'cli',
    ...(revision !== undefined && { revision }),
    ...(dtype !== undefined && { dtype: dtype as HubDtype }),
    ...(endpoint && { endpoint }),
    ...(token && { token }),
  };
  const tty = !ctx.args.json && process.stderr.isTTY;
  let drawn = false;
  const sub = tty
    ? ctx.client.onDownloadProgress.on((p) => {
        const pct = p.totalBytes ? Math.floor((100 * p.totalDone) / p.totalBytes) : 100;
        const line = `  ${pct}%  ${mb(p.totalDone)} / ${mb(p.totalBytes)}  file ${p.fileIndex}/${p.files} ${p.file}`;
        process.stderr.write(`\r\x1b[K${line.slice(0, Math.max(20, (process.stderr.columns || 100) - 1))}`);
        drawn = true;
      })
    : undefined;
  let r: ModelPullResult;
  try {
    r = await ctx.client.request(Requests.pullModel, params, ctx.signal);
  } catch (e) {
    if ((e as { code?: number }).code === WorkerErrorCode.Cancelled || ctx.signal.aborted) {
      if (drawn) process.stderr.write('\r\x1b[K');
      drawn = false;
      process.stderr.write('concert: the files fetched so far are kept; run the same command again to resume\n');
    }
    throw e;
  } finally {
    sub?.dispose();
    if (drawn) process.stderr.write('\r\x1b[K');
  }
  if (ctx.args.json) return ctx.out(JSON.stringify(r, null, 2));
  const total = r.files.reduce((a, f) => a + f.bytes, 0);
  const reused = r.files.filter((f) => f.reused).length;
  ctx.out(
    `Pulled ${r.repo} (${r.dtype}, ${r.revision}${r.commit ? ` @ ${r.commit.slice(0, 10)}` : ''}): ${r.files.length} files, ${mb(total)} (${mb(r.downloadedBytes)} fetched${reused ? `, ${reused} already here` : ''})`,
  );
  ctx.out(`  ${r.dir}`);
  if (r.pack) ctx.out(r.pack.valid ? `  ✓ ${r.pack.id}  [${r.pack.kind}] listed by "concert models"` : `  ✗ ${r.pack.id}  ${r.pack.error}`);
  else ctx.out('  (this version of Concert does not recognise the folder as a model yet, so "concert models" does not list it)');
}
