/**
 * What the codec panels' controllers (Concert: Images, Concert: Video) share: the panel host, the panel's settings
 * read once per change (and again when the workspace is trusted), the model line following the pack list, the file
 * the next run reads (an explorer file, or one chosen in an open dialog), one run at a time (`RunSlot`), Save next to
 * the source or into a chosen folder (never over a file), and closing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunSlot, pickFolder, savedText, writeFree } from './codecRuns';
import { PanelHost, type PanelOwner, type PanelSpec, type PanelToHost, type PanelToView } from './panelHost';
import type { WorkerStore } from './workerStore';

/** What a codec panel reads and how it speaks of it. */
export interface CodecSource {
  /** The settings section whose changes reset the controls (`concert.image`). */
  section: string;
  /** Open dialog filter: name → extensions. */
  filters: Record<string, string[]>;
  openLabel: string;
  title: string;
  /** "the image model", for the message about files not on this machine. */
  model: string;
  /** Whether the controller takes this file. */
  accepts(file: string): boolean;
  /** "a PNG or JPEG file", for the message about files it does not take. */
  kind: string;
}

export abstract class CodecController<ToHost extends PanelToHost, ToView extends PanelToView, Settings, Run extends { id: number; status: string }>
  implements vscode.Disposable, PanelOwner<ToHost, ToView>
{
  protected readonly host: PanelHost<ToHost, ToView>;
  protected readonly slot = new RunSlot();
  /** The file the next run reads (absolute path). */
  protected source: string | undefined;
  protected run: Run | undefined;
  /** The file the shown run read (Save writes next to it). */
  protected runSource: string | undefined;
  private modelKey = '';
  private cachedSettings: Settings | undefined;
  protected readonly disposables: vscode.Disposable[] = [];

  constructor(
    context: vscode.ExtensionContext,
    protected readonly store: WorkerStore,
    protected readonly log: vscode.LogOutputChannel,
    spec: PanelSpec<ToHost>,
    private readonly what: CodecSource,
    private readonly readSettings: (warn: (w: string) => void) => Settings,
  ) {
    this.host = new PanelHost(context, log, spec, this);
    this.disposables.push(
      // The model line follows the pack list (Add Model Folder…, Refresh); other store changes do not touch the panel.
      store.onDidChange(() => {
        if (JSON.stringify(this.modelOf()) !== this.modelKey) this.host.schedulePost();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(what.section)) return;
        this.cachedSettings = undefined;
        this.settingsChanged();
        this.host.postNow();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.cachedSettings = undefined;
        this.host.postNow();
      }),
    );
  }

  /** The model line of the state (recomputed for every post; the host posts again when it changes). */
  protected abstract modelOf(): unknown;
  /** The panel's settings changed: a panel without a run shows their controls. */
  protected abstract settingsChanged(): void;
  abstract panelState(): ReturnType<PanelOwner<ToHost, ToView>['panelState']>;
  abstract panelMessage(m: Exclude<ToHost, { type: 'ready' }>): void | Promise<void>;
  protected abstract persist(): void;

  /** The model line as posted, remembered to tell when the pack list changes it. */
  protected postedModel<M>(model: M): M {
    this.modelKey = JSON.stringify(model);
    return model;
  }

  /** The stages every run shares: whether it is still shown, a notification folded in, the final post and persist. */
  protected stages<P>(fold: (run: Run, p: P) => Run): { current(id: number): boolean; onProgress(p: P): void; settle(): void } {
    return {
      current: (id) => this.run?.id === id,
      onProgress: (p) => {
        if (!this.run) return;
        this.run = fold(this.run, p);
        this.host.schedulePost();
      },
      settle: () => {
        this.host.postNow();
        this.persist();
      },
    };
  }

  /** Read once per change (panelState runs for every streamed update; an invalid value is logged once). */
  protected settings(): Settings {
    this.cachedSettings ??= this.readSettings((w) => this.log.warn(w));
    return this.cachedSettings;
  }

  protected async askForFile(): Promise<vscode.Uri | undefined> {
    const folder = this.source ? vscode.Uri.file(path.dirname(this.source)) : vscode.workspace.workspaceFolders?.[0]?.uri;
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: this.what.filters,
      openLabel: this.what.openLabel,
      title: this.what.title,
      ...(folder && { defaultUri: folder }),
    });
    return picked?.[0];
  }

  /** Takes `uri` as the file of the next run; false (with a message) when it cannot be. */
  protected useFile(uri: vscode.Uri): boolean {
    if (uri.scheme !== 'file') {
      void vscode.window.showWarningMessage(`Concert: ${uri.toString(true)} is not a file on this machine; ${this.what.model} reads files from disk.`);
      return false;
    }
    if (!this.what.accepts(uri.fsPath)) {
      void vscode.window.showWarningMessage(`Concert: ${path.basename(uri.fsPath)} is not ${this.what.kind}.`);
      return false;
    }
    this.source = uri.fsPath;
    return true;
  }

  /** Another file from the open dialog: the shown run goes, unless it is still running. */
  protected async pickFile(): Promise<void> {
    const uri = await this.askForFile();
    if (!uri || !this.useFile(uri)) return;
    if (this.run && this.run.status !== 'running') {
      this.run = undefined;
      this.runSource = undefined;
    }
    this.host.postNow();
    this.persist();
  }

  /**
   * Writes `files` next to the shown run's source (`where` source, when `nextToSource`) or into a folder chosen in a
   * dialog; the names written by sample index, or undefined when the user cancelled the dialog.
   */
  protected async writeSamples(
    where: 'source' | 'folder',
    nextToSource: boolean,
    files: readonly { index: number; name: string; base64: string }[],
    o: { folderTitle: string; what: string },
  ): Promise<Map<number, string[]> | undefined> {
    const folder =
      where === 'source' && nextToSource && this.runSource ? vscode.Uri.file(path.dirname(this.runSource)) : await pickFolder(this.runSource, o.folderTitle);
    if (!folder) return undefined;
    const names = await writeFree(folder, files);
    const saved = new Map<number, string[]>();
    for (const [i, f] of files.entries()) saved.set(f.index, [...(saved.get(f.index) ?? []), names[i]!]);
    this.log.info(`saved ${names.length} ${names.length === 1 ? o.what.replace(/s$/, '') : o.what} in ${folder.fsPath}: ${names.join(', ')}`);
    this.host.notice({ level: 'info', text: savedText(names, o.what, folder) });
    return saved;
  }

  panelReady(): void {
    if (!this.store.packs)
      void this.store.refreshPacks().then(
        () => this.host.postNow(),
        () => undefined,
      );
  }

  panelClosed(): void {
    this.slot.cancel();
    this.run = undefined;
    this.runSource = undefined;
  }

  dispose(): void {
    this.host.dispose(); // first: a panel closed from now on is the window closing, which keeps the data
    this.slot.cancel();
    for (const d of this.disposables) d.dispose();
  }
}
