/**
 * The rewrite panel's seam to whatever hosts it: the shared one of webview/common/host.ts, with the rewrite
 * panel's messages and UI state (timeline position, unsaved control edits).
 */
import type { HostToRewriteView, RewriteViewToHost, RewriteViewUiState } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';
import { isHostToRewriteView, sanitizeRewriteUiState } from './messages';

export type RewriteHost = ViewHost<RewriteViewToHost, HostToRewriteView, RewriteViewUiState>;

export function resolveRewriteHost(): RewriteHost {
  return resolveViewHost<RewriteViewToHost, HostToRewriteView, RewriteViewUiState>({ isMessage: isHostToRewriteView, sanitizeState: sanitizeRewriteUiState });
}
