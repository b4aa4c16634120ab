/**
 * Messages between the extension host and its webviews. Pure types: the browser bundle imports this file too.
 * Every webview starts with a `ready` handshake; the host answers with the full state, then sends updates.
 */
export interface StatusPackView {
  id: string;
  kind: string;
  source: 'bundled' | 'user';
  valid: boolean;
  error?: string;
  sizeBytes?: number;
  displayName?: string;
  /** Folder of the pack (shown as a tooltip; the webview never reads files). */
  dir?: string;
}

export interface StatusViewState {
  workerState: 'stopped' | 'starting' | 'running' | 'restarting' | 'failed';
  provider?: { chosen: string; device: string; requested: string; fallbackReasons: string[] };
  /** Undefined until the worker has been asked for its packs (the view asks on first show). */
  packs?: StatusPackView[];
  /** True while a refresh (pack listing) is in flight. */
  busy?: boolean;
  /** Worker pid and the sessions it has loaded, from its last status notification. */
  pid?: number;
  loadedSessions?: string[];
  rssBytes?: number;
  error?: string;
}

export type HostToStatusView = { type: 'state'; state: StatusViewState };

export type StatusViewToHost =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'restartWorker' }
  | { type: 'openSettings' }
  | { type: 'showLog' }
  | { type: 'addModelFolder' }
  | { type: 'selectDevice' }
  | { type: 'selfTestPack'; packId: string };

/** UI-only state the status view persists with `setState` (never data: that is refetched from the host). */
export interface StatusViewUiState {
  expanded: string[];
}

// ── Concert: Summary panel (context-aware summaries and answers) ─────────────────────────────────────────────

export type SummaryTask = 'summarize' | 'ask';
export type SummaryVariant = 'cad' | 'regular';

/** One generated token: the text it adds and its reliance on the document in nats (log p(y|c,x) − log p(y|x)). */
export interface SummaryTokenView {
  text: string;
  reliance: number;
}

export interface SummaryOutputView {
  text: string;
  tokens: SummaryTokenView[];
  alpha: number;
  /** Absent while the output is still streaming. */
  stoppedBy?: 'stop-token' | 'max-tokens';
  /** While a chunked summary streams: the part being generated (0-based). */
  part?: number;
}

export interface SummarySourceView {
  /** File name only (the webview never reads files). */
  fileName: string;
  /** `whole document`, or the selection, e.g. `lines 3–10`. */
  scope: string;
  languageId: string;
  /** True when the source document changed (or was closed) since the run: Insert warns first. */
  changed?: boolean;
}

/** The run record, as shown in the panel's details section. */
export interface SummaryRecordView {
  modelId: string;
  modelName?: string;
  manifestSha256: string;
  modelSha256: string;
  seed: number;
  alpha: number;
  /** β of the plausibility constraint (0: off). */
  plausibility?: number;
  adaptive?: boolean;
  /** Extractive: the output quoted the document — an answer one span, a summary whole sentences (absent from older workers). */
  extractive?: boolean;
  /** With adaptive α: the α_t used over the tokens. */
  adaptiveAlpha?: { mean: number; min: number; max: number };
  /** e.g. `greedy`, `top-p 0.9, temperature 1`. */
  decoding: string;
  maxTokens: number;
  provider: string;
  device: string;
  promptTokens: { withContext: number; withoutContext: number };
  /**
   * Which prompt template made what the model read (the worker's `run.prompt.template`): `chat-template` (a
   * published model's own chat template), `plain:summary` / `plain:qa` (base models), `pack:summary` / `pack:qa`.
   */
  template?: string;
  chunks?: number;
  durationMs: number;
}

/** A model the panel's picker offers: a valid causal-LM pack (Concert pack or published Hugging Face folder). */
export interface SummaryModelChoice {
  id: string;
  /** e.g. `qwen2-tiny (fp32)` for a published folder (the variant that loads). */
  label: string;
  source: 'bundled' | 'user';
}

export interface SummaryChunkView {
  /** Character range in the source text the chunk covers. */
  start: number;
  end: number;
  summary: string;
}

export type SummaryRunStatus = 'running' | 'done' | 'cancelled' | 'error';

export interface SummaryRunView {
  /** Increases with every run in this window; the view uses it to reset per-run UI. */
  id: number;
  status: SummaryRunStatus;
  /** For `cancelled` and `error`: one line saying what happened. */
  message?: string;
  task: SummaryTask;
  question?: string;
  source: SummarySourceView;
  alpha: number;
  /** β of the plausibility constraint (absent in runs saved by older versions: 0). */
  plausibility?: number;
  /** Adaptive α (absent in runs saved by older versions: off). */
  adaptive?: boolean;
  /**
   * Extractive: an answer quotes one span of the document, a summary whole sentences of it (absent in runs saved by
   * older versions: on, the worker's default for both tasks).
   */
  extractive?: boolean;
  compareRegular: boolean;
  cad: SummaryOutputView;
  regular?: SummaryOutputView;
  record?: SummaryRecordView;
  /** Present when a long document was summarised chunk by chunk and merged. */
  chunks?: SummaryChunkView[];
  /** Present when a question was answered from passages of the text read: the document's lines (1-based) they hold. */
  passages?: { firstLine: number; lastLine: number }[];
}

export interface SweepPointView {
  alpha: number;
  /** Generated tokens. */
  tokens: number;
  /** Share (0–1) of tokens whose reliance is positive (the document raised them). */
  positiveShare: number;
  /** Mean reliance in nats. */
  meanReliance: number;
  text: string;
}

export interface SummarySweepView {
  status: SummaryRunStatus;
  alphas: number[];
  points: SweepPointView[];
  message?: string;
}

export interface SummaryViewState {
  run?: SummaryRunView;
  sweep?: SummarySweepView;
  /** The models the picker offers (absent until the worker has listed its packs). */
  models?: SummaryModelChoice[];
  /** The model picked in the panel for its runs; absent: the `concert.cad.modelPack` setting, else the worker's default. */
  modelId?: string;
}

export interface SummaryNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

export type HostToSummaryView =
  | { type: 'state'; state: SummaryViewState }
  /** One-line feedback for the last action (copied, no supporting span found, …). */
  | { type: 'notice'; notice: SummaryNotice };

export type SummaryViewToHost =
  | { type: 'ready' }
  /**
   * Re-run the same input (slider moved, side-by-side toggled, plausibility β, adaptive α or extractive output
   * changed).
   */
  | { type: 'rerun'; alpha: number; compareRegular: boolean; plausibility?: number; adaptive?: boolean; extractive?: boolean }
  | { type: 'cancel' }
  /** Reveal the span of the source document that supports output token `index`. */
  | { type: 'reveal'; variant: SummaryVariant; index: number }
  | { type: 'copy'; variant: SummaryVariant }
  | { type: 'insert'; variant: SummaryVariant; mode: 'comment' | 'cursor' }
  /** Greedy runs at α ∈ {0, 0.5, 1, 2} on the same input, summarised as a small plot. */
  | { type: 'sweep' }
  /** Run again with this model (a pack id from `models`; empty: the default model) and keep it for the panel's runs. */
  | { type: 'model'; packId: string };

/** UI-only state the summary panel persists with `setState` (data is refetched from the host). */
export interface SummaryViewUiState {
  recordOpen: boolean;
  chunksOpen: boolean;
}

/** The α slider's range (the settings share it). */
export const SUMMARY_ALPHA = { min: 0, max: 3, step: 0.25 } as const;
/** The α values of the quick sweep. */
export const SWEEP_ALPHAS = [0, 0.5, 1, 2] as const;
/** The plausibility β control's range (the setting shares it). */
export const SUMMARY_PLAUSIBILITY = { min: 0, max: 1, step: 0.05 } as const;

// ── Concert: Rewrite panel (diffusion rewriting and continuation with classifier guidance) ──────────────────────

/** `rewrite` replaces the selection; `continue` inserts new text at the cursor (the worker's `generate`). */
export type RewriteMode = 'rewrite' | 'continue';

/** The projection of each diffusion step (the same list as src/protocol/worker's PROJECTIONS; a test checks). */
export const REWRITE_PROJECTIONS = ['sampling', 'greedy', 'multihot'] as const;
export type RewriteProjection = (typeof REWRITE_PROJECTIONS)[number];

/** Ranges of the panel's controls (the settings share them). */
export const REWRITE_LIMITS = {
  // Classifier gradients w.r.t. the logits are small (softmax Jacobian): useful λ on the bundled models is ~30–400.
  lambda: { min: 0, max: 1000, step: 1 },
  strength: { min: 0.05, max: 1, step: 0.05 },
  steps: { min: 1, max: 1000 },
  topP: { min: 0, max: 1, step: 0.01 },
  tokens: { min: 1, max: 512 },
  minTokens: { min: 0, max: 512 },
  seed: { min: 0, max: 4_294_967_295 },
} as const;

/** An installed classifier: the attribute it measures and the labels one can steer towards. */
export interface RewriteAttributeChoice {
  attribute: string;
  labels: string[];
}

/** Steer towards `label` of `attribute` with guidance strength λ ≥ 0. */
export interface RewriteTarget {
  attribute: string;
  label: string;
  lambda: number;
}

/** Everything the user can change before running again. */
export interface RewriteControls {
  /** At most one target per attribute; empty: no steering. */
  targets: RewriteTarget[];
  /** Edit strength in (0, 1] (rewrite only): low keeps the text close to the original. */
  strength: number;
  /** Diffusion steps per block (T). */
  steps: number;
  topP: number;
  projection: RewriteProjection;
  /** New tokens (continue only). */
  tokens: number;
  /** Continue only: new tokens written before the model may end the text (absent in runs saved by older versions: the worker's default). */
  minTokens?: number;
  /** Absent: a fresh random seed (the run record then says which). */
  seed?: number;
}

/** One denoising step of one block: the block's argmax text and p(target) per steered attribute. */
export interface RewriteStepView {
  block: number;
  t: number;
  T: number;
  text: string;
  /** null when the worker did not score that attribute at this step. */
  scores: Record<string, number | null>;
}

/** Final classifier probabilities of the output, per attribute. */
export interface RewriteScoreView {
  attribute: string;
  /** The label the run steered towards (absent: only measured). */
  target?: string;
  probabilities: Record<string, number>;
}

export interface RewriteRecordView {
  modelId: string;
  modelName?: string;
  manifestSha256: string;
  modelSha256: string;
  classifiers: { id: string; manifestSha256: string }[];
  seed: number;
  steps: number;
  topP: number;
  projection: string;
  earlyStop: number;
  strength?: number;
  maxTokens: number;
  targets: RewriteTarget[];
  provider: string;
  device: string;
  durationMs: number;
  stoppedBy: 'eos' | 'max-tokens';
}

export interface RewriteSourceView {
  fileName: string;
  /** e.g. `lines 3–5` (rewrite) or `line 7, column 12` (continue). */
  scope: string;
  languageId: string;
  /** True when the document changed since the run started: Accept asks before it edits. */
  changed?: boolean;
}

export type RewriteRunStatus = 'running' | 'done' | 'cancelled' | 'error';

export interface RewriteRunView {
  /** Increases with every run in this window; the view uses it to reset per-run UI. */
  id: number;
  status: RewriteRunStatus;
  /** For `cancelled` and `error`: one line saying what happened. */
  message?: string;
  mode: RewriteMode;
  source: RewriteSourceView;
  /** rewrite: the selected text; continue: empty. */
  original: string;
  /** The end of the text before the selection / cursor (what the model conditions on), for display. */
  promptTail: string;
  /** The knobs of this run (the seed is filled in once the worker has chosen it). */
  controls: RewriteControls;
  /** Blocks of this run (0 until the first step arrives). */
  blocks: number;
  /** Every denoising step so far, in order (capped; `droppedSteps` counts what was left out). */
  steps: RewriteStepView[];
  droppedSteps?: number;
  /** The final text (without the edge white space the edit keeps from the document). */
  output?: { text: string; stoppedBy: 'eos' | 'max-tokens' };
  scores?: RewriteScoreView[];
  record?: RewriteRecordView;
  /** Set once Accept has applied this output to the document. */
  applied?: boolean;
}

export interface RewriteViewState {
  run?: RewriteRunView;
  /** Installed classifiers (one per attribute): the attributes the panel can steer. */
  classifiers: RewriteAttributeChoice[];
  /** λ the panel proposes for an attribute the user starts steering (`concert.diffusion.defaultLambda`). */
  defaultLambda: number;
}

export interface RewriteNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

export type HostToRewriteView = { type: 'state'; state: RewriteViewState } | { type: 'notice'; notice: RewriteNotice };

export type RewriteViewToHost =
  | { type: 'ready' }
  /** Run again on the same input with these knobs (cancels a run in progress). */
  | { type: 'rerun'; controls: RewriteControls }
  | { type: 'cancel' }
  /** Apply the output to the document as one edit (asks first if the document changed). */
  | { type: 'accept' }
  /** Discard the output and close the panel; the document is not touched. */
  | { type: 'reject' };

/** UI-only state the rewrite panel persists with `setState` (data is refetched from the host). */
export interface RewriteViewUiState {
  recordOpen: boolean;
  /** The run the positions and the draft below belong to. */
  runId?: number;
  /** Timeline position: block, and step index within it; absent: follow the latest step. */
  block?: number;
  step?: number;
  /** Controls edited but not yet run. */
  draft?: RewriteControls;
}

// ── Concert: Collaborate panel (core + user model collaboration over the knowledge store, issue 13) ──────────────

/** Ranges of the panel's controls (the settings share them). λ_user weighs the user model against the core. */
export const COLLAB_LIMITS = {
  lambdaUser: { min: 0, max: 1, step: 0.05 },
  alpha: { min: 0, max: 3, step: 0.25 },
  tokens: { min: 1, max: 256 },
  instructionChars: { max: 2000 },
} as const;

/** Where the core model runs: the bundled one in the local worker, or a remote core (`concert.collab.coreUrl`). */
export type CollabCore = 'local' | 'remote';
/** The three outputs: the collaboration, the core model alone, the user model alone. */
export type CollabVariant = 'collab' | 'core' | 'user';

/** Everything the user can change before a run. */
export interface CollabControls {
  instruction: string;
  lambdaUser: number;
  alpha: number;
  core: CollabCore;
  /** Also decode with the core model alone, shown beside the collaboration. */
  compare: boolean;
  /** Also decode with the user model alone (on request). */
  userOnly: boolean;
}

/** A knowledge passage the run retrieved and gave the user model. */
export interface CollabPassageView {
  itemId: string;
  title: string;
  text: string;
  score: number;
}

/** One request to the core: which step and block, the token ids sent (never knowledge text), and a note. */
export interface CollabLedgerEntryView {
  step: number;
  block: number;
  tokenIds?: number[];
  note: string;
}

/** What left this machine for the core during one run (all zero for a local core). */
export interface CollabLedgerView {
  /** `local worker`, or the remote core's URL. */
  coreLocation: string;
  requests: number;
  bytesSent: number;
  bytesReceived: number;
  sent: CollabLedgerEntryView[];
  /** Entries left out of `sent` (the panel keeps the first ones). */
  droppedEntries?: number;
}

export type CollabRunStatus = 'running' | 'done' | 'cancelled' | 'error';

export interface CollabRunView {
  /** Increases with every run in this window; the view uses it to reset per-run UI. */
  id: number;
  status: CollabRunStatus;
  /** For `cancelled` and `error`: one line saying what happened. */
  message?: string;
  /** While running: steps done of all steps, when the worker reports them. */
  progress?: { step: number; total: number; message?: string };
  controls: CollabControls;
  /** Where the core ran (local worker or the remote URL). */
  coreLocation: string;
  /** Knowledge items (and files of folder items) the run read. */
  knowledgeItems: number;
  text?: string;
  coreOnly?: string;
  userOnly?: string;
  /** Character ranges of `text` where the user model changed the core's choice. */
  changedByUser?: { start: number; end: number }[];
  passages?: CollabPassageView[];
  ledger?: CollabLedgerView;
  /** The run record as name/value lines (model ids, seed, knobs, time). */
  record?: { name: string; value: string }[];
}

export interface CollabViewState {
  run?: CollabRunView;
  /** The controls the panel shows when it has no run yet (from the settings), or the last run's. */
  controls: CollabControls;
  /** The remote core: whether it can be used now, and why not. */
  remote: { url?: string; hasToken: boolean; available: boolean; reason?: string };
  /** Enabled knowledge items, of all. */
  knowledge: { enabled: number; total: number };
  /** Whether Insert at Cursor has an editor to insert into. */
  canInsert: boolean;
}

export interface CollabNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

export type HostToCollabView = { type: 'state'; state: CollabViewState } | { type: 'notice'; notice: CollabNotice };

export type CollabViewToHost =
  | { type: 'ready' }
  /** Run with these controls (cancels a run in progress). */
  | { type: 'run'; controls: CollabControls }
  | { type: 'cancel' }
  | { type: 'copy'; variant: CollabVariant }
  /** Insert the output at the cursor of the last active editor, as one edit (one undo step). */
  | { type: 'insert'; variant: CollabVariant }
  /** Run the commands behind the panel's links. */
  | { type: 'setToken' }
  | { type: 'openSettings' }
  | { type: 'showKnowledge' };

/** UI-only state the collaborate panel persists with `setState` (data is refetched from the host). */
export interface CollabViewUiState {
  ledgerOpen: boolean;
  recordOpen: boolean;
  /** Controls edited but not yet run, and the run they were edited after. */
  draft?: CollabControls;
  runId?: number;
}

// ── Concert: Images panel (JPEG-LM image completion and generation, issue 14) ─────────────────────────────────

/** `complete` keeps the first part of an image and samples the rest; `generate` samples whole images. */
export type ImagesMode = 'complete' | 'generate';

/**
 * Ranges of the panel's controls (the settings share them). `samples.max` is the worker's IMAGE_MAX_SAMPLES (a test
 * checks). The ratio moves in 32nds: a 256×256 image has 32 patches, and the prompt ends after ⌊32·ratio⌋ of them.
 * `topK` 0 turns top-k off.
 */
export const IMAGE_LIMITS = {
  ratio: { min: 0, max: 1, step: 1 / 32 },
  samples: { min: 1, max: 16 },
  temperature: { min: 0.05, max: 10, step: 0.05 },
  topP: { min: 0.01, max: 1, step: 0.01 },
  topK: { min: 0, max: 1024 },
  seed: { min: 0, max: 4_294_967_295 },
} as const;

/** The sampling knobs the codec panels (Images, Video) share, and their ranges: the same in both. */
export const SAMPLING_LIMITS = {
  temperature: IMAGE_LIMITS.temperature,
  topP: IMAGE_LIMITS.topP,
  topK: IMAGE_LIMITS.topK,
  seed: IMAGE_LIMITS.seed,
} as const;

/** Temperature, top-p, top-k and seed, as the codec panels' forms hold them. */
export interface SamplingControls {
  temperature: number;
  topP: number;
  /** 0: no top-k. */
  topK: number;
  /** Absent: a fresh random seed for every run (the run record says which). */
  seed?: number;
}

/** Everything the user can change before a run. */
export interface ImageControls extends SamplingControls {
  /** complete: the share of the image kept, 0…1. */
  ratio: number;
  samples: number;
}

/** One sample of the gallery: its latest preview (while streaming, the decodable prefix with the rest grey). */
export interface ImageSampleView {
  index: number;
  /** The sample as a JPEG file, base64 (the page turns it into a blob: URL); absent until its first preview. */
  jpeg?: string;
  /** MCUs decoded so far, of the run's `mcuCount`. */
  mcusDone: number;
  tokens: number;
  done: boolean;
  /** Set when the run has finished: whether the stream decodes. */
  decodable?: boolean;
  /** Why it does not decode, when it does not. */
  problem?: string;
  /** The file it was last saved to (name only). */
  savedAs?: string;
}

/** The geometry of a run: the image's MCUs cut into patches, and how many of them the prompt keeps. */
export interface ImageGeometryView {
  width: number;
  height: number;
  mcuCount: number;
  patches: number;
  keptPatches: number;
  keptMcus: number;
}

export type ImagesRunStatus = 'running' | 'done' | 'cancelled' | 'error';

export interface ImagesRunView {
  /** Increases with every run in this window; the view uses it to reset per-run UI. */
  id: number;
  status: ImagesRunStatus;
  /** For `cancelled` and `error`: one line saying what happened. */
  message?: string;
  mode: ImagesMode;
  /** complete: the image's file name (the webview never reads files). */
  sourceName?: string;
  controls: ImageControls;
  /** complete: the canonicalised input as the model sees it (JPEG, base64), from the first progress on. */
  original?: string;
  /** The kept region (the prompt closed with grey MCUs; JPEG, base64), from the first progress on. */
  kept?: string;
  /** MCUs per image (from the first progress on). */
  mcuCount?: number;
  geometry?: ImageGeometryView;
  /** While running: tokens sampled per sample so far, of the budget. */
  progress?: { step: number; maxSteps: number };
  samples: ImageSampleView[];
  /** Samples that decode, once done. */
  decodable?: number;
  /** The run record as name/value lines (model, seed, knobs, time). */
  record?: { name: string; value: string }[];
}

export interface ImagesViewState {
  mode: ImagesMode;
  /** complete: the image to complete (file name only); absent: none chosen yet. */
  sourceName?: string;
  /** The controls the panel shows when it has no run yet (from the settings), or the last run's. */
  controls: ImageControls;
  run?: ImagesRunView;
  /** The codec model the runs use, when the worker has listed it. */
  model?: { id: string; label: string; width: number; height: number };
  /** Why no codec model can run (none installed), when that is known. */
  noModel?: string;
}

export interface ImagesNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

export type HostToImagesView = { type: 'state'; state: ImagesViewState } | { type: 'notice'; notice: ImagesNotice };

export type ImagesViewToHost =
  | { type: 'ready' }
  /** Run with these controls (cancels a run in progress); complete without an image asks for one first. */
  | { type: 'run'; mode: ImagesMode; controls: ImageControls }
  | { type: 'cancel' }
  /**
   * Write the samples (one, or all without `index`) as .jpg files: `source` next to the completed image (generate
   * runs have none: the host asks for a folder), `folder` into a folder chosen in a dialog.
   */
  | { type: 'save'; where: 'source' | 'folder'; index?: number }
  /** Choose another image to complete (an open dialog). */
  | { type: 'pickImage' }
  | { type: 'openSettings' };

/** UI-only state the images panel persists with `setState` (data is refetched from the host). */
export interface ImagesViewUiState {
  recordOpen: boolean;
  /** Controls edited but not yet run, the mode picked, and the run they were edited after. */
  draft?: ImageControls;
  mode?: ImagesMode;
  runId?: number;
}

// ── Concert: Video panel (AVC-LM video continuation, issue 15) ──────────────────────────────────────────────────

/**
 * Ranges of the video panel's controls (the settings share them). `frames.max` is the worker's VIDEO_MAX_FRAMES and
 * `samples.max` its VIDEO_MAX_SAMPLES (a test checks); prompt frames are further capped by the clip's frame count
 * once a run has read the clip. `topK` 0 turns top-k off.
 */
export const VIDEO_LIMITS = {
  promptFrames: { min: 1, max: 256 },
  frames: { min: 1, max: 64 },
  samples: { min: 1, max: 8 },
  ...SAMPLING_LIMITS,
} as const;

/** Everything the user can change before a run. */
export interface VideoControls extends SamplingControls {
  /** Frames of the clip kept as the prompt. */
  promptFrames: number;
  /** Frames each sample generates. */
  frames: number;
  samples: number;
}

/** One sample's row: its generated frames so far (PNG, base64, in order) and, once done, its verdict. */
export interface VideoSampleView {
  index: number;
  /** The generated frames decoded so far, in order (the prompt's are the run's `promptFrames`). */
  frames: string[];
  tokens: number;
  done: boolean;
  /** Set when the run has finished: whether the clip decodes to prompt + generated frames. */
  decodable?: boolean;
  /** Frames the whole clip decodes to (prompt frames included), once done. */
  decodedFrames?: number;
  /** Why it does not decode, when it does not. */
  problem?: string;
  /** The files it was last saved to (names only: the .h264, and the .mp4 when there was one). */
  savedAs?: string[];
}

export type VideoRunStatus = 'running' | 'done' | 'cancelled' | 'error';

/** What a failed run's message can be fixed with: a button opens that setting. */
export type VideoFix = 'ffmpeg' | 'model';

export interface VideoRunView {
  /** Increases with every run in this window; the view uses it to reset per-run UI. */
  id: number;
  status: VideoRunStatus;
  /** For `cancelled` and `error`: one line saying what happened (the worker's message for errors). */
  message?: string;
  /** For `error`: the setting that fixes it (no ffmpeg: concert.ffmpegPath; no model: concert.video.modelPack). */
  fix?: VideoFix;
  /** The clip's file name (the webview never reads files). */
  sourceName: string;
  controls: VideoControls;
  /** The prompt frames as decoded (PNG, base64), from the first progress on. */
  promptFrames?: string[];
  /** The clip as the model sees it, once the run has finished. */
  video?: { width: number; height: number; fps: number; clipFrames: number };
  /** While running: tokens sampled per sample so far, of the budget. */
  progress?: { step: number; maxSteps: number };
  samples: VideoSampleView[];
  /** Samples that decode, once done. */
  decodable?: number;
  /** Why Save writes no .mp4 files (no ffmpeg, or its error), once done. */
  mp4Skipped?: string;
  /** Whether Save also writes .mp4 files (the worker wrapped every sample). */
  mp4?: boolean;
  /** The run record as name/value lines (model, seed, knobs, time). */
  record?: { name: string; value: string }[];
}

export interface VideoViewState {
  /** The clip to continue (file name only); absent: none chosen yet. */
  sourceName?: string;
  /** The controls the panel shows when it has no run yet (from the settings), or the last run's. */
  controls: VideoControls;
  run?: VideoRunView;
  /** The video model the runs use, when the worker has listed it (`fps` once a run has told it). */
  model?: { id: string; label: string; width: number; height: number; fps?: number };
  /** Why no video model can run (none installed), when that is known. */
  noModel?: string;
}

export type VideoNotice = ImagesNotice;

export type HostToVideoView = { type: 'state'; state: VideoViewState } | { type: 'notice'; notice: VideoNotice };

export type VideoViewToHost =
  | { type: 'ready' }
  /** Run with these controls (cancels a run in progress); without a clip the host asks for one first. */
  | { type: 'run'; controls: VideoControls }
  | { type: 'cancel' }
  /**
   * Write the samples (one, or all without `index`) as `<stem>-continue-<i>.h264` (and .mp4 when the run has them):
   * `source` next to the clip, `folder` into a folder chosen in a dialog.
   */
  | { type: 'save'; where: 'source' | 'folder'; index?: number }
  /** Choose another clip (an open dialog). */
  | { type: 'pickClip' }
  /** Open the settings: the video ones, or the one a failed run names. */
  | { type: 'openSettings'; setting?: 'concert.ffmpegPath' | 'concert.video.modelPack' };

/** UI-only state the video panel persists with `setState` (data is refetched from the host). */
export interface VideoViewUiState {
  recordOpen: boolean;
  /** Controls edited but not yet run, and the run they were edited after. */
  draft?: VideoControls;
  runId?: number;
}
