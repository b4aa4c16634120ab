/**
 * A guard in front of vscode-jsonrpc's message reader: messages that would make the library throw outside any
 * handler (and so end the process with an uncaught TypeError) are dropped, and reported, before the connection sees
 * them. vscode-jsonrpc 9 reads `params.id` of every `$/cancelRequest` as soon as it arrives: a cancel without an
 * object `params` holding a string or number `id` crashes the receiving process (found by bench/reliability/fuzz.ts).
 */
import type { DataCallback, Disposable, Message, MessageReader } from 'vscode-jsonrpc/node';

const CANCEL = '$/cancelRequest';

/** Why vscode-jsonrpc cannot take `m` safely, or undefined when it can (it answers other malformed messages itself). */
export function unsafeMessage(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const msg = m as { method?: unknown; params?: unknown; id?: unknown };
  // Only the notification (no id) takes that path; a request of that name is answered "unhandled method".
  if (msg.method === CANCEL && msg.id === undefined) {
    const p = msg.params as { id?: unknown } | null | undefined;
    if (typeof p !== 'object' || p === null || (typeof p.id !== 'string' && typeof p.id !== 'number')) return `${CANCEL} needs params {id: string | number}`;
  }
  return undefined;
}

/** `reader` with unsafe messages dropped; `onDrop` hears why (for the log). */
export function guardedReader(reader: MessageReader, onDrop: (why: string) => void = () => {}): MessageReader {
  return {
    onError: reader.onError,
    onClose: reader.onClose,
    onPartialMessage: reader.onPartialMessage,
    listen(callback: DataCallback): Disposable {
      return reader.listen((m: Message) => {
        const why = unsafeMessage(m);
        if (why) onDrop(why);
        else callback(m);
      });
    },
    dispose: () => reader.dispose(),
  };
}
