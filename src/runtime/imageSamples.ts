/**
 * The samples of a codec-lm run (JPEG-LM, thesis ch. 6), without the model: the prompt a ratio cuts, one sample's
 * stream with its grammar constraint for the engine (`ImageSample`: src/codec's incremental validator allows only the
 * tokens that keep the stream decodable, and closes it with grey MCUs at the budget), progressive previews, and the
 * final verdict on a stream.
 */
import {
  JpegFormatError,
  JpegStreamValidator,
  canonicalHeader,
  cleanImageStream,
  describeCanonicalStream,
  patchLayout,
  promptForRatio,
  restoreTables,
  validateImageStream,
  type JpegGeometry,
  type TokenBytes,
} from '../codec/jpeg';
import type { RowConstraint } from '../engine/sampling';

/** What a sample needs of its model: the image size and the bytes of the tokens. */
export interface CodecTokens {
  geometry: JpegGeometry;
  /** The bytes each token id stands for (undefined: special tokens and ids that are no bytes). */
  vocabulary: TokenBytes;
  /** For each byte, a token that stands for that byte alone (closing bytes are fed this way). */
  byteTokens: Int32Array;
}

/** What a ratio keeps of an image of this size (patches of MCUs; src/codec/jpeg/prompt.ts). */
export interface ImagePrompt {
  /** The image-only stream's first bytes: the header, then whole patches through a restart marker. */
  bytes: Uint8Array;
  keptMcus: number;
  keptPatches: number;
  patches: number;
  mcuCount: number;
}

/** The prompt of a completion: the canonical stream cut after ⌊P·r⌋ patches. */
export function completionPrompt(stream: Uint8Array, ratio: number, geometry: JpegGeometry): ImagePrompt {
  const cut = promptForRatio(stream, ratio, geometry);
  const { patches, mcuCount } = patchLayout(geometry);
  return { bytes: cut.prompt, keptMcus: cut.keptMcus, keptPatches: cut.patches, patches, mcuCount };
}

/**
 * The prompt of an unconditional generation: the 59-byte header (the thesis' prompt is [bos] alone; the header is
 * what any stream of this size starts with, and the validator would force it anyway).
 */
export function generationPrompt(geometry: JpegGeometry): ImagePrompt {
  const { patches, mcuCount } = patchLayout(geometry);
  return { bytes: canonicalHeader(geometry), keptMcus: 0, keptPatches: 0, patches, mcuCount };
}

/** An image-only stream as a file any JPEG decoder opens: the tables re-inserted. */
export function jpegFile(stream: Uint8Array): Uint8Array {
  return restoreTables(stream);
}

/**
 * A stream prefix as a decodable JPEG file: the bytes the validator accepts, then the rest closed with flat grey
 * MCUs and EOI (what a preview shows of a prompt or of a sample so far).
 */
export function closedJpeg(prefix: Uint8Array, geometry: JpegGeometry): Uint8Array {
  const v = new JpegStreamValidator(geometry);
  const n = v.feedAll(prefix);
  const out = new Uint8Array(n + v.closingBytes('fill').length);
  out.set(prefix.subarray(0, n));
  out.set(v.closingBytes('fill'), n);
  return restoreTables(out);
}

export interface StreamVerdict {
  decodable: boolean;
  /** Why not, when not. */
  problem?: string;
}

/** Whether a whole image-only stream decodes: every byte accepted by the entropy-stream validator, and the structure check. */
export function checkImageStream(stream: Uint8Array, geometry: JpegGeometry): StreamVerdict {
  const v = validateImageStream(stream, geometry);
  if (!v.ok) return { decodable: false, problem: `byte ${v.rejection!.offset}: ${v.rejection!.reason}` };
  try {
    describeCanonicalStream(stream);
  } catch (e) {
    if (e instanceof JpegFormatError) return { decodable: false, problem: e.message };
    throw e;
  }
  return { decodable: true };
}

export interface FinishedSample extends StreamVerdict {
  /** The image-only stream (prompt included; closing bytes included). */
  stream: Uint8Array;
  /** Bytes appended to close the stream at the budget. */
  closingBytes: number;
}

/**
 * One sample's stream while it is generated: the prompt, then the bytes of the tokens it takes. Constrained, it is
 * the row's grammar (`RowConstraint`): it allows only tokens whose bytes the validator accepts and closes the stream
 * with grey MCUs at the budget. Unconstrained, it allows everything and only watches: the row is complete at the
 * first FF D9 after the prompt (the thesis' `clean_image_string` cut), non-byte tokens add no bytes, and the verdict
 * is that of the raw bytes, cleaned as the thesis does.
 */
export class ImageSample implements RowConstraint {
  private readonly validator: JpegStreamValidator;
  private readonly bytes: number[];
  /** Bytes the validator has accepted (the decodable prefix). */
  private valid: number;
  private broken = false;
  private ended = false;
  private closing = 0;
  private readonly mask: Uint8Array;

  constructor(
    private readonly model: CodecTokens,
    private readonly prompt: Uint8Array,
    readonly constrained: boolean,
  ) {
    this.validator = new JpegStreamValidator(model.geometry);
    this.bytes = [...prompt];
    this.valid = this.validator.feedAll(prompt);
    if (this.valid !== prompt.length) {
      const r = this.validator.lastRejection!;
      throw new JpegFormatError(`the prompt is not a canonical stream of ${model.geometry.width}×${model.geometry.height}: ${r.reason}`, r.offset);
    }
    this.mask = new Uint8Array(model.vocabulary.length);
  }

  allowedTokens(): Uint8Array | undefined {
    return this.constrained ? this.validator.allowedTokens(this.model.vocabulary, this.mask) : undefined;
  }

  accept(id: number): void {
    const b = this.model.vocabulary[id];
    if (!b) return;
    for (const byte of b) {
      this.bytes.push(byte);
      if (!this.broken) {
        if (this.validator.feed(byte)) this.valid++;
        else this.broken = true;
      }
    }
    const n = this.bytes.length;
    if (!this.constrained && n >= this.prompt.length + 2 && this.bytes[n - 2] === 0xff && this.bytes[n - 1] === 0xd9) this.ended = true;
  }

  isComplete(): boolean {
    return this.constrained ? this.validator.isComplete() : this.ended || (!this.broken && this.validator.isComplete());
  }

  closingTokens(): number[] {
    if (!this.constrained) return [];
    return Array.from(this.validator.closingBytes('fill'), (b) => this.model.byteTokens[b]!);
  }

  /** Bytes so far (prompt included). */
  get length(): number {
    return this.bytes.length;
  }

  /** MCUs complete in the decodable prefix. */
  get mcusDone(): number {
    return this.validator.mcusDone;
  }

  /** The sample so far as a JPEG file: the decodable prefix, the rest grey. */
  preview(): Uint8Array {
    const closing = this.validator.closingBytes('fill');
    const out = new Uint8Array(this.valid + closing.length);
    out.set(this.bytes.slice(0, this.valid));
    out.set(closing, this.valid);
    return restoreTables(out);
  }

  /** Feeds the closing tokens the engine appended, and judges the stream. */
  finish(closing: readonly number[]): FinishedSample {
    const before = this.bytes.length;
    for (const id of closing) this.accept(id);
    this.closing = this.bytes.length - before;
    const raw = Uint8Array.from(this.bytes);
    const stream = this.constrained ? raw : cleanImageStream(raw);
    return { stream, closingBytes: this.closing, ...checkImageStream(stream, this.model.geometry) };
  }
}
