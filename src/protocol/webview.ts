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

export type HostToStatusView =
  | { type: 'state'; state: StatusViewState };

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
  /** e.g. `greedy`, `top-p 0.9, temperature 1`. */
  decoding: string;
  maxTokens: number;
  provider: string;
  device: string;
  promptTokens: { withContext: number; withoutContext: number };
  chunks?: number;
  durationMs: number;
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
  compareRegular: boolean;
  cad: SummaryOutputView;
  regular?: SummaryOutputView;
  record?: SummaryRecordView;
  /** Present when a long document was summarised chunk by chunk and merged. */
  chunks?: SummaryChunkView[];
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
  /** Re-run the same input (slider moved, side-by-side toggled). */
  | { type: 'rerun'; alpha: number; compareRegular: boolean }
  | { type: 'cancel' }
  /** Reveal the span of the source document that supports output token `index`. */
  | { type: 'reveal'; variant: SummaryVariant; index: number }
  | { type: 'copy'; variant: SummaryVariant }
  | { type: 'insert'; variant: SummaryVariant; mode: 'comment' | 'cursor' }
  /** Greedy runs at α ∈ {0, 0.5, 1, 2} on the same input, summarised as a small plot. */
  | { type: 'sweep' };

/** UI-only state the summary panel persists with `setState` (data is refetched from the host). */
export interface SummaryViewUiState {
  recordOpen: boolean;
  chunksOpen: boolean;
}

/** The α slider's range (the settings share it). */
export const SUMMARY_ALPHA = { min: 0, max: 3, step: 0.25 } as const;
/** The α values of the quick sweep. */
export const SWEEP_ALPHAS = [0, 0.5, 1, 2] as const;
