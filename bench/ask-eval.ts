/**
 * Ask About This Document on hand-written documents (#16: do the bundled LM's answers carry to text unlike its
 * training templates?). The 24 tasks of bench/collab-tasks/tasks.ts, each asked through the real worker (`cad/run`,
 * built dist/worker.js, the `ask` defaults unless a variant says otherwise) about
 *   paragraph: the paragraph of the task's file that holds the fact (what a user selects before asking), and
 *   document:  the whole file (what Ask About This Document reads with nothing selected);
 * and reports per variant the share of answers that contain the fact, overall and per group.
 * Variants: `ask` (the defaults: extractive, CAD α 1, β 0.1, greedy), `regular` (α 0, extractive), `free` (CAD α 1,
 * not extractive).
 *
 * With --grounded N, also N held-out QA records of tools/data/build_grounded.py (styles and wordings never trained,
 * every Nth record of <data>/grounded/heldout.jsonl; `contradicts` ones are scored against the document's answer),
 * asked about their whole documents: the templated families, as a control for what helps the hand-written ones.
 *
 * Usage: node --import tsx bench/ask-eval.ts [--models <folder of packs, default models/>] [--threads 2]
 *        [--grounded N [--data data/build]] [--out bench/results/ask-eval.json]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type CadRunParams, Requests } from '../src/protocol/worker';
import { TASKS } from './collab-tasks/tasks';
import { arg, benchWorker } from './common';

const FILES = { countries: 'atlas.md', notes: 'team-notes.md' } as const;
const VARIANTS: Record<string, Partial<CadRunParams>> = {
  ask: {},
  regular: { alpha: 0 },
  free: { extractive: false },
};

interface Answer {
  variant: string;
  context: 'paragraph' | 'document';
  task: number;
  text: string;
  hit: boolean;
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', '2'));
  const out = path.resolve(arg('out', 'bench/results/ask-eval.json'));
  const modelsDir = path.resolve(arg('models', 'models'));
  const dir = path.resolve('bench/collab-tasks');
  const files = Object.fromEntries(Object.entries(FILES).map(([g, f]) => [g, readFileSync(path.join(dir, f), 'utf8')]));
  const paragraphOf = (text: string, fact: string) =>
    text.split(/\n\s*\n/).find((p) => p.toLowerCase().includes(fact.toLowerCase())) ?? assertNever(`no paragraph holds "${fact}"`);

  const client = benchWorker(modelsDir, threads);
  const answers: Answer[] = [];
  const t0 = performance.now();
  try {
    for (const [i, task] of TASKS.entries()) {
      const file = files[task.group]!;
      for (const context of ['paragraph', 'document'] as const) {
        const document = context === 'paragraph' ? paragraphOf(file, task.fact) : file;
        for (const [variant, params] of Object.entries(VARIANTS)) {
          const r = await client.request(Requests.cadRun, { task: 'ask', document, question: task.instruction, seed: 1, ...params });
          answers.push({ variant, context, task: i, text: r.text.trim(), hit: r.text.toLowerCase().includes(task.fact.toLowerCase()) });
        }
      }
      process.stderr.write(`\r${i + 1}/${TASKS.length} tasks, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    process.stderr.write('\n');
    const grounded = groundedRecords(path.resolve(arg('data', 'data/build')), Number(arg('grounded', '0')));
    const groundedRows = [];
    for (const [variant, params] of Object.entries(VARIANTS)) {
      let hits = 0;
      for (const g of grounded) {
        const r = await client.request(Requests.cadRun, { task: 'ask', document: g.document, question: g.question, seed: 1, ...params });
        hits += +r.text.toLowerCase().includes(g.answer.toLowerCase());
      }
      if (grounded.length)
        groundedRows.push({ variant, context: 'grounded held-out', answers: grounded.length, contains_fact_pct: +((100 * hits) / grounded.length).toFixed(1) });
    }
    const share = (xs: Answer[]) => +((100 * xs.filter((a) => a.hit).length) / Math.max(1, xs.length)).toFixed(1);
    const rows = Object.keys(VARIANTS).flatMap((variant) =>
      (['paragraph', 'document'] as const).map((context) => {
        const of = answers.filter((a) => a.variant === variant && a.context === context);
        return {
          variant,
          context,
          answers: of.length,
          contains_fact_pct: share(of),
          countries_pct: share(of.filter((a) => TASKS[a.task]!.group === 'countries')),
          notes_pct: share(of.filter((a) => TASKS[a.task]!.group === 'notes')),
        };
      }),
    );
    console.table([...rows, ...groundedRows]);
    const examples = TASKS.map((t, i) => ({
      question: t.instruction,
      fact: t.fact,
      answers: Object.fromEntries(answers.filter((a) => a.task === i).map((a) => [`${a.variant}/${a.context}`, a.text])),
    }));
    mkdirSync(path.dirname(out), { recursive: true });
    const settings = { tasks: TASKS.length, variants: VARIANTS, threads, models: path.relative(process.cwd(), modelsDir) };
    writeFileSync(
      out,
      `${JSON.stringify({ settings, rows, grounded: groundedRows, examples, seconds: Math.round((performance.now() - t0) / 1000) }, null, 2)}\n`,
    );
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await client.stop();
  }
}

/** Every k-th QA record of the held-out grounded split, n of them (a spread over its kinds, styles and wordings). */
function groundedRecords(dataDir: string, n: number): { document: string; question: string; answer: string }[] {
  if (!n) return [];
  const qa = readFileSync(path.join(dataDir, 'grounded', 'heldout.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { task: string; document: string; question: string; answer: string })
    .filter((r) => r.task === 'qa');
  const k = Math.max(1, Math.floor(qa.length / n));
  return qa.filter((_, i) => i % k === 0).slice(0, n);
}

function assertNever(message: string): never {
  throw new Error(message);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
