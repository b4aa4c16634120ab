/** Errors the engine raises; the worker maps them to typed protocol errors. */

/** The caller's AbortSignal fired; `partial` holds what was produced before the check that saw it. */
export class CancelledError<T = unknown> extends Error {
  constructor(readonly partial?: T) {
    super('cancelled');
  }
}

/** The input does not fit the model's context window. */
export class ContextTooLongError extends Error {
  constructor(
    readonly needed: number,
    readonly limit: number,
    what: string,
  ) {
    super(`${what} needs ${needed} tokens but the model reads at most ${limit}`);
  }
}

/** Bad arguments to an engine function (maps to a bad-input error). */
export class EngineInputError extends Error {}
