/**
 * Static check of the regular expressions in a pack's tokenizer.json (Split pre-tokenizers, Replace normalizers).
 * They run on a backtracking engine, so a pattern that can match the same text in exponentially many ways freezes the
 * worker on a few dozen characters. Refused, under a quantifier that repeats (`*`, `+`, `{n,}`, `{n,m}` with m > 1):
 * - a nested repeating quantifier: `(a+)+`, `(\w*x)*`, `(x{2,})+`;
 * - an alternation whose branches overlap, i.e. can start the same text: `(a|a)*b`, `(a|ab)+`, `(\w|\d)*`.
 * The analysis is conservative: a construct it cannot read counts as matching anything.
 */

type CharSet = Set<number>; // indexes into SAMPLE

/** Representative characters: all of ASCII plus a few from the Unicode categories tokenizer regexes use. */
const SAMPLE: readonly string[] = [
  ...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)),
  '\u00a0',
  '\u00e9',
  '\u00df',
  '\u00c9',
  '\u03a9',
  '\u03c9',
  '\u0430',
  '\u4e2d',
  '\u3042',
  '\u0661',
  '\u00bd',
  '\u2160',
  '\u0301',
  '\u2028',
  '\u3000',
  '\u2014',
  '\u00ab',
  '\u20ac',
  '\ud83d\ude00',
  '\u2581',
  '\u0120',
  '\u05d0',
  '\u0e01',
];
const ALL: CharSet = new Set(SAMPLE.map((_, i) => i));

function setOf(source: string): CharSet {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${source})$`, 'u');
  } catch {
    try {
      re = new RegExp(`^(?:${source})$`);
    } catch {
      return ALL;
    }
  }
  const out: CharSet = new Set();
  SAMPLE.forEach((c, i) => {
    if (re.test(c)) out.add(i);
  });
  return out;
}

const intersects = (a: CharSet, b: CharSet): boolean => {
  for (const x of a) if (b.has(x)) return true;
  return false;
};
const union = (a: CharSet, b: CharSet): CharSet => new Set([...a, ...b]);

type Node =
  | { t: 'char'; set: CharSet }
  | { t: 'empty' } // anchors, lookarounds, flags: match no character
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; branches: Node[] }
  | { t: 'group'; body: Node }
  | { t: 'quant'; body: Node; min: number; max: number };

export class RegexSyntaxError extends Error {}

/** A small parser of the Oniguruma / ECMAScript syntax tokenizer.json uses. */
class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.s.length) throw new RegexSyntaxError(`unbalanced ")" at ${this.i}`);
    return n;
  }

  private alt(): Node {
    const branches = [this.seq()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.seq());
    }
    return branches.length === 1 ? branches[0]! : { t: 'alt', branches };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') items.push(this.quantified(this.atom()));
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  private quantified(atom: Node): Node {
    for (;;) {
      const c = this.s[this.i];
      let min: number;
      let max: number;
      if (c === '*' || c === '+' || c === '?') {
        this.i++;
        [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
      } else if (c === '{') {
        const m = /^\{(\d*)(,(\d*))?\}/.exec(this.s.slice(this.i));
        if (!m || (m[1] === '' && m[2] === undefined)) return atom; // a literal "{"
        this.i += m[0].length;
        min = m[1] ? Number(m[1]) : 0;
        max = m[2] === undefined ? min : m[3] ? Number(m[3]) : Infinity;
      } else return atom;
      if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy / possessive
      atom = { t: 'quant', body: atom, min, max };
    }
  }

  private atom(): Node {
    const s = this.s;
    const c = s[this.i]!;
    if (c === '(') {
      this.i++;
      let lookaround = false;
      if (s[this.i] === '?') {
        const rest = s.slice(this.i);
        const m = /^\?(?:[:>=!]|<[=!]|<[A-Za-z_]\w*>|P<[A-Za-z_]\w*>|'[A-Za-z_]\w*'|[imsx-]+:)/.exec(rest);
        const flagsOnly = /^\?[imsx-]+\)/.exec(rest);
        if (flagsOnly) {
          this.i += flagsOnly[0].length;
          return { t: 'empty' };
        }
        if (!m) throw new RegexSyntaxError(`unknown group syntax at ${this.i}`);
        lookaround = /^\?(?:[=!]|<[=!])/.test(m[0]);
        this.i += m[0].length;
      }
      const body = this.alt();
      if (s[this.i] !== ')') throw new RegexSyntaxError('missing ")"');
      this.i++;
      return lookaround ? { t: 'empty' } : { t: 'group', body };
    }
    if (c === '[') return { t: 'char', set: setOf(this.charClass()) };
    if (c === '\\') {
      const m = /^\\(?:[pP]\{[^}]*\}|[pP][A-Za-z]|x\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|c[A-Za-z]|0[0-7]{0,2}|[1-9]\d*|k<[^>]*>|.)/su.exec(
        s.slice(this.i),
      );
      if (!m) throw new RegexSyntaxError('trailing "\\"');
      this.i += m[0].length;
      const e = m[0];
      if (/^\\[bBAzZG]$/.test(e)) return { t: 'empty' };
      if (/^\\(?:[1-9]|k<)/.test(e)) return { t: 'char', set: ALL }; // a back-reference: anything
      return { t: 'char', set: setOf(e) };
    }
    this.i++;
    if (c === '^' || c === '$') return { t: 'empty' };
    if (c === '.') return { t: 'char', set: ALL };
    return { t: 'char', set: setOf(c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')) };
  }

  /** Returns the source of a bracket expression (nested classes included) and moves past it. */
  private charClass(): string {
    const start = this.i;
    let depth = 0;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '\\') this.i += 2;
      else if (c === '[') {
        depth++;
        this.i++;
        if (this.s[this.i] === '^') this.i++;
        if (this.s[this.i] === ']') this.i++; // a literal "]" first in the class
      } else if (c === ']') {
        this.i++;
        if (--depth === 0) return this.s.slice(start, this.i);
      } else this.i++;
    }
    throw new RegexSyntaxError('missing "]"');
  }
}

const repeats = (n: Node): boolean => n.t === 'quant' && n.max > 1;

function nullable(n: Node): boolean {
  switch (n.t) {
    case 'char':
      return false;
    case 'empty':
      return true;
    case 'seq':
      return n.items.every(nullable);
    case 'alt':
      return n.branches.some(nullable);
    case 'group':
      return nullable(n.body);
    case 'quant':
      return n.min === 0 || nullable(n.body);
  }
}

/** The characters that can start a match of `n`. */
function first(n: Node): CharSet {
  switch (n.t) {
    case 'char':
      return n.set;
    case 'empty':
      return new Set();
    case 'seq': {
      let out: CharSet = new Set();
      for (const item of n.items) {
        out = union(out, first(item));
        if (!nullable(item)) break;
      }
      return out;
    }
    case 'alt':
      return n.branches.reduce<CharSet>((acc, b) => union(acc, first(b)), new Set());
    case 'group':
      return first(n.body);
    case 'quant':
      return n.max === 0 ? new Set() : first(n.body);
  }
}

/** A branch made only of single characters (no quantifier, no nested alternation): its character sets in order. */
function literalShape(n: Node): CharSet[] | undefined {
  if (n.t === 'char') return [n.set];
  if (n.t === 'group') return literalShape(n.body);
  if (n.t === 'seq') {
    const out: CharSet[] = [];
    for (const item of n.items) {
      if (item.t === 'empty') continue;
      const s = literalShape(item);
      if (!s) return undefined;
      out.push(...s);
    }
    return out;
  }
  return undefined;
}

/** Whether two branches can match the same text, or one a prefix of the other (conservative). */
function overlap(a: Node, b: Node): boolean {
  const la = literalShape(a);
  const lb = literalShape(b);
  if (la && lb) {
    const n = Math.min(la.length, lb.length);
    for (let i = 0; i < n; i++) if (!intersects(la[i]!, lb[i]!)) return false;
    return true;
  }
  if (nullable(a) || nullable(b)) return true;
  return intersects(first(a), first(b));
}

/** The top-level alternation of a repeated body (through groups), if any. */
function alternationOf(n: Node): Extract<Node, { t: 'alt' }> | undefined {
  if (n.t === 'alt') return n;
  if (n.t === 'group') return alternationOf(n.body);
  return undefined;
}

function containsRepeat(n: Node): boolean {
  switch (n.t) {
    case 'quant':
      return repeats(n) || containsRepeat(n.body);
    case 'seq':
      return n.items.some(containsRepeat);
    case 'alt':
      return n.branches.some(containsRepeat);
    case 'group':
      return containsRepeat(n.body);
    default:
      return false;
  }
}

function findProblem(n: Node): string | undefined {
  switch (n.t) {
    case 'quant': {
      if (repeats(n)) {
        if (containsRepeat(n.body)) return 'has nested quantifiers';
        const alt = alternationOf(n.body);
        if (alt) {
          for (let i = 0; i < alt.branches.length; i++) {
            for (let j = i + 1; j < alt.branches.length; j++)
              if (overlap(alt.branches[i]!, alt.branches[j]!)) return 'repeats an alternation whose branches overlap';
          }
        }
      }
      return findProblem(n.body);
    }
    case 'seq':
      for (const x of n.items) {
        const p = findProblem(x);
        if (p) return p;
      }
      return undefined;
    case 'alt':
      for (const x of n.branches) {
        const p = findProblem(x);
        if (p) return p;
      }
      return undefined;
    case 'group':
      return findProblem(n.body);
    default:
      return undefined;
  }
}

/**
 * Why `pattern` risks catastrophic backtracking, or undefined when it looks safe. A pattern this parser cannot read is
 * refused too.
 */
export function regexRisk(pattern: string): string | undefined {
  if (pattern.length > 4096) return 'is longer than 4096 characters';
  let tree: Node;
  try {
    tree = new Parser(pattern).parse();
  } catch (e) {
    return `cannot be analysed (${(e as Error).message})`;
  }
  return findProblem(tree);
}
