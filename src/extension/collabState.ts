/**
 * The collaborate panel's run state as pure functions (issue 13): the worker's result as the panel shows it (the
 * privacy ledger, the run record, the changed spans), progress lines, and what workspaceState keeps. No `vscode`
 * import, so tests cover it.
 */
import type { CollabControls, CollabLedgerView, CollabRunView } from '../protocol/webview';
import type { CollabLedger, CollabRunRecord, CollabRunResult, DiffusionStepProgress } from '../protocol/worker';
import { sanitizeCollabControls } from './collabMessages';

export const COLLAB_VIEW_TYPE = 'concert.collab';
/** Ledger entries the panel shows (and keeps) per run; the count of the rest is shown. */
export const MAX_LEDGER_ENTRIES = 400;
/** Token ids per ledger entry the panel keeps. */
export const MAX_LEDGER_IDS = 256;

export const formatBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1024 * 1024)).toFixed(1)} MB`);

/** Where the core ran, for people. */
export const coreLabel = (location: string) => (location === 'local' ? 'local worker' : location);

export function ledgerView(l: CollabLedger): CollabLedgerView {
  const sent = l.sent.slice(0, MAX_LEDGER_ENTRIES).map((e) => ({
    step: e.step,
    block: e.block,
    note: e.note,
    ...(e.tokenIds && { tokenIds: e.tokenIds.slice(0, MAX_LEDGER_IDS) }),
  }));
  return {
    coreLocation: coreLabel(l.coreLocation),
    requests: l.requests,
    bytesSent: l.bytesSent,
    bytesReceived: l.bytesReceived,
    sent,
    ...(l.sent.length > sent.length && { droppedEntries: l.sent.length - sent.length }),
  };
}

const short = (sha: string | undefined) => (sha ? `${sha.slice(0, 12)}…` : 'n/a');

/** The run record as name/value rows. */
export function recordRows(r: CollabRunRecord): { name: string; value: string }[] {
  const k = r.knobs;
  return [
    { name: 'Method', value: r.method },
    { name: 'Core model', value: `${r.core.packId} (${coreLabel(r.core.location)}; manifest ${short(r.core.manifestSha256)})` },
    { name: 'User model', value: `${r.user.packId} (manifest ${short(r.user.manifestSha256)})` },
    { name: 'Seed', value: String(r.seed) },
    { name: 'λ_user, α', value: `${k.lambdaUser}, ${k.alpha}` },
    { name: 'Steps, top-p', value: `${k.steps}, ${k.topP}` },
    { name: 'Tokens', value: `at most ${k.maxTokens} (at least ${k.minTokens})` },
    {
      name: 'Prompt tokens',
      value: `core ${r.promptTokens.core}, user with knowledge ${r.promptTokens.userWithKnowledge} (${r.knowledgeTokens} of knowledge), without ${r.promptTokens.userWithoutKnowledge}`,
    },
    { name: 'Provider', value: `${r.provider} (${r.device})` },
    { name: 'Time', value: r.durationMs >= 1000 ? `${(r.durationMs / 1000).toFixed(1)} s` : `${r.durationMs} ms` },
  ];
}

/** Sorted, merged spans inside [0, length]. */
export function normalizeSpans(spans: readonly { start: number; end: number }[], length: number): { start: number; end: number }[] {
  const clean = spans
    .filter((s) => Number.isInteger(s.start) && Number.isInteger(s.end))
    .map((s) => ({ start: Math.max(0, Math.min(length, s.start)), end: Math.max(0, Math.min(length, s.end)) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const s of clean) {
    const last = out.at(-1);
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

export function startedRun(id: number, controls: CollabControls, coreLocation: string, knowledgeItems: number): CollabRunView {
  return { id, status: 'running', controls, coreLocation, knowledgeItems };
}

/** The run's progress line from a diffusion step of the worker. */
export function stepProgress(p: DiffusionStepProgress): NonNullable<CollabRunView['progress']> {
  const total = Math.max(1, p.blocks * p.T);
  const step = Math.min(total, p.block * p.T + (p.T - p.t + 1));
  const which = p.variant === 'core-only' ? 'core alone' : p.variant === 'user-only' ? 'user alone' : 'collaboration';
  return { step, total, message: `${which}: block ${p.block + 1} of ${p.blocks}, step t ${p.t}/${p.T}` };
}

export function finishedRun(run: CollabRunView, r: CollabRunResult): CollabRunView {
  const { progress: _p, ...rest } = run;
  return {
    ...rest,
    status: 'done',
    coreLocation: coreLabel(r.ledger.coreLocation),
    text: r.text,
    ...(r.coreOnly && { coreOnly: r.coreOnly.text }),
    ...(r.userOnly && { userOnly: r.userOnly.text }),
    changedByUser: normalizeSpans(r.changedByUser, r.text.length),
    passages: r.passages.map((p) => ({ itemId: p.itemId, title: p.title, text: p.text, score: p.score })),
    ledger: ledgerView(r.ledger),
    record: recordRows(r.record),
  };
}

export interface PersistedCollab {
  version: 1;
  controls: CollabControls;
  run?: CollabRunView;
}

/** What workspaceState handed back, if it still has the right shape (a run that was running is shown as cancelled). */
export function restorePersisted(raw: unknown): { controls: CollabControls; run?: CollabRunView } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<PersistedCollab>;
  if (r.version !== 1) return undefined;
  const controls = sanitizeCollabControls(r.controls);
  if (!controls) return undefined;
  const run = r.run;
  if (!run || typeof run !== 'object' || typeof run.id !== 'number' || !sanitizeCollabControls(run.controls)) return { controls };
  if (run.status === 'running') {
    const { progress: _p, ...rest } = run;
    return { controls, run: { ...rest, status: 'cancelled', message: 'The window closed during the run.' } };
  }
  return { controls, run };
}
