/**
 * The images panel's seam to whatever hosts it: the shared one of webview/common/host.ts, with the panel's messages
 * and UI state (the run record open or not, an unsent draft of the controls and mode).
 */
import type { HostToImagesView, ImagesViewToHost, ImagesViewUiState } from '../../src/protocol/webview';
import { resolveViewHost, type ViewHost } from '../common/host';
import { isHostToImagesView, sanitizeImagesUiState } from './messages';

export type ImagesHost = ViewHost<ImagesViewToHost, HostToImagesView, ImagesViewUiState>;

export function resolveImagesHost(): ImagesHost {
  return resolveViewHost<ImagesViewToHost, HostToImagesView, ImagesViewUiState>({ isMessage: isHostToImagesView, sanitizeState: sanitizeImagesUiState });
}
