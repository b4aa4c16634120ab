/**
 * The rewrite panel's data, without VS Code: the attribute quick pick, what a run asks for (enough to run it again
 * after a reload), refusals, the worker request, streamed denoising steps → the timeline, results → the view, the
 * text Accept writes and when it must ask first, and the persisted form (validated on the way back in).
 * No `vscode` import: tests load this.
 */
import type { DiffusionRunParams, DiffusionRunResult, DiffusionStepProgress, PackSummary } from '../protocol/worker';
import type {
  RewriteAttributeChoice,
  RewriteControls,
  RewriteMode,
  RewriteRecordView,
  RewriteRunView,
  RewriteScoreView,
  RewriteSourceView,
  RewriteStepView,
  RewriteTarget,
} from '../protocol/webview';
import { sanitizeControls } from './rewriteMessages';
import type { DiffusionSettings } from './settingsTable';
import { looksBinary, scopeLabel, type LineRange, type Position } from './summaryState';

/** The rewrite panel's webview type (package.json declares `onWebviewPanel:` + this, so a reload restores it). */
export const REWRITE_VIEW_TYPE = 'concert.rewrite';
/** Longest selection Rewrite accepts (a paragraph or two; the model's context window bounds it anyway). */
export const MAX_REWRITE_CHARS = 4000;
/** Timeline frames kept per run; beyond this the oldest blocks keep only their final step. */
export const MAX_STEPS_KEPT = 2000;
/** How much of the prompt the panel shows before a continuation. */
export const PROMPT_TAIL_CHARS = 240;

// ── requests ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Where the output goes. */
export interface RewriteSource {
  /** `vscode.Uri.toString()` of the document. */
  uri: string;
  fileName: string;
  languageId: string;
  /** rewrite: the selection; continue: the cursor (an empty range). After an Accept: the text it wrote. */
  range: LineRange;
  /** What `range` held then: the selected text, '' at the cursor, or what Accept wrote. */
  rangeText: string;
  /** The document when the run was started (or when Accept last wrote to it). */
  version: number;
  documentSha256: string;
  /** The window session `version` belongs to: versions start again after a reload, hashes do not. */
  session: string;
}

/** What a run asks for: running it again needs nothing else (the original text and prompt are kept). */
export interface RewriteRequest {
  mode: RewriteMode;
  /** The text before the selection or cursor, cut to `concert.diffusion.promptChars`. */
  prompt: string;
  /** rewrite: the selected text; continue: empty. */
  original: string;
  controls: RewriteControls;
  source: RewriteSource;
}

/** One classifier per attribute: the worker steers with the first valid pack of an attribute, so the pick does too. */
export function classifierChoices(packs: readonly PackSummary[]): RewriteAttributeChoice[] {
  const out: RewriteAttributeChoice[] = [];
  for (const p of packs) {
    if (!p.valid || p.kind !== 'classifier' || !p.classifier || p.classifier.labels.length < 2) continue;
    if (out.some((c) => c.attribute === p.classifier!.attribute)) continue;
    out.push({ attribute: p.classifier.attribute, labels: [...p.classifier.labels] });
  }
  return out;
}

/** The installed choices plus any attribute a run still names (so the panel can show and unset it). */
export function withTargetChoices(choices: readonly RewriteAttributeChoice[], targets: readonly RewriteTarget[]): RewriteAttributeChoice[] {
  const out = choices.map((c) => ({ attribute: c.attribute, labels: [...c.labels] }));
  for (const t of targets) {
    const c = out.find((x) => x.attribute === t.attribute);
    if (!c) out.push({ attribute: t.attribute, labels: [t.label] });
    else if (!c.labels.includes(t.label)) c.labels.push(t.label);
  }
  return out;
}

export interface AttributePickItem {
  /** `sentiment → positive` */
  label: string;
  description?: string;
  attribute: string;
  target: string;
  picked: boolean;
}

export const pickLabel = (attribute: string, label: string) => `${attribute} → ${label}`;

/** Quick-pick items, one per (attribute, label); the last run's targets come pre-picked. */
export function attributePickItems(choices: readonly RewriteAttributeChoice[], previous: readonly RewriteTarget[] = []): AttributePickItem[] {
  return choices.flatMap((c) =>
    c.labels.map((label) => {
      const prev = previous.find((t) => t.attribute === c.attribute && t.label === label);
      return {
        label: pickLabel(c.attribute, label),
        description: prev ? `λ ${prev.lambda} last time` : '',
        attribute: c.attribute,
        target: label,
        picked: prev !== undefined,
      };
    }),
  );
}

/**
 * One direction per attribute: when a new pick adds a second label of an attribute, the new one wins (picking
 * "sentiment → negative" unpicks "sentiment → positive"). Returns the selection to show.
 */
export function resolvePickConflicts<T extends { attribute: string; target: string }>(before: readonly T[], after: readonly T[]): T[] {
  const isNew = (x: T) => !before.some((b) => b.attribute === x.attribute && b.target === x.target);
  return after.filter((x) => {
    const same = after.filter((y) => y.attribute === x.attribute);
    if (same.length === 1) return true;
    const fresh = same.filter(isNew);
    const winner = fresh.length ? fresh[fresh.length - 1]! : same[same.length - 1]!;
    return winner === x;
  });
}

/** Targets for the picked items: λ from the last run for the same attribute, else the default. */
export function targetsFromPicks(
  picks: readonly { attribute: string; target: string }[],
  lambda: number,
  previous: readonly RewriteTarget[] = [],
): RewriteTarget[] {
  const out: RewriteTarget[] = [];
  for (const p of picks) {
    if (out.some((t) => t.attribute === p.attribute)) continue;
    out.push({ attribute: p.attribute, label: p.target, lambda: previous.find((t) => t.attribute === p.attribute)?.lambda ?? lambda });
  }
  return out;
}

/** The end of `textBefore`, at most `maxChars` long, starting at a word boundary when it had to be cut. */
export function promptBefore(textBefore: string, maxChars: number): string {
  if (textBefore.length <= maxChars) return textBefore;
  const cut = textBefore.slice(textBefore.length - maxChars);
  const ws = cut.search(/\s/);
  return ws >= 0 && ws < cut.length / 2 ? cut.slice(ws + 1) : cut;
}

const WORD_CHAR = /[\p{L}\p{N}_'’-]/u;

/**
 * How far to widen a selection so that it covers whole words: characters to add before it (from the end of
 * `before`) and after it (from the start of `after`). A selection that starts or ends inside a word is rewritten
 * as the whole word, since the model reads and writes whole words, and Accept replaces exactly what was rewritten.
 */
export function wholeWordExtension(before: string, selected: string, after: string): { back: number; forward: number } {
  const inside = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && WORD_CHAR.test(a) && WORD_CHAR.test(b);
  let back = 0;
  if (inside(before.at(-1), selected[0])) while (back < before.length && WORD_CHAR.test(before[before.length - 1 - back]!)) back++;
  let forward = 0;
  if (inside(selected.at(-1), after[0])) while (forward < after.length && WORD_CHAR.test(after[forward]!)) forward++;
  return { back, forward };
}

/** A one-line reason to refuse a selection for Rewrite, or undefined when it is fine. */
export function refuseRewrite(selection: string, fileName: string): string | undefined {
  if (!selection.trim()) return 'select some text to rewrite first (the selection is empty or only white space).';
  if (looksBinary(selection)) return `${fileName} looks binary; Concert rewrites text only.`;
  if (selection.length > MAX_REWRITE_CHARS)
    return `the selection has ${selection.length} characters; select at most ${MAX_REWRITE_CHARS} (a paragraph or two) to rewrite.`;
  return undefined;
}

/** A one-line reason to refuse a continuation from this prompt, or undefined when it is fine. */
export function refuseContinue(prompt: string, fileName: string): string | undefined {
  if (!prompt.trim()) return 'there is no text before the cursor to continue: put the cursor after some text.';
  if (looksBinary(prompt)) return `${fileName} looks binary; Concert continues text only.`;
  return undefined;
}

/** The panel's knobs for a new run from the settings. */
export function initialControls(s: DiffusionSettings, targets: RewriteTarget[]): RewriteControls {
  return {
    targets: targets.map((t) => ({ ...t })),
    strength: s.strength,
    steps: s.steps,
    topP: s.topP,
    projection: s.projection,
    tokens: s.continueTokens,
    minTokens: s.minTokens,
  };
}

/** The worker request of a run. */
export function runParams(req: RewriteRequest, progressToken: string, packId?: string): DiffusionRunParams {
  const c = req.controls;
  return {
    mode: req.mode === 'rewrite' ? 'rewrite' : 'generate',
    prompt: req.prompt,
    ...(req.mode === 'rewrite'
      ? { text: req.original, strength: c.strength }
      : { maxTokens: c.tokens, ...(c.minTokens !== undefined && { minTokens: c.minTokens }) }),
    attributes: c.targets.map((t) => ({ attribute: t.attribute, label: t.label, lambda: t.lambda })),
    steps: c.steps,
    topP: c.topP,
    projection: c.projection,
    ...(c.seed !== undefined && { seed: c.seed }),
    ...(packId !== undefined && { packId }),
    progressToken,
  };
}

// ── runs → view ───────────────────────────────────────────────────────────────────────────────────────────────

/** `lines 3–5` for a rewrite; `line 7, column 12` for a continuation. */
export function placeLabel(mode: RewriteMode, range: LineRange): string {
  return mode === 'rewrite' && !isEmptyRange(range) ? scopeLabel(range) : `line ${range.start.line + 1}, column ${range.start.character + 1}`;
}

const isEmptyRange = (r: LineRange) => r.start.line === r.end.line && r.start.character === r.end.character;

export function sourceView(req: RewriteRequest): RewriteSourceView {
  return { fileName: req.source.fileName, scope: placeLabel(req.mode, req.source.range), languageId: req.source.languageId };
}

const tail = (s: string, n: number) => (s.length <= n ? s : `…${s.slice(s.length - n + 1)}`);
const copyControls = (c: RewriteControls): RewriteControls => ({ ...c, targets: c.targets.map((t) => ({ ...t })) });

/** The view of a run that has just started. */
export function startedRun(id: number, req: RewriteRequest): RewriteRunView {
  return {
    id,
    status: 'running',
    mode: req.mode,
    source: sourceView(req),
    original: req.original,
    promptTail: tail(req.prompt, PROMPT_TAIL_CHARS),
    controls: copyControls(req.controls),
    blocks: 0,
    steps: [],
  };
}

/**
 * Adds one denoising step. Past MAX_STEPS_KEPT the oldest finished block keeps only its final step (the timeline
 * of the current block stays whole); `droppedSteps` counts what was left out.
 */
export function applyStep(run: RewriteRunView, p: Omit<DiffusionStepProgress, 'progressToken'>): void {
  run.blocks = Math.max(run.blocks, p.blocks);
  const scores: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(p.scores ?? {})) scores[k] = typeof v === 'number' && Number.isFinite(v) ? v : null;
  run.steps.push({ block: p.block, t: p.t, T: p.T, text: p.text, scores });
  while (run.steps.length > MAX_STEPS_KEPT) {
    const old = run.steps.find((s, i) => s.block < p.block && run.steps[i + 1]?.block === s.block);
    if (!old) {
      run.steps.pop();
      run.droppedSteps = (run.droppedSteps ?? 0) + 1;
      break;
    }
    const last = [...run.steps].reverse().find((s) => s.block === old.block)!;
    const before = run.steps.length;
    run.steps = run.steps.filter((s) => s.block !== old.block || s === last);
    run.droppedSteps = (run.droppedSteps ?? 0) + before - run.steps.length;
  }
}

/** How far a run is, 0–1, from its latest step (`firstT`: the t the block started at). */
export function stepFraction(p: { block: number; blocks: number; t: number }, firstT: number): number {
  if (p.blocks <= 0 || firstT <= 0) return 0;
  const within = (firstT - p.t + 1) / firstT;
  return Math.min(1, Math.max(0, (p.block + within) / p.blocks));
}

/** The t the given block started at (its first step), or undefined before its first step arrived. */
export function firstT(run: RewriteRunView, block: number): number | undefined {
  return run.steps.find((s) => s.block === block)?.t;
}

/** A one-line progress message: `block 1 of 2 · t 37/50 · sentiment → positive 82%`. */
export function progressMessage(p: Omit<DiffusionStepProgress, 'progressToken'>, targets: readonly RewriteTarget[]): string {
  const scores = targets.flatMap((t) => {
    const v = p.scores?.[t.attribute];
    return typeof v === 'number' && Number.isFinite(v) ? [`${pickLabel(t.attribute, t.label)} ${Math.round(v * 100)}%`] : [];
  });
  return [p.blocks > 1 ? `block ${p.block + 1} of ${p.blocks}` : undefined, `t ${p.t}/${p.T}`, ...scores].filter(Boolean).join(' · ');
}

export function recordView(r: DiffusionRunResult): RewriteRecordView {
  const run = r.run;
  return {
    modelId: r.model.id,
    ...(r.model.displayName && { modelName: r.model.displayName }),
    manifestSha256: run.manifestSha256,
    modelSha256: run.modelSha256,
    classifiers: run.classifiers.map((c) => ({ id: c.id, manifestSha256: c.manifestSha256 })),
    seed: run.seed,
    steps: run.knobs.steps,
    topP: run.knobs.topP,
    projection: run.knobs.projection,
    earlyStop: run.knobs.earlyStop,
    ...(run.knobs.strength !== undefined && { strength: run.knobs.strength }),
    maxTokens: run.knobs.maxTokens,
    targets: run.knobs.attributes.map((a) => ({ attribute: a.attribute, label: a.label, lambda: a.lambda })),
    provider: run.provider,
    device: run.device,
    durationMs: run.durationMs,
    stoppedBy: r.stoppedBy,
  };
}

/** Final probabilities, one row per attribute: the first classifier of an attribute is the one that steered. */
export function scoreViews(r: DiffusionRunResult): RewriteScoreView[] {
  const out: RewriteScoreView[] = [];
  for (const a of r.attributes) {
    if (out.some((x) => x.attribute === a.attribute)) continue;
    out.push({ attribute: a.attribute, ...(a.target !== undefined && { target: a.target }), probabilities: { ...a.probabilities } });
  }
  return out;
}

export function finishedRun(run: RewriteRunView, r: DiffusionRunResult): RewriteRunView {
  return {
    ...run,
    status: 'done',
    controls: { ...copyControls(run.controls), seed: r.run.seed },
    output: { text: r.text, stoppedBy: r.stoppedBy },
    scores: scoreViews(r),
    record: recordView(r),
  };
}

// ── accepting ─────────────────────────────────────────────────────────────────────────────────────────────────

const WORDISH = /[\p{L}\p{N}_]/u;

/**
 * The text Accept writes. A rewrite keeps the selection's leading and trailing white space (the model's output is
 * trimmed); a continuation gets a space after a word that ends right at the cursor, and before a word that follows it.
 */
export function editText(mode: RewriteMode, output: string, around: { original: string; before: string; after: string }): string {
  const text = output.trim();
  if (mode === 'rewrite') {
    const lead = /^\s*/.exec(around.original)![0];
    const trail = around.original.trim() ? /\s*$/.exec(around.original)![0] : '';
    return `${lead}${text}${trail}`;
  }
  if (!text) return '';
  const last = around.before.slice(-1);
  const space = last !== '' && !/\s/.test(last) && !/^[\s.,;:!?)\]}’”'"…]/u.test(text) ? ' ' : '';
  const next = around.after.slice(0, 1);
  const after = next !== '' && WORDISH.test(next) && WORDISH.test(text.slice(-1)) ? ' ' : '';
  return `${space}${text}${after}`;
}

/** The document now, for the change check (the text is read only when the version alone cannot tell). */
export interface DocumentNow {
  version: number;
  session: string;
  text: () => string;
}

/** True when the document differs from the one the run started from (or Accept last wrote). */
export function documentChanged(src: RewriteSource, now: DocumentNow, sha256: (text: string) => string): boolean {
  if (now.session === src.session && now.version === src.version) return false;
  return sha256(now.text()) !== src.documentSha256;
}

export type AcceptPlan = { kind: 'refuse'; reason: string } | { kind: 'apply'; output: string };

/** Whether Accept may write this run's output at all (the document check comes after). */
export function planAccept(run: RewriteRunView | undefined): AcceptPlan {
  if (!run) return { kind: 'refuse', reason: 'There is nothing to accept yet.' };
  if (run.status === 'running')
    return { kind: 'refuse', reason: 'Wait for the run to finish (or cancel it) before accepting: the document is not changed while text is generated.' };
  if (run.applied) return { kind: 'refuse', reason: 'This output is already in the document (Undo in the editor reverts it; Re-run makes another).' };
  const out = run.output?.text.trim();
  if (run.status !== 'done' || !out)
    return { kind: 'refuse', reason: run.mode === 'rewrite' ? 'There is no rewrite to accept.' : 'There is no continuation to accept.' };
  return { kind: 'apply', output: out };
}

/** The question Accept asks when the document changed underneath the run. */
export function changedWarning(req: RewriteRequest, textAtRange: string): { message: string; detail: string } {
  const place = placeLabel(req.mode, req.source.range);
  const what = req.mode === 'rewrite' ? 'rewrite' : 'continuation';
  const held = req.source.rangeText;
  const detail =
    textAtRange === held
      ? held
        ? `The text at ${place} is unchanged, but other parts of the document changed. Applying replaces it.`
        : `Applying inserts the text at ${place}, which may no longer be where the cursor was.`
      : `The text at ${place} is no longer ${held ? `what ${req.mode === 'rewrite' && held === req.original ? 'was rewritten' : 'Accept wrote'}` : 'empty'}. Applying replaces whatever is there now.`;
  return { message: `${req.source.fileName} has changed since this ${what} was made. Apply it anyway?`, detail };
}

/** The range the inserted text covers: a second Accept (after Re-run) replaces it instead of adding more. */
export function rangeAfterEdit(start: Position, text: string): LineRange {
  const lines = text.split(/\r\n|\r|\n/);
  const end =
    lines.length === 1
      ? { line: start.line, character: start.character + text.length }
      : { line: start.line + lines.length - 1, character: lines[lines.length - 1]!.length };
  return { start: { ...start }, end };
}

// ── persistence ───────────────────────────────────────────────────────────────────────────────────────────────

/** What the host keeps in workspaceState for the panel: the request (to run again) and the last run (to show). */
export interface PersistedRewrite {
  version: 1;
  request: RewriteRequest;
  run?: RewriteRunView;
  /** The classifiers known when it was saved (the worker need not start just to draw a restored panel). */
  classifiers: RewriteAttributeChoice[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNat = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isPos = (v: unknown): v is Position => isObj(v) && isNat(v.line) && isNat(v.character);
const isRange = (v: unknown): v is LineRange => isObj(v) && isPos(v.start) && isPos(v.end);
const isMode = (v: unknown): v is RewriteMode => v === 'rewrite' || v === 'continue';
const copyRange = (r: LineRange): LineRange => ({
  start: { line: r.start.line, character: r.start.character },
  end: { line: r.end.line, character: r.end.character },
});

function sanitizeRequest(v: unknown): RewriteRequest | undefined {
  if (!isObj(v) || !isMode(v.mode) || !isStr(v.prompt) || !isStr(v.original)) return undefined;
  const controls = sanitizeControls(v.controls);
  const s = v.source;
  if (
    !controls ||
    !isObj(s) ||
    !isStr(s.uri) ||
    !isStr(s.fileName) ||
    !isStr(s.languageId) ||
    !isRange(s.range) ||
    !isNat(s.version) ||
    !isStr(s.documentSha256) ||
    !isStr(s.session)
  )
    return undefined;
  if (v.mode === 'rewrite' && !v.original.trim()) return undefined;
  const rangeText = isStr(s.rangeText) ? s.rangeText : v.original;
  return {
    mode: v.mode,
    prompt: v.prompt,
    original: v.original,
    controls,
    source: {
      uri: s.uri,
      fileName: s.fileName,
      languageId: s.languageId,
      range: copyRange(s.range),
      rangeText,
      version: s.version,
      documentSha256: s.documentSha256,
      session: s.session,
    },
  };
}

const isStep = (v: unknown): v is RewriteStepView =>
  isObj(v) && isNat(v.block) && isNat(v.t) && isNat(v.T) && isStr(v.text) && isObj(v.scores) && Object.values(v.scores).every((x) => x === null || isNum(x));
const isScore = (v: unknown): v is RewriteScoreView =>
  isObj(v) && isStr(v.attribute) && (v.target === undefined || isStr(v.target)) && isObj(v.probabilities) && Object.values(v.probabilities).every(isNum);

function sanitizeRun(v: unknown): RewriteRunView | undefined {
  if (!isObj(v) || !isNat(v.id) || !['running', 'done', 'cancelled', 'error'].includes(v.status as string) || !isMode(v.mode)) return undefined;
  const controls = sanitizeControls(v.controls);
  if (!controls || !isObj(v.source) || !isStr(v.source.fileName) || !isStr(v.source.scope) || !isStr(v.source.languageId)) return undefined;
  if (!isStr(v.original) || !isStr(v.promptTail) || !isNat(v.blocks) || !Array.isArray(v.steps) || !v.steps.every(isStep)) return undefined;
  if (v.output !== undefined && !(isObj(v.output) && isStr(v.output.text) && (v.output.stoppedBy === 'eos' || v.output.stoppedBy === 'max-tokens')))
    return undefined;
  if (v.scores !== undefined && !(Array.isArray(v.scores) && v.scores.every(isScore))) return undefined;
  if (
    v.record !== undefined &&
    !(isObj(v.record) && isStr(v.record.modelId) && isNum(v.record.seed) && Array.isArray(v.record.targets) && Array.isArray(v.record.classifiers))
  )
    return undefined;
  return { ...(v as unknown as RewriteRunView), controls };
}

function sanitizeChoices(v: unknown): RewriteAttributeChoice[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((c): c is RewriteAttributeChoice => isObj(c) && isStr(c.attribute) && Array.isArray(c.labels) && c.labels.every(isStr))
    .map((c) => ({ attribute: c.attribute, labels: [...c.labels] }));
}

/**
 * Reads back what an earlier session stored (maybe an older version of Concert: anything malformed is dropped).
 * A run that was still going when the window closed is marked as interrupted.
 */
export function restorePersisted(raw: unknown): PersistedRewrite | undefined {
  if (!isObj(raw) || raw.version !== 1) return undefined;
  const request = sanitizeRequest(raw.request);
  if (!request) return undefined;
  const run = sanitizeRun(raw.run);
  return {
    version: 1,
    request,
    ...(run && {
      run:
        run.status === 'running' ? { ...run, status: 'cancelled' as const, message: 'Interrupted when the window was closed or reloaded; press Re-run.' } : run,
    }),
    classifiers: sanitizeChoices(raw.classifiers),
  };
}
