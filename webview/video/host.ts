/**
 * The video panel's seam to whatever hosts it: the shared one of webview/common/host.ts, with the panel's messages
 * and UI state (the run record open or not, an unsent draft of the controls).
 */
import type { HostToVideoView, VideoViewToHost, VideoViewUiState } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';
import { isHostToVideoView, sanitizeVideoUiState } from './messages';

export type VideoHost = ViewHost<VideoViewToHost, HostToVideoView, VideoViewUiState>;

export function resolveVideoHost(): VideoHost {
  return resolveViewHost<VideoViewToHost, HostToVideoView, VideoViewUiState>({ isMessage: isHostToVideoView, sanitizeState: sanitizeVideoUiState });
}
