/**
 * Evaluation of the SSD-2 collaboration (issue #13) on held-out knowledge tasks: facts the core cannot know (made-up
 * countries and team notes, bench/collab-tasks/*.md, worded unlike the training templates) are placed in knowledge
 * files; every task passes all files, so BM25 must find the passage too. Runs the real worker (`collab/run`, built
 * dist/worker.js) and reports, per method, the share of answers that contain the fact:
 *   core only, user only, collaboration at each λ_user (α = 1), and the autoregressive baseline (one causal LM,
 *   λ_user = 0.3 and its own core-only row),
 * and fluency: corpus perplexity of the answers under the bundled causal LM, after its no-document qa prompt.
 *
 * Usage: node --import tsx bench/collab-eval.ts [--seeds 2] [--tokens 8] [--steps 25] [--lambdas 0.1,0.2,0.3,0.5]
 *        [--threads 2] [--out docs/collab-eval.json] [--models <folder of packs, default models/>]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { logSoftmax } from '../src/engine/logits';
import { Requests, type CollabRunParams, type CollabRunResult, type KnowledgeItem } from '../src/protocol/worker';
import { TASKS } from './collab-tasks/tasks';
import { arg, benchWorker, loadBenchModel } from './common';

interface Answer {
  method: string;
  task: number;
  seed: number;
  text: string;
  hit: boolean;
  passageHasFact: boolean;
}

async function main(): Promise<void> {
  const seeds = Number(arg('seeds', '2'));
  const tokens = Number(arg('tokens', '8'));
  const steps = Number(arg('steps', '25'));
  const lambdas = arg('lambdas', '0.1,0.2,0.3,0.5').split(',').map(Number);
  const threads = Number(arg('threads', '2'));
  const out = path.resolve(arg('out', 'docs/collab-eval.json'));
  // A candidate pack can be measured before it replaces the bundled one (a folder with the core and user packs).
  const modelsDir = path.resolve(arg('models', 'models'));
  const dir = path.resolve('bench/collab-tasks');
  const knowledge: KnowledgeItem[] = ['atlas.md', 'team-notes.md'].map((f) => ({ id: f, title: f, text: readFileSync(path.join(dir, f), 'utf8') }));

  const client = benchWorker(modelsDir, threads);
  const { model: judge, close } = await loadBenchModel(threads);
  const qa = judge.taskPrompt('qa')!;

  /** Negative log-likelihood of `answer` after the causal LM's no-document qa prompt for `question`. */
  const nllOf = async (question: string, answer: string): Promise<{ nll: number; n: number }> => {
    const cont = judge.tok.encodePlain(` ${answer}`);
    if (!answer.trim() || !cont.length) return { nll: 0, n: 0 };
    let s = await judge.lm.prefill([qa.render({ document: '', question }, false)]);
    let nll = 0;
    for (const id of cont) {
      nll -= logSoftmax(s.logits[0]!)[id]!;
      s = await judge.lm.extend(s.state, Int32Array.of(id));
    }
    return { nll, n: cont.length };
  };

  const answers: Answer[] = [];
  const retrieval: boolean[] = [];
  const t0 = performance.now();
  try {
    for (const [i, task] of TASKS.entries()) {
      for (let seed = 1; seed <= seeds; seed++) {
        const base: CollabRunParams = { instruction: task.instruction, knowledge, maxTokens: tokens, steps, seed, alpha: 1 };
        const record = (method: string, text: string, r: CollabRunResult) =>
          answers.push({
            method,
            task: i,
            seed,
            text,
            hit: text.toLowerCase().includes(task.fact.toLowerCase()),
            passageHasFact: r.passages.some((p) => p.text.toLowerCase().includes(task.fact.toLowerCase())),
          });
        for (const [j, lambdaUser] of lambdas.entries()) {
          const r = await client.request(Requests.collabRun, { ...base, lambdaUser, ...(j === 0 && { compare: true }) });
          if (j === 0) {
            record('core only', r.coreOnly!.text, r);
            record('user only', r.userOnly!.text, r);
            if (seed === 1) retrieval.push(r.passages.some((p) => p.text.toLowerCase().includes(task.fact.toLowerCase())));
          }
          record(`collab λ=${lambdaUser}`, r.text, r);
        }
        const ar = await client.request(Requests.collabRun, { ...base, lambdaUser: 0.3, method: 'autoregressive', compare: true });
        record('AR core only', ar.coreOnly!.text, ar);
        record('AR collab λ=0.3', ar.text, ar);
      }
      process.stderr.write(`\r${i + 1}/${TASKS.length} tasks, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    process.stderr.write('\n');

    const methods = [...new Set(answers.map((a) => a.method))];
    const rows: Record<string, unknown>[] = [];
    for (const m of methods) {
      const of = answers.filter((a) => a.method === m);
      const share = (xs: Answer[]) => +((100 * xs.filter((a) => a.hit).length) / Math.max(1, xs.length)).toFixed(1);
      let nll = 0;
      let n = 0;
      for (const a of of) {
        const r = await nllOf(TASKS[a.task]!.instruction, a.text);
        nll += r.nll;
        n += r.n;
      }
      rows.push({
        method: m,
        answers: of.length,
        contains_fact_pct: share(of),
        countries_pct: share(of.filter((a) => TASKS[a.task]!.group === 'countries')),
        notes_pct: share(of.filter((a) => TASKS[a.task]!.group === 'notes')),
        perplexity: n ? +Math.exp(nll / n).toFixed(1) : null,
        empty_pct: +((100 * of.filter((a) => !a.text.trim()).length) / of.length).toFixed(1),
      });
    }
    const core = rows.find((r) => r.method === 'core only')!;
    for (const r of rows) r.ppl_vs_core = core.perplexity && r.perplexity ? +((r.perplexity as number) / (core.perplexity as number)).toFixed(2) : null;
    console.table(rows);
    const retrievalPct = +((100 * retrieval.filter(Boolean).length) / retrieval.length).toFixed(1);
    console.log(`retrieval: the fact is in a passage the user model read for ${retrievalPct}% of the tasks`);
    const examples = TASKS.slice(0, 4)
      .concat(TASKS.slice(16, 18))
      .map((t) => ({
        instruction: t.instruction,
        fact: t.fact,
        answers: Object.fromEntries(answers.filter((a) => TASKS[a.task] === t && a.seed === 1).map((a) => [a.method, a.text])),
      }));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          settings: {
            tasks: TASKS.length,
            seeds,
            tokens,
            steps,
            lambdas,
            alpha: 1,
            projection: 'greedy (top-p 0)',
            threads,
            models: path.relative(process.cwd(), modelsDir),
          },
          retrieval_pct: retrievalPct,
          rows,
          examples,
          seconds: Math.round((performance.now() - t0) / 1000),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await client.stop();
    await close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
