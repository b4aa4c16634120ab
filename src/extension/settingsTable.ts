/**
 * The one table of Concert's settings. package.json's `contributes.configuration` and
 * `capabilities.untrustedWorkspaces.restrictedConfigurations` must match it exactly (test/unit/settings-drift.test.ts),
 * so the code, the settings UI and the trust rules cannot drift apart. No `vscode` import: tests load this file.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { COLLAB_LIMITS, IMAGE_LIMITS, REWRITE_LIMITS, VIDEO_LIMITS, SUMMARY_ALPHA, SUMMARY_PLAUSIBILITY, type RewriteProjection } from '../protocol/webview';
import {
  COLLAB_DEFAULT_ALPHA,
  COLLAB_DEFAULT_LAMBDA_USER,
  DEFAULT_GUIDANCE_LAMBDA,
  DEVICE_CHOICES,
  DIFFUSION_DEFAULT_MIN_TOKENS,
  DIFFUSION_DEFAULT_TOP_P,
  IMAGE_DEFAULTS,
  PROJECTIONS,
  VIDEO_DEFAULTS,
  type DeviceChoice,
  type ProjectionName,
  type WorkerSettings,
} from '../protocol/worker';

export type SettingScope = 'application' | 'machine' | 'machine-overridable' | 'window' | 'resource';

export interface SettingDef {
  key: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'array';
  default: unknown;
  enum?: readonly string[];
  enumDescriptions?: readonly string[];
  items?: { type: 'string' };
  minimum?: number;
  maximum?: number;
  /** For strings: a regular expression the value must match (the settings UI shows `patternErrorMessage`). */
  pattern?: string;
  patternErrorMessage?: string;
  markdownDescription: string;
  scope: SettingScope;
  /** Names files, paths or URLs: ignored at workspace level while the workspace is untrusted. */
  restricted?: boolean;
  order: number;
}

const DEVICE_DESCRIPTIONS: Record<DeviceChoice, string> = {
  auto: 'Try the accelerators ONNX Runtime reports on this machine, verify each with a tiny canary run, and fall back to the CPU with a visible reason.',
  webgpu: 'WebGPU (Windows, macOS, Linux GPUs).',
  cuda: 'NVIDIA GPUs through CUDA (Linux and Windows x64; needs a matching CUDA runtime).',
  dml: 'DirectML: any DirectX 12 GPU on Windows.',
  coreml: 'Core ML on macOS (Apple silicon GPU / Neural Engine).',
  cpu: 'The CPU only; always available.',
};

/** Weight variants of published Hugging Face folders the setting offers (the worker knows a few more: WorkerSettings.modelDtype). */
export const MODEL_DTYPES = ['auto', 'q4', 'int8', 'fp16', 'fp32'] as const;
export type ModelDtypeChoice = (typeof MODEL_DTYPES)[number];

const MODEL_DTYPE_DESCRIPTIONS: Record<ModelDtypeChoice, string> = {
  auto: 'By device: q4, else int8, else fp32 on the CPU; fp16 (else q4f16, fp32) on GPU execution providers.',
  q4: '4-bit weights (model_q4.onnx, MatMulNBits): smallest and fast on a CPU.',
  int8: '8-bit weights (model_quantized.onnx or model_int8.onnx): small, for the CPU.',
  fp16: 'Half precision (model_fp16.onnx): for GPU execution providers.',
  fp32: 'Full precision (model.onnx): the largest, the reference.',
};

const PROJECTION_DESCRIPTIONS: Record<ProjectionName, string> = {
  sampling: 'Sample one token per position from the top-p nucleus (SSD-LM): varied output.',
  greedy: 'Take the most likely token per position: the same input and seed give the same output, with less variety.',
  multihot: 'Keep every token of the top-p nucleus per position (a multi-hot simplex): smoother, more conservative steps.',
};

export const SETTINGS = [
  {
    key: 'concert.device',
    type: 'string',
    default: 'auto',
    enum: DEVICE_CHOICES,
    enumDescriptions: DEVICE_CHOICES.map((d) => DEVICE_DESCRIPTIONS[d]),
    markdownDescription:
      'Execution provider for the inference worker. `auto` picks the first accelerator that passes a canary run and otherwise falls back to the CPU; the status bar and `Concert: Run Doctor` show the choice and why. Changing it reconfigures the worker.',
    scope: 'machine-overridable',
    order: 1,
  },
  {
    key: 'concert.modelFolders',
    type: 'array',
    items: { type: 'string' },
    default: [],
    markdownDescription:
      'Folders with Concert model packs (each a pack or a folder of packs), in addition to the packs that ship with Concert. `~` and `${workspaceFolder}` are expanded; relative paths are resolved against the first workspace folder. Ignored in workspace settings while the workspace is untrusted.',
    scope: 'machine-overridable',
    restricted: true,
    order: 2,
  },
  {
    key: 'concert.idleUnloadMinutes',
    type: 'number',
    default: 10,
    minimum: 0,
    markdownDescription: 'Minutes a loaded model may sit unused before the worker releases it. `0` keeps models loaded until the worker stops.',
    scope: 'window',
    order: 3,
  },
  {
    key: 'concert.threads',
    type: 'integer',
    default: 0,
    minimum: 0,
    maximum: 256,
    markdownDescription: 'Intra-op threads per ONNX Runtime session. `0` lets ONNX Runtime decide.',
    scope: 'machine-overridable',
    order: 4,
  },
  {
    key: 'concert.modelDtype',
    type: 'string',
    default: 'auto',
    enum: MODEL_DTYPES,
    enumDescriptions: MODEL_DTYPES.map((d) => MODEL_DTYPE_DESCRIPTIONS[d]),
    markdownDescription:
      'Which weight variant of a published Hugging Face ONNX folder (`onnx/model_<dtype>.onnx`, added with `Concert: Add Model…` or downloaded) the worker loads. Concert packs (`concert.json`) are not affected. A named variant the folder lacks makes that model unusable, with the variants it has in the reason. Changing it reconfigures the worker.',
    scope: 'machine-overridable',
    order: 5,
  },
  {
    key: 'concert.cad.summaryAlpha',
    type: 'number',
    default: 0.5,
    minimum: SUMMARY_ALPHA.min,
    maximum: SUMMARY_ALPHA.max,
    markdownDescription:
      "Context weight α of context-aware decoding for `Concert: Summarize Document` and `Summarize Selection`: each token is drawn from (1+α)·(logits with the document) − α·(logits without it). `0` is regular decoding; larger values follow the document more closely. The summary panel's slider changes it for one run.",
    scope: 'window',
    order: 10,
  },
  {
    key: 'concert.cad.questionAlpha',
    type: 'number',
    default: 1,
    minimum: SUMMARY_ALPHA.min,
    maximum: SUMMARY_ALPHA.max,
    markdownDescription: 'Context weight α for `Concert: Ask About This Document…` (answers are decoded greedily). `0` is regular decoding.',
    scope: 'window',
    order: 11,
  },
  {
    key: 'concert.cad.maxSummaryTokens',
    type: 'integer',
    default: 64,
    minimum: 1,
    maximum: 1024,
    markdownDescription:
      'Most tokens a summary may have. Long documents are summarised chunk by chunk and merged; each chunk summary has this budget too. A quote of the document cut inside a word finishes that word (at most 8 tokens more).',
    scope: 'window',
    order: 12,
  },
  {
    key: 'concert.cad.maxAnswerTokens',
    type: 'integer',
    default: 24,
    minimum: 1,
    maximum: 1024,
    markdownDescription:
      'Most tokens an answer to `Concert: Ask About This Document…` may have. A quote of the document cut inside a word finishes that word (at most 8 tokens more).',
    scope: 'window',
    order: 13,
  },
  {
    key: 'concert.cad.showRegularByDefault',
    type: 'boolean',
    default: false,
    markdownDescription:
      'Also run regular decoding (α = 0) on the same input and show it beside the context-aware output. Doubles the time of a run; the summary panel has a toggle for it.',
    scope: 'window',
    order: 14,
  },
  {
    key: 'concert.cad.modelPack',
    type: 'string',
    default: '',
    pattern: '^([a-z0-9][a-z0-9._-]{0,63})?$',
    patternErrorMessage: 'A model pack id: a-z, 0-9, ".", "_" or "-", starting with a letter or digit (empty for the bundled model).',
    markdownDescription:
      'Id of the causal language-model pack used for summaries and questions (see the *Worker & Models* view). Empty uses the first valid bundled one. Ignored in workspace settings while the workspace is untrusted.',
    scope: 'window',
    restricted: true,
    order: 15,
  },
  {
    key: 'concert.cad.plausibility',
    type: 'number',
    default: 0.1,
    minimum: SUMMARY_PLAUSIBILITY.min,
    maximum: SUMMARY_PLAUSIBILITY.max,
    markdownDescription:
      'Plausibility constraint β of context-aware decoding (Li et al. 2023), for summaries and answers: only tokens whose probability *with the document* is at least β times that of the most likely token may be chosen, so the contrast cannot promote tokens the model finds implausible. `0` turns it off (context-aware decoding exactly as in the thesis); `1` is greedy decoding with the document. The summary panel changes it for one run. The default 0.1 comes from the measurements in docs/cad.md.',
    scope: 'window',
    order: 16,
  },
  {
    key: 'concert.cad.adaptiveAlpha',
    type: 'boolean',
    default: false,
    markdownDescription:
      'Adaptive α (AdaCAD, Wang et al. 2024): scale α for each token by how much the document changes the prediction (the Jensen–Shannon divergence, in bits, of the distributions with and without the document), so that context-aware decoding acts on conflicts with what the model memorised and leaves agreement alone. The summary panel changes it for one run.',
    scope: 'window',
    order: 17,
  },
  {
    key: 'concert.cad.extractiveAnswers',
    type: 'boolean',
    default: true,
    markdownDescription:
      'Extractive answers: an answer to *Ask About This Document* quotes the document — one span of whole words, within one line — so the small bundled model can only choose what to quote and cannot make words up (with context-aware decoding and with regular decoding side by side). Turn it off to let the model write its answer freely. Summaries have their own setting, `concert.cad.extractiveSummaries`. The summary panel changes it for one run.',
    scope: 'window',
    order: 18,
  },
  {
    key: 'concert.cad.wholeDocumentAnswers',
    type: 'boolean',
    default: false,
    markdownDescription:
      '*Ask About This Document* reads the whole document (or selection) whenever it fits the model. Off (the default): a document of more than 128 tokens — a few paragraphs — is answered from the passage that best matches the question (BM25), which the small bundled model answers correctly far more often; the answer panel says which lines it read. A document longer than the model reads is always answered from its best-matching passages.',
    scope: 'window',
    order: 19,
  },
  {
    key: 'concert.cad.extractiveSummaries',
    type: 'boolean',
    default: true,
    markdownDescription:
      'Extractive summaries: *Summarize Document* and *Summarize Selection* quote whole sentences of the document — the sentences the model picks as the summary — so the small bundled model cannot make words up (with context-aware decoding and with regular decoding side by side). Turn it off to let the model write its own sentences, which at this size are rarely about the document. The summary panel changes it for one run.',
    scope: 'window',
    order: 20,
  },
  {
    key: 'concert.diffusion.steps',
    type: 'integer',
    default: 50,
    minimum: REWRITE_LIMITS.steps.min,
    maximum: REWRITE_LIMITS.steps.max,
    markdownDescription:
      'Diffusion steps per block (T) for `Concert: Rewrite Selection…` and `Continue with Diffusion`. More steps are slower and usually smoother; the model pack sets the upper bound (its training T). The rewrite panel changes it for one run.',
    scope: 'window',
    order: 21,
  },
  {
    key: 'concert.diffusion.topP',
    type: 'number',
    default: DIFFUSION_DEFAULT_TOP_P,
    minimum: REWRITE_LIMITS.topP.min,
    maximum: REWRITE_LIMITS.topP.max,
    markdownDescription:
      'Top-p of the `sampling` and `multihot` projections at each diffusion step. `0` is the same as the `greedy` projection. The default suits the small bundled model (wider nuclei let it pick word fragments); larger models may prefer 0.9–0.99, as in the SSD-LM paper.',
    scope: 'window',
    order: 22,
  },
  {
    key: 'concert.diffusion.projection',
    type: 'string',
    default: 'sampling',
    enum: PROJECTIONS,
    enumDescriptions: PROJECTIONS.map((p) => PROJECTION_DESCRIPTIONS[p]),
    markdownDescription: 'How each diffusion step turns the predicted logits into the next simplex before noise is added again.',
    scope: 'window',
    order: 23,
  },
  {
    key: 'concert.diffusion.defaultStrength',
    type: 'number',
    default: 0.5,
    minimum: REWRITE_LIMITS.strength.min,
    maximum: REWRITE_LIMITS.strength.max,
    markdownDescription:
      'Edit strength of `Concert: Rewrite Selection…`: the rewrite starts from the selection noised to t = strength·T. Low values keep the text close to the original; `1` writes it afresh.',
    scope: 'window',
    order: 24,
  },
  {
    key: 'concert.diffusion.defaultLambda',
    type: 'number',
    default: DEFAULT_GUIDANCE_LAMBDA,
    minimum: REWRITE_LIMITS.lambda.min,
    maximum: REWRITE_LIMITS.lambda.max,
    markdownDescription:
      "Guidance strength λ given to each attribute picked in the quick pick: every step adds λ·∇ log p(label) of that attribute's classifier to the logits. `0` measures the attribute without steering. The rewrite panel has a slider per attribute.",
    scope: 'window',
    order: 25,
  },
  {
    key: 'concert.diffusion.continueTokens',
    type: 'integer',
    default: 24,
    minimum: REWRITE_LIMITS.tokens.min,
    maximum: REWRITE_LIMITS.tokens.max,
    markdownDescription:
      'New tokens `Concert: Continue with Diffusion` writes (rounded up to whole blocks of the model; it may stop earlier where the model ends the text, but not before `#concert.diffusion.minTokens#`).',
    scope: 'window',
    order: 26,
  },
  {
    key: 'concert.diffusion.minTokens',
    type: 'integer',
    default: DIFFUSION_DEFAULT_MIN_TOKENS,
    minimum: REWRITE_LIMITS.minTokens.min,
    maximum: REWRITE_LIMITS.minTokens.max,
    markdownDescription:
      'New tokens `Concert: Continue with Diffusion` writes at least before the model may end the text. After a finished sentence the bundled model would often end at once and write nothing; `0` allows that. Values above `#concert.diffusion.continueTokens#` write the whole budget. The rewrite panel changes it for one run.',
    scope: 'window',
    order: 27,
  },
  {
    key: 'concert.diffusion.promptChars',
    type: 'integer',
    default: 1000,
    minimum: 20,
    maximum: 20000,
    markdownDescription:
      'How much of the text before the selection or cursor (in characters, cut at a word boundary) the diffusion model reads as its prompt. Longer prompts give more context, but the model only keeps the latest part that fits its context window.',
    scope: 'window',
    order: 28,
  },
  {
    key: 'concert.diffusion.modelPack',
    type: 'string',
    default: '',
    pattern: '^([a-z0-9][a-z0-9._-]{0,63})?$',
    patternErrorMessage: 'A model pack id: a-z, 0-9, ".", "_" or "-", starting with a letter or digit (empty for the bundled model).',
    markdownDescription:
      'Id of the simplex diffusion model pack used for rewriting and continuing (see the *Worker & Models* view). Empty uses the first valid one (the bundled core model). Ignored in workspace settings while the workspace is untrusted.',
    scope: 'window',
    restricted: true,
    order: 29,
  },
  {
    key: 'concert.collab.lambdaUser',
    type: 'number',
    default: COLLAB_DEFAULT_LAMBDA_USER,
    minimum: COLLAB_LIMITS.lambdaUser.min,
    maximum: COLLAB_LIMITS.lambdaUser.max,
    markdownDescription:
      "Weight λ_user of the user model in `Concert: Collaborate…`: each diffusion step combines (1 − λ_user)·core(instruction) + λ_user·(1 + α)·user(knowledge, instruction) − λ_user·α·user(instruction). `0` is the core model alone; higher values let the knowledge speak louder. The panel's slider changes it for one run.",
    scope: 'window',
    order: 31,
  },
  {
    key: 'concert.collab.alpha',
    type: 'number',
    default: COLLAB_DEFAULT_ALPHA,
    minimum: COLLAB_LIMITS.alpha.min,
    maximum: COLLAB_LIMITS.alpha.max,
    markdownDescription:
      'Contrast α of the user model in `Concert: Collaborate…`: how much the user model with the knowledge is preferred over the same model without it. `0` uses the user model with the knowledge as it is.',
    scope: 'window',
    order: 32,
  },
  {
    key: 'concert.collab.maxTokens',
    type: 'integer',
    default: 24,
    minimum: COLLAB_LIMITS.tokens.min,
    maximum: COLLAB_LIMITS.tokens.max,
    markdownDescription: 'New tokens `Concert: Collaborate…` writes at most (rounded up to whole blocks of the models).',
    scope: 'window',
    order: 33,
  },
  {
    key: 'concert.collab.compareByDefault',
    type: 'boolean',
    default: true,
    markdownDescription:
      'Also decode with the core model alone (same seed) and show it beside the collaboration, with the tokens the user model changed highlighted. Adds a decode to every run; the panel has a toggle for it, and one for the user model alone.',
    scope: 'window',
    order: 34,
  },
  {
    key: 'concert.collab.coreUrl',
    type: 'string',
    default: '',
    pattern: '^(https?://[^\\s]+)?$',
    patternErrorMessage: 'An http:// or https:// URL of an Open Inference Protocol v2 server (for example one started with `concert serve`), or empty.',
    markdownDescription:
      "URL of a remote core model (an Open Inference Protocol v2 server such as `concert serve`) for `Concert: Collaborate…` with *Core: remote*. Only the instruction and the block token ids go there, never the knowledge; the panel's privacy ledger lists what was sent. The token is kept in VS Code's secret storage (`Concert: Set Core Token…`). User or machine setting only; ignored in untrusted workspaces. Empty: the core runs in the local worker.",
    scope: 'machine',
    restricted: true,
    order: 35,
  },
  {
    key: 'concert.image.ratio',
    type: 'number',
    default: IMAGE_DEFAULTS.ratio,
    minimum: IMAGE_LIMITS.ratio.min,
    maximum: IMAGE_LIMITS.ratio.max,
    markdownDescription:
      "Share of the image `Concert: Complete Image…` keeps: the model reads the image's canonical JPEG stream up to the end of the last whole patch inside this share (rows from the top) and writes the rest. `0` keeps nothing (a generation), `1` keeps everything. The Images panel's slider changes it for one run.",
    scope: 'window',
    order: 36,
  },
  {
    key: 'concert.image.samples',
    type: 'integer',
    default: IMAGE_DEFAULTS.samples,
    minimum: IMAGE_LIMITS.samples.min,
    maximum: IMAGE_LIMITS.samples.max,
    markdownDescription:
      'How many images `Concert: Complete Image…` and `Concert: Generate Image` sample per run (decoded together as one batch, so more samples take longer per step). The Images panel changes it for one run.',
    scope: 'window',
    order: 37,
  },
  {
    key: 'concert.image.modelPack',
    type: 'string',
    default: '',
    pattern: '^([a-z0-9][a-z0-9._-]{0,63})?$',
    patternErrorMessage: 'A model pack id: a-z, 0-9, ".", "_" or "-", starting with a letter or digit (empty for the bundled model).',
    markdownDescription:
      'Id of the image model pack (kind `codec-lm`, a JPEG-LM) used by `Concert: Complete Image…` and `Concert: Generate Image` (see the *Worker & Models* view). Empty uses the first valid one (the bundled model comes first). Ignored in workspace settings while the workspace is untrusted.',
    scope: 'window',
    restricted: true,
    order: 38,
  },
  {
    key: 'concert.ffmpegPath',
    type: 'string',
    default: '',
    markdownDescription:
      "Absolute path of the `ffmpeg` executable `Concert: Continue Video…` uses to convert clips that are not already the video model's canonical H.264 (`.mp4`, `.mkv`, `.webm`, `.mov`, `.avi`, other `.h264` streams) and to write `.mp4` files next to the `.h264` ones on Save. Empty: `ffmpeg` on `PATH`. Canonical `.h264` clips (like the bundled samples) need no ffmpeg. A program Concert runs is never named by a workspace: this setting is read from user (or remote) settings only, and also listed as restricted for untrusted workspaces.",
    scope: 'machine',
    restricted: true,
    order: 42,
  },
  {
    key: 'concert.video.promptFrames',
    type: 'integer',
    default: VIDEO_DEFAULTS.promptFrames,
    minimum: VIDEO_LIMITS.promptFrames.min,
    maximum: VIDEO_LIMITS.promptFrames.max,
    markdownDescription:
      "How many frames of the clip `Concert: Continue Video…` keeps as the prompt (from the start; at most the clip's frames). The Video panel changes it for one run.",
    scope: 'window',
    order: 43,
  },
  {
    key: 'concert.video.frames',
    type: 'integer',
    default: VIDEO_DEFAULTS.frames,
    minimum: VIDEO_LIMITS.frames.min,
    maximum: VIDEO_LIMITS.frames.max,
    markdownDescription:
      'How many frames `Concert: Continue Video…` generates after the prompt, per sample. More frames take proportionally longer. The Video panel changes it for one run.',
    scope: 'window',
    order: 44,
  },
  {
    key: 'concert.video.samples',
    type: 'integer',
    default: VIDEO_DEFAULTS.samples,
    minimum: VIDEO_LIMITS.samples.min,
    maximum: VIDEO_LIMITS.samples.max,
    markdownDescription:
      'How many continuations `Concert: Continue Video…` samples per run (decoded together as one batch, so more samples take longer per step). The Video panel changes it for one run.',
    scope: 'window',
    order: 45,
  },
  {
    key: 'concert.video.modelPack',
    type: 'string',
    default: '',
    pattern: '^([a-z0-9][a-z0-9._-]{0,63})?$',
    patternErrorMessage: 'A model pack id: a-z, 0-9, ".", "_" or "-", starting with a letter or digit (empty for the bundled model).',
    markdownDescription:
      'Id of the video model pack (kind `codec-lm` over H.264, an AVC-LM) used by `Concert: Continue Video…` (see the *Worker & Models* view). Empty uses the first valid one (the bundled model comes first). Ignored in workspace settings while the workspace is untrusted.',
    scope: 'window',
    restricted: true,
    order: 46,
  },
  {
    key: 'concert.knowledge.scope',
    type: 'string',
    default: 'workspace',
    enum: ['workspace', 'global'],
    enumDescriptions: [
      "Items added to the knowledge are kept with this workspace (the extension's workspace storage).",
      "Items added to the knowledge are kept in the extension's global storage and show in every window.",
    ],
    markdownDescription:
      'Where items added to the *Knowledge* view are kept. Items already added stay where they are. Files and folders are kept as references and read when `Concert: Collaborate…` runs; selections and notes are kept as text.',
    scope: 'window',
    order: 41,
  },
] as const satisfies readonly SettingDef[];

export type SettingKey = (typeof SETTINGS)[number]['key'];

export const RESTRICTED_SETTINGS: readonly SettingKey[] = SETTINGS.flatMap((s) => ('restricted' in s && s.restricted ? [s.key] : []));

/** The settings the worker reads (a change to one of these reconfigures it). */
export const WORKER_SETTING_KEYS: readonly SettingKey[] = [
  'concert.device',
  'concert.modelFolders',
  'concert.idleUnloadMinutes',
  'concert.threads',
  'concert.modelDtype',
];

export function settingDef(key: SettingKey): SettingDef {
  return SETTINGS.find((s) => s.key === key)!;
}

/**
 * The package.json form of one setting (what the drift test compares against). `restricted` is not a schema key:
 * VS Code gates those settings through `capabilities.untrustedWorkspaces.restrictedConfigurations` instead.
 */
export function toContribution(def: SettingDef): Record<string, unknown> {
  const out: Record<string, unknown> = { type: def.type, default: def.default };
  if (def.items) out.items = def.items;
  if (def.enum) out.enum = [...def.enum];
  if (def.enumDescriptions) out.enumDescriptions = [...def.enumDescriptions];
  if (def.minimum !== undefined) out.minimum = def.minimum;
  if (def.maximum !== undefined) out.maximum = def.maximum;
  if (def.pattern !== undefined) out.pattern = def.pattern;
  if (def.patternErrorMessage !== undefined) out.patternErrorMessage = def.patternErrorMessage;
  out.markdownDescription = def.markdownDescription;
  out.scope = def.scope;
  out.order = def.order;
  return out;
}

/** A hand-edited settings.json can hold anything: keep a value only if it fits the definition. */
export function coerceSetting(def: SettingDef, value: unknown): unknown {
  const ok = (() => {
    switch (def.type) {
      case 'string':
        return typeof value === 'string' && (!def.enum || def.enum.includes(value)) && (def.pattern === undefined || new RegExp(def.pattern, 'u').test(value));
      case 'boolean':
        return typeof value === 'boolean';
      case 'number':
      case 'integer':
        return (
          typeof value === 'number' &&
          Number.isFinite(value) &&
          (def.type === 'number' || Number.isInteger(value)) &&
          (def.minimum === undefined || value >= def.minimum) &&
          (def.maximum === undefined || value <= def.maximum)
        );
      case 'array':
        return Array.isArray(value) && value.every((v) => typeof v === 'string');
    }
  })();
  return ok ? value : def.default;
}

/** Reads a setting through `read`, checked against its definition: an invalid value falls back to the default and adds a line to `warnings`. */
function checkedReader(read: (key: SettingKey) => unknown, warnings: string[]): (key: SettingKey) => unknown {
  return (key) => {
    const raw = read(key);
    const v = coerceSetting(settingDef(key), raw);
    if (raw !== undefined && v !== raw) warnings.push(`ignoring invalid value of ${key}: ${JSON.stringify(raw)}`);
    return v;
  };
}

export interface PathContext {
  /** First workspace folder, used for `${workspaceFolder}` and relative paths. */
  workspaceFolder?: string;
  home?: string;
  /**
   * The workspace's folders while the workspace is not trusted (empty or absent once it is): no model folder or pack
   * path may lead into them, whatever setting (user-level included) names it and however (`${workspaceFolder}`, a
   * relative path, an absolute one).
   */
  untrustedFolders?: readonly string[];
}

/** Whether `p` (absolute) is one of `folders` or inside one. */
export function isInsideAny(p: string, folders: readonly string[]): boolean {
  return folders.some((f) => {
    const rel = path.relative(path.resolve(f), path.resolve(p));
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The configuration calls readSetting needs (vscode.WorkspaceConfiguration has both). */
export interface ConfigLike {
  get(key: string): unknown;
  inspect(key: string): { defaultValue?: unknown; globalValue?: unknown } | undefined;
}

/**
 * The value of a setting as Concert uses it: while the workspace is untrusted a restricted setting (paths, URLs) keeps
 * only its user-level or default value; workspace and folder values are ignored.
 */
export function settingValue(config: ConfigLike, key: SettingKey, workspaceTrusted: boolean): unknown {
  if (workspaceTrusted || !RESTRICTED_SETTINGS.includes(key)) return config.get(key);
  const i = config.inspect(key);
  return i?.globalValue ?? i?.defaultValue;
}

/**
 * A pack named by folder (an absolute path in concert.cad.modelPack or concert.diffusion.modelPack) inside an untrusted
 * workspace is dropped (the default pack is used instead), with a warning; pack ids and other paths pass.
 */
export function trustedPackId(key: SettingKey, packId: string | undefined, ctx: PathContext, warnings: string[]): string | undefined {
  if (packId === undefined || !path.isAbsolute(packId) || !ctx.untrustedFolders?.length || !isInsideAny(packId, ctx.untrustedFolders)) return packId;
  warnings.push(`${key}: "${packId}" is inside this workspace, which is not trusted; the default model is used until you trust it`);
  return undefined;
}

/** Expands `~`, `${userHome}` and `${workspaceFolder}`; undefined when the path cannot be made absolute. */
export function resolveFolder(raw: string, ctx: PathContext): string | undefined {
  const home = ctx.home ?? os.homedir();
  let p = raw.trim();
  if (!p) return undefined;
  p = p.replace(/\$\{userHome\}/g, home);
  if (p.includes('${workspaceFolder}')) {
    if (!ctx.workspaceFolder) return undefined;
    p = p.replace(/\$\{workspaceFolder\}/g, ctx.workspaceFolder);
  }
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(home, p.slice(1));
  if (path.isAbsolute(p)) return path.normalize(p);
  return ctx.workspaceFolder ? path.resolve(ctx.workspaceFolder, p) : undefined;
}

export interface ResolvedSettings {
  settings: WorkerSettings;
  /** One line per value that was dropped (shown in the log, never thrown). */
  warnings: string[];
}

/** Turns raw setting values into the worker's settings; pure so tests cover it without VS Code. */
export function toWorkerSettings(read: (key: SettingKey) => unknown, extensionRoot: string, ctx: PathContext): ResolvedSettings {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const folders: string[] = [];
  for (const raw of get('concert.modelFolders') as string[]) {
    const abs = resolveFolder(raw, ctx);
    if (!abs) warnings.push(`concert.modelFolders: cannot resolve "${raw}" without an open workspace folder; skipped`);
    else if (ctx.untrustedFolders?.length && isInsideAny(abs, ctx.untrustedFolders))
      warnings.push(`concert.modelFolders: "${raw}" leads into this workspace, which is not trusted; skipped until you trust it`);
    else if (!folders.includes(abs)) folders.push(abs);
  }
  const dtype = get('concert.modelDtype') as ModelDtypeChoice;
  return {
    settings: {
      device: get('concert.device') as DeviceChoice,
      modelFolders: folders,
      bundledModelsDir: path.join(extensionRoot, 'models'),
      idleUnloadSeconds: Math.round((get('concert.idleUnloadMinutes') as number) * 60),
      threads: get('concert.threads') as number,
      // `auto` is the worker's default: sent only when a variant is named.
      ...(dtype !== 'auto' && { modelDtype: dtype }),
    },
    warnings,
  };
}

export interface CadSettings {
  summaryAlpha: number;
  questionAlpha: number;
  maxSummaryTokens: number;
  maxAnswerTokens: number;
  showRegularByDefault: boolean;
  /** β of the plausibility constraint (0: off). */
  plausibility: number;
  adaptiveAlpha: boolean;
  /** Answers quote one span of the document (the ask task). */
  extractiveAnswers: boolean;
  /** Summaries quote whole sentences of the document (the summarize task). */
  extractiveSummaries: boolean;
  /** Questions read the whole document when it fits, not only the passage that best matches them. */
  wholeDocumentAnswers: boolean;
  /** Undefined: the worker's default (the first valid bundled causal-lm pack). */
  packId?: string;
}

/** The summary/question knobs, each value checked against its definition (invalid ones fall back, with a warning). */
export function toCadSettings(read: (key: SettingKey) => unknown): { settings: CadSettings; warnings: string[] } {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const pack = get('concert.cad.modelPack') as string;
  return {
    settings: {
      summaryAlpha: get('concert.cad.summaryAlpha') as number,
      questionAlpha: get('concert.cad.questionAlpha') as number,
      maxSummaryTokens: get('concert.cad.maxSummaryTokens') as number,
      maxAnswerTokens: get('concert.cad.maxAnswerTokens') as number,
      showRegularByDefault: get('concert.cad.showRegularByDefault') as boolean,
      plausibility: get('concert.cad.plausibility') as number,
      adaptiveAlpha: get('concert.cad.adaptiveAlpha') as boolean,
      extractiveAnswers: get('concert.cad.extractiveAnswers') as boolean,
      extractiveSummaries: get('concert.cad.extractiveSummaries') as boolean,
      wholeDocumentAnswers: get('concert.cad.wholeDocumentAnswers') as boolean,
      ...(pack ? { packId: pack } : {}),
    },
    warnings,
  };
}

export interface DiffusionSettings {
  steps: number;
  topP: number;
  projection: RewriteProjection;
  strength: number;
  lambda: number;
  continueTokens: number;
  minTokens: number;
  promptChars: number;
  /** Undefined: the worker's default (the first valid simplex-diffusion-lm pack). */
  packId?: string;
}

/** The rewrite/continue knobs, each value checked against its definition (invalid ones fall back, with a warning). */
export function toDiffusionSettings(read: (key: SettingKey) => unknown): { settings: DiffusionSettings; warnings: string[] } {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const pack = get('concert.diffusion.modelPack') as string;
  return {
    settings: {
      steps: get('concert.diffusion.steps') as number,
      topP: get('concert.diffusion.topP') as number,
      projection: get('concert.diffusion.projection') as RewriteProjection,
      strength: get('concert.diffusion.defaultStrength') as number,
      lambda: get('concert.diffusion.defaultLambda') as number,
      continueTokens: get('concert.diffusion.continueTokens') as number,
      minTokens: get('concert.diffusion.minTokens') as number,
      promptChars: get('concert.diffusion.promptChars') as number,
      ...(pack ? { packId: pack } : {}),
    },
    warnings,
  };
}

export interface CollabSettings {
  lambdaUser: number;
  alpha: number;
  maxTokens: number;
  compare: boolean;
  /** Undefined: no remote core is configured. */
  coreUrl?: string;
}

/** The collaboration knobs, each value checked against its definition (invalid ones fall back, with a warning). */
export function toCollabSettings(read: (key: SettingKey) => unknown): { settings: CollabSettings; warnings: string[] } {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const url = (get('concert.collab.coreUrl') as string).trim();
  return {
    settings: {
      lambdaUser: get('concert.collab.lambdaUser') as number,
      alpha: get('concert.collab.alpha') as number,
      maxTokens: get('concert.collab.maxTokens') as number,
      compare: get('concert.collab.compareByDefault') as boolean,
      ...(url ? { coreUrl: url } : {}),
    },
    warnings,
  };
}

export interface ImageSettings {
  ratio: number;
  samples: number;
  /** Undefined: the worker's default (the first valid codec-lm pack, the bundled one first). */
  packId?: string;
}

/** The image completion knobs, each value checked against its definition (invalid ones fall back, with a warning). */
export function toImageSettings(read: (key: SettingKey) => unknown): { settings: ImageSettings; warnings: string[] } {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const pack = get('concert.image.modelPack') as string;
  return {
    settings: {
      ratio: get('concert.image.ratio') as number,
      samples: get('concert.image.samples') as number,
      ...(pack ? { packId: pack } : {}),
    },
    warnings,
  };
}

export interface VideoSettings {
  promptFrames: number;
  frames: number;
  samples: number;
  /** Undefined: the worker's default (the first valid H.264 codec-lm pack, the bundled one first). */
  packId?: string;
  /** Undefined: ffmpeg on PATH. */
  ffmpegPath?: string;
}

/** The video continuation knobs, each value checked against its definition (invalid ones fall back, with a warning). */
export function toVideoSettings(read: (key: SettingKey) => unknown): { settings: VideoSettings; warnings: string[] } {
  const warnings: string[] = [];
  const get = checkedReader(read, warnings);
  const pack = get('concert.video.modelPack') as string;
  const ffmpeg = (get('concert.ffmpegPath') as string).trim();
  return {
    settings: {
      promptFrames: get('concert.video.promptFrames') as number,
      frames: get('concert.video.frames') as number,
      samples: get('concert.video.samples') as number,
      ...(pack ? { packId: pack } : {}),
      ...(ffmpeg ? { ffmpegPath: ffmpeg } : {}),
    },
    warnings,
  };
}
