/**
 * Concert: Download Model… — a quick pick of recommended Hugging Face Hub models (with rough sizes) or any repo id,
 * then a variant; the worker downloads it (models/pull) into the extension's global storage with a cancellable
 * progress notification. Nothing is fetched without this command, and nothing in an untrusted workspace. The Hub
 * token lives in VS Code's secret storage (asked for when the Hub answers 401/403), else HF_TOKEN; HF_ENDPOINT names
 * a mirror.
 */
import * as vscode from 'vscode';
import { HUB_DTYPES, Requests, WorkerErrorCode, type DownloadFailure, type HubDtype, type ModelPullResult } from '../protocol/worker';
import type { WorkerStore } from './workerStore';

/** The secret-storage key of the Hugging Face access token. */
export const HF_TOKEN_SECRET = 'concert.huggingFaceToken';

/** Small instruct models published in the layout Concert reads (sizes are rough: they depend on the variant). */
export const RECOMMENDED_MODELS: readonly { repo: string; description: string; detail: string }[] = [
  { repo: 'onnx-community/SmolLM2-135M-Instruct', description: '135M parameters', detail: 'about 0.1–0.2 GB as q4 or int8, 0.5 GB as fp32; fast on a CPU' },
  {
    repo: 'onnx-community/Qwen2.5-0.5B-Instruct',
    description: '494M parameters',
    detail: 'about 0.5–0.8 GB as q4 or int8, 2 GB as fp32; better summaries, slower',
  },
];

const DTYPE_DETAIL: Record<HubDtype, string> = {
  q4: '4-bit weights (MatMulNBits): smallest, good on a CPU',
  int8: '8-bit weights (model_quantized.onnx)',
  fp16: 'half precision: for GPU execution providers',
  fp32: 'full precision: largest, the reference',
};

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const mb = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

let progressCounter = 0;

/** Returns the result, or undefined when the user backed out of a picker. */
export async function downloadModel(store: WorkerStore, secrets: vscode.SecretStorage, log: vscode.LogOutputChannel): Promise<ModelPullResult | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      'Concert does not download models in an untrusted workspace. Trust the workspace (Manage Workspace Trust), then run Download Model… again.',
    );
    return undefined;
  }
  const other = { label: '$(edit) Other Hub model…', description: 'namespace/name', repo: '' };
  const pick = await vscode.window.showQuickPick(
    [...RECOMMENDED_MODELS.map((m) => ({ label: m.repo, description: m.description, detail: m.detail, repo: m.repo })), other],
    {
      title: 'Concert: Download Model from the Hugging Face Hub',
      placeHolder: 'A model exported for ONNX (transformers.js layout, e.g. onnx-community/…)',
      matchOnDescription: true,
    },
  );
  if (!pick) return undefined;
  const repo =
    pick.repo ||
    (
      await vscode.window.showInputBox({
        title: 'Concert: Download Model',
        prompt: 'Hugging Face Hub model id (the repository needs onnx/model*.onnx and tokenizer.json)',
        placeHolder: 'onnx-community/SmolLM2-135M-Instruct',
        validateInput: (v) => (REPO_ID.test(v.trim()) ? undefined : 'namespace/name, e.g. onnx-community/SmolLM2-135M-Instruct'),
      })
    )?.trim();
  if (!repo) return undefined;
  const dtypePick = await vscode.window.showQuickPick(
    HUB_DTYPES.map((d, i) => ({ label: d, description: i === 0 ? 'recommended' : '', detail: DTYPE_DETAIL[d], dtype: d })),
    { title: `Concert: Download ${repo}`, placeHolder: 'Which variant of the weights' },
  );
  if (!dtypePick) return undefined;

  const endpoint = process.env.HF_ENDPOINT || undefined;
  let token = (await secrets.get(HF_TOKEN_SECRET)) || process.env.HF_TOKEN || undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await pullWithProgress(store, { repo, dtype: dtypePick.dtype, endpoint, token });
      log.info(
        `downloaded ${result.repo} (${result.dtype}, ${result.commit ?? result.revision}) to ${result.dir}: ${result.files.length} files, ${mb(result.downloadedBytes)} fetched`,
      );
      await store.refreshPacks();
      const note = result.pack
        ? result.pack.valid
          ? `it is listed as "${result.pack.id}"`
          : `but it is not usable: ${result.pack.error ?? 'invalid'}`
        : 'this version of Concert does not recognise the folder as a model';
      void vscode.window.showInformationMessage(`Concert: downloaded ${result.repo} (${result.dtype}); ${note}.`);
      return result;
    } catch (e) {
      const kind =
        (e as { code?: number; data?: DownloadFailure }).code === WorkerErrorCode.DownloadFailed ? (e as { data?: DownloadFailure }).data?.kind : undefined;
      if (kind !== 'unauthorized' || attempt > 0) throw e;
      const answer = await vscode.window.showErrorMessage(`Concert: ${(e as Error).message}`, 'Enter Token…');
      if (answer !== 'Enter Token…') return undefined;
      const entered = await vscode.window.showInputBox({
        title: 'Hugging Face access token',
        prompt: "A read token from huggingface.co/settings/tokens; Concert keeps it in VS Code's secret storage",
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim().startsWith('hf_') ? undefined : 'Hugging Face tokens start with "hf_"'),
      });
      if (!entered) return undefined;
      token = entered.trim();
      await secrets.store(HF_TOKEN_SECRET, token);
    }
  }
}

function pullWithProgress(
  store: WorkerStore,
  p: { repo: string; dtype: HubDtype; endpoint: string | undefined; token: string | undefined },
): Thenable<ModelPullResult> {
  const client = store.client;
  const progressToken = `download-${++progressCounter}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Concert: downloading ${p.repo} (${p.dtype})`, cancellable: true },
    async (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      let reported = 0;
      const sub = client.onDownloadProgress.on((d) => {
        if (d.progressToken !== progressToken || !d.totalBytes) return;
        const pct = (100 * d.totalDone) / d.totalBytes;
        progress.report({
          message: `${mb(d.totalDone)} of ${mb(d.totalBytes)} · ${d.file} (${d.fileIndex}/${d.files})`,
          increment: Math.max(0, pct - reported),
        });
        reported = Math.max(reported, pct);
      });
      try {
        return await client.request(
          Requests.pullModel,
          { repo: p.repo, dtype: p.dtype, progressToken, ...(p.endpoint && { endpoint: p.endpoint }), ...(p.token && { token: p.token }) },
          ac.signal,
        );
      } finally {
        sub.dispose();
      }
    },
  );
}
