/**
 * The one seam between the status view and whatever hosts it. Inside VS Code that is `acquireVsCodeApi()`; a test
 * page in a plain browser can set `window.concertHost` before loading the bundle and stand in for VS Code.
 */
import type { HostToStatusView, StatusViewToHost, StatusViewUiState } from '../../src/protocol/webview';

export interface Host {
  post(msg: StatusViewToHost): void;
  onMessage(listener: (msg: HostToStatusView) => void): void;
  /** UI state only (expanded rows); data always comes fresh from the host after a reload. */
  getState(): StatusViewUiState | undefined;
  setState(state: StatusViewUiState): void;
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

declare global {
  interface Window {
    concertHost?: Host;
  }
}

function isHostMessage(m: unknown): m is HostToStatusView {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'state' && typeof (m as { state?: unknown }).state === 'object';
}

/** Persisted state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeUiState(raw: unknown): StatusViewUiState | undefined {
  const expanded = (raw as { expanded?: unknown } | undefined)?.expanded;
  return Array.isArray(expanded) ? { expanded: expanded.filter((x): x is string => typeof x === 'string') } : undefined;
}

export function resolveHost(): Host {
  if (window.concertHost) return window.concertHost;
  const api = acquireVsCodeApi();
  return {
    post: (msg) => api.postMessage(msg),
    onMessage: (listener) =>
      window.addEventListener('message', (e: MessageEvent<unknown>) => {
        if (isHostMessage(e.data)) listener(e.data);
      }),
    getState: () => sanitizeUiState(api.getState()),
    setState: (state) => api.setState(state),
  };
}
