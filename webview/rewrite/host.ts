/**
 * The one seam between the rewrite panel and whatever hosts it. Inside VS Code that is `acquireVsCodeApi()`; a
 * test page in a plain browser can set `window.concertHost` before loading the bundle and stand in for it (the
 * same global as the other views' seams, so one browser harness serves every view).
 */
import type { HostToRewriteView, RewriteViewToHost, RewriteViewUiState } from '../../src/protocol/webview';
import { isHostToRewriteView, sanitizeRewriteUiState } from './messages';

export interface RewriteHost {
  post(msg: RewriteViewToHost): void;
  onMessage(listener: (msg: HostToRewriteView) => void): void;
  /** UI state only (timeline position, unsaved control edits); data always comes fresh from the host. */
  getState(): RewriteViewUiState | undefined;
  setState(state: RewriteViewUiState): void;
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** Not declared on `Window`: the status view declares `concertHost` with its own message types. */
const testHost = () => (window as unknown as { concertHost?: RewriteHost }).concertHost;

export function resolveRewriteHost(): RewriteHost {
  const stub = testHost();
  if (stub) return stub;
  const api = acquireVsCodeApi();
  return {
    post: (msg) => api.postMessage(msg),
    onMessage: (listener) =>
      window.addEventListener('message', (e: MessageEvent<unknown>) => {
        if (isHostToRewriteView(e.data)) listener(e.data);
      }),
    getState: () => sanitizeRewriteUiState(api.getState()),
    setState: (state) => api.setState(state),
  };
}
