/**
 * The "Worker & Models" webview view. It only renders what WorkerStore knows and forwards the user's intents to
 * commands; every message is typed by src/protocol/webview. The view lists packs on first show, which is the
 * one thing here that may start the worker (the user opened the view to see them).
 */
import * as vscode from 'vscode';
import type { HostToStatusView } from '../protocol/webview';
import { COMMANDS } from './commandTable';
import { errorMessage } from './errors';
import { PageStartWatch, pageStartSettings } from './pageStartWatch';
import { isStatusViewToHost } from './statusMessages';
import { CODICONS_DIR, WEBVIEW_RESOURCE_DIRS, makeNonce, webviewHtml } from './webviewHtml';
import type { WorkerStore } from './workerStore';

export const STATUS_VIEW_ID = 'concert.status';

export class StatusViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private pageWatch: PageStartWatch | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extension: vscode.Extension<unknown>,
    private readonly store: WorkerStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(store.onDidChange(() => this.postState()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extension.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(this.extension.extensionUri, 'media');
    const codicons = vscode.Uri.joinPath(this.extension.extensionUri, ...CODICONS_DIR);
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: WEBVIEW_RESOURCE_DIRS.map((d) => vscode.Uri.joinPath(this.extension.extensionUri, ...d)),
    };
    const uri = (u: vscode.Uri) => view.webview.asWebviewUri(u).toString();
    this.pageWatch?.dispose();
    const watch = new PageStartWatch({
      ...pageStartSettings(this.log, 'status view', 'run "Developer: Reload Window"'),
      // A fresh nonce makes the HTML differ, so VS Code really loads the page again.
      render: () =>
        (view.webview.html = webviewHtml({
          title: 'Concert: Worker & Models',
          cspSource: view.webview.cspSource,
          nonce: makeNonce(),
          scriptUri: uri(vscode.Uri.joinPath(dist, 'status.js')),
          styleUris: [uri(vscode.Uri.joinPath(media, 'status.css'))],
          codiconsUri: uri(vscode.Uri.joinPath(codicons, 'codicon.css')),
        })),
      isVisible: () => view.visible,
    });
    this.pageWatch = watch;
    const subs = [
      watch,
      view.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      view.onDidChangeVisibility(() => {
        watch.visibilityChanged(view.visible);
        if (view.visible) this.postState();
      }),
    ];
    view.onDidDispose(() => {
      for (const s of subs) s.dispose();
      if (this.view === view) {
        this.view = undefined;
        this.pageWatch = undefined;
      }
    });
    watch.render();
  }

  private postState(): void {
    if (!this.view?.visible) return;
    const msg: HostToStatusView = { type: 'state', state: this.store.snapshot() };
    void this.view.webview.postMessage(msg);
  }

  private onMessage(m: unknown): void {
    if (!isStatusViewToHost(m)) {
      this.log.warn(`status view: ignoring unexpected message ${JSON.stringify(m)?.slice(0, 200)}`);
      return;
    }
    const run = (id: string, ...args: unknown[]) => void vscode.commands.executeCommand(id, ...args);
    switch (m.type) {
      case 'ready':
        this.pageWatch?.ready();
        this.postState();
        if (!this.store.packs) this.store.refreshPacks().catch((e: unknown) => this.log.warn(`listing model packs failed: ${errorMessage(e)}`));
        return;
      case 'refresh':
        return run(COMMANDS.refreshModels.id);
      case 'restartWorker':
        return run(COMMANDS.restartWorker.id);
      case 'showLog':
        return run(COMMANDS.showLog.id);
      case 'addModelFolder':
        return run(COMMANDS.addModelFolder.id);
      case 'selectDevice':
        return run(COMMANDS.selectDevice.id);
      case 'selfTestPack':
        return run(COMMANDS.selfTestPack.id, m.packId);
      case 'openSettings':
        return run('workbench.action.openSettings', `@ext:${this.extension.id}`);
    }
  }

  dispose(): void {
    this.pageWatch?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
