/**
 * The collaborate panel's seam to whatever hosts it: the shared one of webview/common/host.ts, with the panel's
 * messages and UI state (open sections, an unsent draft of the controls).
 */
import type { CollabViewToHost, CollabViewUiState, HostToCollabView } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';
import { isHostToCollabView, sanitizeCollabUiState } from './messages';

export type CollabHost = ViewHost<CollabViewToHost, HostToCollabView, CollabViewUiState>;

export function resolveCollabHost(): CollabHost {
  return resolveViewHost<CollabViewToHost, HostToCollabView, CollabViewUiState>({ isMessage: isHostToCollabView, sanitizeState: sanitizeCollabUiState });
}
