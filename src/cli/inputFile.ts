/** Reading a document named on the command line, with one-line errors a user can act on. */
import { promises as fs } from 'node:fs';

export const MAX_INPUT_BYTES = 8 * 1024 * 1024;

export class InputError extends Error {}

/** Reads a UTF-8 text file; refuses folders, huge files and binary content. */
export async function readTextFile(file: string): Promise<string> {
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw new InputError(`cannot read "${file}": no such file`);
  }
  if (st.isDirectory()) throw new InputError(`"${file}" is a folder; give a text file`);
  if (st.size > MAX_INPUT_BYTES)
    throw new InputError(`"${file}" is ${(st.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_INPUT_BYTES / 1024 / 1024} MB`);
  const bytes = await fs.readFile(file);
  if (isBinary(bytes)) throw new InputError(`"${file}" looks like a binary file, not text`);
  const text = new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
  if (!text.trim()) throw new InputError(`"${file}" is empty`);
  return text;
}

/** NUL bytes, or many invalid UTF-8 sequences / control characters in the first 8 KB. */
export function isBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return true;
  const text = new TextDecoder('utf-8').decode(head);
  let bad = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12)) bad++;
  }
  return head.length > 0 && bad / Math.max(1, text.length) > 0.05;
}
