/**
 * A codec-lm pack ready to complete and generate images (JPEG-LM, thesis ch. 6): the decoder as a causal LM
 * (causalLm.ts: optimum decoder I/O, KV cache) and the bytes each token id stands for (the manifest's `codec.tokens`:
 * plain byte ids, byte ids plus BPE merges (src/codec/byteBpe.ts), or the official checkpoint's Braille pieces through
 * the pack's tokenizer). The samples' streams,
 * their grammar constraint and previews are imageSamples.ts.
 *
 * The model's sequence is [bos] + image-only stream + [eos] (the stream starts FF D8 and the 59-byte header); a
 * prompt is [bos] + the stream's first bytes, cut after a restart marker (src/codec/jpeg/prompt.ts).
 */
import { byteBpeVocabulary, encodeByteBpe, parseByteMerges } from '../codec/byteBpe';
import { bytesToBraille, bytesToTokenIds, brailleVocabulary, plainByteVocabulary, TokenMappingError, type TokenBytes } from '../codec/jpeg';
import { OnnxCausalLM, causalLmShape } from './causalLm';
import { loadTokenizer } from './languageModel';
import type { CodecFormat, CodecSpec } from './manifest';
import type { SessionCache } from './ort';
import { PackError, readPackFile, type ValidatedPack } from './packs';
import type { PackTokenizer } from './tokenizer';
import type { CodecTokens } from './imageSamples';

export interface CodecModel extends CodecTokens {
  pack: ValidatedPack;
  lm: OnnxCausalLM;
  codec: CodecSpec;
  /** sha256 of the decoder graph. */
  modelSha256: string;
  /** Token ids of stream bytes (no bos). */
  encode(bytes: Uint8Array): Int32Array;
}

/** What a codec format is called in messages. */
export const CODEC_FORMAT_NAMES: Record<CodecFormat, string> = { jpeg: 'JPEG (image)', h264: 'H.264 (video)' };

/** The codec block of a codec-lm pack (the manifest parser requires it). */
export function codecSpec(pack: ValidatedPack): CodecSpec {
  const c = pack.manifest.codec;
  if (pack.manifest.kind !== 'codec-lm' || !c) throw new PackError(pack.manifest.id, `is a ${pack.manifest.kind}, not a codec-lm`);
  return c;
}

export async function loadCodecModel(pack: ValidatedPack, sessions: SessionCache, tok?: PackTokenizer): Promise<CodecModel> {
  const m = pack.manifest;
  const codec = codecSpec(pack);
  // The longest sequence is the codec block's unless the knobs name the model's context.
  const shape = causalLmShape({ ...pack, manifest: { ...m, knobs: { maxContext: codec.maxTokens, ...m.knobs } } });
  const V = shape.vocabSize;
  let vocabulary: TokenBytes;
  let encode: (bytes: Uint8Array) => Int32Array;
  if (codec.tokens.mapping === 'bytes') {
    const { offset } = codec.tokens;
    vocabulary = plainByteVocabulary(V, offset);
    encode = (bytes) => Int32Array.from(bytesToTokenIds(bytes, offset));
  } else if (codec.tokens.mapping === 'bytes-bpe') {
    const file = codec.tokens.merges;
    let merges;
    try {
      merges = parseByteMerges(JSON.parse((await readPackFile(pack, file)).toString('utf8')), codec.tokens.offset, V);
    } catch (e) {
      if (e instanceof TokenMappingError || e instanceof SyntaxError) throw new PackError(m.id, `codec.tokens.merges (${file}): ${e.message}`);
      throw e;
    }
    vocabulary = byteBpeVocabulary(V, merges);
    encode = (bytes) => encodeByteBpe(bytes, merges);
  } else {
    const t = tok ?? (await loadTokenizer(pack));
    vocabulary = brailleVocabulary(t.tokens(Array.from({ length: Math.min(V, t.vocabSize) }, (_, i) => i)));
    encode = (bytes) => {
      const ids = t.encodePlain(bytesToBraille(bytes));
      // The pieces must spell the bytes again (a SentencePiece dummy prefix "▁" alone in front is allowed).
      const start = ids.length && t.tokens([ids[0]!])[0] === '\u2581' ? 1 : 0;
      const spelt: number[] = [];
      for (const id of ids.slice(start)) {
        const b = vocabulary[id];
        if (!b) throw new PackError(m.id, `its tokenizer turns the stream into token ${id}, which is no byte token of the Braille mapping`);
        spelt.push(...b);
      }
      if (spelt.length !== bytes.length || spelt.some((b, i) => b !== bytes[i]))
        throw new PackError(m.id, 'its tokenizer does not spell the stream back byte for byte (Braille mapping)');
      return Int32Array.from(ids);
    };
  }
  for (const [k, id] of [
    ['bos', codec.bos],
    ['eos', codec.eos],
  ] as const) {
    if (vocabulary[id]) throw new PackError(m.id, `codec.${k} (${id}) is a byte token`);
  }
  const byteTokens = new Int32Array(256).fill(-1);
  vocabulary.forEach((b, id) => {
    if (b?.length === 1 && byteTokens[b[0]!] === -1) byteTokens[b[0]!] = id;
  });
  const missing = byteTokens.indexOf(-1);
  if (missing >= 0) throw new PackError(m.id, `no token stands for byte ${missing} alone, so streams cannot be closed`);
  const lm = new OnnxCausalLM(await sessions.get(pack, 'decoder'), shape, codec.eos, codec.pad);
  return {
    pack,
    lm,
    codec,
    geometry: { width: codec.width, height: codec.height },
    vocabulary,
    byteTokens,
    modelSha256: m.files[m.graphs['decoder']!]!.sha256,
    encode,
  };
}
