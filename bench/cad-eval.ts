/**
 * Evaluation of context-aware decoding on the bundled LM with the held-out test split built by tools/data:
 *  - knowledge conflict (NQ-Swap style): documents that swap a memorised capital for another city; exact match of
 *    the answer with the document, regular (α = 0) vs CAD, greedy, α ∈ {0, 0.5, 1, 2}; also how often the answer is
 *    the memorised one; consistent documents as a control;
 *  - memorised-prefix trap (MemoTrap style): the start of a fact sentence the model memorised ("The capital of X
 *    is"), preceded by an instruction to end it with another city (as MemoTrap's "Write a quote that ends in the word
 *    …"); the context c is the instruction, x the memorised prefix; exact match of the first word with the
 *    instructed ending;
 *  - summary faithfulness: share of generated content words that occur in the document, regular vs CAD (α 0.5,
 *    top-p 0.9, fixed seeds).
 *  - with --grid (#16): the same three measures for regular decoding and CAD at one α (--grid-alpha, default 1) with
 *    the plausibility constraint β ∈ {0, 0.1} × adaptive α {off, on}; keys `alpha=1,beta=0.1,adaptive`.
 *  - with --extractive (#16): every question variant also runs with extractive answers (src/engine/spans.ts, the
 *    `ask` default: the answer is one span of the document's words), keys suffixed `,extractive`, and summaries
 *    also run at the `summarize` defaults (α 0.5, β 0.1, 64 tokens) free and quoting whole sentences; MemoTrap is
 *    not extractive.
 *  - with --grounded (#16): the held-out families of tools/data/build_grounded.py instead of the test split:
 *    capital questions on documents in styles and question wordings never trained, about countries whose QA was
 *    never trained (<data>/grounded/heldout.jsonl; conflict = swapped capital, control = consistent capital
 *    questions), and summaries of held-out general-prose documents (everyday paragraphs first, then Austen,
 *    fortunes, GCIDE, WordNet); faithfulness then also reports the share of summaries that are a sentence of ≥ 6 words
 *    (`sentence`) and of those that are also ≥ 70% supported (`groundedSentence`).
 * Usage: node --import tsx bench/cad-eval.ts [--pack DIR] [--data data/build] [--limit N] [--grid [--grid-alpha A]]
 *        [--grounded] [--extractive] [--out docs/cad-eval.json]
 * Needs the corpora: /usr/bin/python3 tools/data/build.py (see tools/data/README.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeCad } from '../src/engine/cad';
import type { Decoding } from '../src/engine/logits';
import { SpanConstraint } from '../src/engine/spans';
import { renderPieces } from '../src/runtime/prompts';
import { documentSpanSources } from '../src/worker/cadJob';
import { arg, loadBenchModel, writeJsonOut } from './common';

interface QaRecord {
  country: string;
  kind: string;
  document: string;
  question: string;
  answer: string;
  memorised_answer: string;
  contradicts: boolean;
  fictional: boolean;
  closed_book: boolean;
}
interface SumRecord {
  document: string;
  summary: string;
}
interface GroundedRecord extends QaRecord, SumRecord {
  task: 'qa' | 'summary' | 'lm';
  entity: string;
  family: string;
}
const GROUNDED_PROSE = ['everyday', 'austen', 'fortunes', 'gcide-quote', 'gcide-def', 'wordnet-gloss'];

const ALPHAS = [0, 0.5, 1, 2];

interface Variant {
  alpha: number;
  plausibility: number;
  adaptive: boolean;
  extractive?: boolean;
}
const key = (v: Variant) =>
  `alpha=${v.alpha}${v.plausibility || v.adaptive ? `,beta=${v.plausibility}` : ''}${v.adaptive ? ',adaptive' : ''}${v.extractive ? ',extractive' : ''}`;
const plainVariant = (alpha: number): Variant => ({ alpha, plausibility: 0, adaptive: false });
function gridVariants(alpha: number): Variant[] {
  const out = [plainVariant(0)];
  for (const plausibility of [0, 0.1]) for (const adaptive of [false, true]) out.push({ alpha, plausibility, adaptive });
  return out;
}
const STOP = new Set([
  'the',
  'and',
  'for',
  'with',
  'that',
  'this',
  'are',
  'from',
  'its',
  'has',
  'was',
  'can',
  'you',
  'your',
  'not',
  'all',
  'any',
  'into',
  'which',
  'also',
  'other',
  'such',
  'may',
  'more',
  'use',
  'used',
  'using',
  'package',
  'provides',
  'contains',
]);

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
const words = (s: string) => (s.toLowerCase().match(/\p{L}[\p{L}\p{N}'-]*/gu) ?? []).filter((w) => w.length >= 3 && !STOP.has(w));

function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) throw new Error(`${file} is missing: build the corpora first with "/usr/bin/python3 tools/data/build.py"`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

async function main(): Promise<void> {
  const data = path.resolve(arg('data', 'data/build'));
  const limit = Number(arg('limit', '1000'));
  const { model, close } = await loadBenchModel();
  const { tok, lm, prompts } = model;
  const stop = Object.values(tok.specialIds);
  const qa = prompts.prompts.qa!;
  const sum = prompts.prompts.summary!;
  const grid = process.argv.includes('--grid');
  const variants = grid ? gridVariants(Number(arg('grid-alpha', '1'))) : ALPHAS.map(plainVariant);
  const extractiveToo = process.argv.includes('--extractive');
  const qaVariants = extractiveToo ? [...variants, ...variants.map((v) => ({ ...v, extractive: true }))] : variants;
  const answer = async (document: string, question: string, { extractive, ...v }: Variant) => {
    const r = await decodeCad(lm, {
      withContext: renderPieces(qa.prompt, { document, question }, tok),
      withoutContext: renderPieces(qa.no_context!, { document: '', question }, tok),
      ...v,
      ...(extractive && { span: new SpanConstraint(documentSpanSources(tok, document), stop) }),
      decoding: { mode: 'greedy' },
      maxTokens: 12,
      seed: 0,
      stopTokens: stop,
    });
    return tok.decode(r.tokens.map((t) => t.id)).trim();
  };

  const groundedMode = process.argv.includes('--grounded');
  const heldout = groundedMode ? readJsonl<GroundedRecord>(path.join(data, 'grounded', 'heldout.jsonl')) : [];
  const test: QaRecord[] = groundedMode
    ? heldout.filter((r) => r.task === 'qa' && r.kind === 'capital' && !r.fictional).map((r) => ({ ...r, country: r.entity }))
    : readJsonl<QaRecord>(path.join(data, 'qa', 'test.jsonl')).filter((r) => !r.fictional && !r.closed_book);
  const conflict = test.filter((r) => r.contradicts).slice(0, limit);
  const consistent = test.filter((r) => !r.contradicts).slice(0, limit);
  const knowledgeConflict: Record<string, { em: number; memorised: number; n: number }> = {};
  const control: Record<string, { em: number; n: number }> = {};
  const examples: { question: string; document: string; expected: string; memorised: string; regular: string; cad: string }[] = [];
  for (const v of qaVariants) {
    let em = 0;
    let mem = 0;
    for (const r of conflict) {
      const out = await answer(r.document, r.question, v);
      if (norm(out) === norm(r.answer)) em++;
      else if (norm(out) === norm(r.memorised_answer)) mem++;
    }
    knowledgeConflict[key(v)] = { em: em / conflict.length, memorised: mem / conflict.length, n: conflict.length };
    let ok = 0;
    for (const r of consistent) if (norm(await answer(r.document, r.question, v)) === norm(r.answer)) ok++;
    control[key(v)] = { em: ok / consistent.length, n: consistent.length };
    console.error(
      `knowledge conflict ${key(v)}: EM ${(em / conflict.length).toFixed(3)}, memorised ${(mem / conflict.length).toFixed(3)}; consistent EM ${(ok / consistent.length).toFixed(3)}`,
    );
  }
  for (const r of conflict.slice(0, 5))
    examples.push({
      question: r.question,
      document: r.document,
      expected: r.answer,
      memorised: r.memorised_answer,
      regular: await answer(r.document, r.question, plainVariant(0)),
      cad: await answer(r.document, r.question, plainVariant(1)),
    });

  // MemoTrap style: c = instruction naming another ending, x = a memorised prefix, in the plain-text ("lm") template.
  const lmT = prompts.prompts.lm!;
  const head = renderPieces(lmT.prompt, {}, tok);
  const memo: Record<string, { em: number; memorised: number; n: number }> = {};
  const traps = conflict.filter((r) => r.kind === 'capital');
  const firstWord = (ids: number[]) => norm(tok.decode(ids)).split(' ')[0] ?? '';
  for (const v of variants) {
    let em = 0;
    let mem = 0;
    for (const r of traps) {
      const x = ` The capital of ${r.country} is`;
      const c = ` Write a sentence that ends in the word "${r.answer}":`;
      const out = await decodeCad(lm, {
        withContext: Int32Array.from([...head, ...tok.encodePlain(c + x)]),
        withoutContext: Int32Array.from([...head, ...tok.encodePlain(x)]),
        ...v,
        decoding: { mode: 'greedy' },
        maxTokens: 6,
        seed: 0,
        stopTokens: stop,
      });
      const w = firstWord(out.tokens.map((t) => t.id));
      if (w && w === norm(r.answer).split(' ')[0]) em++;
      else if (w && w === norm(r.memorised_answer).split(' ')[0]) mem++;
    }
    memo[key(v)] = { em: em / Math.max(1, traps.length), memorised: mem / Math.max(1, traps.length), n: traps.length };
    console.error(`memotrap ${key(v)}: EM ${(em / Math.max(1, traps.length)).toFixed(3)}, memorised ${(mem / Math.max(1, traps.length)).toFixed(3)}`);
  }

  // Summary faithfulness on held-out Debian descriptions that fit the context.
  const sumSource: SumRecord[] = groundedMode
    ? GROUNDED_PROSE.flatMap((f) => heldout.filter((r) => r.task === 'summary' && r.family === f))
    : readJsonl<SumRecord>(path.join(data, 'summarization', 'test.jsonl'));
  const docs = sumSource.filter((r) => renderPieces(sum.prompt, { document: r.document }, tok).length + 48 <= lm.maxContext).slice(0, Math.min(limit, 80));
  const isSentence = (t: string) => t.split(/\s+/).filter(Boolean).length >= 6 && /^["'(]?[A-Z0-9]/.test(t) && /[.!?]["']?$/.test(t);
  const faithfulness: Record<string, { supported: number; words: number; docs: number; sentence?: number; groundedSentence?: number }> = {};
  const summaries: { document: string; reference: string; regular: string; cad: string; summarizeDefault?: string; extractive?: string }[] = [];
  const summarizeDefault: Variant = { alpha: 0.5, plausibility: 0.1, adaptive: false };
  const sumVariants = [
    ...(grid ? variants : [0, 0.5].map(plainVariant)),
    // The `summarize` defaults, free and quoting whole sentences (extractive), at its 64-token budget.
    ...(extractiveToo ? [summarizeDefault, { ...summarizeDefault, extractive: true }] : []),
  ];
  for (const v of sumVariants) {
    let supported = 0;
    let total = 0;
    let sentences = 0;
    let groundedSentences = 0;
    for (const [i, r] of docs.entries()) {
      const decoding: Decoding = { mode: 'sample', temperature: 1, topP: 0.9 };
      const { extractive, ...knobs } = v;
      const withContext = renderPieces(sum.prompt, { document: r.document }, tok);
      const out = await decodeCad(lm, {
        withContext,
        withoutContext: renderPieces(sum.no_context!, { document: '' }, tok),
        ...knobs,
        ...(extractive && { span: new SpanConstraint(documentSpanSources(tok, r.document, 'sentences'), stop) }),
        decoding,
        // The summarize defaults' 64 tokens where the document leaves room (the documents are chosen to fit 48).
        maxTokens: v.plausibility ? Math.min(64, lm.maxContext - withContext.length) : 48,
        seed: 1000 + i,
        stopTokens: stop,
      });
      const text = tok.decode(out.tokens.map((t) => t.id)).trim();
      const docWords = new Set(words(r.document));
      const w = words(text);
      const sup = w.filter((x) => docWords.has(x)).length;
      supported += sup;
      total += w.length;
      if (isSentence(text)) {
        sentences++;
        if (w.length > 0 && sup / w.length >= 0.7) groundedSentences++;
      }
      if (i < 5) {
        if (v.alpha === 0) summaries.push({ document: r.document.slice(0, 300), reference: r.summary, regular: text, cad: '' });
        else if (v === sumVariants.at(-1) && extractiveToo) summaries[i]!.extractive = text;
        else if (v === sumVariants.at(-2) && extractiveToo) summaries[i]!.summarizeDefault = text;
        else if (!grid || key(v) === 'alpha=1') summaries[i]!.cad = text;
      }
    }
    faithfulness[key(v)] = {
      supported: total ? supported / total : 0,
      words: total,
      docs: docs.length,
      ...(groundedMode && { sentence: sentences / Math.max(1, docs.length), groundedSentence: groundedSentences / Math.max(1, docs.length) }),
    };
    console.error(`faithfulness ${key(v)}: ${(supported / Math.max(1, total)).toFixed(3)} of ${total} content words supported`);
  }

  /** CAD over regular decoding of the same answer form (extractive or not). */
  const regularEm = (v: Variant) => knowledgeConflict[key({ ...plainVariant(0), ...(v.extractive && { extractive: true }) })]!.em;
  const result = {
    pack: model.pack.manifest.id,
    ...(groundedMode && { data: 'grounded/heldout (tools/data/build_grounded.py)' }),
    manifestSha256: model.pack.manifestSha256,
    knowledgeConflict,
    consistentControl: control,
    memoTrap: memo,
    cadOverRegularEm: Object.fromEntries(
      qaVariants.filter((v) => v.alpha > 0).map((v) => [key(v), regularEm(v) > 0 ? +(knowledgeConflict[key(v)]!.em / regularEm(v)).toFixed(2) : null]),
    ),
    faithfulness,
    examples,
    summaries,
  };
  writeJsonOut(result);
  console.log(JSON.stringify({ ...result, examples: undefined, summaries: undefined }, null, 2));
  await close();
}

void main();
