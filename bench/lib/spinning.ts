/**
 * `session.intra_op.allow_spinning`: ONNX Runtime's idle intra-op threads spin-wait for the next run (its default) or
 * sleep (Concert's setting, src/runtime/ort.ts). Measured on the bundled causal LM, plain greedy decoding, sessions
 * with spinning on and off, interleaved: wall time per run, the process's CPU time per run, and the CPU the process
 * burns in the 300 ms after a run while nothing is asked of it (what an editor pays while the user types).
 * The ratio is wall(spinning) ÷ wall(no spinning): below 1 spinning is faster.
 */
import * as path from 'node:path';
import { decodeRecipe } from '../../src/engine/autoregressive';
import { loadLanguageModel, type LanguageModel } from '../../src/runtime/languageModel';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { renderPieces } from '../../src/runtime/prompts';
import { cpuMs, median, round } from './measure';
import type { BenchContext, BenchRow } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchSpinning(ctx: BenchContext): Promise<BenchRow> {
  const pack = await validatePack(path.join(ctx.root, 'models', 'concert-lm-small'), 'bundled');
  const tokens = ctx.quick ? 8 : 48;
  const idleMs = 300;
  const setups: Record<string, { sessions: SessionCache; model: LanguageModel }> = {};
  for (const [name, spinning] of [
    ['spinning', true],
    ['noSpinning', false],
  ] as const) {
    const sessions = new SessionCache('cpu', ctx.threads, 0, () => {}, { spinning });
    setups[name] = { sessions, model: await loadLanguageModel(pack, sessions) };
  }
  const prompt = renderPieces(
    setups['noSpinning']!.model.prompts.prompts['summary']!.prompt,
    { document: 'The river town grew around an old stone bridge.' },
    setups['noSpinning']!.model.tok,
  );
  const samples: Record<string, { wall: number; cpu: number; idleCpu: number }[]> = { spinning: [], noSpinning: [] };
  const once = async (name: string) => {
    const { model } = setups[name]!;
    const c0 = cpuMs();
    const t0 = performance.now();
    await decodeRecipe(model.lm, { terms: [{ prompt, weight: 1, label: 'p' }], decoding: { mode: 'greedy' }, maxTokens: tokens, seed: 0, stopTokens: [] });
    const wall = performance.now() - t0;
    const c1 = cpuMs();
    await sleep(idleMs);
    return { wall, cpu: c1 - c0, idleCpu: cpuMs() - c1 };
  };
  for (const n of Object.keys(samples)) await once(n);
  for (let r = 0; r < ctx.repeats; r++) for (const n of r % 2 ? ['spinning', 'noSpinning'] : ['noSpinning', 'spinning']) samples[n]!.push(await once(n));
  for (const s of Object.values(setups)) await s.sessions.clear();
  const m = (n: string, k: 'wall' | 'cpu' | 'idleCpu') => median(samples[n]!.map((x) => x[k]));
  return {
    id: 'S-spin',
    measure: `allow_spinning: decoding wall time with spinning ÷ without (${pack.manifest.id}, ${tokens} tokens); CPU in detail`,
    ratio: round(m('spinning', 'wall') / m('noSpinning', 'wall')),
    goal: null,
    numerator: `${m('spinning', 'wall').toFixed(1)} ms, CPU ${m('spinning', 'cpu').toFixed(0)} ms, idle ${idleMs} ms after: CPU ${m('spinning', 'idleCpu').toFixed(0)} ms`,
    denominator: `${m('noSpinning', 'wall').toFixed(1)} ms, CPU ${m('noSpinning', 'cpu').toFixed(0)} ms, idle after: CPU ${m('noSpinning', 'idleCpu').toFixed(0)} ms`,
    detail: {
      tokens,
      idleWindowMs: idleMs,
      spinning: { wallMs: round(m('spinning', 'wall'), 1), cpuMs: round(m('spinning', 'cpu'), 1), idleCpuMs: round(m('spinning', 'idleCpu'), 1) },
      noSpinning: { wallMs: round(m('noSpinning', 'wall'), 1), cpuMs: round(m('noSpinning', 'cpu'), 1), idleCpuMs: round(m('noSpinning', 'idleCpu'), 1) },
    },
  };
}
