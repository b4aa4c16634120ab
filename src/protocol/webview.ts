/**
 * Messages between the extension host and its webviews. Pure types: the browser bundle imports this file too.
 * Every webview starts with a `ready` handshake; the host answers with the full state, then sends updates.
 */
export interface StatusPackView {
  id: string;
  kind: string;
  source: 'bundled' | 'user';
  valid: boolean;
  error?: string;
  sizeBytes?: number;
  displayName?: string;
  /** Folder of the pack (shown as a tooltip; the webview never reads files). */
  dir?: string;
}

export interface StatusViewState {
  workerState: 'stopped' | 'starting' | 'running' | 'restarting' | 'failed';
  provider?: { chosen: string; device: string; requested: string; fallbackReasons: string[] };
  /** Undefined until the worker has been asked for its packs (the view asks on first show). */
  packs?: StatusPackView[];
  /** True while a refresh (pack listing) is in flight. */
  busy?: boolean;
  /** Worker pid and the sessions it has loaded, from its last status notification. */
  pid?: number;
  loadedSessions?: string[];
  rssBytes?: number;
  error?: string;
}

export type HostToStatusView =
  | { type: 'state'; state: StatusViewState };

export type StatusViewToHost =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'restartWorker' }
  | { type: 'openSettings' }
  | { type: 'showLog' }
  | { type: 'addModelFolder' }
  | { type: 'selectDevice' }
  | { type: 'selfTestPack'; packId: string };

/** UI-only state the status view persists with `setState` (never data: that is refetched from the host). */
export interface StatusViewUiState {
  expanded: string[];
}
