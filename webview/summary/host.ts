/**
 * The summary panel's seam to whatever hosts it: the shared one of webview/common/host.ts, with the summary
 * panel's messages and UI state (which details are open).
 */
import type { HostToSummaryView, SummaryViewToHost, SummaryViewUiState } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';
import { isHostToSummaryView, sanitizeSummaryUiState } from './messages';

export type SummaryHost = ViewHost<SummaryViewToHost, HostToSummaryView, SummaryViewUiState>;

export function resolveSummaryHost(): SummaryHost {
  return resolveViewHost<SummaryViewToHost, HostToSummaryView, SummaryViewUiState>({ isMessage: isHostToSummaryView, sanitizeState: sanitizeSummaryUiState });
}
