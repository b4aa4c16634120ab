/**
 * Checks messages from the status webview before the host acts on them: the page is sandboxed, but its messages
 * are still input. No `vscode` import, so tests cover it.
 */
import type { StatusViewToHost } from '../protocol/webview';

/** A Record, so a message type added to the protocol without being listed here is a compile error. */
const INTENTS: Record<StatusViewToHost['type'], true> = {
  ready: true,
  refresh: true,
  restartWorker: true,
  openSettings: true,
  showLog: true,
  addModelFolder: true,
  selectDevice: true,
  selfTestPack: true,
};

export function isStatusViewToHost(m: unknown): m is StatusViewToHost {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (typeof t !== 'string' || !Object.hasOwn(INTENTS, t)) return false;
  return t !== 'selfTestPack' || typeof (m as { packId?: unknown }).packId === 'string';
}
