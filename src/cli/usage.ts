/** The text of `concert --help`. */
import {
  COLLAB_DEFAULT_ALPHA,
  COLLAB_DEFAULT_LAMBDA_USER,
  DEFAULT_GUIDANCE_LAMBDA,
  DEVICE_CHOICES,
  HUB_DTYPES,
  DIFFUSION_DEFAULT_MIN_TOKENS,
  IMAGE_DEFAULTS,
  IMAGE_MAX_SAMPLES,
  VIDEO_DEFAULTS,
  VIDEO_MAX_FRAMES,
  PROJECTIONS,
  type DecodingParams,
} from '../protocol/worker';

const IMAGE_SAMPLE = IMAGE_DEFAULTS.decoding as Extract<DecodingParams, { mode: 'sample' }>;

export const USAGE = `Usage: concert <command> [options]

Commands:
  summarize <file>       summarise a text file with context-aware decoding (CAD)
  ask --context <file> --question <text>
                         answer a question so that the answer follows the document
  generate --prompt <text>
                         continue text with the simplex diffusion LM (SSD-LM), steered by classifiers
  rewrite --prefix <text> --text <text>
                         rewrite text with the diffusion LM at an edit strength, steered by classifiers
  collab --instruction <text> [--knowledge <file>]...
                         SSD-2 collaboration: a small user model that reads the knowledge files helps the core
                         diffusion model (which never sees them) at every step
  image complete <file> --out <dir> [--ratio <r>] [--samples <n>]
                         JPEG-LM image completion: keep the top share r of the image (PNG or JPEG, centre-cropped
                         and resized to the model's size) and let a codec-lm sample the rest; writes
                         <stem>-complete-<i>.jpg files
  image generate --out <dir> [--samples <n>]
                         JPEG-LM unconditional generation; writes generate-<i>.jpg files
  video continue <clip> --out <dir> [--prompt-frames <n>] [--frames <m>] [--samples <k>]
                         AVC-LM video continuation: keep the clip's first n frames (a canonical .h264, or any
                         video through ffmpeg) and let an H.264 codec-lm sample m more; writes
                         <stem>-continue-<i>.h264 (and .mp4 when ffmpeg is found)
  doctor                 versions, execution providers and model packs with their validation status
  models                 the discovered model packs
  models pull <repo-id> [--revision <r>] [--dtype ${HUB_DTYPES.join('|')}]
                         download one ONNX variant of a Hugging Face Hub model (e.g. onnx-community/…) into
                         Concert's model folder ($XDG_DATA_HOME/concert/models or ~/.local/share/concert/models):
                         only the files it needs, checked, resumable (Ctrl-C cancels; run again to resume);
                         $HF_ENDPOINT names a mirror, $HF_TOKEN opens gated or private models
  models add <folder>    check a model folder (a pack, or a Hugging Face ONNX decoder folder as published) and
                         record it in $XDG_CONFIG_HOME/concert/models.json (or ~/.config/concert/models.json) so
                         later runs find it; nothing is written into the folder
  validate <folder>...   fully check model packs you exported (each folder a pack or a folder of packs):
                         manifest, hashes, containment, graphs loaded into ONNX Runtime, tokenizer
  selftest <pack-id>     load a pack and time its graphs on synthetic inputs
  tokenize <pack-id> <text>
                         the token ids a pack's tokenizer gives for text (special-token strings stay text)
  serve [--host <h>] [--port <p>] [--token <t>]
                         serve the core diffusion model over the Open Inference Protocol v2 (KServe v2, what
                         "collab --core <url>" speaks; docs/remote-core.md) until Ctrl-C

Options (all commands):
  --json                 machine-readable output (one JSON object on stdout)
  --device <d>           ${DEVICE_CHOICES.join(' | ')} (default: auto, or $CONCERT_DEVICE)
  --models <dir>         an extra folder of model packs (repeatable; also $CONCERT_MODEL_FOLDERS, ':'-separated)
  --threads <n>          intra-op threads (default: ONNX Runtime's choice)
  --steps <n>            selftest: number of timed runs (default 10)

Options (summarize, ask):
  --alpha <a>            CAD strength, 0 = regular decoding (default 0.5 for summarize, 1 for ask)
  --plausibility <β>     only tokens with p(y | document) ≥ β × the most likely one may be chosen, 0…1
                         (plausibility constraint; default 0.1, 0 = off)
  --adaptive             adaptive α: scale α per token by how much the document changes the prediction
                         (Jensen–Shannon divergence), so CAD acts on conflicts only
  --extractive, --no-extractive
                         quote the document: ask answers with whole words of one line, summarize with whole
                         sentences of one paragraph (default: on), so the model chooses what to quote and
                         cannot make words up; --no-extractive lets it write its own words
  --top-p <p>            nucleus sampling (default for summarize: 0.9)
  --greedy               greedy decoding (default for ask)
  --max-tokens <n>       length budget (default 64 for summarize, 24 for ask; a quote cut inside a word
                         finishes it, at most 8 tokens more)
  --seed <s>             seed for sampling (default: random, printed in --json's run record)
  --regular              also run regular decoding on the same input, side by side
  --whole-document       ask: read the whole document when it fits the model (default: a document of more than
                         128 tokens is answered from the passage that best matches the question)
  --model <pack-id|folder>
                         a causal-lm pack, or a folder: a pack, or a Hugging Face ONNX decoder folder as published
                         (config.json, tokenizer files, onnx/model*.onnx) (default: the bundled pack)
  --dtype <d>            weights of a Hugging Face folder: fp32 | fp16 | int8 | uint8 | q4 | q4f16 | bnb4
                         (default: q4, else int8, else fp32 on CPU; fp16 on GPU providers)

Options (generate, rewrite):
  --attribute <name=label[:lambda]>
                         steer towards a classifier label (repeatable), e.g. sentiment=positive:${DEFAULT_GUIDANCE_LAMBDA}
  --tokens <n>           generate: new tokens (default 24, whole blocks)
  --min-tokens <n>       generate: write at least this many new tokens before the model may end the text
                         (default ${DIFFUSION_DEFAULT_MIN_TOKENS}; 0 lets it stop at once, e.g. after a full stop)
  --strength <s>         rewrite: edit strength in (0, 1] (default 0.5); --prefix may be empty or left out,
                         and paragraphs (separated by blank lines) are rewritten one by one
  --steps <T>            diffusion steps per block (default 50)
  --top-p <p>            nucleus of the projection (default 0.5)
  --projection <p>       ${PROJECTIONS.join(' | ')} (default sampling)
  --early-stop <f>       stop each block at this fraction of T (default 0)
  --seed <s>             seed of the noise and sampling
  --model <pack-id>      a simplex-diffusion-lm pack (default: the bundled core model)

Options (collab):
  --instruction <text>   the instruction or question
  --knowledge <file>     a document or notes the user model may read (repeatable); passages are chosen by BM25
  --lambda-user <l>      the user model's weight λ_user in [0, 1] (default ${COLLAB_DEFAULT_LAMBDA_USER}; 0 = core only)
  --alpha <a>            contrast of the user model with and without knowledge (default ${COLLAB_DEFAULT_ALPHA})
  --core <url>           a remote core (Open Inference Protocol v2; token in $CONCERT_CORE_TOKEN); default: this machine
  --tokens <n>           new tokens (default 16)   --steps <T>  diffusion steps per block (default 50)
  --seed <s>             seed of the noise and sampling
  --top-p <p> | --greedy projection (default greedy)
  --compare              also run the core alone and the user alone, side by side
  --method <m>           diffusion (default) | autoregressive (the baseline: token-level mixing with the causal LM)
  --model <pack-id>      the core pack (default concert-ssd-core; with --method autoregressive a causal-lm pack)
  --user-model <pack-id> the user pack (default concert-ssd-user)

Options (image complete, image generate):
  --out <dir>            folder for the JPEG files (created; written only when the run succeeds)
  --ratio <r>            complete: share of the image kept, 0…1, cut after whole patches of MCUs (default ${IMAGE_DEFAULTS.ratio})
  --samples <n>          samples, decoded as one batch (1…${IMAGE_MAX_SAMPLES}, default ${IMAGE_DEFAULTS.samples})
  --temperature <t>      sampling temperature (default ${IMAGE_SAMPLE.temperature})
  --top-p <p>            nucleus (default ${IMAGE_SAMPLE.topP})    --top-k <k>  top-k (default ${IMAGE_SAMPLE.topK})
  --greedy               greedy decoding instead of sampling
  --seed <s>             seed of the sampling (sample i of a seed is the same whatever --samples is)
  --max-tokens <n>       most tokens per sample (default: the model's context); a stream still open is closed grey
  --unconstrained        sample the raw model, without the stream grammar (to measure how often it decodes);
                         by default every sample is constrained to a decodable stream
  --model <pack-id|folder>
                         a codec-lm pack (default: the first valid one; the bundled concert-jpeg-32)

Options (video continue): --samples, --temperature, --top-p, --top-k, --greedy, --seed, --max-tokens and
--unconstrained as for image, and
  --out <dir>            folder for the .h264 / .mp4 files (created; written only when the run succeeds)
  --prompt-frames <n>    frames of the clip kept as the prompt (default ${VIDEO_DEFAULTS.promptFrames}, at most the clip's)
  --frames <m>           frames to generate (1…${VIDEO_MAX_FRAMES}, default ${VIDEO_DEFAULTS.frames})
  --ffmpeg <path>        the ffmpeg to convert clips that are not canonical and to write .mp4 (default: ffmpeg on
                         PATH; canonical .h264 clips such as the bundled samples need none)
  --model <pack-id|folder>
                         an H.264 codec-lm pack (default: the first valid one; the bundled concert-avc-32)

Options (serve):
  --host <h>             address to listen on (default 127.0.0.1); any other address needs a token
  --port <p>             port (default 8000; 0 picks a free one; the URL is printed)
  --token <t>            bearer token every request must carry (≥ 16 characters off loopback; or $CONCERT_SERVE_TOKEN)
  --model <pack-id>      the simplex-diffusion-lm pack to serve (default: the bundled core model)
  -h, --help             this help
`;
