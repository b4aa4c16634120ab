/**
 * The samples of a video continuation (AVC-LM, thesis ch. 6), without the model: one sample's Annex-B stream with its
 * grammar constraint for the engine (`VideoSample`: src/codec/h264's incremental validator allows only the tokens that
 * keep the stream decodable, stops it after the requested frames and closes it with skipped macroblocks at the
 * budget), and the verdict on a finished stream. The image counterpart is imageSamples.ts.
 */
import { H264FormatError, H264StreamValidator, validateStream } from '../codec/h264';
import type { RowConstraint } from '../engine/sampling';
import type { CodecTokens } from './imageSamples';

export interface VideoVerdict {
  /** The validator accepts the whole stream, and it ends after a complete frame. */
  valid: boolean;
  /** Complete frames by the validator's count (prompt included). */
  frames: number;
  problem?: string;
}

/** Whether a whole stream is valid (every byte accepted, ending after a frame), and its frames. */
export function checkVideoStream(stream: Uint8Array, maxMbsPerSlice?: number): VideoVerdict {
  const v = validateStream(stream, { maxMbsPerSlice });
  if (!v.ok) return { valid: false, frames: v.frames, problem: `byte ${v.rejection!.offset}: ${v.rejection!.reason}` };
  return { valid: true, frames: v.frames };
}

export interface FinishedVideoSample extends VideoVerdict {
  /** The whole stream: prompt, sampled bytes and closing bytes. */
  stream: Uint8Array;
  closingBytes: number;
}

/**
 * One sample's stream while it is generated: the prompt (parameter sets and whole frames), then the bytes of the
 * tokens it takes. Constrained, it is the row's grammar: only tokens whose bytes the validator accepts, complete once
 * `promptFrames + frames` frames are, closed at the budget by finishing the frame in progress and filling the missing
 * frames with skipped macroblocks (a frozen picture). Unconstrained, it allows everything and only watches: the row
 * is complete once the (still valid) stream has its frames; otherwise it runs to eos or the budget.
 */
export class VideoSample implements RowConstraint {
  private readonly validator: H264StreamValidator;
  private readonly bytes: number[];
  private valid: number;
  private broken = false;
  private closing = 0;
  private readonly mask: Uint8Array;
  /** Bytes up to the end of the last complete frame of the valid prefix. */
  private frameEnd: number;
  private framesSeen: number;
  /** Total frames the stream is to have (prompt included). */
  readonly targetFrames: number;

  constructor(
    private readonly model: Pick<CodecTokens, 'vocabulary' | 'byteTokens'>,
    prompt: Uint8Array,
    promptFrames: number,
    frames: number,
    readonly constrained: boolean,
    /** Most macroblocks per slice (the pack's `codec.sliceMaxMbs`): keeps samples in the canonical form. */
    private readonly maxMbsPerSlice?: number,
  ) {
    this.targetFrames = promptFrames + frames;
    this.validator = new H264StreamValidator({ maxFrames: this.targetFrames, maxMbsPerSlice });
    this.bytes = [...prompt];
    this.valid = this.validator.feedAll(prompt);
    if (this.valid !== prompt.length) {
      const r = this.validator.lastRejection!;
      throw new H264FormatError(`the prompt is not a canonical stream: ${r.reason}`, r.offset);
    }
    if (this.validator.frames !== promptFrames) throw new H264FormatError(`the prompt has ${this.validator.frames} frames, not ${promptFrames}`, prompt.length);
    this.mask = new Uint8Array(model.vocabulary.length);
    this.frameEnd = prompt.length;
    this.framesSeen = promptFrames;
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
        if (!this.broken && this.validator.frames > this.framesSeen) {
          this.framesSeen = this.validator.frames;
          this.frameEnd = this.valid;
        }
      }
    }
  }

  isComplete(): boolean {
    return !this.broken && this.validator.isComplete();
  }

  closingTokens(): number[] {
    if (!this.constrained) return [];
    return Array.from(this.validator.closingBytes('fill'), (b) => this.model.byteTokens[b]!);
  }

  /** Complete frames so far in the valid prefix (prompt included). */
  get framesDone(): number {
    return this.validator.frames;
  }

  /** The valid prefix up to the end of its last complete frame (what a preview can decode). */
  completeFramesPrefix(): Uint8Array {
    return Uint8Array.from(this.bytes.slice(0, this.frameEnd));
  }

  /** Feeds the closing tokens the engine appended, and judges the stream. */
  finish(closing: readonly number[]): FinishedVideoSample {
    const before = this.bytes.length;
    for (const id of closing) this.accept(id);
    this.closing = this.bytes.length - before;
    const stream = Uint8Array.from(this.bytes);
    return { stream, closingBytes: this.closing, ...checkVideoStream(stream, this.maxMbsPerSlice) };
  }
}
