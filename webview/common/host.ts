/**
 * The one seam between a webview and whatever hosts it, shared by every view (status, summary, rewrite). Inside
 * VS Code that is `acquireVsCodeApi()`; a test page in a plain browser can set `window.concertHost` before loading
 * the bundle and stand in for it (one global for every view, so one browser harness serves them all).
 *
 * Each view gives its own message and UI-state types and the checks on what reaches the page: messages from the
 * host, and the UI state VS Code kept (which may come from an older version of the view).
 */

export interface ViewHost<ToHost, ToView, UiState> {
  post(msg: ToHost): void;
  onMessage(listener: (msg: ToView) => void): void;
  /** UI state only; data always comes fresh from the host after a reload. */
  getState(): UiState | undefined;
  setState(state: UiState): void;
}

export interface ViewChecks<ToView, UiState> {
  /** Drops anything from the host that is not one of this view's messages. */
  isMessage(m: unknown): m is ToView;
  /** Keeps only what still has the right shape of the UI state VS Code hands back. */
  sanitizeState(raw: unknown): UiState | undefined;
}

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** Not declared on `Window`: each view reads it with its own message types. */
const testHost = <H>() => (window as unknown as { concertHost?: H }).concertHost;

export function resolveViewHost<ToHost, ToView, UiState>(checks: ViewChecks<ToView, UiState>): ViewHost<ToHost, ToView, UiState> {
  const stub = testHost<ViewHost<ToHost, ToView, UiState>>();
  if (stub) return stub;
  const api = acquireVsCodeApi();
  return {
    post: (msg) => api.postMessage(msg),
    onMessage: (listener) =>
      window.addEventListener('message', (e: MessageEvent<unknown>) => {
        if (checks.isMessage(e.data)) listener(e.data);
      }),
    getState: () => checks.sanitizeState(api.getState()),
    setState: (state) => api.setState(state),
  };
}
