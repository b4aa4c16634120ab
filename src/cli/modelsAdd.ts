/**
 * `concert models add <folder>`: checks a model folder (a Concert pack, or a folder as Hugging Face publishes ONNX
 * decoders) in the worker, then records it in Concert's own list (modelRegistry.ts) so that later runs find it.
 * Nothing is written into the folder itself.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Requests } from '../protocol/worker';
import { UsageError, type Parsed } from './args';
import type { RunContext } from './commands';
import { printPacks } from './format';
import { RegistryError, readRegistry, registryPath } from './modelRegistry';

export function checkAdd(args: Parsed): void {
  if (args.positionals.length !== 2 || !args.positionals[1])
    throw new UsageError('models add needs exactly one folder, e.g. "concert models add ./Qwen2.5-0.5B-Instruct"');
  const dir = path.resolve(args.positionals[1]);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
}

export async function runAdd(ctx: RunContext, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dir = path.resolve(ctx.args.positionals[1]!);
  const file = registryPath(env);
  let registry;
  try {
    registry = readRegistry(file);
  } catch (e) {
    if (e instanceof RegistryError) throw new UsageError(e.message);
    throw e;
  }
  // The full check (manifest or derived manifest, hashes, containment, graphs loaded, tokenizer) before recording.
  const r = await ctx.client.request(Requests.validatePacks, { dirs: [dir] }, ctx.signal);
  const only = r.length === 1 ? r[0] : undefined;
  if (!only?.valid || path.resolve(only.dir) !== (await realDir(dir))) {
    if (ctx.args.json) ctx.out(JSON.stringify({ added: false, packs: r }, null, 2));
    else if (!r.length) ctx.out(`no model found in ${dir} (a Concert pack needs concert.json; a Hugging Face folder config.json and onnx/model*.onnx)`);
    else if (r.length > 1) ctx.out(`${dir} holds ${r.length} models; add them one by one (or pass the folder with --models)`);
    else printPacks(r, ctx.out);
    return 1;
  }
  const already = registry.models.some((m) => m.dir === dir);
  if (!already) {
    registry.models.push({ dir, added: new Date().toISOString() });
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(registry, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }
  if (ctx.args.json) ctx.out(JSON.stringify({ added: !already, pack: only, registry: file }, null, 2));
  else ctx.out(`${already ? 'already added' : 'added'}: ${only.id} (${only.kind}) from ${dir}\n(recorded in ${file}; use it with --model ${only.id})`);
  return 0;
}

async function realDir(dir: string): Promise<string> {
  const { realpath } = await import('node:fs/promises');
  return realpath(dir).catch(() => dir);
}
