/**
 * `concert image complete <file>` and `concert image generate`: JPEG-LM completions and generations with a codec-lm
 * pack (worker request `image/run`). The files are written only once the worker has answered, so bad input, a
 * cancel or a failure writes nothing: one JPEG per sample (tables restored, so any viewer opens it) named
 * `<stem>-complete-<i>.jpg` or `generate-<i>.jpg` in --out.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MAX_IMAGE_FILE_BYTES, Requests, type ImageRunParams, type ImageRunResult } from '../protocol/worker';
import { UsageError, type Parsed } from './args';
import type { RunContext } from './commands';
import { InputError } from './inputFile';

export async function checkImage(args: Parsed): Promise<void> {
  const [sub, ...rest] = args.positionals;
  if (sub !== 'complete' && sub !== 'generate')
    throw new UsageError('image needs "complete <file>" or "generate", e.g. "concert image complete photo.png --ratio 0.5 --samples 4 --out out/images"');
  if (sub === 'complete' && rest.length !== 1) throw new UsageError('image complete needs exactly one image file (PNG or JPEG)');
  if (sub === 'generate' && rest.length) throw new UsageError(`unexpected argument "${rest[0]}" (image generate takes no file)`);
  if (sub === 'generate' && args.image.ratio !== undefined) throw new UsageError('--ratio is for image complete (generate samples whole images)');
  if (!args.image.out) throw new UsageError(`image ${sub} needs --out <folder> for the JPEG files`);
  const outStat = await fs.stat(args.image.out).catch(() => undefined);
  if (outStat && !outStat.isDirectory()) throw new UsageError(`--out ${args.image.out} is a file, not a folder`);
  if (sub === 'complete') {
    const file = rest[0]!;
    const st = await fs.stat(file).catch(() => undefined);
    if (!st) throw new InputError(`cannot read "${file}": no such file`);
    if (st.isDirectory()) throw new InputError(`"${file}" is a folder; give an image file (PNG or JPEG)`);
    if (!st.isFile()) throw new InputError(`"${file}" is not a regular file`);
    if (st.size === 0) throw new InputError(`"${file}" is empty (0 bytes)`);
    if (st.size > MAX_IMAGE_FILE_BYTES)
      throw new InputError(`"${file}" is ${(st.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_IMAGE_FILE_BYTES / 1024 / 1024} MB`);
  }
}

/** The file name of sample i (0-based) of a run. */
export function sampleFileName(mode: 'complete' | 'generate', i: number, input?: string): string {
  if (mode === 'generate') return `generate-${i + 1}.jpg`;
  const stem = path.basename(input ?? 'image', path.extname(input ?? '')) || 'image';
  return `${stem}-complete-${i + 1}.jpg`;
}

export async function runImage(ctx: RunContext): Promise<void> {
  const [sub, file] = ctx.args.positionals as ['complete' | 'generate', string | undefined];
  const { out, ...knobs } = ctx.args.image;
  const params: ImageRunParams = { ...knobs, mode: sub, ...(file !== undefined && { file: path.resolve(file) }) };
  const r = await ctx.client.request(Requests.imageRun, params, ctx.signal);
  await fs.mkdir(out!, { recursive: true });
  const files: string[] = [];
  for (const s of r.samples) {
    const target = path.join(out!, sampleFileName(sub, s.index, file));
    await fs.writeFile(target, Buffer.from(s.jpeg, 'base64'));
    files.push(target);
  }
  if (ctx.args.json) ctx.out(JSON.stringify(imageJson(r, files), null, 2));
  else printImage(r, files, ctx.out);
}

/** The --json shape: each written file with its verdict, and the run record (the images themselves are the files). */
export function imageJson(r: ImageRunResult, files: readonly string[]): unknown {
  return {
    mode: r.mode,
    model: r.model,
    width: r.width,
    height: r.height,
    decodable: r.decodable,
    samples: r.samples.length,
    files: r.samples.map((s, i) => ({
      path: files[i],
      decodable: s.decodable,
      tokens: s.tokens,
      streamBytes: s.streamBytes,
      closingBytes: s.closingBytes,
      stoppedBy: s.stoppedBy,
      ...(s.problem !== undefined && { problem: s.problem }),
    })),
    run: r.run,
  };
}

export function printImage(r: ImageRunResult, files: readonly string[], out: (s: string) => void): void {
  const width = Math.max(4, ...files.map((f) => f.length));
  out(`  ${'file'.padEnd(width)}  decodable  tokens  ended`);
  r.samples.forEach((s, i) => {
    const ended =
      s.stoppedBy === 'max-tokens' ? `budget${s.closingBytes ? ` (+${s.closingBytes} bytes grey)` : ''}` : s.stoppedBy === 'complete' ? 'EOI' : 'eos';
    out(`  ${files[i]!.padEnd(width)}  ${(s.decodable ? 'yes' : 'no').padEnd(9)}  ${String(s.tokens).padStart(6)}  ${ended}`);
  });
  const k = r.run.knobs;
  const d =
    k.decoding.mode === 'greedy' ? 'greedy' : `T ${k.decoding.temperature}, top-p ${k.decoding.topP}${k.decoding.topK ? `, top-k ${k.decoding.topK}` : ''}`;
  const kept = r.mode === 'complete' ? `, kept ${r.run.image.keptPatches} of ${r.run.image.patches} patches (${r.run.promptBytes} bytes)` : '';
  out(
    `${r.decodable} of ${r.samples.length} decodable · ${r.model.id} (${r.width}×${r.height})${kept} · ${k.constrained ? 'constrained' : 'unconstrained'}, ${d}, seed ${r.run.seed} · ${(r.run.timings.totalMs / 1000).toFixed(1)} s`,
  );
}
