/**
 * A guard on Node's IPC channel, for both ends of the worker connection (src/worker/client.ts for the parent's end,
 * src/worker/main.ts for the worker's). Node reads the channel itself: a line that is not JSON makes its read callback
 * throw, which is an uncaught exception in the reading process (and the rest of that read is lost). The guard wraps
 * that callback so such bytes reach `onGarbage` instead; what each end then does is its own policy (the client kills
 * a worker that breaks the protocol, the worker logs and drops the bytes and stays up).
 *
 * The callback is the `onread` of the channel's pipe handle, which Node keeps under the symbol `kChannelHandle` on the
 * ChildProcess (parent's end) and on `process` (child's end), Node 12 to 24 and Electron alike. Where it is not found
 * nothing is wrapped and `false` is returned. No Node import: the owner is taken as a plain object.
 */
export function guardIpcChannel(owner: object, onGarbage: (e: Error) => void): boolean {
  const key = Object.getOwnPropertySymbols(owner).find((k) => k.description === 'kChannelHandle');
  const channel = key ? ((owner as Record<symbol, unknown>)[key] as { onread?: (...args: unknown[]) => unknown } | null | undefined) : undefined;
  const read = channel?.onread;
  if (!channel || typeof read !== 'function') return false;
  channel.onread = function (this: unknown, ...args: unknown[]) {
    try {
      return read.apply(this, args);
    } catch (e) {
      // Node (20) clears its buffer of the channel's unfinished line only after every line of a read parsed: a bad
      // line that began in an earlier read stays there, every later read is glued to it and fails too, and the
      // channel is deaf for good (found by bench/reliability/fuzz.ts, worker-ipc-bytes). The next read starts afresh
      // (its first line, the rest of the one that failed, is dropped as well).
      const buffer = Object.getOwnPropertySymbols(channel).find((k) => k.description === 'kJSONBuffer');
      if (buffer) (channel as Record<symbol, unknown>)[buffer] = '';
      onGarbage(e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
  };
  return true;
}
