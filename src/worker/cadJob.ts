/**
 * `cad/run`: summaries and answers that follow the document (context-aware decoding), with per-token reliance on
 * the document, optional regular decoding side by side, and, for documents longer than the model's context,
 * chunk-and-merge (summaries) or the passages that best match the question (BM25, as the collaboration's knowledge).
 */
import {
  CAD_TASKS,
  WorkerErrorCode,
  type CadOutput,
  type CadRunParams,
  type CadRunResult,
  type CadTokenInfo,
  type DecodingParams,
  type TokenProgress,
} from '../protocol/worker';
import { decodeCad, type CadToken } from '../engine/cad';
import { chunkText, linePassages } from '../engine/chunking';
import { SpanConstraint, quoteStarts, sentenceSpans, wordBoundaries, wordStarts, type SpanSource } from '../engine/spans';
import { CancelledError, ContextTooLongError, EngineInputError } from '../engine/errors';
import { validateDecoding } from '../engine/logits';
import { oneLine, retrievePassages, type Passage } from '../runtime/knowledge';
import { WorkerFailure, type LanguageModel, type WorkerService } from './service';

/**
 * β = 0.1 and adaptive α off: the measurements in docs/cad.md ("Plausibility constraint and adaptive α"); extractive
 * output on for both tasks ("Extractive answers and summaries": the bundled model's own words are rarely the document's).
 */
export const CAD_DEFAULTS = {
  summarize: {
    alpha: 0.5,
    plausibility: 0.1,
    adaptive: false,
    extractive: true,
    decoding: { mode: 'sample', temperature: 1, topP: 0.9 } as DecodingParams,
    maxTokens: 64,
  },
  ask: { alpha: 1, plausibility: 0.1, adaptive: false, extractive: true, decoding: { mode: 'greedy' } as DecodingParams, maxTokens: 24 },
} as const;
export const MAX_DOCUMENT_CHARS = 2_000_000;

export interface CadJobControl {
  signal: AbortSignal;
  onToken?: (p: Omit<TokenProgress, 'progressToken'>) => void;
}

const bad = (msg: string) => new WorkerFailure(WorkerErrorCode.BadInput, msg);

function checkParams(p: CadRunParams): {
  alpha: number;
  plausibility: number;
  adaptive: boolean;
  extractive: boolean;
  decoding: DecodingParams;
  maxTokens: number;
  seed: number;
} {
  if (!CAD_TASKS.includes(p.task)) throw bad(`task must be one of ${CAD_TASKS.join(', ')}`);
  if (typeof p.document !== 'string' || !p.document.trim()) throw bad('the document is empty: open or select some text first');
  if (p.document.length > MAX_DOCUMENT_CHARS) throw bad(`the document has ${p.document.length} characters; the limit is ${MAX_DOCUMENT_CHARS}`);
  if (p.document.includes('\u0000')) throw bad('the document looks binary (it contains NUL bytes)');
  if (p.task === 'ask' && (typeof p.question !== 'string' || !p.question.trim())) throw bad('the question is empty');
  const d = CAD_DEFAULTS[p.task];
  const alpha = p.alpha ?? d.alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 10)
    throw bad(`alpha must be a number from 0 to 10 (got ${String(p.alpha)})`);
  const plausibility = p.plausibility ?? d.plausibility;
  if (typeof plausibility !== 'number' || !Number.isFinite(plausibility) || plausibility < 0 || plausibility > 1)
    throw bad(`plausibility (β) must be a number from 0 to 1 (got ${String(p.plausibility)})`);
  const adaptive = p.adaptive ?? d.adaptive;
  if (typeof adaptive !== 'boolean') throw bad('adaptive must be true or false');
  const extractive = p.extractive ?? d.extractive;
  if (typeof extractive !== 'boolean') throw bad('extractive must be true or false');
  if (p.wholeDocument !== undefined && typeof p.wholeDocument !== 'boolean') throw bad('wholeDocument must be true or false');
  const decoding = p.decoding ?? d.decoding;
  const why = validateDecoding(decoding);
  if (why) throw bad(why);
  const maxTokens = p.maxTokens ?? d.maxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 1024) throw bad('max tokens must be an integer from 1 to 1024');
  const seed = p.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw bad('seed must be a non-negative 32-bit integer');
  return { alpha, plausibility, adaptive, extractive, decoding, maxTokens, seed };
}

/**
 * The document as span sources for extractive outputs. Answers (`words`): each non-empty line encoded on its own
 * after a space, as a word reads after "Answer:" (a line-initial word would otherwise only exist in its no-space
 * form), quoting whole words. Summaries (`sentences`): each paragraph of 4+ words (blank-line separated, its line
 * breaks read as spaces, since prose wraps) quoting whole sentences. Word boundaries come from each token's text,
 * decoded next to its predecessor (which keeps leading spaces); a quote opens on a word, not on punctuation.
 */
export function documentSpanSources(
  tok: Pick<LanguageModel['tok'], 'encodePlain' | 'decode'>,
  document: string,
  unit: 'words' | 'sentences' = 'words',
): SpanSource[] {
  const paragraphs = () => {
    const all = document.split(/\r?\n\s*\r?\n/).map((p) => p.replace(/\s+/g, ' ').trim());
    // Headings and one-word lines are not summaries: quote paragraphs of 4+ words when there are any.
    const long = all.filter((p) => (p.match(/[\p{L}\p{N}]+/gu) ?? []).length >= 4);
    return long.length ? long : all;
  };
  const parts = unit === 'words' ? document.split(/\r?\n/) : paragraphs();
  const out: SpanSource[] = [];
  for (const part of parts) {
    if (!part.trim()) continue;
    const tokens = Int32Array.from(tok.encodePlain(` ${part.trim()}`));
    const pieces = [...tokens].map((t, i) => {
      if (i === 0) return tok.decode([t]);
      const prev = tok.decode([tokens[i - 1]!]);
      const both = tok.decode([tokens[i - 1]!, t]);
      return both.startsWith(prev) ? both.slice(prev.length) : both;
    });
    const boundaries = wordBoundaries(pieces);
    out.push({ tokens, boundaries, ...(unit === 'words' ? { starts: wordStarts(pieces, boundaries) } : sentenceSpans(pieces)) });
  }
  return out;
}

/** Turns engine tokens into protocol tokens with the text each adds (incremental decoding handles multi-token characters). */
export function describeTokens(model: Pick<LanguageModel, 'tok'>, tokens: readonly CadToken[]): CadTokenInfo[] {
  const out: CadTokenInfo[] = [];
  let prev = '';
  const ids: number[] = [];
  for (const t of tokens) {
    ids.push(t.id);
    const text = model.tok.decode(ids);
    // A character split over byte-fallback tokens decodes as U+FFFD until its last byte arrives: attribute the whole
    // character to the token that completes it.
    if (text.endsWith('\uFFFD')) {
      out.push({ id: t.id, text: '', reliance: t.reliance, ...(t.alpha !== undefined && { alpha: t.alpha }) });
      continue;
    }
    out.push({ id: t.id, text: text.slice(prev.length), reliance: t.reliance, ...(t.alpha !== undefined && { alpha: t.alpha }) });
    prev = text;
  }
  return out;
}

/** Mean, min and max of the per-token α_t of an adaptive run (rounded to 4 decimals for the record). */
export function alphaSummary(alphas: readonly number[]): { mean: number; min: number; max: number; tokens: number } {
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return { mean: r(alphas.reduce((a, b) => a + b, 0) / alphas.length), min: r(Math.min(...alphas)), max: r(Math.max(...alphas)), tokens: alphas.length };
}

export async function runCad(service: WorkerService, p: CadRunParams, job: CadJobControl): Promise<CadRunResult> {
  const started = performance.now();
  const knobs = checkParams(p);
  const model = await service.languageModel(p.packId);
  // The pack's prompt template, or a published model's chat template / plain prompts (runtime/taskPrompts.ts).
  const template = model.taskPrompt(p.task === 'summarize' ? 'summary' : 'qa');
  if (!template)
    throw new WorkerFailure(
      WorkerErrorCode.PackInvalid,
      `model pack "${model.pack.manifest.id}" has no "${p.task === 'summarize' ? 'summary' : 'qa'}" prompt with a no-context form`,
    );
  const fields = (document: string) => ({ document: document.trim(), question: (p.question ?? '').trim() });
  const withoutContext = template.render(fields(''), false);
  const stopTokens = [...new Set([...Object.values(model.tok.specialIds), ...model.lm.eosIds])];
  /** The rows of the last decode and what it generated, for the run record. */
  let lastRun: { withContext: Int32Array; generated: number[]; alphas: number[] } | undefined;
  const provider = service.providerReport();

  // Span sources of each document (or chunk) once per request: the side-by-side and every swept α quote the same text.
  const spanSources = new Map<string, SpanSource[]>();
  const spanSourcesOf = (document: string): SpanSource[] => {
    let sources = spanSources.get(document);
    if (!sources) spanSources.set(document, (sources = documentSpanSources(model.tok, document, p.task === 'ask' ? 'words' : 'sentences')));
    return sources;
  };

  const decodeOne = async (document: string, alpha: number, variant: 'cad' | 'regular', part: number): Promise<CadOutput> => {
    const withContext = template.render(fields(document), true);
    const partial: CadToken[] = [];
    const onToken = job.onToken
      ? (t: CadToken, index: number) => {
          partial.push(t);
          // Re-describe the whole prefix so that characters spanning several tokens come out whole.
          const described = describeTokens(model, partial);
          job.onToken!({ variant, part, index, token: described[described.length - 1]! });
        }
      : undefined;
    const r = await decodeCad(model.lm, {
      withContext,
      withoutContext,
      alpha,
      // Regular decoding (the side-by-side view) is plain: neither the constraint nor adaptive α. Extractive output
      // is the output's form, not a decoding trick: both variants quote the document.
      ...(variant === 'cad' && { plausibility: knobs.plausibility, adaptive: knobs.adaptive }),
      ...(knobs.extractive && {
        span: new SpanConstraint(spanSourcesOf(document), stopTokens),
      }),
      decoding: knobs.decoding,
      maxTokens: knobs.maxTokens,
      seed: knobs.seed,
      stopTokens,
      signal: job.signal,
      ...(onToken && { onToken }),
    });
    if (variant === 'cad')
      lastRun = { withContext, generated: r.tokens.map((t) => t.id), alphas: r.tokens.flatMap((t) => (t.alpha === undefined ? [] : [t.alpha])) };
    const tokens = describeTokens(model, r.tokens);
    return {
      text: tokens
        .map((t) => t.text)
        .join('')
        .trim(),
      tokens,
      alpha,
      stoppedBy: r.stoppedBy,
    };
  };

  const fitsWhole = (document: string) => template.render(fields(document), true).length + knobs.maxTokens <= model.lm.maxContext;
  // The document is tokenised once, in slices, answering a cancel between them (2M characters take seconds); only a
  // document that may fit is rendered into the prompt whole (the template adds tokens, boundaries lose a few at most).
  let docTokens: number;
  try {
    docTokens = (
      await model.tok.encodePlainAsync(
        ` ${p.document.trim()}`,
        () => job.signal.aborted,
        () => new CancelledError(),
      )
    ).length;
  } catch (e) {
    if (e instanceof CancelledError) throw new WorkerFailure(WorkerErrorCode.Cancelled, `${p.task === 'ask' ? 'answer' : 'summary'} cancelled`);
    throw e;
  }
  const documentFits = docTokens <= model.lm.maxContext + 8 && fitsWhole(p.document);
  // A question about a document of several paragraphs is answered from the passage that matches it best, unless the
  // caller asks for the whole document: docs/cad.md ("Questions about long documents", bench/ask-eval.ts).
  const focusOnPassage = p.task === 'ask' && !p.wholeDocument && docTokens > ASK_FOCUS.minDocumentTokens;

  /** A question about a long document: the passages it is answered from (the same for both variants). */
  let questionPassages: QuestionPassages | undefined;
  /**
   * Long documents: a summary is map-reduced (summarise chunks, then the joined summaries until they fit, ≤ 3 rounds);
   * a question is answered from the passages that best match it.
   */
  const runVariant = async (alpha: number, variant: 'cad' | 'regular'): Promise<{ out: CadOutput; chunks?: CadRunResult['chunks'] }> => {
    if (documentFits && !focusOnPassage) return { out: await decodeOne(p.document, alpha, variant, 0) };
    const overhead = template.render(fields(''), true).length;
    const budget = model.lm.maxContext - knobs.maxTokens - overhead - 2;
    if (p.task === 'ask' && overhead + 16 + 2 + 1 > model.lm.maxContext) {
      const questionTokens = model.tok.encodePlain(` ${(p.question ?? '').trim()}`).length;
      throw bad(
        `the question is too long for model "${model.pack.manifest.id}": it has about ${questionTokens} tokens and the model reads at most ${model.lm.maxContext}, prompt and document included; shorten the question`,
      );
    }
    if (budget < 16)
      throw bad(
        `model "${model.pack.manifest.id}" reads ${model.lm.maxContext} tokens; with ${knobs.maxTokens} new tokens and the prompt, no room is left for the document (lower the max tokens)`,
      );
    const count = (s: string) => model.tok.encodePlain(` ${s.trim()}`).length;
    if (p.task === 'ask') {
      const room = focusOnPassage ? Math.min(budget, ASK_FOCUS.passageTokens) : budget;
      questionPassages ??= passagesForQuestion(p.document, (p.question ?? '').trim(), room, count);
      return { out: await decodeOne(questionPassages.text, alpha, variant, 0) };
    }
    let part = 0;
    const summariseChunks = async (text: string) => {
      const out: NonNullable<CadRunResult['chunks']> = [];
      for (const r of chunkText(text, budget, count)) {
        const slice = text.slice(r.start, r.end);
        // A chunk where no quote can open (a rule of dashes, ASCII art) has nothing to quote: it adds no summary.
        const nothingToQuote = knobs.extractive && quoteStarts(spanSourcesOf(slice)).length === 0;
        out.push({ start: r.start, end: r.end, summary: nothingToQuote ? '' : (await decodeOne(slice, alpha, variant, part++)).text });
      }
      return out;
    };
    const chunks = await summariseChunks(p.document);
    // Extractive summaries keep each chunk's quote a paragraph of its own, so that the next round quotes whole ones.
    const glue = knobs.extractive ? '\n\n' : ' ';
    const join = (summaries: { summary: string }[]) =>
      summaries
        .map((c) => c.summary)
        .filter((x) => x.trim())
        .join(glue);
    let joined = join(chunks);
    for (let round = 0; round < 3 && joined.trim() && !fitsWhole(joined); round++) {
      joined = join(await summariseChunks(joined));
    }
    if (joined.trim() && fitsWhole(joined)) return { out: await decodeOne(joined, alpha, variant, part), chunks };
    return { out: { text: joined.trim(), tokens: [], alpha, stoppedBy: 'max-tokens' }, chunks };
  };

  try {
    const cad = await runVariant(knobs.alpha, 'cad');
    const regular = p.compareRegular ? (await runVariant(0, 'regular')).out : undefined;
    const withContextLen =
      documentFits && !questionPassages
        ? template.render(fields(p.document), true).length
        : questionPassages && lastRun
          ? lastRun.withContext.length
          : model.lm.maxContext - knobs.maxTokens;
    return {
      ...cad.out,
      task: p.task,
      model: { id: model.pack.manifest.id, ...(model.pack.manifest.displayName && { displayName: model.pack.manifest.displayName }) },
      run: {
        packId: model.pack.manifest.id,
        manifestSha256: model.pack.manifestSha256,
        modelSha256: model.modelSha256,
        seed: knobs.seed,
        knobs: {
          alpha: knobs.alpha,
          plausibility: knobs.plausibility,
          adaptive: knobs.adaptive,
          extractive: knobs.extractive,
          decoding: knobs.decoding,
          maxTokens: knobs.maxTokens,
        },
        ...(knobs.adaptive && lastRun?.alphas.length && { adaptiveAlpha: alphaSummary(lastRun.alphas) }),
        provider: provider.chosen,
        device: provider.device,
        promptTokens: { withContext: withContextLen, withoutContext: withoutContext.length },
        ...(lastRun && {
          prompt: {
            template: template.template,
            rows: [
              { row: 'with-document' as const, text: model.tok.decode([...lastRun.withContext], false), ids: [...lastRun.withContext] },
              { row: 'without-document' as const, text: model.tok.decode([...withoutContext], false), ids: [...withoutContext] },
            ],
            generated: lastRun.generated,
          },
        }),
        ...(cad.chunks && { chunks: cad.chunks.length }),
        durationMs: Math.round(performance.now() - started),
      },
      ...(regular && { regular }),
      ...(cad.chunks && { chunks: cad.chunks }),
      ...(questionPassages && { passages: questionPassages.ranges }),
    };
  } catch (e) {
    if (e instanceof CancelledError) throw new WorkerFailure(WorkerErrorCode.Cancelled, `${p.task === 'ask' ? 'answer' : 'summary'} cancelled`);
    if (e instanceof ContextTooLongError || e instanceof EngineInputError) throw bad(e.message);
    throw e;
  }
}

/**
 * Questions about documents of more than `minDocumentTokens` are answered from the best-matching passages that fit
 * in `passageTokens` (about one paragraph). On hand-written documents (bench/ask-eval.ts) the bundled model found
 * the fact in 12.5% of its answers reading the whole document and 50% reading that passage; held-out templated
 * documents, nearly all shorter than 128 tokens, are read whole as before (72.7%; 52% when cut to 48 tokens too).
 */
export const ASK_FOCUS = { minDocumentTokens: 128, passageTokens: 48 } as const;

interface QuestionPassages {
  /** The chosen passages in document order, one per line: what the model reads as its document. */
  text: string;
  ranges: NonNullable<CadRunResult['passages']>;
}

/**
 * The passages of `document` that best match `question` (BM25 over passages of ≤ 48 tokens, knowledge.ts's
 * retrieval) and fit in `budget` tokens together, in document order. When no passage shares a word with the
 * question, the document's first passages are read.
 */
export function passagesForQuestion(document: string, question: string, budget: number, count: (s: string) => number): QuestionPassages {
  // Passages of about a paragraph: small enough for retrieval to tell apart, whatever the budget.
  const ranges = linePassages(document, Math.min(budget, ASK_FOCUS.passageTokens), count);
  const passages: Passage[] = ranges.map((r, index) => ({
    itemId: 'document',
    title: '',
    text: oneLine(document.slice(r.start, r.end)),
    index,
    tokens: r.tokens,
  }));
  const joined = (chosen: readonly Passage[]) => chosen.map((c) => c.text).join('\n');
  const chosen = retrievePassages(passages, question, budget, (c) => count(joined([...c].sort((a, b) => a.index - b.index))));
  chosen.sort((a, b) => a.index - b.index);
  // Neighbouring passages (cut from one paragraph) are one stretch of the document.
  const stretches: { start: number; end: number; score: number }[] = [];
  for (const c of chosen) {
    const r = ranges[c.index]!;
    const last = stretches[stretches.length - 1];
    if (last && !document.slice(last.end, r.start).trim()) {
      last.end = r.end;
      last.score = Math.max(last.score, c.score);
    } else stretches.push({ start: r.start, end: r.end, score: c.score });
  }
  return { text: joined(chosen), ranges: stretches.map((s) => ({ ...s, ...linesOf(document, s.start, s.end) })) };
}

/** The 1-based lines of the characters [start, end) of `text`, white space at its ends aside. */
export function linesOf(text: string, start: number, end: number): { firstLine: number; lastLine: number } {
  const slice = text.slice(start, end);
  const from = start + (slice.length - slice.trimStart().length);
  const to = Math.max(from, start + slice.trimEnd().length - 1);
  const lineAt = (i: number) => {
    let line = 1;
    for (let k = text.indexOf('\n'); k >= 0 && k < i; k = text.indexOf('\n', k + 1)) line++;
    return line;
  };
  return { firstLine: lineAt(from), lastLine: lineAt(to) };
}
