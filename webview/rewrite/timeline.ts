/**
 * View models of the denoising timeline and the score charts: which block and step are shown (following the latest
 * step while a run streams, scrubbed afterwards), the words that changed since the previous step, and an SVG line
 * of p(target) per attribute over the block's steps. Pure: tests cover it.
 */
import type { RewriteRunView, RewriteStepView, RewriteTarget } from '../../src/protocol/webview';
import { wordDiff } from './wordDiff';

export interface TimelinePosition {
  /** The block shown (0-based) and how many the run has. */
  block: number;
  blocks: number;
  /** That block's steps, in order (t from high to low). */
  frames: RewriteStepView[];
  /** The step shown, an index into `frames`. */
  index: number;
  /** True while the view follows the newest step of a running run. */
  live: boolean;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function framesOf(steps: readonly RewriteStepView[], block: number): RewriteStepView[] {
  return steps.filter((s) => s.block === block);
}

/** Where the timeline is: `ui.block` / `ui.step` when the user scrubbed, else the newest step. */
export function timelinePosition(run: RewriteRunView, ui: { block?: number | undefined; step?: number | undefined }): TimelinePosition | undefined {
  const last = run.steps[run.steps.length - 1];
  if (!last) return undefined;
  const block = ui.block === undefined ? last.block : clamp(Math.round(ui.block), 0, last.block);
  let frames = framesOf(run.steps, block);
  // A block with no kept steps (cannot happen with the host's cap, but a hand-edited state might): show the newest.
  if (!frames.length) frames = framesOf(run.steps, last.block);
  const index = ui.step === undefined ? frames.length - 1 : clamp(Math.round(ui.step), 0, frames.length - 1);
  return {
    block,
    blocks: Math.max(run.blocks, last.block + 1),
    frames,
    index,
    live: run.status === 'running' && ui.block === undefined && ui.step === undefined,
  };
}

/** The step's text split into runs, `changed` where the words differ from the previous step. */
export function settledRuns(previous: string | undefined, text: string): { text: string; changed: boolean }[] {
  if (previous === undefined) return text ? [{ text, changed: false }] : [];
  return wordDiff(previous, text)
    .filter((o) => o.op !== 'del')
    .map((o) => ({ text: o.text, changed: o.op === 'ins' && /\S/.test(o.text) }));
}

/** The newest text of every block, joined: the output so far, while a run streams. */
export function previewText(run: RewriteRunView): string {
  const latest = new Map<number, string>();
  for (const s of run.steps) latest.set(s.block, s.text);
  return [...latest.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, t]) => t)
    .join('')
    .trim();
}

export const percent = (p: number) => `${Math.round(p * 100)}%`;

export const CHART = { width: 280, height: 84, left: 32, right: 8, top: 8, bottom: 16 } as const;

export interface ChartModel {
  attribute: string;
  label: string;
  /** SVG path data of the line (a gap where a step was not scored). */
  path: string;
  points: { x: number; y: number; p: number; t: number }[];
  /** x of the shown step. */
  markerX: number;
  /** p(target) at the shown step (null: not scored). */
  current: number | null;
  /** One sentence for screen readers: where the score started, ended and is now. */
  summary: string;
}

/** The chart of p(`target.label`) over `frames`, with a marker at `index`. */
export function chartModel(frames: readonly RewriteStepView[], target: Pick<RewriteTarget, 'attribute' | 'label'>, index: number): ChartModel {
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (i: number) => left + (frames.length > 1 ? (plotW * i) / (frames.length - 1) : plotW / 2);
  const y = (p: number) => top + plotH * (1 - clamp(p, 0, 1));
  const points: ChartModel['points'] = [];
  let path = '';
  let pen = false;
  frames.forEach((f, i) => {
    const p = f.scores[target.attribute];
    if (typeof p !== 'number' || !Number.isFinite(p)) {
      pen = false;
      return;
    }
    const pt = { x: x(i), y: y(p), p, t: f.t };
    points.push(pt);
    path += `${pen ? 'L' : 'M'}${pt.x.toFixed(1)} ${pt.y.toFixed(1)}`;
    pen = true;
  });
  const at = frames[clamp(index, 0, Math.max(0, frames.length - 1))];
  const cur = at?.scores[target.attribute];
  const current = typeof cur === 'number' && Number.isFinite(cur) ? cur : null;
  const name = `${target.attribute} → ${target.label}`;
  const first = points[0];
  const last = points[points.length - 1];
  const summary =
    !first || !last
      ? `${name}: not scored yet.`
      : `${name}: p ${percent(first.p)} at t ${first.t}${points.length > 1 ? `, ${percent(last.p)} at t ${last.t}` : ''}${at ? `; ${current === null ? 'not scored' : percent(current)} at the shown step (t ${at.t}/${at.T})` : ''}.`;
  return { attribute: target.attribute, label: target.label, path, points, markerX: x(clamp(index, 0, Math.max(0, frames.length - 1))), current, summary };
}
