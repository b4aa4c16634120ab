/**
 * The status view's seam to whatever hosts it: the shared one of webview/common/host.ts, with the status view's
 * messages and UI state (expanded rows).
 */
import type { HostToStatusView, StatusViewToHost, StatusViewUiState } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';

export type Host = ViewHost<StatusViewToHost, HostToStatusView, StatusViewUiState>;

function isHostMessage(m: unknown): m is HostToStatusView {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'state' && typeof (m as { state?: unknown }).state === 'object';
}

/** Persisted state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeUiState(raw: unknown): StatusViewUiState | undefined {
  const expanded = (raw as { expanded?: unknown } | undefined)?.expanded;
  return Array.isArray(expanded) ? { expanded: expanded.filter((x): x is string => typeof x === 'string') } : undefined;
}

export function resolveHost(): Host {
  return resolveViewHost<StatusViewToHost, HostToStatusView, StatusViewUiState>({ isMessage: isHostMessage, sanitizeState: sanitizeUiState });
}
