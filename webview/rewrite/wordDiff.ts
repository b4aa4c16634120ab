/**
 * A word-level diff (longest common subsequence over words, white space and punctuation), for the original vs
 * rewrite view and for marking the words that changed between two denoising steps. Pure: tests cover it.
 */

export type DiffOp = { op: 'eq' | 'del' | 'ins'; text: string };

/** Above this many cells (words × words) the middle is shown as one replacement instead of an LCS. */
export const MAX_DIFF_CELLS = 1_000_000;

const TOKEN = /\s+|[\p{L}\p{N}_]+(?:['’][\p{L}\p{N}_]+)*|[^\s\p{L}\p{N}_]/gu;
const WORD = /[\p{L}\p{N}]/u;

/** Words (with inner apostrophes), runs of white space, and single other characters; joined they give `text`. */
export function splitWords(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

function push(out: DiffOp[], op: DiffOp['op'], text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last && last.op === op) last.text += text;
  else out.push({ op, text });
}

function lcsOps(a: string[], b: string[], out: DiffOp[]): void {
  const n = a.length;
  const m = b.length;
  if (!n || !m || n * m > MAX_DIFF_CELLS) {
    push(out, 'del', a.join(''));
    push(out, 'ins', b.join(''));
    return;
  }
  // L[i][j]: LCS length of a[i:] and b[j:].
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1]! + 1 : Math.max(L[(i + 1) * w + j]!, L[i * w + j + 1]!);
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      push(out, 'eq', a[i]!);
      i++;
      j++;
    } else if (L[(i + 1) * w + j]! >= L[i * w + j + 1]!) push(out, 'del', a[i++]!);
    else push(out, 'ins', b[j++]!);
  }
  while (i < n) push(out, 'del', a[i++]!);
  while (j < m) push(out, 'ins', b[j++]!);
}

/**
 * `a` → `b` as equal / deleted / inserted runs. White space alone between two changes joins them into one change,
 * and each change lists its deletion before its insertion, so "the big dog" → "a small cat" reads as one hunk.
 */
export function wordDiff(a: string, b: string): DiffOp[] {
  const x = splitWords(a);
  const y = splitWords(b);
  let pre = 0;
  while (pre < x.length && pre < y.length && x[pre] === y[pre]) pre++;
  let suf = 0;
  while (suf < x.length - pre && suf < y.length - pre && x[x.length - 1 - suf] === y[y.length - 1 - suf]) suf++;
  const raw: DiffOp[] = [];
  push(raw, 'eq', x.slice(0, pre).join(''));
  lcsOps(x.slice(pre, x.length - suf), y.slice(pre, y.length - suf), raw);
  push(raw, 'eq', x.slice(x.length - suf).join(''));

  // Fold white-space-only equal runs between changes into the surrounding hunk; order each hunk del, ins.
  const out: DiffOp[] = [];
  let del = '';
  let ins = '';
  const flush = () => {
    push(out, 'del', del);
    push(out, 'ins', ins);
    del = ins = '';
  };
  raw.forEach((o, k) => {
    if (o.op === 'del') del += o.text;
    else if (o.op === 'ins') ins += o.text;
    else if (/^\s+$/.test(o.text) && (del || ins) && raw[k + 1] && raw[k + 1]!.op !== 'eq') {
      del += o.text;
      ins += o.text;
    } else {
      flush();
      push(out, 'eq', o.text);
    }
  });
  flush();
  return out;
}

/** Words (runs with a letter or digit) in the deleted and inserted runs. */
export function diffStats(ops: readonly DiffOp[]): { deleted: number; inserted: number } {
  const words = (t: string) => splitWords(t).filter((w) => WORD.test(w)).length;
  let deleted = 0;
  let inserted = 0;
  for (const o of ops) {
    if (o.op === 'del') deleted += words(o.text);
    if (o.op === 'ins') inserted += words(o.text);
  }
  return { deleted, inserted };
}
