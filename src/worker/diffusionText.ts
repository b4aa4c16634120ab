/**
 * What the diffusion model reads of the user's text. The bundled packs were trained on single-line text units with
 * collapsed white space (tools/data/extract.py), so line breaks are never shown to the model: a rewrite of several
 * paragraphs rewrites each paragraph on its own (with everything before it as context) and keeps the original
 * paragraph breaks between them.
 */

/** `s` as the model reads it: white space runs (line breaks included) collapsed to one space, trimmed. */
export function modelText(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export interface Paragraph {
  /** The paragraph without its surrounding white space (non-empty). */
  text: string;
  /** The white space that follows it in the original ('' after the last one). */
  after: string;
}

/** The paragraphs of `s` (separated by blank lines); `s.trim()` is Σ text + after. */
export function splitParagraphs(s: string): Paragraph[] {
  const out: Paragraph[] = [];
  const body = s.trim();
  const sep = /\n[ \t\r]*\n\s*/g;
  let at = 0;
  for (const m of body.matchAll(sep)) {
    out.push({ text: body.slice(at, m.index), after: m[0] });
    at = m.index + m[0].length;
  }
  if (at < body.length || !out.length) out.push({ text: body.slice(at), after: '' });
  return out.filter((p) => p.text.length > 0);
}

/** The end of `s`, at most `maxChars` long, starting after a white space when it had to be cut. */
export function tailChars(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  const cut = s.slice(s.length - maxChars);
  const ws = cut.search(/\s/);
  return ws >= 0 && ws < cut.length / 2 ? cut.slice(ws + 1) : cut;
}

/**
 * Generated text as it may enter a document: the diffusion model samples byte-fallback tokens freely, and a run of
 * bytes that is not valid UTF-8 decodes to U+FFFD. Those marks were never meant as text, so they are dropped
 * (with the space doubling they leave), never written into the user's file.
 */
export function withoutBrokenBytes(s: string): string {
  return s.includes('\uFFFD') ? s.replace(/\uFFFD+/g, '').replace(/ {2,}/g, ' ') : s;
}
