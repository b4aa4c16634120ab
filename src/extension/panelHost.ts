/**
 * What Concert's panels (Summary, Rewrite, Collaborate, Images) share: one webview panel per controller, shown beside the
 * editor (or revealed) on demand and restored by VS Code after a window reload (the host registers the
 * WebviewPanelSerializer; activation event onWebviewPanel:<view type>), with the strict-CSP shell of webviewHtml.ts.
 * Messages from the page are checked by a guard before the controller sees them; the `ready` handshake (the page
 * was created or re-created and asks for the data) is answered here with the controller's state, which is also
 * posted at once or throttled while a run streams.
 *
 * The controller owns the data; the host keeps it in workspaceState under the panel's key, and forgets it when the
 * user closes the panel. When the window closes the data stays, for the restored panel.
 */
import * as vscode from 'vscode';
import { errorMessage } from './errors';
import { PageStartWatch, pageStartSettings } from './pageStartWatch';
import { CODICONS_DIR, WEBVIEW_RESOURCE_DIRS, makeNonce, webviewHtml } from './webviewHtml';

/** One line of feedback for the last action, as both panels show it. */
export interface PanelNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** What a panel page sends: its message types, one of them `{ type: 'ready' }`, sent when the page is (re)created. */
export type PanelToHost = { type: string };
/** What a panel page takes from the host: a state to render, or a notice. */
export type PanelToView = { type: 'state'; state: unknown } | { type: 'notice'; notice: PanelNotice };

/** The state, and the notice, of a panel's message type. */
type StateOf<ToView extends PanelToView> = Extract<ToView, { type: 'state' }>['state'];
type NoticeOf<ToView extends PanelToView> = Extract<ToView, { type: 'notice' }>['notice'];

export interface PanelSpec<ToHost extends PanelToHost> {
  viewType: string;
  title: string;
  /** In log lines: "<name> panel: …". */
  name: string;
  /** The page's bundle, in dist/webview. */
  script: string;
  /** The page's stylesheet, in media/ (after the codicons). */
  style: string;
  /** Stylesheets in media/ that several panels share (base.css: every panel; panel.css: the codec panels), linked before `style`. */
  sharedStyles?: readonly string[];
  /** workspaceState key of the panel's data. */
  stateKey: string;
  /** How often, at most, `schedulePost` sends the state while a run streams. */
  postIntervalMs: number;
  /** Checks a message from the page (the page is sandboxed, but what it sends is still input). */
  isMessage(m: unknown): m is ToHost;
  /** The page shows images it makes from bytes the host sent (blob: URLs); see webviewHtml's contentSecurityPolicy. */
  blobImages?: boolean;
}

/** The controller behind a panel; the host calls it. */
export interface PanelOwner<ToHost extends PanelToHost, ToView extends PanelToView> {
  /** The page asked for the data (`ready`): refresh what the state derives from; the host posts the state next. */
  panelReady(): void;
  /** A checked message other than `ready`; a failure is logged and shown in the panel as an error notice. */
  panelMessage(m: Exclude<ToHost, { type: 'ready' }>): void | Promise<void>;
  /** The state as the page should see it now. */
  panelState(): StateOf<ToView>;
  /** The user closed the panel (not the window closing): stop its work and forget it. The host then drops the saved data. */
  panelClosed(): void;
}

export class PanelHost<ToHost extends PanelToHost, ToView extends PanelToView> implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelSubs: vscode.Disposable[] = [];
  private pageWatch: PageStartWatch | undefined;
  private postTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly serializer: vscode.Disposable;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly spec: PanelSpec<ToHost>,
    private readonly owner: PanelOwner<ToHost, ToView>,
  ) {
    // Called by VS Code for the panel that was open when the window closed.
    this.serializer = vscode.window.registerWebviewPanelSerializer(spec.viewType, { deserializeWebviewPanel: async (panel) => this.restore(panel) });
  }

  /** What `persist` saved, as workspaceState hands it back (check it before use). */
  saved(): unknown {
    return this.context.workspaceState.get(this.spec.stateKey);
  }

  /** Saves the panel's data for the next window (undefined: nothing to keep). */
  persist(data: unknown): void {
    void this.context.workspaceState.update(this.spec.stateKey, data);
  }

  /** The column the panel is in; undefined while it is closed. */
  get viewColumn(): vscode.ViewColumn | undefined {
    return this.panel?.viewColumn;
  }

  /** Opens the panel beside the editor without taking focus (unless `focus`), or reveals it where it is. */
  show(focus = false): void {
    if (this.panel) {
      if (!this.panel.visible || focus) this.panel.reveal(this.panel.viewColumn, !focus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      this.spec.viewType,
      this.spec.title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: !focus },
      { ...this.webviewOptions(), retainContextWhenHidden: false },
    );
    this.attach(panel);
  }

  /** Takes over the panel VS Code restored after a window reload. */
  private restore(panel: vscode.WebviewPanel): void {
    if (this.panel && this.panel !== panel) this.panel.dispose();
    this.attach(panel);
  }

  /** Closes the panel, as the user would (`panelClosed` runs). */
  close(): void {
    this.panel?.dispose();
  }

  private webviewOptions(): vscode.WebviewOptions {
    const root = this.context.extensionUri;
    return {
      enableScripts: true,
      localResourceRoots: WEBVIEW_RESOURCE_DIRS.map((d) => vscode.Uri.joinPath(root, ...d)),
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    const root = this.context.extensionUri;
    panel.iconPath = vscode.Uri.joinPath(root, 'media', 'concert.svg');
    panel.webview.options = this.webviewOptions();
    const uri = (...p: string[]) => panel.webview.asWebviewUri(vscode.Uri.joinPath(root, ...p)).toString();
    for (const d of this.panelSubs) d.dispose(); // the previous page's watch among them
    const watch = new PageStartWatch({
      ...pageStartSettings(this.log, `${this.spec.name} panel`, 'close the panel and open it again'),
      // A fresh nonce makes the HTML differ, so VS Code really loads the page again.
      render: () =>
        (panel.webview.html = webviewHtml({
          title: this.spec.title,
          cspSource: panel.webview.cspSource,
          nonce: makeNonce(),
          scriptUri: uri('dist', 'webview', this.spec.script),
          styleUris: [...(this.spec.sharedStyles ?? []).map((s) => uri('media', s)), uri('media', this.spec.style)],
          codiconsUri: uri(...CODICONS_DIR, 'codicon.css'),
          ...(this.spec.blobImages && { blobImages: true }),
        })),
      isVisible: () => panel.visible,
    });
    this.pageWatch = watch;
    let visible = panel.visible;
    this.panelSubs = [
      watch,
      panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        if (panel.visible !== visible) watch.visibilityChanged((visible = panel.visible));
      }),
      panel.onDidDispose(() => {
        if (this.panel !== panel) return;
        this.panel = undefined;
        for (const d of this.panelSubs) d.dispose();
        this.panelSubs = [];
        this.pageWatch = undefined;
        if (this.disposed) return; // window closing: keep the data for the restored panel
        this.owner.panelClosed();
        this.persist(undefined);
      }),
    ];
    watch.render();
  }

  private async onMessage(m: unknown): Promise<void> {
    if (!this.spec.isMessage(m)) {
      this.log.warn(`${this.spec.name} panel: ignoring unexpected message ${JSON.stringify(m)?.slice(0, 200)}`);
      return;
    }
    try {
      if (m.type === 'ready') {
        this.pageWatch?.ready();
        this.owner.panelReady();
        return this.postNow();
      }
      await this.owner.panelMessage(m as Exclude<ToHost, { type: 'ready' }>);
    } catch (e) {
      this.log.warn(`${this.spec.name} panel: ${m.type} failed: ${errorMessage(e)}`);
      this.notice({ level: 'error', text: errorMessage(e) });
    }
  }

  private post(msg: PanelToView): void {
    if (this.panel) void this.panel.webview.postMessage(msg);
  }

  /** Shows `notice` in the panel; with the panel closed, warnings and errors become a notification instead. */
  notice(notice: NoticeOf<ToView>): void {
    if (this.panel) this.post({ type: 'notice', notice });
    else if (notice.level !== 'info') void vscode.window.showWarningMessage(`Concert: ${notice.text}`);
  }

  /** Sends the state now (and drops a scheduled send). */
  postNow(): void {
    clearTimeout(this.postTimer);
    this.postTimer = undefined;
    if (!this.panel) return;
    this.post({ type: 'state', state: this.owner.panelState() });
  }

  /** Sends the state within `postIntervalMs`, once however often it is called until then. */
  schedulePost(): void {
    this.postTimer ??= setTimeout(() => this.postNow(), this.spec.postIntervalMs);
  }

  /** From now on a closing panel is the window closing: the data stays for the restored panel. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.postTimer);
    for (const d of [this.serializer, ...this.panelSubs]) d.dispose();
  }
}
