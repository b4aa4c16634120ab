/**
 * Command-line parsing: options, their ranges, and the parameters of each request. Bad input is a UsageError with
 * one line that says what to type instead.
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  DEFAULT_GUIDANCE_LAMBDA,
  DEVICE_CHOICES,
  IMAGE_DEFAULTS,
  IMAGE_MAX_SAMPLES,
  VIDEO_MAX_FRAMES,
  VIDEO_MAX_SAMPLES,
  PROJECTIONS,
  type AttributeTarget,
  type CadRunParams,
  type CollabRunParams,
  type KnowledgeItem,
  type DecodingParams,
  type DeviceChoice,
  type DiffusionRunParams,
  type ImageRunParams,
  type ProjectionName,
  type ServerStartParams,
  type VideoRunParams,
  type WorkerSettings,
} from '../protocol/worker';
import { defaultDownloadsDir } from './downloads';
import { modelRef, registeredFolders } from './modelRegistry';

export class UsageError extends Error {}

const options = {
  json: { type: 'boolean', default: false },
  device: { type: 'string' },
  models: { type: 'string', multiple: true },
  threads: { type: 'string' },
  steps: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  alpha: { type: 'string' },
  plausibility: { type: 'string' },
  adaptive: { type: 'boolean', default: false },
  // Node 20's parseArgs has no `--no-` negation: the two spellings are separate flags.
  extractive: { type: 'boolean', default: false },
  'no-extractive': { type: 'boolean', default: false },
  'top-p': { type: 'string' },
  greedy: { type: 'boolean', default: false },
  'max-tokens': { type: 'string' },
  seed: { type: 'string' },
  regular: { type: 'boolean', default: false },
  'whole-document': { type: 'boolean', default: false },
  model: { type: 'string' },
  context: { type: 'string' },
  question: { type: 'string' },
  prompt: { type: 'string' },
  prefix: { type: 'string' },
  text: { type: 'string' },
  attribute: { type: 'string', multiple: true },
  tokens: { type: 'string' },
  'min-tokens': { type: 'string' },
  strength: { type: 'string' },
  projection: { type: 'string' },
  'early-stop': { type: 'string' },
  version: { type: 'boolean', default: false },
  revision: { type: 'string' },
  dtype: { type: 'string' },
  instruction: { type: 'string' },
  knowledge: { type: 'string', multiple: true },
  'lambda-user': { type: 'string' },
  core: { type: 'string' },
  compare: { type: 'boolean', default: false },
  method: { type: 'string' },
  'user-model': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  token: { type: 'string' },
  ratio: { type: 'string' },
  samples: { type: 'string' },
  out: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  unconstrained: { type: 'boolean', default: false },
  'prompt-frames': { type: 'string' },
  frames: { type: 'string' },
  ffmpeg: { type: 'string' },
} satisfies ParseArgsConfig['options'];

export interface Parsed {
  command: string | undefined;
  diffusion: Omit<DiffusionRunParams, 'mode' | 'prompt'> & { prompt?: string; prefix?: string };
  cad: Omit<CadRunParams, 'task' | 'document'> & { contextFile?: string };
  /** `collab`: the files of --knowledge are read by the command's check into `knowledge`. */
  collab: Omit<CollabRunParams, 'instruction' | 'knowledge'> & { instruction?: string; knowledgeFiles: string[]; knowledge?: KnowledgeItem[] };
  /** `serve`: where to listen and the bearer token (--token, else $CONCERT_SERVE_TOKEN). */
  serve: ServerStartParams;
  /** `image complete|generate`: the request's knobs, and the folder the JPEG files are written to (--out). */
  image: Omit<ImageRunParams, 'mode' | 'file'> & { out?: string };
  /** `video continue`: the request's knobs, and the folder the .h264 (and .mp4) files are written to (--out). */
  video: Omit<VideoRunParams, 'file'> & { out?: string };
  positionals: string[];
  json: boolean;
  settings: WorkerSettings;
  steps: number;
  help: boolean;
  version: boolean;
  /** `models pull`: the Hub revision and the ONNX variant (checked by the command), HF_ENDPOINT and HF_TOKEN. */
  pull: { revision?: string; dtype?: string; endpoint?: string; token?: string };
}

/**
 * node:util parseArgs reads a value that starts with "-" (as in `--tokens -1`) as an option and calls the argument
 * ambiguous; a negative-looking number after an option that takes a value is joined to it (`--tokens=-1`), so that
 * the range checks below can say what is allowed.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (
      name !== undefined &&
      (options as Record<string, { type: string }>)[name]?.type === 'string' &&
      next !== undefined &&
      /^-(?:\d|\.\d|Infinity)/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv, distDir: string): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options, allowPositionals: true, strict: true });
  } catch (e) {
    const lines = (e as Error).message.split('\n');
    const first = lines[0]!.replace(/^TypeError \[[A-Z_]+\]: /, '').replace(/\.+$/, '');
    // "argument is ambiguous": a value that starts with "-"; node's second line says how to pass it.
    const hint = /ambiguous/.test(first) ? /use '(--[^']+)'/.exec(lines.slice(1).join(' '))?.[1] : undefined;
    throw new UsageError(hint ? `${first}: to give a value that starts with "-", write ${hint.replace('-XYZ', '-text')}` : first);
  }
  const v = parsed.values;
  // An empty environment variable means "not set".
  const device = (v.device ?? (env.CONCERT_DEVICE || 'auto')) as DeviceChoice;
  if (!DEVICE_CHOICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICE_CHOICES.join(', ')} (got "${device}")`);
  const int = (name: string, raw: string | undefined, dflt: number, min: number, max: number): number => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return n;
  };
  const envFolders = (env.CONCERT_MODEL_FOLDERS ?? '').split(path.delimiter).filter(Boolean);
  /** A number in [min, max], or in (min, max] with `aboveMin`. */
  const num = (name: string, raw: string | undefined, min: number, max: number, aboveMin = false): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || (aboveMin ? n <= min : n < min) || n > max) {
      throw new UsageError(
        aboveMin
          ? `--${name} must be a number greater than ${min} and at most ${max} (got "${raw}")`
          : `--${name} must be a number from ${min} to ${max} (got "${raw}")`,
      );
    }
    return n;
  };
  if (v.greedy && v['top-p'] !== undefined) throw new UsageError('use either --greedy or --top-p, not both');
  const topP = num('top-p', v['top-p'], 0, 1, true);
  const decoding: DecodingParams | undefined = v.greedy ? { mode: 'greedy' } : topP !== undefined ? { mode: 'sample', temperature: 1, topP } : undefined;
  const alpha = num('alpha', v.alpha, 0, 10);
  const plausibility = num('plausibility', v.plausibility, 0, 1);
  if (v.extractive && v['no-extractive']) throw new UsageError('use either --extractive or --no-extractive, not both');
  const imageCommand = parsed.positionals[0] === 'image';
  const videoCommand = parsed.positionals[0] === 'video';
  // Text budgets stop at 1024 tokens; an image's or a clip's stream is longer (a 256×256 image is thousands of bytes).
  const maxTokens = v['max-tokens'] === undefined ? undefined : int('max-tokens', v['max-tokens'], 0, 1, imageCommand || videoCommand ? 1_048_576 : 1024);
  const seed = v.seed === undefined ? undefined : int('seed', v.seed, 0, 0, 2 ** 32 - 1);
  const cad: Parsed['cad'] = {
    ...(alpha !== undefined && { alpha }),
    ...(plausibility !== undefined && { plausibility }),
    ...(v.adaptive && { adaptive: true }),
    ...(v.extractive && { extractive: true }),
    ...(v['no-extractive'] && { extractive: false }),
    ...(decoding && { decoding }),
    ...(maxTokens !== undefined && { maxTokens }),
    ...(seed !== undefined && { seed }),
    ...(v.regular && { compareRegular: true }),
    ...(v['whole-document'] && { wholeDocument: true }),
    ...(v.model !== undefined && { packId: modelRef(v.model) }),
    ...(v.question !== undefined && { question: v.question }),
    ...(v.context !== undefined && { contextFile: v.context }),
  };
  const attributes: AttributeTarget[] = (v.attribute ?? []).map((spec) => {
    const m = /^([^=:\s]+)=([^:\s]+)(?::(.+))?$/.exec(spec);
    if (!m) throw new UsageError(`--attribute must look like name=label or name=label:lambda (got "${spec}")`);
    const lambda = m[3] === undefined ? DEFAULT_GUIDANCE_LAMBDA : Number(m[3]);
    if (!Number.isFinite(lambda) || lambda < 0) throw new UsageError(`the λ in --attribute ${spec} must be a number ≥ 0`);
    return { attribute: m[1]!, label: m[2]!, lambda };
  });
  if (v.projection !== undefined && !PROJECTIONS.includes(v.projection as ProjectionName))
    throw new UsageError(`--projection must be one of ${PROJECTIONS.join(', ')} (got "${v.projection}")`);
  const strength = num('strength', v.strength, 0, 1);
  if (strength === 0) throw new UsageError('--strength must be greater than 0');
  const earlyStop = num('early-stop', v['early-stop'], 0, 0.99);
  const diffusionSteps = v.steps === undefined ? undefined : int('steps', v.steps, 0, 1, 100_000);
  const diffusion: Parsed['diffusion'] = {
    ...(v.prompt !== undefined && { prompt: v.prompt }),
    ...(v.prefix !== undefined && { prefix: v.prefix }),
    ...(v.text !== undefined && { text: v.text }),
    ...(attributes.length && { attributes }),
    ...(v.tokens !== undefined && { maxTokens: int('tokens', v.tokens, 0, 1, 512) }),
    ...(v['min-tokens'] !== undefined && { minTokens: int('min-tokens', v['min-tokens'], 0, 0, 512) }),
    ...(strength !== undefined && { strength }),
    ...(diffusionSteps !== undefined && { steps: diffusionSteps }),
    ...(topP !== undefined && { topP }),
    ...(v.projection !== undefined && { projection: v.projection as ProjectionName }),
    ...(earlyStop !== undefined && { earlyStop }),
    ...(seed !== undefined && { seed }),
    ...(v.model !== undefined && { packId: modelRef(v.model) }),
  };
  const lambdaUser = num('lambda-user', v['lambda-user'], 0, 1);
  if (v.method !== undefined && v.method !== 'diffusion' && v.method !== 'autoregressive')
    throw new UsageError(`--method must be diffusion or autoregressive (got "${v.method}")`);
  if (v.core !== undefined && !/^https?:\/\/\S+$/.test(v.core)) throw new UsageError(`--core must be the remote core's http(s) URL (got "${v.core}")`);
  // The collaboration's projection: greedy (top-p 0) by default and with --greedy, else the nucleus of --top-p.
  const collabTopP = v.greedy ? 0 : topP;
  const collab: Parsed['collab'] = {
    knowledgeFiles: v.knowledge ?? [],
    ...(v.instruction !== undefined && { instruction: v.instruction }),
    ...(lambdaUser !== undefined && { lambdaUser }),
    ...(alpha !== undefined && { alpha }),
    ...(v.tokens !== undefined && { maxTokens: int('tokens', v.tokens, 0, 1, 256) }),
    ...(diffusionSteps !== undefined && { steps: diffusionSteps }),
    ...(seed !== undefined && { seed }),
    ...(collabTopP !== undefined && { topP: collabTopP }),
    ...(v.compare && { compare: true }),
    ...(v.method !== undefined && { method: v.method as 'diffusion' | 'autoregressive' }),
    ...(v.model !== undefined && { corePackId: modelRef(v.model) }),
    ...(v['user-model'] !== undefined && { userPackId: modelRef(v['user-model']) }),
    // The remote core's token comes from the environment, never the command line (other users see argv).
    ...(v.core !== undefined && { core: { url: v.core, ...(env.CONCERT_CORE_TOKEN && { token: env.CONCERT_CORE_TOKEN }) } }),
  };
  const codecKnobs = (maxSamples: number) => codecOptions(v, decoding, seed, maxTokens, maxSamples, num, int);
  const image: Parsed['image'] = imageCommand
    ? { ...codecKnobs(IMAGE_MAX_SAMPLES), ...(v.ratio !== undefined && { ratio: num('ratio', v.ratio, 0, 1)! }) }
    : {};
  const video: Parsed['video'] = videoCommand
    ? {
        ...codecKnobs(VIDEO_MAX_SAMPLES),
        ...(v['prompt-frames'] !== undefined && { promptFrames: int('prompt-frames', v['prompt-frames'], 0, 1, 100_000) }),
        ...(v.frames !== undefined && { frames: int('frames', v.frames, 0, 1, VIDEO_MAX_FRAMES) }),
        ...(v.ffmpeg !== undefined && { ffmpegPath: path.resolve(v.ffmpeg) }),
      }
    : {};
  const serveToken = v.token ?? (env.CONCERT_SERVE_TOKEN || undefined);
  const serve: ServerStartParams = {
    ...(v.host !== undefined && { host: v.host }),
    ...(v.port !== undefined && { port: int('port', v.port, 8000, 0, 65535) }),
    ...(serveToken !== undefined && { token: serveToken }),
    ...(v.model !== undefined && { packId: modelRef(v.model) }),
  };
  return {
    diffusion,
    cad,
    collab,
    serve,
    image,
    video,
    command: parsed.positionals[0],
    positionals: parsed.positionals.slice(1),
    json: v.json,
    help: v.help,
    version: v.version,
    steps: int('steps', v.steps, 10, 1, 1_000_000),
    pull: {
      ...(v.revision !== undefined && { revision: v.revision }),
      ...(v.dtype !== undefined && { dtype: v.dtype }),
      ...(env.HF_ENDPOINT && { endpoint: env.HF_ENDPOINT }),
      ...(env.HF_TOKEN && { token: env.HF_TOKEN }),
    },
    settings: {
      device,
      modelFolders: [...new Set([...(v.models ?? []), ...envFolders].map((d) => path.resolve(d)).concat(registeredFolders(env)))],
      bundledModelsDir: path.resolve(distDir, '..', 'models'),
      idleUnloadSeconds: 0,
      threads: int('threads', v.threads, 0, 0, 256),
      downloadsDir: defaultDownloadsDir(env),
      // --dtype picks the weight variant of published folders (models pull reads it as what to download).
      ...(v.dtype !== undefined && !(parsed.positionals[0] === 'models' && parsed.positionals[1] === 'pull') && { modelDtype: v.dtype }),
    },
  };
}

/**
 * The options shared by the codec-LM commands (`image complete|generate`, `video continue`): --samples, --temperature,
 * --top-p, --top-k (or --greedy), --seed, --max-tokens, --model, --unconstrained, --out. Sampling knobs left out take
 * the request's defaults (the thesis': temperature 1, top-p 1, top-k 50).
 */
function codecOptions(
  v: Record<string, string | boolean | string[] | undefined>,
  textDecoding: DecodingParams | undefined,
  seed: number | undefined,
  maxTokens: number | undefined,
  maxSamples: number,
  num: (name: string, raw: string | undefined, min: number, max: number, aboveMin?: boolean) => number | undefined,
  int: (name: string, raw: string | undefined, dflt: number, min: number, max: number) => number,
): Omit<Parsed['image'], 'ratio'> {
  const str = (k: string) => v[k] as string | undefined;
  const samples = str('samples') === undefined ? undefined : int('samples', str('samples'), 0, 1, maxSamples);
  const temperature = num('temperature', str('temperature'), 0, 100, true);
  const topK = str('top-k') === undefined ? undefined : int('top-k', str('top-k'), 0, 1, 1_000_000);
  if (v.greedy && (temperature !== undefined || topK !== undefined)) throw new UsageError('use either --greedy or --temperature/--top-p/--top-k, not both');
  const d = IMAGE_DEFAULTS.decoding as Extract<DecodingParams, { mode: 'sample' }>;
  const sampled = temperature !== undefined || topK !== undefined || textDecoding?.mode === 'sample';
  const decoding: DecodingParams | undefined = v.greedy
    ? { mode: 'greedy' }
    : sampled
      ? {
          mode: 'sample',
          temperature: temperature ?? d.temperature,
          topP: textDecoding?.mode === 'sample' ? textDecoding.topP : d.topP,
          ...((topK ?? d.topK) !== undefined && { topK: (topK ?? d.topK)! }),
        }
      : undefined;
  const out = str('out');
  if (out !== undefined && !out.trim()) throw new UsageError('--out needs a folder');
  return {
    ...(samples !== undefined && { samples }),
    ...(decoding && { decoding }),
    ...(seed !== undefined && { seed }),
    ...(maxTokens !== undefined && { maxTokens }),
    ...(v.model !== undefined && { packId: modelRef(v.model as string) }),
    ...(v.unconstrained === true && { constrained: false }),
    ...(out !== undefined && { out: path.resolve(out) }),
  };
}
