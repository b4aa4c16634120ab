/**
 * The summary panel's data, without VS Code: what a run asked for (enough to re-run it after a reload), the checks
 * that refuse a document before it reaches the worker, worker results → the webview's view state, streamed tokens,
 * sweep statistics, and the persisted form (validated on the way back in). No `vscode` import: tests load this.
 */
import type { CadOutput, CadRunParams, CadRunResult, CadTask, DecodingParams, PackSummary, TokenProgress } from '../protocol/worker';
import {
  SUMMARY_PLAUSIBILITY,
  type SummaryModelChoice,
  type SummaryOutputView,
  type SummaryRecordView,
  type SummaryRunView,
  type SummarySweepView,
  type SummaryTokenView,
  type SummaryViewState,
  type SweepPointView,
} from '../protocol/webview';
import type { CadSettings } from './settingsTable';

/** The summary panel's webview type (package.json declares `onWebviewPanel:` + this, so a reload restores it). */
export const SUMMARY_VIEW_TYPE = 'concert.summary';

export interface Position {
  line: number;
  character: number;
}
export interface LineRange {
  start: Position;
  end: Position;
}

/** Which text a run read. */
export interface SourceRef {
  /** `vscode.Uri.toString()` of the document. */
  uri: string;
  fileName: string;
  languageId: string;
  /** The selection that was read; absent for the whole document. */
  range?: LineRange;
  /** sha256 of the whole document text when the run started (Insert warns when it differs). */
  documentSha256: string;
}

/** What a run asked for: re-running it needs nothing else. */
export interface SummaryRequest {
  task: CadTask;
  question?: string;
  alpha: number;
  /** β of the plausibility constraint; absent (requests saved by older versions): 0. */
  plausibility?: number;
  /** Adaptive α; absent: off. */
  adaptive?: boolean;
  /**
   * Extractive output: an answer is one span of the document, a summary whole sentences of it. Absent in a request
   * saved by an older version: the worker's default, on for both tasks.
   */
  extractive?: boolean;
  /** Questions: read the whole document when it fits (`concert.cad.wholeDocumentAnswers`); absent: off. */
  wholeDocument?: boolean;
  compareRegular: boolean;
  /** Set after the first run, so that moving the α slider changes α and nothing else. */
  seed?: number;
  /** The model picked in the panel (a causal-lm pack id); absent: `concert.cad.modelPack`, else the worker's default. */
  packId?: string;
  source: SourceRef;
}

/** The knobs of a new run, from the settings: the task's α and the task's extractive setting (answers or summaries). */
export function requestKnobs(
  task: CadTask,
  cad: Pick<
    CadSettings,
    | 'summaryAlpha'
    | 'questionAlpha'
    | 'plausibility'
    | 'adaptiveAlpha'
    | 'extractiveAnswers'
    | 'extractiveSummaries'
    | 'wholeDocumentAnswers'
    | 'showRegularByDefault'
  >,
): Pick<SummaryRequest, 'alpha' | 'plausibility' | 'adaptive' | 'extractive' | 'wholeDocument' | 'compareRegular'> {
  return {
    alpha: task === 'ask' ? cad.questionAlpha : cad.summaryAlpha,
    plausibility: cad.plausibility,
    adaptive: cad.adaptiveAlpha,
    extractive: task === 'ask' ? cad.extractiveAnswers : cad.extractiveSummaries,
    ...(task === 'ask' && cad.wholeDocumentAnswers && { wholeDocument: true }),
    compareRegular: cad.showRegularByDefault,
  };
}

/** The knobs the panel changes for a rerun (absent: as before); extractive applies to both tasks. */
export interface RerunKnobs {
  alpha: number;
  compareRegular: boolean;
  plausibility?: number;
  adaptive?: boolean;
  extractive?: boolean;
}

/** `req` with the panel's knobs applied. */
export function withKnobs(req: SummaryRequest, k: RerunKnobs): SummaryRequest {
  return {
    ...req,
    alpha: k.alpha,
    compareRegular: k.compareRegular,
    ...(k.plausibility !== undefined && { plausibility: k.plausibility }),
    ...(k.adaptive !== undefined && { adaptive: k.adaptive }),
    ...(k.extractive !== undefined && { extractive: k.extractive }),
  };
}

/** The decoding knobs of `cad/run` for `req`; absent ones are left to the worker's defaults for the task. */
export function runKnobs(req: SummaryRequest): Pick<CadRunParams, 'alpha' | 'plausibility' | 'adaptive' | 'extractive' | 'wholeDocument'> {
  return {
    alpha: req.alpha,
    ...(req.plausibility !== undefined && { plausibility: req.plausibility }),
    ...(req.adaptive !== undefined && { adaptive: req.adaptive }),
    ...(req.extractive !== undefined && { extractive: req.extractive }),
    ...(req.wholeDocument && { wholeDocument: true }),
  };
}

/** The picker's models: the valid causal-LM packs (Concert packs and published Hugging Face folders). */
export function modelChoices(packs: readonly PackSummary[]): SummaryModelChoice[] {
  return packs
    .filter((p) => p.valid && p.kind === 'causal-lm')
    .map((p) => ({ id: p.id, label: p.displayName && p.displayName !== p.id ? p.displayName : p.id, source: p.source }));
}

// ── refusing input ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Binary-looking text: a NUL, or more than 10% control or U+FFFD replacement characters (what VS Code shows for
 * bytes that are not valid in the file's encoding) in the first 64 KiB.
 */
export function looksBinary(text: string): boolean {
  const sample = text.slice(0, 65_536);
  if (sample.includes('\u0000')) return true;
  let odd = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 0xfffd) odd++;
  }
  return sample.length > 0 && odd / sample.length > 0.1;
}

/** A one-line reason to refuse `text` (the whole document or the selection), or undefined when it is fine. */
export function refuseText(text: string, what: { fileName: string; selection: boolean }): string | undefined {
  if (!text.trim()) return what.selection ? 'the selection is empty or only white space.' : `${what.fileName} is empty.`;
  if (looksBinary(text)) return `${what.fileName} looks binary; Concert summarizes text only.`;
  return undefined;
}

/** `whole document`, `line 3`, `lines 3–10` (1-based; a selection that ends at column 0 does not count that line). */
export function scopeLabel(range: LineRange | undefined): string {
  if (!range) return 'whole document';
  const first = range.start.line + 1;
  let last = range.end.line + 1;
  if (range.end.character === 0 && range.end.line > range.start.line) last--;
  return first === last ? `line ${first}` : `lines ${first}–${last}`;
}

// ── worker results → view ─────────────────────────────────────────────────────────────────────────────────────

export function decodingLabel(d: DecodingParams): string {
  if (d.mode === 'greedy') return 'greedy';
  return [`top-p ${d.topP}`, `temperature ${d.temperature}`, ...(d.topK !== undefined ? [`top-k ${d.topK}`] : [])].join(', ');
}

const tokenView = (t: { text: string; reliance: number }): SummaryTokenView => ({ text: t.text, reliance: t.reliance });

export function outputView(o: CadOutput): SummaryOutputView {
  return { text: o.text, tokens: o.tokens.map(tokenView), alpha: o.alpha, stoppedBy: o.stoppedBy };
}

export function recordView(r: CadRunResult): SummaryRecordView {
  const run = r.run;
  return {
    modelId: r.model.id,
    ...(r.model.displayName && { modelName: r.model.displayName }),
    manifestSha256: run.manifestSha256,
    modelSha256: run.modelSha256,
    seed: run.seed,
    alpha: run.knobs.alpha,
    ...(run.knobs.plausibility !== undefined && { plausibility: run.knobs.plausibility }),
    ...(run.knobs.adaptive !== undefined && { adaptive: run.knobs.adaptive }),
    ...(run.knobs.extractive !== undefined && { extractive: run.knobs.extractive }),
    ...(run.adaptiveAlpha && { adaptiveAlpha: { mean: run.adaptiveAlpha.mean, min: run.adaptiveAlpha.min, max: run.adaptiveAlpha.max } }),
    decoding: decodingLabel(run.knobs.decoding),
    maxTokens: run.knobs.maxTokens,
    provider: run.provider,
    device: run.device,
    promptTokens: { ...run.promptTokens },
    ...(run.prompt?.template && { template: run.prompt.template }),
    ...(run.chunks !== undefined && { chunks: run.chunks }),
    durationMs: run.durationMs,
  };
}

/** The view of a run that has just started (nothing generated yet). */
export function startedRun(id: number, req: SummaryRequest): SummaryRunView {
  return {
    id,
    status: 'running',
    task: req.task,
    ...(req.question !== undefined && { question: req.question }),
    source: { fileName: req.source.fileName, scope: scopeLabel(req.source.range), languageId: req.source.languageId },
    alpha: req.alpha,
    plausibility: req.plausibility ?? 0,
    adaptive: req.adaptive ?? false,
    // Absent (a request saved by an older version): the worker's default, on for both tasks.
    extractive: req.extractive ?? true,
    compareRegular: req.compareRegular,
    cad: { text: '', tokens: [], alpha: req.alpha },
    ...(req.compareRegular && { regular: { text: '', tokens: [], alpha: 0 } }),
  };
}

/** Adds one streamed token; a new part of a chunked summary starts its output afresh. */
export function applyTokenProgress(run: SummaryRunView, p: Pick<TokenProgress, 'variant' | 'part' | 'index' | 'token'>): void {
  const out = p.variant === 'cad' ? run.cad : (run.regular ??= { text: '', tokens: [], alpha: 0 });
  if ((out.part ?? 0) !== p.part) {
    out.tokens = [];
    out.part = p.part;
  }
  if (p.index > out.tokens.length) return; // a gap: ignore rather than show holes (the final result repairs it)
  out.tokens.length = p.index;
  out.tokens.push(tokenView(p.token));
  out.text = out.tokens
    .map((t) => t.text)
    .join('')
    .trim();
}

/** `firstLine`: the 0-based line of the document where the text read starts (a selection), so passages name document lines. */
export function finishedRun(run: SummaryRunView, r: CadRunResult, firstLine = 0): SummaryRunView {
  return {
    ...run,
    status: 'done',
    alpha: r.alpha,
    cad: outputView(r),
    ...(r.regular ? { regular: outputView(r.regular) } : {}),
    record: recordView(r),
    ...(r.chunks && { chunks: r.chunks.slice(0, MAX_CHUNKS).map((c) => ({ start: c.start, end: c.end, summary: c.summary })) }),
    ...(r.passages && { passages: r.passages.map((p) => ({ firstLine: p.firstLine + firstLine, lastLine: p.lastLine + firstLine })) }),
  };
}

/** Chunk summaries kept for the panel (a 2 MB document may have hundreds). */
export const MAX_CHUNKS = 200;

export function tokenCount(run: SummaryRunView): number {
  return run.cad.tokens.length + (run.regular?.tokens.length ?? 0);
}

/** For the α sweep: the share of tokens the document raised, and their mean reliance. */
export function sweepPoint(alpha: number, o: CadOutput): SweepPointView {
  const n = o.tokens.length;
  const finite = o.tokens.map((t) => t.reliance).filter((r) => Number.isFinite(r));
  return {
    alpha,
    tokens: n,
    positiveShare: n ? o.tokens.filter((t) => t.reliance > 0).length / n : 0,
    meanReliance: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : 0,
    text: o.text,
  };
}

// ── persistence ───────────────────────────────────────────────────────────────────────────────────────────────

/** What the host keeps in workspaceState for the panel: the request (to re-run) and the last result (to re-render). */
export interface PersistedSummary {
  version: 1;
  request: SummaryRequest;
  state: SummaryViewState;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isPos = (v: unknown): v is Position =>
  isObj(v) && Number.isInteger(v.line) && (v.line as number) >= 0 && Number.isInteger(v.character) && (v.character as number) >= 0;
const isOutput = (v: unknown): v is SummaryOutputView =>
  isObj(v) && isStr(v.text) && isNum(v.alpha) && Array.isArray(v.tokens) && v.tokens.every((t) => isObj(t) && isStr(t.text) && typeof t.reliance === 'number');

const copyRange = (r: LineRange): LineRange => ({
  start: { line: r.start.line, character: r.start.character },
  end: { line: r.end.line, character: r.end.character },
});

function sanitizeRequest(v: unknown): SummaryRequest | undefined {
  if (!isObj(v) || (v.task !== 'summarize' && v.task !== 'ask') || !isNum(v.alpha) || typeof v.compareRegular !== 'boolean') return undefined;
  const s = v.source;
  if (!isObj(s) || !isStr(s.uri) || !isStr(s.fileName) || !isStr(s.languageId) || !isStr(s.documentSha256)) return undefined;
  if (s.range !== undefined && !(isObj(s.range) && isPos(s.range.start) && isPos(s.range.end))) return undefined;
  if (v.task === 'ask' && !isStr(v.question)) return undefined;
  return {
    task: v.task,
    ...(isStr(v.question) && { question: v.question }),
    alpha: v.alpha,
    ...(isNum(v.plausibility) && v.plausibility >= SUMMARY_PLAUSIBILITY.min && v.plausibility <= SUMMARY_PLAUSIBILITY.max && { plausibility: v.plausibility }),
    ...(typeof v.adaptive === 'boolean' && { adaptive: v.adaptive }),
    ...(typeof v.extractive === 'boolean' && { extractive: v.extractive }),
    ...(v.wholeDocument === true && { wholeDocument: true }),
    compareRegular: v.compareRegular,
    ...(Number.isInteger(v.seed) && (v.seed as number) >= 0 && { seed: v.seed as number }),
    ...(isStr(v.packId) && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(v.packId) && { packId: v.packId }),
    source: {
      uri: s.uri,
      fileName: s.fileName,
      languageId: s.languageId,
      ...(s.range !== undefined && { range: copyRange(s.range as unknown as LineRange) }),
      documentSha256: s.documentSha256,
    },
  };
}

function sanitizeRun(v: unknown): SummaryRunView | undefined {
  if (!isObj(v) || !Number.isInteger(v.id) || !['running', 'done', 'cancelled', 'error'].includes(v.status as string)) return undefined;
  if (!isOutput(v.cad) || (v.regular !== undefined && !isOutput(v.regular)) || !isObj(v.source) || !isStr(v.source.fileName) || !isStr(v.source.scope))
    return undefined;
  if ((v.task !== 'summarize' && v.task !== 'ask') || !isNum(v.alpha) || typeof v.compareRegular !== 'boolean') return undefined;
  if ((v.adaptive !== undefined && typeof v.adaptive !== 'boolean') || (v.extractive !== undefined && typeof v.extractive !== 'boolean')) return undefined;
  if (v.record !== undefined && !(isObj(v.record) && isStr(v.record.modelId) && isNum(v.record.seed))) return undefined;
  if (v.chunks !== undefined && !(Array.isArray(v.chunks) && v.chunks.every((c) => isObj(c) && isNum(c.start) && isNum(c.end) && isStr(c.summary))))
    return undefined;
  if (v.passages !== undefined && !(Array.isArray(v.passages) && v.passages.every((p) => isObj(p) && isNum(p.firstLine) && isNum(p.lastLine))))
    return undefined;
  return v as unknown as SummaryRunView;
}

function sanitizeSweep(v: unknown): SummarySweepView | undefined {
  if (!isObj(v) || !Array.isArray(v.points) || !Array.isArray(v.alphas) || !v.alphas.every(isNum)) return undefined;
  if (!v.points.every((p) => isObj(p) && isNum(p.alpha) && isNum(p.tokens) && isNum(p.positiveShare) && isNum(p.meanReliance) && isStr(p.text)))
    return undefined;
  return v as unknown as SummarySweepView;
}

/**
 * Reads back what an earlier session stored (maybe an older version of Concert: anything malformed is dropped).
 * A run or sweep that was still going when the window closed is marked as interrupted.
 */
export function restorePersisted(raw: unknown): PersistedSummary | undefined {
  if (!isObj(raw) || raw.version !== 1 || !isObj(raw.state)) return undefined;
  const request = sanitizeRequest(raw.request);
  if (!request) return undefined;
  const run = sanitizeRun(raw.state.run);
  const sweep = sanitizeSweep(raw.state.sweep);
  const interrupted = 'Interrupted when the window was closed or reloaded; press Run Again.';
  return {
    version: 1,
    request,
    state: {
      ...(run && { run: run.status === 'running' ? { ...run, status: 'cancelled', message: interrupted } : run }),
      ...(sweep && {
        sweep: sweep.status === 'running' ? { ...sweep, status: 'cancelled', message: 'Interrupted when the window was closed or reloaded.' } : sweep,
      }),
    },
  };
}
