/**
 * Turns a summary into a comment in the document's language: a small table of common languages, a guess from the
 * document's own lines for the rest (`#` or `//`), word-wrapped and indented like the line it goes above.
 * No `vscode` import, so tests cover it.
 */

export interface CommentSyntax {
  /** Line comment prefix, e.g. `//`. */
  line?: string;
  /** Block comment delimiters, used when the language has no line comment. */
  block?: readonly [open: string, close: string];
}

const slash: CommentSyntax = { line: '//' };
const hash: CommentSyntax = { line: '#' };
const dashes: CommentSyntax = { line: '--' };
const percent: CommentSyntax = { line: '%' };
const semicolons: CommentSyntax = { line: ';;' };
const cBlock: CommentSyntax = { block: ['/*', '*/'] };
const markup: CommentSyntax = { block: ['<!--', '-->'] };

/** VS Code language ids → comment syntax. `plaintext` has none: the summary goes in as a paragraph. */
export const COMMENT_SYNTAX: Readonly<Record<string, CommentSyntax>> = {
  c: slash,
  cpp: slash,
  csharp: slash,
  cuda: slash,
  'cuda-cpp': slash,
  dart: slash,
  fsharp: slash,
  go: slash,
  groovy: slash,
  java: slash,
  javascript: slash,
  javascriptreact: slash,
  jsonc: slash,
  kotlin: slash,
  less: slash,
  'objective-c': slash,
  'objective-cpp': slash,
  php: slash,
  proto: slash,
  rust: slash,
  scala: slash,
  scss: slash,
  swift: slash,
  typescript: slash,
  typescriptreact: slash,
  vue: markup,
  zig: slash,
  hlsl: slash,
  glsl: slash,
  wgsl: slash,
  solidity: slash,
  coffeescript: hash,
  dockerfile: hash,
  elixir: hash,
  gdscript: hash,
  graphql: hash,
  julia: hash,
  makefile: hash,
  nim: hash,
  perl: hash,
  powershell: hash,
  properties: hash,
  python: hash,
  r: hash,
  raku: hash,
  ruby: hash,
  shellscript: hash,
  toml: hash,
  yaml: hash,
  cmake: hash,
  'git-commit': hash,
  'git-rebase': hash,
  ignore: hash,
  dotenv: hash,
  nix: hash,
  ada: dashes,
  elm: dashes,
  haskell: dashes,
  lua: dashes,
  sql: dashes,
  plsql: dashes,
  purescript: dashes,
  erlang: percent,
  latex: percent,
  tex: percent,
  bibtex: percent,
  matlab: percent,
  prolog: percent,
  clojure: semicolons,
  lisp: semicolons,
  scheme: semicolons,
  racket: semicolons,
  ini: { line: ';' },
  asm: { line: ';' },
  bat: { line: 'REM' },
  vb: { line: "'" },
  fortran: { line: '!' },
  'fortran-modern': { line: '!' },
  vim: { line: '"' },
  ocaml: { block: ['(*', '*)'] },
  css: cBlock,
  html: markup,
  xml: markup,
  xsl: markup,
  svg: markup,
  markdown: markup,
  razor: markup,
  aspnetcorerazor: markup,
  plaintext: {},
};

/**
 * The syntax for `languageId`; for a language not in the table, `#` when the document has more lines that start
 * with `#` than with `//`, else `//`.
 */
export function commentSyntaxFor(languageId: string, documentText = ''): CommentSyntax & { guessed?: true } {
  const known = COMMENT_SYNTAX[languageId];
  if (known) return known;
  let hashes = 0;
  let slashes = 0;
  for (const line of documentText.slice(0, 200_000).split('\n')) {
    const t = line.trimStart();
    if (t.startsWith('//')) slashes++;
    else if (t.startsWith('#')) hashes++;
  }
  return { line: hashes > slashes ? '#' : '//', guessed: true };
}

/** Greedy word wrap; words longer than `width` stay whole. Paragraph breaks in `text` are kept. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.replace(/\r\n?/g, '\n').split(/\n/)) {
    const words = para.split(/\s+/).filter(Boolean);
    if (!words.length) {
      lines.push('');
      continue;
    }
    let cur = '';
    for (const w of words) {
      if (cur && cur.length + 1 + w.length > width) {
        lines.push(cur);
        cur = w;
      } else cur = cur ? `${cur} ${w}` : w;
    }
    lines.push(cur);
  }
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface CommentLayout {
  /** Leading white space of the line the comment goes above. */
  indent: string;
  /** The document's line ending. */
  eol: '\n' | '\r\n';
  /** Wrap column (default 100, never narrower than 40 characters of text). */
  width?: number;
}

/**
 * Whole lines to insert at the start of a line: the text as a comment (or, for plain text, as a paragraph),
 * ending with `eol`. A block closer inside the text is broken up so that it cannot end the comment early.
 */
export function formatComment(text: string, syntax: CommentSyntax, layout: CommentLayout): string {
  const { indent, eol } = layout;
  const width = Math.max(40, (layout.width ?? 100) - indent.length);
  if (syntax.line) {
    const prefix = `${syntax.line} `;
    return (
      wrapText(text, width - prefix.length)
        .map((l) => (l ? `${indent}${prefix}${l}` : `${indent}${syntax.line}`))
        .join(eol) + eol
    );
  }
  if (syntax.block) {
    const [open, close] = syntax.block;
    const safe = text.split(close).join(close.split('').join(' '));
    const body = wrapText(safe, width - 3).map((l) => (l ? `${indent}${open === '/*' ? ' * ' : '  '}${l}` : indent));
    return [`${indent}${open}`, ...body, `${indent}${open === '/*' ? ' ' : ''}${close}`].join(eol) + eol;
  }
  return (
    wrapText(text, width)
      .map((l) => (l ? indent + l : ''))
      .join(eol) +
    eol +
    eol
  );
}

/** A short description of the syntax for messages ("a // comment", "a paragraph"). */
export function describeSyntax(syntax: CommentSyntax): string {
  if (syntax.line) return `a ${syntax.line} comment`;
  if (syntax.block) return `a ${syntax.block[0]} ${syntax.block[1]} comment`;
  return 'a paragraph';
}

/** Where a comment "above line `line`" really goes: never above a `#!` line. */
export function commentLine(line: number, firstLineText: string): number {
  return line === 0 && firstLineText.startsWith('#!') ? 1 : line;
}
