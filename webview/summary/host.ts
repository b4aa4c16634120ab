/**
 * The one seam between the summary panel and whatever hosts it. Inside VS Code that is `acquireVsCodeApi()`; a
 * test page in a plain browser can set `window.concertHost` before loading the bundle and stand in for it (the
 * same global as the status view's seam, so one browser harness serves every view).
 */
import type { HostToSummaryView, SummaryViewToHost, SummaryViewUiState } from '../../src/protocol/webview';
import { isHostToSummaryView, sanitizeSummaryUiState } from './messages';

export interface SummaryHost {
  post(msg: SummaryViewToHost): void;
  onMessage(listener: (msg: HostToSummaryView) => void): void;
  /** UI state only (which details are open); data always comes fresh from the host after a reload. */
  getState(): SummaryViewUiState | undefined;
  setState(state: SummaryViewUiState): void;
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** Not declared on `Window`: the status view declares `concertHost` with its own message types. */
const testHost = () => (window as unknown as { concertHost?: SummaryHost }).concertHost;

export function resolveSummaryHost(): SummaryHost {
  const stub = testHost();
  if (stub) return stub;
  const api = acquireVsCodeApi();
  return {
    post: (msg) => api.postMessage(msg),
    onMessage: (listener) =>
      window.addEventListener('message', (e: MessageEvent<unknown>) => {
        if (isHostToSummaryView(e.data)) listener(e.data);
      }),
    getState: () => sanitizeSummaryUiState(api.getState()),
    setState: (state) => api.setState(state),
  };
}
