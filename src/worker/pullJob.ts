/**
 * `models/pull`: downloads a Hub model variant into the configured downloads folder (runtime/hub.ts), streaming
 * `progress/download` notifications (throttled; each file's first and last always go out) and answering
 * `$/cancelRequest` by aborting the transfer (what was fetched is kept for the next pull; no model is registered).
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { WorkerErrorCode, type DownloadFailure, type DownloadProgress, type ModelPullParams, type ModelPullResult } from '../protocol/worker';
import { HubError, pullModel } from '../runtime/hub';
import { WorkerFailure, type WorkerService } from './service';

export interface PullJob {
  signal: AbortSignal;
  onProgress?: (p: Omit<DownloadProgress, 'progressToken'>) => void;
  /** Minimum gap between progress reports. */
  progressIntervalMs?: number;
}

export async function runPull(service: WorkerService, p: ModelPullParams, job: PullJob): Promise<ModelPullResult> {
  if (!p || typeof p.repo !== 'string')
    throw new WorkerFailure(WorkerErrorCode.BadInput, 'models/pull needs a repo, e.g. onnx-community/SmolLM2-135M-Instruct');
  const dest = service.downloadsDir();
  let last = 0;
  const interval = job.progressIntervalMs ?? 50;
  let result;
  try {
    result = await pullModel({
      repo: p.repo,
      dest,
      signal: job.signal,
      ...(p.revision !== undefined && { revision: p.revision }),
      ...(p.dtype !== undefined && { dtype: p.dtype }),
      ...(p.endpoint && { endpoint: p.endpoint }),
      ...(p.token && { token: p.token }),
      onProgress: (pr) => {
        if (!job.onProgress) return;
        const now = Date.now();
        if (pr.bytesDone !== 0 && pr.bytesDone !== pr.bytesTotal && now - last < interval) return;
        last = now;
        job.onProgress(pr);
      },
    });
  } catch (e) {
    if (e instanceof HubError) {
      if (e.kind === 'cancelled') throw new WorkerFailure(WorkerErrorCode.Cancelled, e.message);
      const data: DownloadFailure = { kind: e.kind };
      throw new WorkerFailure(e.kind === 'bad-input' ? WorkerErrorCode.BadInput : WorkerErrorCode.DownloadFailed, e.message, data);
    }
    throw e;
  }
  // Discovery sees the new folder now that its marker is written.
  const real = await fs.realpath(result.dir).catch(() => result.dir);
  const pack = (await service.listPacks()).find((s) => s.dir === real || s.dir === result.dir || path.resolve(s.dir) === real);
  return {
    repo: result.repo,
    revision: result.revision,
    ...(result.commit && { commit: result.commit }),
    dtype: result.dtype,
    dir: result.dir,
    files: result.files.map((f) => ({ path: f.path, bytes: f.bytes, ...(f.sha256 && { sha256: f.sha256 }), reused: f.reused })),
    downloadedBytes: result.downloadedBytes,
    ...(pack && { pack }),
  };
}
