/** A stream that is not a canonical (constrained-baseline, CAVLC, progressive) H.264 Annex-B stream. */
export class H264FormatError extends Error {
  /** Byte offset in the stream where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (byte ${offset})`);
    this.name = 'H264FormatError';
    this.offset = offset;
  }
}
