/**
 * Checks on what reaches the page: messages from the host and the UI state VS Code kept for it (which may come
 * from an older version of the panel). No DOM, so tests cover it.
 */
import type { HostToSummaryView, SummaryViewUiState } from '../../src/protocol/webview';

export function isHostToSummaryView(m: unknown): m is HostToSummaryView {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (t === 'state') return typeof (m as { state?: unknown }).state === 'object' && (m as { state?: unknown }).state !== null;
  if (t === 'notice') {
    const n = (m as { notice?: { text?: unknown; level?: unknown } }).notice;
    return typeof n?.text === 'string' && (n.level === 'info' || n.level === 'warning' || n.level === 'error');
  }
  return false;
}

/** Persisted UI state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeSummaryUiState(raw: unknown): SummaryViewUiState | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<Record<keyof SummaryViewUiState, unknown>>;
  return { recordOpen: r.recordOpen === true, chunksOpen: r.chunksOpen === true };
}
