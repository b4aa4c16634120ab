/**
 * What Add Model… says about a folder the worker validated (addModel.ts): accepted, or the one-line reason it was
 * refused, and how a model is named in messages. No `vscode` import: tests load this file.
 */
import * as path from 'node:path';
import type { PackSummary } from '../protocol/worker';

/** What Add Model… concluded about a folder the worker validated (pure, for tests). */
export type AddVerdict = { ok: true; pack: PackSummary } | { ok: false; reason: string };

/** The weight variant of a published folder, as its derived display name says it (`qwen2-tiny (fp16)`). */
export function variantOf(pack: Pick<PackSummary, 'id' | 'displayName'>): string | undefined {
  const m = /^(.*) \(([a-z0-9]+)\)$/.exec(pack.displayName ?? '');
  return m && m[1] === pack.id ? m[2] : undefined;
}

/** `qwen2-tiny (causal-lm, fp32 weights)`. */
export function describePack(pack: Pick<PackSummary, 'id' | 'kind' | 'displayName'>): string {
  const variant = variantOf(pack);
  return `${pack.id} (${pack.kind}${variant ? `, ${variant} weights` : ''})`;
}

/**
 * The verdict on `dir` from what models/validate found in it: exactly one model, the folder itself, valid. `real` is
 * the folder with symbolic links resolved (the worker reports pack folders that way).
 */
export function addVerdict(dir: string, real: string, found: readonly PackSummary[]): AddVerdict {
  const name = path.basename(dir) || dir;
  if (!found.length)
    return {
      ok: false,
      reason: `no model found in ${name}: a Concert pack needs concert.json; a Hugging Face folder needs config.json, tokenizer.json and onnx/model*.onnx`,
    };
  if (found.length > 1)
    return { ok: false, reason: `${name} holds ${found.length} models; add them one by one, or add the whole folder with Add Model Folder…` };
  const only = found[0]!;
  const same = [dir, real].map((d) => path.resolve(d)).includes(path.resolve(only.dir));
  if (!same) return { ok: false, reason: `${name} is not a model itself; its sub-folder ${path.basename(only.dir)} is: add that folder instead` };
  if (!only.valid) return { ok: false, reason: `${name} is not usable: ${only.error ?? 'invalid'}` };
  return { ok: true, pack: only };
}
