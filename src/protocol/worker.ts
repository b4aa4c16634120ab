/**
 * The one protocol between the extension host / CLI and the inference worker (JSON-RPC over Node IPC).
 * Host, CLI and worker all import these definitions, so a renamed field breaks the build, not a user.
 * Only small records cross this boundary: text, token ids, progress, never `[batch, vocab]` tensors.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc/node';

export const PROTOCOL_VERSION = 1;

/** Execution providers the user can ask for (`concert.device`). */
export const DEVICE_CHOICES = ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];
export type ProviderName = Exclude<DeviceChoice, 'auto'>;

export const PACK_KINDS = ['causal-lm', 'simplex-diffusion-lm', 'classifier', 'codec-lm'] as const;
export type PackKind = (typeof PACK_KINDS)[number];

/** Typed error codes carried in `ResponseError.code`; host and CLI turn them into one-line messages. */
export const WorkerErrorCode = {
  BadInput: -33001,
  PackInvalid: -33002,
  PackNotFound: -33003,
  ProviderFailed: -33004,
  Cancelled: -32800, // LSP RequestCancelled, so vscode-jsonrpc clients recognise it
  WorkerCrashed: -33006,
  WorkerUnavailable: -33007,
  /** models/pull: the Hub refused, could not be reached, or a file failed its check; `data.kind` says which. */
  DownloadFailed: -33008,
  /** A remote core (OIP v2 server) failed after its retries; `data` is RemoteCoreFailure (the local core can take over). */
  RemoteCoreFailed: -33009,
  Internal: -33099,
} as const;
export type WorkerErrorCode = (typeof WorkerErrorCode)[keyof typeof WorkerErrorCode];

export interface WorkerSettings {
  /** Requested execution provider; `auto` probes and falls back to CPU. */
  device: DeviceChoice;
  /** Extra folders that hold model packs (each may be a pack or a folder of packs). */
  modelFolders: string[];
  /** The folder with the packs that ship with Concert. */
  bundledModelsDir: string;
  /** Seconds a loaded ONNX session may sit unused before it is released; 0 keeps sessions loaded. */
  idleUnloadSeconds: number;
  /** Intra-op threads per session; 0 lets ONNX Runtime decide. */
  threads: number;
  /**
   * Concert's folder of models downloaded from the Hugging Face Hub (models/pull writes there; its complete
   * downloads are discovered like user model folders). CLI: $XDG_DATA_HOME/concert/models or
   * ~/.local/share/concert/models; extension: its global storage folder. Absent: no downloads.
   */
  downloadsDir?: string;
  /**
   * Published Hugging Face folders: the weight variant to load (`fp32`, `fp16`, `int8`, `uint8`, `q4`, `q4f16`,
   * `bnb4`), or `auto` (default): q4, then int8, then fp32 on CPU; fp16 on GPU providers.
   */
  modelDtype?: string;
}

export interface ProviderReport {
  /** Providers the installed onnxruntime-node says it can use on this platform. */
  available: { name: ProviderName; bundled: boolean }[];
  requested: DeviceChoice;
  chosen: ProviderName;
  /** Human-readable description of the device in use (e.g. `CPU, 2 threads`). */
  device: string;
  /** Why a requested / probed provider was not used, one line per provider tried. */
  fallbackReasons: string[];
}

export interface PackSummary {
  id: string;
  kind: PackKind | string;
  dir: string;
  source: 'bundled' | 'user';
  valid: boolean;
  /** Present when invalid: a one-line reason that names the pack and the problem. */
  error?: string;
  displayName?: string;
  sizeBytes?: number;
  /** sha256 of the manifest file: identifies the exact pack in run records. */
  manifestSha256?: string;
  /** Classifier packs: the attribute they measure and its labels (manifest knobs `attribute`, `labels`). */
  classifier?: { attribute: string; labels: string[] };
  /** codec-lm packs: the images they complete (manifest `codec`). */
  codec?: { format: string; width: number; height: number; tokens: string /** H.264 packs: frames per second. */; fps?: number };
  /**
   * Valid packs: whether ONNX Runtime has loaded its graphs (always true from models/validate). False means only the
   * static checks ran: the graphs are loaded on first use, and a graph that fails then makes the pack invalid.
   */
  graphsLoaded?: boolean;
}

export interface DoctorReport {
  protocolVersion: number;
  versions: { concert: string; node: string; onnxruntime: string; platform: string };
  provider: ProviderReport;
  packs: PackSummary[];
  loadedSessions: string[];
  workerPid: number;
}

export interface ConfigureParams {
  settings: WorkerSettings;
}
export interface ConfigureResult {
  provider: ProviderReport;
}

/** Every long request carries a token; progress notifications quote it. */
export interface WithProgressToken {
  progressToken?: string;
}

export interface SelfTestParams extends WithProgressToken {
  packId: string;
  /** Number of timed forward passes (each one is a cancellation point). */
  steps: number;
}
export interface SelfTestResult {
  packId: string;
  graphs: string[];
  stepsRun: number;
  meanMsPerStep: number;
  provider: ProviderName;
}

export interface TokenizeParams {
  packId: string;
  text: string;
}
export interface TokenizeResult {
  ids: number[];
  tokens: string[];
}

export type DecodingParams = { mode: 'greedy' } | { mode: 'sample'; temperature: number; topP: number; topK?: number };

export const CAD_TASKS = ['summarize', 'ask'] as const;
export type CadTask = (typeof CAD_TASKS)[number];

export interface CadRunParams extends WithProgressToken {
  task: CadTask;
  /** The document (or selection) text. */
  document: string;
  /** Required for `ask`. */
  question?: string;
  /** CAD strength: 0 is regular decoding. Defaults: 0.5 for summaries, 1 for questions (thesis settings). */
  alpha?: number;
  /**
   * β of the adaptive plausibility constraint (Li et al. 2023), 0…1: only tokens with p(y | document, x) ≥ β · max p
   * may be chosen. 0 constrains nothing (today's CAD exactly); default 0.1 (docs/cad.md).
   */
  plausibility?: number;
  /** Adaptive α (AdaCAD): per token α_t = α · JSD(p(·|document, x) ‖ p(·|x)) in bits. Default off. */
  adaptive?: boolean;
  /**
   * Extractive output: one span of the document — for `ask` whole words within one line, for `summarize` whole
   * sentences within one paragraph — so a small model can only choose what to quote, never make words up. Applies to
   * regular decoding too. Default on (docs/cad.md, "Extractive answers and summaries").
   */
  extractive?: boolean;
  /** Defaults: top-p 0.9 sampling for summaries, greedy for questions. */
  decoding?: DecodingParams;
  maxTokens?: number;
  seed?: number;
  /** A causal-lm pack; default: the first valid bundled one. */
  packId?: string;
  /** Also run regular decoding (α = 0) on the same input, for a side-by-side view. */
  compareRegular?: boolean;
  /**
   * `ask`: read the whole document when it fits the model's context. Default off: a question about a document of
   * more than 128 tokens is answered from the passage that best matches it (BM25; `CadRunResult.passages` says which),
   * which the bundled small model answers far more often correctly (docs/cad.md).
   */
  wholeDocument?: boolean;
}

export interface CadTokenInfo {
  id: number;
  /** The text this token adds to the output. */
  text: string;
  /** log p(y | document, x) − log p(y | x) in nats: how much the document raised this token. */
  reliance: number;
  /** The α used for this token (adaptive α only). */
  alpha?: number;
}

export interface CadOutput {
  text: string;
  tokens: CadTokenInfo[];
  alpha: number;
  stoppedBy: 'stop-token' | 'max-tokens';
}

/** What is needed to reproduce a run. */
export interface RunRecord {
  packId: string;
  /** sha256 of the pack manifest (which pins every file's hash). */
  manifestSha256: string;
  /** sha256 of the ONNX graph that ran. */
  modelSha256: string;
  seed: number;
  knobs: { alpha: number; plausibility: number; adaptive: boolean; extractive: boolean; decoding: DecodingParams; maxTokens: number };
  /** With adaptive α: the α_t used over the tokens of the (last) CAD decode (each token's is in `tokens[].alpha`). */
  adaptiveAlpha?: { mean: number; min: number; max: number; tokens: number };
  provider: ProviderName;
  device: string;
  promptTokens: { withContext: number; withoutContext: number };
  /**
   * The prompts of the (last) CAD decode as the model read them: which template made them (`pack:summary`,
   * `chat-template`, `plain:qa` …), each row's text (special tokens shown) and token ids, and the generated ids.
   */
  prompt?: { template: string; rows: { row: 'with-document' | 'without-document'; text: string; ids: number[] }[]; generated: number[] };
  /** Set when a long document was summarised chunk by chunk and merged. */
  chunks?: number;
  durationMs: number;
}

export interface CadRunResult extends CadOutput {
  task: CadTask;
  model: { id: string; displayName?: string };
  run: RunRecord;
  regular?: CadOutput;
  /** For long documents: the per-chunk summaries that were merged (character ranges in the document). */
  chunks?: { start: number; end: number; summary: string }[];
  /**
   * A question answered from passages of the document (a long document, see `wholeDocument`): the stretches of the
   * document it was read from, in document order (neighbouring passages merged): character ranges, their 1-based
   * lines (white space at the ends aside), and the best BM25 score for the question among their passages.
   */
  passages?: { start: number; end: number; firstLine: number; lastLine: number; score: number }[];
}

export interface TokenProgress {
  progressToken: string;
  variant: 'cad' | 'regular';
  /** Which part of a chunked run this belongs to (0 when not chunked). */
  part: number;
  index: number;
  token: CadTokenInfo;
}

export const PROJECTIONS = ['sampling', 'greedy', 'multihot'] as const;
export type ProjectionName = (typeof PROJECTIONS)[number];

/** λ used when the user names an attribute without a strength (CLI, quick picks). */
/** Default guidance strength λ (docs/diffusion.md: the best external-judge accuracy on the bundled models). */
export const DEFAULT_GUIDANCE_LAMBDA = 100;
/** Default top-p of the diffusion projection (docs/diffusion.md: 0.5 keeps the bundled model's text most fluent). */
export const DIFFUSION_DEFAULT_TOP_P = 0.5;
/** Default minimum of new tokens before end-of-text may end a continuation (docs/diffusion.md: measured after full stops). */
export const DIFFUSION_DEFAULT_MIN_TOKENS = 8;

/** Steer towards `label` of the classifier pack whose attribute is `attribute`, with step size λ ≥ 0. */
export interface AttributeTarget {
  attribute: string;
  label: string;
  lambda: number;
}

export interface DiffusionRunParams extends WithProgressToken {
  mode: 'generate' | 'rewrite';
  /** Text before the generated or rewritten part (may be empty). */
  prompt: string;
  /** rewrite: the text to rewrite. */
  text?: string;
  /** rewrite: edit strength in (0, 1]; low keeps the text close to the original, 1 regenerates it. */
  strength?: number;
  attributes?: AttributeTarget[];
  /** generate: number of new tokens (rounded up to whole blocks). */
  maxTokens?: number;
  /** generate: end-of-text may not end the run before this many new tokens (0–512, capped at maxTokens). */
  minTokens?: number;
  /** Diffusion steps per block, T_decode ≤ T_train. */
  steps?: number;
  topP?: number;
  projection?: ProjectionName;
  /** Stop each block at this fraction of T (SSD-2's early stop; 0 = run to the end). */
  earlyStop?: number;
  seed?: number;
  /** A simplex-diffusion-lm pack; default: the first valid one (the bundled core model). */
  packId?: string;
}

export interface AttributeScore {
  attribute: string;
  /** The requested label (absent when the attribute was only measured). */
  target?: string;
  probabilities: Record<string, number>;
}

export interface DiffusionRunResult {
  mode: 'generate' | 'rewrite';
  text: string;
  tokens: number[];
  stoppedBy: 'eos' | 'max-tokens';
  /** Final classifier probabilities of the output, per attribute (every installed classifier). */
  attributes: AttributeScore[];
  model: { id: string; displayName?: string };
  run: {
    packId: string;
    manifestSha256: string;
    modelSha256: string;
    classifiers: { id: string; manifestSha256: string }[];
    seed: number;
    knobs: {
      steps: number;
      topP: number;
      projection: ProjectionName;
      earlyStop: number;
      strength?: number;
      maxTokens: number;
      minTokens?: number;
      attributes: AttributeTarget[];
    };
    provider: ProviderName;
    device: string;
    durationMs: number;
  };
}

export interface DiffusionStepProgress {
  progressToken: string;
  /** collab/run: which decode this step belongs to (absent for diffusion/run). */
  variant?: 'collab' | 'core-only' | 'user-only';
  block: number;
  blocks: number;
  t: number;
  T: number;
  /** The block's argmax tokens at this step, decoded. */
  text: string;
  /** p(target label) per requested attribute at this step. */
  scores: Record<string, number>;
}

/** SSD-2 collaboration defaults (thesis: α = 1 throughout, λ_user 0.2–0.3 best; with the bundled packs λ_user 0.5 was best, docs/collaboration.md). */
export const COLLAB_DEFAULT_LAMBDA_USER = 0.5;
export const COLLAB_DEFAULT_ALPHA = 1;

/** A whole document or note the user model may read (the core model never sees it). */
export interface KnowledgeItem {
  id: string;
  title: string;
  text: string;
}

/** Where the core model runs when it is not in the worker (engineer R's Open Inference Protocol v2 client). */
export interface RemoteCoreParams {
  url: string;
  token?: string;
  /** sparse: only the top-k logits of each row come back (bandwidth-light); dense: whole rows. */
  mode?: 'sparse' | 'dense';
  topK?: number;
}

/**
 * `collab/run`: SSD-2 collaboration. A small user model that reads the knowledge and a core model that reads only the
 * instruction are combined at every diffusion step:
 * logits = (1−λ_user)·core(instruction) + λ_user·(1+α)·user(knowledge, instruction) − λ_user·α·user(instruction).
 */
export interface CollabRunParams extends WithProgressToken {
  instruction: string;
  /** Whole documents/notes; the worker chunks them and retrieves passages (BM25) that fit the user model's context. */
  knowledge: KnowledgeItem[];
  /** Default COLLAB_DEFAULT_LAMBDA_USER (0.5). 0 = core only; 1 with α = 0 = user only. */
  lambdaUser?: number;
  /** Default COLLAB_DEFAULT_ALPHA (1). */
  alpha?: number;
  /** Number of new tokens (rounded up to whole blocks). */
  maxTokens?: number;
  /** Diffusion steps per block. */
  steps?: number;
  seed?: number;
  topP?: number;
  /** A simplex-diffusion-lm pack for the core term; default: the bundled `concert-ssd-core`. */
  corePackId?: string;
  /** A simplex-diffusion-lm pack for the user terms; default: the bundled `concert-ssd-user`. */
  userPackId?: string;
  /** Remote core (engineer R wires it); absent: the core runs in this worker. */
  core?: RemoteCoreParams;
  /** Also run core-only and user-only (same seed) for side-by-side output and `changedByUser`. */
  compare?: boolean;
  /** autoregressive: the baseline, token-level logit mixing with causal LMs (corePackId/userPackId then name causal-lm packs). */
  method?: 'diffusion' | 'autoregressive';
}

export interface CollabPassage {
  itemId: string;
  title: string;
  text: string;
  /** BM25 score of the passage for the instruction. */
  score: number;
}

export interface CollabLedgerEntry {
  step: number;
  block: number;
  tokenIds?: number[];
  note: string;
}

/** What left the machine for the core model (privacy ledger). */
export interface CollabLedger {
  /** `local`, or the remote core's URL. */
  coreLocation: 'local' | string;
  requests: number;
  bytesSent: number;
  bytesReceived: number;
  sent: CollabLedgerEntry[];
  /** One line for people: e.g. "core ran in this process; nothing left the machine". */
  summary?: string;
}

/** What is needed to reproduce a collaboration run (the diffusion run record, one pack per term). */
export interface CollabRunRecord {
  method: 'diffusion' | 'autoregressive';
  /** A remote core reports its pack id only (the hashes are those of the local pack when the core ran here). */
  core: { packId: string; manifestSha256?: string; modelSha256?: string; location: 'local' | string };
  user: { packId: string; manifestSha256: string; modelSha256: string };
  seed: number;
  knobs: { lambdaUser: number; alpha: number; steps: number; topP: number; maxTokens: number; minTokens: number };
  /** Token counts of the contexts as the models read them. */
  promptTokens: { core: number; userWithKnowledge: number; userWithoutKnowledge: number };
  /** The passages' share of the user model's context budget, in tokens. */
  knowledgeTokens: number;
  provider: ProviderName;
  device: string;
  durationMs: number;
}

export interface CollabRunResult {
  text: string;
  tokens: number[];
  stoppedBy: 'eos' | 'max-tokens';
  /** compare: the core alone (λ_user = 0) and the user alone (λ_user = 1, α = 0), same seed. */
  coreOnly?: { text: string };
  userOnly?: { text: string };
  /** The passages the user model read, best first. */
  passages: CollabPassage[];
  /** compare: character spans of `text` whose token differs from core-only at the same position. */
  changedByUser: { start: number; end: number }[];
  ledger: CollabLedger;
  record: CollabRunRecord;
}

/** Error data of RemoteCoreFailed (src/runtime/oip/client.ts RemoteCoreError). */
export interface RemoteCoreFailure {
  kind: 'refused' | 'unauthorized' | 'server' | 'timeout' | 'restarted' | 'protocol' | 'cancelled';
  url: string;
  attempts: number;
  status?: number;
  /** Offer to continue with the local core. */
  canUseLocalCore: boolean;
}

/** `server/start` (`concert serve`): the core diffusion LM as an Open Inference Protocol v2 server (docs/remote-core.md). */
export interface ServerStartParams {
  /** Default 127.0.0.1; any non-loopback address needs `token` (≥ 16 characters). */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Bearer token every request must carry. */
  token?: string;
  /** A simplex-diffusion-lm pack; default: the bundled core model. */
  packId?: string;
  /** Request body cap (default 64 MiB). */
  maxBodyBytes?: number;
  /** Requests admitted at once; more get HTTP 503 (default 8). */
  maxConcurrent?: number;
  /** Deadline of a whole request (default 60 s). */
  requestTimeoutMs?: number;
}

export interface ServerStartResult {
  url: string;
  host: string;
  port: number;
  packId: string;
  /** OIP model names: dense and sparse (bandwidth-light). */
  models: string[];
  auth: boolean;
  limits: { maxBodyBytes: number; maxConcurrent: number; requestTimeoutMs: number };
}

/** Defaults of `image/run` (the JPEG-LM reference `run.py`: temperature 1, top-k 50, top-p 1; seed reference §4.6). */
export const IMAGE_DEFAULTS = {
  ratio: 0.5,
  samples: 4,
  decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 } as DecodingParams,
} as const;
/** At most this many samples in one run (one batch). */
export const IMAGE_MAX_SAMPLES = 16;
/** Largest image file read (the CLI checks it before the worker does; runtime/images.ts decodes no larger file). */
export const MAX_IMAGE_FILE_BYTES = 40 * 1024 * 1024;

/**
 * `image/run`: JPEG-LM image completion (thesis ch. 6) with a codec-lm pack. `complete` keeps the first ⌊P·ratio⌋
 * patches of the image's canonical stream (P patches of MCUs, e.g. 32 at 256×256) and samples the rest; `generate`
 * samples whole images. Decoding is grammar-constrained unless `constrained` is false: every sample decodes.
 */
export interface ImageRunParams extends WithProgressToken {
  mode: 'complete' | 'generate';
  /** complete: an image file the worker reads (PNG or JPEG of any size, or an image-only canonical stream). */
  file?: string;
  /** complete, instead of `file`: the image-only canonical stream at the pack's size, base64. */
  stream?: string;
  /** complete: the share of the image kept, 0…1 (default 0.5). */
  ratio?: number;
  /** 1…IMAGE_MAX_SAMPLES (default 4), decoded as one batch. */
  samples?: number;
  /** Default IMAGE_DEFAULTS.decoding. */
  decoding?: DecodingParams;
  seed?: number;
  /** Most tokens a sample may take (default: up to the model's context); a sample still open then is closed grey. */
  maxTokens?: number;
  /** A codec-lm pack id or folder; default: the first valid one (the bundled pack comes first). */
  packId?: string;
  /** Default true. False samples the raw model (to measure how often its streams decode). */
  constrained?: boolean;
}

export interface ImageSampleResult {
  index: number;
  /** The sample as a JPEG file (tables restored), base64. */
  jpeg: string;
  /** Length of its image-only stream (prompt included). */
  streamBytes: number;
  /** Tokens the model sampled (the prompt excluded). */
  tokens: number;
  /** Bytes appended at the budget to close the stream with grey MCUs (0 when the model finished it). */
  closingBytes: number;
  stoppedBy: 'complete' | 'stop-token' | 'max-tokens';
  /** Whether the stream decodes: the entropy-stream validator accepts every byte and the structure is canonical. */
  decodable: boolean;
  /** Why it does not, when it does not. */
  problem?: string;
}

/** What is needed to reproduce an image run, and how it went. */
export interface ImageRunRecord {
  packId: string;
  manifestSha256: string;
  modelSha256: string;
  seed: number;
  knobs: { mode: 'complete' | 'generate'; ratio: number; samples: number; decoding: DecodingParams; maxTokens: number; constrained: boolean };
  image: { width: number; height: number; mcuCount: number; patches: number; keptPatches: number; keptMcus: number };
  /** complete: the input (sha256 of its canonical stream). */
  source?: { file?: string; streamSha256: string; streamBytes: number };
  promptBytes: number;
  /** [bos] + prompt bytes as tokens. */
  promptTokens: number;
  perSample: { tokens: number; decodable: boolean; stoppedBy: ImageSampleResult['stoppedBy'] }[];
  provider: ProviderName;
  device: string;
  timings: { totalMs: number; prepareMs: number; prefillMs: number; decodeMs: number; steps: number; msPerStep: number };
}

export interface ImageRunResult {
  mode: 'complete' | 'generate';
  model: { id: string; displayName?: string };
  width: number;
  height: number;
  /** complete: the canonicalised input as a JPEG file, base64 (the "original" the model sees). */
  source?: string;
  /** The kept region as a JPEG file (the prompt closed with grey MCUs), base64. */
  prompt: string;
  samples: ImageSampleResult[];
  decodable: number;
  run: ImageRunRecord;
}

/** `progress/image`: samples so far; `jpeg` (the sample's decodable prefix, the rest grey) only when its MCUs changed. */
export interface ImageProgress {
  progressToken: string;
  /** First notification only (complete): the canonicalised input as a JPEG file, base64 (as in the result). */
  source?: string;
  /** First notification only: the kept region as a JPEG file, base64 (as in the result). */
  prompt?: string;
  step: number;
  /** The budget of tokens per sample. */
  maxSteps: number;
  mcuCount: number;
  samples: { index: number; tokens: number; mcusDone: number; done: boolean; jpeg?: string }[];
}

/** Defaults of `video/run` (AVC-LM, thesis ch. 6): the thesis' sampling (top-k 50, temperature 1). */
export const VIDEO_DEFAULTS = {
  promptFrames: 4,
  frames: 4,
  samples: 2,
  decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 } as DecodingParams,
} as const;
/** At most this many samples in one run (one batch). */
export const VIDEO_MAX_SAMPLES = 8;
/** At most this many frames generated in one run. */
export const VIDEO_MAX_FRAMES = 64;
/** Largest clip file read (a canonical clip of a few seconds at small sizes is a few KB; others go through ffmpeg). */
export const MAX_VIDEO_FILE_BYTES = 256 * 1024 * 1024;

/**
 * `video/run`: AVC-LM video continuation (thesis ch. 6) with an H.264 codec-lm pack. The clip becomes the pack's
 * canonical Annex-B stream (a canonical `.h264` as it is; anything else through ffmpeg), its first `promptFrames`
 * frames are the prompt, and N samples of `frames` more frames are decoded as one batch, each constrained by its own
 * stream validator (unless `constrained` is false) so that it decodes to promptFrames + frames frames.
 */
export interface VideoRunParams extends WithProgressToken {
  /** A clip the worker reads: a canonical `.h264` stream of the pack's settings, or (with ffmpeg) any video file. */
  file?: string;
  /** Instead of `file`: a canonical Annex-B stream of the pack's settings, base64. */
  stream?: string;
  /** Frames of the clip kept as the prompt (default VIDEO_DEFAULTS.promptFrames, at most the clip's). */
  promptFrames?: number;
  /** Frames to generate, 1…VIDEO_MAX_FRAMES (default VIDEO_DEFAULTS.frames). */
  frames?: number;
  /** 1…VIDEO_MAX_SAMPLES (default 2), decoded as one batch. */
  samples?: number;
  decoding?: DecodingParams;
  seed?: number;
  /** Most tokens a sample may take (default: up to the model's context); a sample still open then is closed. */
  maxTokens?: number;
  /** An H.264 codec-lm pack id or folder; default: the first valid one (the bundled pack comes first). */
  packId?: string;
  /** Default true. False samples the raw model (to measure how often its streams decode). */
  constrained?: boolean;
  /** Absolute path of ffmpeg (concert.ffmpegPath); default: ffmpeg on PATH. Only clips that are not canonical need it. */
  ffmpegPath?: string;
  /** Also wrap each sample into an .mp4 (ffmpeg, no re-encoding) when ffmpeg is found; default false. */
  mp4?: boolean;
}

export interface VideoSampleResult {
  index: number;
  /** The whole clip (prompt + continuation) as a raw Annex-B `.h264` stream, base64. */
  h264: string;
  streamBytes: number;
  /** Tokens the model sampled (the prompt excluded). */
  tokens: number;
  /** Bytes appended at the budget to close the stream (0 when the model finished the frames itself). */
  closingBytes: number;
  stoppedBy: 'complete' | 'stop-token' | 'max-tokens';
  /** Frames the clip decodes to (prompt frames included): the stream validator's count for a valid stream. */
  decodedFrames: number;
  /** Set when the preview decoder produced another number of frames than `decodedFrames` (the previews then miss some). */
  previewFrames?: number;
  /** Whether the clip decodes to promptFrames + frames frames and the validator accepts it. */
  decodable: boolean;
  problem?: string;
  /** The generated frames as decoded, PNG base64 (only the continuation's; the prompt's are in the result). */
  frames: string[];
  /** With `mp4`: the clip as an .mp4 file, base64 (absent when ffmpeg is missing or failed: see `mp4Skipped`). */
  mp4?: string;
}

export interface VideoRunRecord {
  packId: string;
  manifestSha256: string;
  modelSha256: string;
  seed: number;
  knobs: { promptFrames: number; frames: number; samples: number; decoding: DecodingParams; maxTokens: number; constrained: boolean };
  video: { width: number; height: number; fps: number; clipFrames: number; canonicalisedWith?: 'ffmpeg' };
  source?: { file?: string; streamSha256: string; streamBytes: number };
  promptBytes: number;
  /** [bos] + prompt bytes as tokens. */
  promptTokens: number;
  perSample: { tokens: number; decodable: boolean; decodedFrames: number; stoppedBy: VideoSampleResult['stoppedBy'] }[];
  provider: ProviderName;
  device: string;
  timings: { totalMs: number; prepareMs: number; prefillMs: number; decodeMs: number; steps: number; msPerStep: number };
}

export interface VideoRunResult {
  model: { id: string; displayName?: string };
  width: number;
  height: number;
  fps: number;
  /** The prompt frames as decoded, PNG base64. */
  promptFrames: string[];
  /** The canonical prompt (SPS, PPS and the prompt frames) as a raw `.h264` stream, base64. */
  prompt: string;
  samples: VideoSampleResult[];
  decodable: number;
  /** With `mp4`: why no .mp4 files came back (no ffmpeg, or its error). */
  mp4Skipped?: string;
  run: VideoRunRecord;
}

/** `progress/video`: samples so far; `newFrames` are the frames a sample completed since its last notification. */
export interface VideoProgress {
  progressToken: string;
  /** First notification only: the prompt frames as decoded, PNG base64. */
  promptFrames?: string[];
  step: number;
  /** The budget of tokens per sample. */
  maxSteps: number;
  /** Frames each sample is to generate. */
  frames: number;
  samples: { index: number; tokens: number; framesDone: number; done: boolean; newFrames?: string[] }[];
}

export interface StepProgress {
  progressToken: string;
  step: number;
  total: number;
  message?: string;
}

export interface WorkerStatus {
  provider: ProviderName;
  loadedSessions: string[];
  rssBytes: number;
}

/** The ONNX variants models/pull can fetch (transformers.js file names: model_q4, model_quantized, model_fp16, model). */
export const HUB_DTYPES = ['q4', 'int8', 'fp16', 'fp32'] as const;
export type HubDtype = (typeof HUB_DTYPES)[number];

export interface ModelPullParams extends WithProgressToken {
  /** A Hub model id, `namespace/name`. */
  repo: string;
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** Default: the first of q4, int8, fp32, fp16 the repository has. */
  dtype?: HubDtype;
  /** The Hub or a mirror (HF_ENDPOINT); default https://huggingface.co. */
  endpoint?: string;
  /** A Hugging Face access token for gated or private repositories (HF_TOKEN, or VS Code's secret storage). */
  token?: string;
}

export interface ModelPullResult {
  repo: string;
  revision: string;
  commit?: string;
  dtype: HubDtype;
  /** The downloaded model folder (inside WorkerSettings.downloadsDir). */
  dir: string;
  files: { path: string; bytes: number; sha256?: string; reused: boolean }[];
  /** Bytes fetched by this pull (files already on disk and resumed bytes excluded). */
  downloadedBytes: number;
  /** The folder as pack discovery sees it, when it recognises it. */
  pack?: PackSummary;
}

/** Error data of DownloadFailed. */
export interface DownloadFailure {
  kind: 'bad-input' | 'unauthorized' | 'not-found' | 'unsupported' | 'no-variant' | 'checksum' | 'network' | 'http' | 'busy';
}

export interface DownloadProgress {
  progressToken: string;
  /** Repository path of the file being fetched. */
  file: string;
  /** 1-based, of `files`. */
  fileIndex: number;
  files: number;
  bytesDone: number;
  bytesTotal: number;
  totalDone: number;
  totalBytes: number;
}

export const Requests = {
  configure: new RequestType<ConfigureParams, ConfigureResult, void>('worker/configure'),
  doctor: new RequestType0<DoctorReport, void>('worker/doctor'),
  listPacks: new RequestType0<PackSummary[], void>('models/list'),
  validatePacks: new RequestType<{ dirs: string[] }, PackSummary[], void>('models/validate'),
  selfTest: new RequestType<SelfTestParams, SelfTestResult, void>('models/selfTest'),
  tokenize: new RequestType<TokenizeParams, TokenizeResult, void>('models/tokenize'),
  cadRun: new RequestType<CadRunParams, CadRunResult, void>('cad/run'),
  diffusionRun: new RequestType<DiffusionRunParams, DiffusionRunResult, void>('diffusion/run'),
  collabRun: new RequestType<CollabRunParams, CollabRunResult, void>('collab/run'),
  imageRun: new RequestType<ImageRunParams, ImageRunResult, void>('image/run'),
  videoRun: new RequestType<VideoRunParams, VideoRunResult, void>('video/run'),
  pullModel: new RequestType<ModelPullParams, ModelPullResult, void>('models/pull'),
  serverStart: new RequestType<ServerStartParams, ServerStartResult, void>('server/start'),
  serverStop: new RequestType0<{ stopped: boolean }, void>('server/stop'),
  ping: new RequestType0<{ pid: number; uptimeMs: number }, void>('worker/ping'),
  shutdown: new RequestType0<void, void>('worker/shutdown'),
} as const;

export const Notifications = {
  stepProgress: new NotificationType<StepProgress>('progress/steps'),
  tokenProgress: new NotificationType<TokenProgress>('progress/tokens'),
  diffusionProgress: new NotificationType<DiffusionStepProgress>('progress/diffusion'),
  imageProgress: new NotificationType<ImageProgress>('progress/image'),
  videoProgress: new NotificationType<VideoProgress>('progress/video'),
  status: new NotificationType<WorkerStatus>('worker/status'),
  downloadProgress: new NotificationType<DownloadProgress>('progress/download'),
  exit: new NotificationType<void>('worker/exit'),
} as const;
