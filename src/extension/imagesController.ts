/**
 * JPEG-LM image completion and generation (issue 14): the "Concert: Complete Image…" and "Concert: Generate Image"
 * commands, the worker run behind them (`image/run`, its `progress/image` previews, Cancel) and the one
 * "Concert: Images" webview panel — the canonicalised original and the kept region, a gallery of samples that fill in
 * row by row while the bytes stream, the ratio slider and the sampling knobs, Save (next to the image, or into a
 * chosen folder; never over an existing file).
 *
 * The worker reads the image file itself; the panel only ever sees JPEG bytes (base64 in the state, shown through
 * blob: URLs the page makes). State: the host owns the data (mode, image, controls, the last run) and keeps it in
 * workspaceState; the page keeps only UI state and asks for the data again (`ready`) when it is re-created.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HostToImagesView, ImageControls, ImagesMode, ImagesRunView, ImagesViewState, ImagesViewToHost } from '../protocol/webview';
import { IMAGE_DEFAULTS, Requests } from '../protocol/worker';
import { errorMessage, isCancelled } from './errors';
import { IMAGE_EXTENSIONS, isImageFile, isImagesViewToHost, saveNames } from './imagesMessages';
import {
  IMAGES_VIEW_TYPE,
  codecModel,
  finishedRun,
  imageRunParams,
  markSaved,
  persistableRun,
  restorePersisted,
  startedRun,
  stoppedRun,
  withProgress,
  type PersistedImages,
} from './imagesState';
import { PanelHost, type PanelOwner } from './panelHost';
import { readImageSettings } from './settings';
import type { ImageSettings } from './settingsTable';
import type { WorkerStore } from './workerStore';

export { IMAGES_VIEW_TYPE };
const PANEL_TITLE = 'Concert: Images';
/** workspaceState key of the (single) images panel's data. */
const STATE_KEY = 'concert.imagesPanel.v1';
/** Streamed previews are forwarded to the page at most this often (each post carries every sample's JPEG). */
const POST_INTERVAL_MS = 100;

interface Active {
  id: number;
  ac: AbortController;
}

const DECODING = IMAGE_DEFAULTS.decoding.mode === 'sample' ? IMAGE_DEFAULTS.decoding : { temperature: 1, topP: 1, topK: 50 };

export class ImagesController implements vscode.Disposable, PanelOwner<ImagesViewToHost, HostToImagesView> {
  private readonly host: PanelHost<ImagesViewToHost, HostToImagesView>;
  private mode: ImagesMode = 'complete';
  /** The image the next completion reads (absolute path). */
  private source: string | undefined;
  private controls: ImageControls;
  private run: ImagesRunView | undefined;
  /** The image the shown run completed (Save writes next to it). */
  private runSource: string | undefined;
  private active: Active | undefined;
  private seq = 0;
  private modelKey = '';
  private cachedSettings: ImageSettings | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    context: vscode.ExtensionContext,
    private readonly store: WorkerStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.host = new PanelHost(
      context,
      log,
      {
        viewType: IMAGES_VIEW_TYPE,
        title: PANEL_TITLE,
        name: 'images',
        script: 'images.js',
        style: 'images.css',
        stateKey: STATE_KEY,
        postIntervalMs: POST_INTERVAL_MS,
        isMessage: isImagesViewToHost,
        blobImages: true,
      },
      this,
    );
    this.controls = this.defaultControls();
    const saved = restorePersisted(this.host.saved());
    if (saved) {
      this.mode = saved.mode;
      this.controls = saved.controls;
      this.source = saved.source;
      this.run = saved.run;
      this.runSource = saved.runSource;
      this.seq = saved.run?.id ?? 0;
    }
    this.disposables.push(
      // The model line follows the pack list (Add Model Folder…, Refresh); other store changes do not touch the panel.
      store.onDidChange(() => {
        const key = JSON.stringify(codecModel(store.packs, this.settings().packId));
        if (key !== this.modelKey) this.host.schedulePost();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('concert.image')) return;
        this.cachedSettings = undefined;
        if (!this.run) this.controls = this.defaultControls();
        this.host.postNow();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.cachedSettings = undefined;
        this.host.postNow();
      }),
    );
  }

  /** Read once per change (panelState runs for every streamed preview; an invalid value is logged once). */
  private settings(): ImageSettings {
    this.cachedSettings ??= readImageSettings((w) => this.log.warn(w));
    return this.cachedSettings;
  }

  private defaultControls(): ImageControls {
    const s = this.settings();
    return { ratio: s.ratio, samples: s.samples, temperature: DECODING.temperature, topP: DECODING.topP, topK: DECODING.topK ?? 0 };
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Completes `arg` (the explorer's file), or an image chosen in an open dialog (the palette). */
  async completeImage(arg?: unknown): Promise<void> {
    const uri = arg instanceof vscode.Uri ? arg : await this.askForImage();
    if (!uri) return;
    if (!this.useImage(uri)) return;
    await this.start('complete', this.controls);
  }

  /** Samples whole images with the panel's controls. */
  async generateImage(): Promise<void> {
    await this.start('generate', this.controls);
  }

  private async askForImage(): Promise<vscode.Uri | undefined> {
    const folder = this.source ? vscode.Uri.file(path.dirname(this.source)) : vscode.workspace.workspaceFolders?.[0]?.uri;
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { Images: [...IMAGE_EXTENSIONS] },
      openLabel: 'Complete Image',
      title: 'Concert: the image to complete (PNG or JPEG)',
      ...(folder && { defaultUri: folder }),
    });
    return picked?.[0];
  }

  /** Takes `uri` as the image of the next completion; false (with a message) when it cannot be. */
  private useImage(uri: vscode.Uri): boolean {
    if (uri.scheme !== 'file') {
      void vscode.window.showWarningMessage(`Concert: ${uri.toString(true)} is not a file on this machine; the image model reads files from disk.`);
      return false;
    }
    if (!isImageFile(uri.fsPath)) {
      void vscode.window.showWarningMessage(`Concert: ${path.basename(uri.fsPath)} is not a PNG or JPEG file.`);
      return false;
    }
    this.source = uri.fsPath;
    this.mode = 'complete';
    return true;
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  private cancelActive(): void {
    this.active?.ac.abort();
    this.active = undefined;
  }

  /** Runs with `controls` and shows it in the panel. Never throws: failures are shown in the panel. */
  private async start(mode: ImagesMode, controls: ImageControls): Promise<void> {
    this.mode = mode;
    this.controls = controls;
    if (mode === 'complete' && !this.source) {
      const uri = await this.askForImage();
      if (!uri || !this.useImage(uri)) {
        this.host.postNow();
        return;
      }
    }
    this.cancelActive();
    const id = ++this.seq;
    const ac = new AbortController();
    this.active = { id, ac };
    const source = mode === 'complete' ? this.source : undefined;
    const name = source ? path.basename(source) : undefined;
    this.run = startedRun(id, mode, controls, name);
    this.runSource = source;
    this.host.show();
    this.host.postNow();
    this.persist();

    const settings = this.settings();
    const progressToken = `image-${id}-${randomUUID()}`;
    const params = imageRunParams(mode, controls, {
      progressToken,
      ...(source !== undefined && { file: source }),
      ...(settings.packId !== undefined && { packId: settings.packId }),
    });
    const current = () => this.run?.id === id;
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: mode === 'complete' ? `Concert: completing ${name}` : 'Concert: generating images' },
        async () => {
          const sub = this.store.client.onImageProgress.on((p) => {
            if (p.progressToken !== progressToken || !current() || !this.run) return;
            this.run = withProgress(this.run, p);
            this.host.schedulePost();
          });
          try {
            return await this.store.client.request(Requests.imageRun, params, ac.signal);
          } finally {
            sub.dispose();
          }
        },
      );
      if (!current() || !this.run) return;
      this.run = finishedRun(this.run, result);
      this.log.info(
        `image ${mode}${name ? ` of ${name}` : ''}: ${result.decodable} of ${result.samples.length} samples decodable with ${result.model.id}, seed ${result.run.seed}, ${result.run.timings.totalMs} ms`,
      );
      if (result.decodable < result.samples.length)
        this.host.notice({
          level: 'warning',
          text: `${result.samples.length - result.decodable} of ${result.samples.length} samples do not decode (marked in the gallery).`,
        });
    } catch (e) {
      if (!current() || !this.run) return;
      if (isCancelled(e)) this.run = stoppedRun(this.run, 'cancelled', 'Cancelled.');
      else {
        const msg = errorMessage(e);
        this.run = stoppedRun(this.run, 'error', msg);
        this.log.error(`image ${mode} failed: ${msg}`);
      }
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (current()) {
        this.host.postNow();
        this.persist();
      }
    }
  }

  private async pickImage(): Promise<void> {
    const uri = await this.askForImage();
    if (!uri || !this.useImage(uri)) return;
    // The shown run is of another image: it goes, unless it is still running.
    if (this.run && this.run.status !== 'running') {
      this.run = undefined;
      this.runSource = undefined;
    }
    this.host.postNow();
    this.persist();
  }

  /** Writes samples as .jpg files next to the completed image, or into a folder chosen in a dialog. */
  private async save(where: 'source' | 'folder', index?: number): Promise<void> {
    const run = this.run;
    if (!run || run.status !== 'done') return this.host.notice({ level: 'warning', text: 'There are no finished samples to save yet.' });
    const samples = run.samples.filter((s) => s.jpeg !== undefined && (index === undefined || s.index === index));
    if (!samples.length) return this.host.notice({ level: 'warning', text: 'That sample has no image to save.' });
    let folder: vscode.Uri | undefined;
    if (where === 'source' && run.mode === 'complete' && this.runSource) folder = vscode.Uri.file(path.dirname(this.runSource));
    else {
      const near = this.runSource ? vscode.Uri.file(path.dirname(this.runSource)) : vscode.workspace.workspaceFolders?.[0]?.uri;
      const picked = await vscode.window.showOpenDialog({
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        openLabel: 'Save Here',
        title: 'Concert: the folder for the images',
        ...(near && { defaultUri: near }),
      });
      folder = picked?.[0];
      if (!folder) return;
    }
    const existing = await vscode.workspace.fs.readDirectory(folder).then(
      (entries) => entries.map(([n]) => n),
      () => [] as string[],
    );
    const names = saveNames(
      run.mode,
      samples.map((s) => s.index),
      this.runSource,
      existing,
    );
    const saved = new Map<number, string>();
    for (const [i, s] of samples.entries()) {
      const file = vscode.Uri.joinPath(folder, names[i]!);
      await vscode.workspace.fs.writeFile(file, Buffer.from(s.jpeg!, 'base64'));
      saved.set(s.index, names[i]!);
    }
    // The run may have been replaced while the files were written: mark only the run they came from.
    if (this.run?.id === run.id) {
      this.run = markSaved(this.run, saved);
      this.host.postNow();
      this.persist();
    }
    const list = [...saved.values()];
    this.log.info(`saved ${list.length} image${list.length === 1 ? '' : 's'} in ${folder.fsPath}: ${list.join(', ')}`);
    this.host.notice({
      level: 'info',
      text: `Saved ${list.length === 1 ? list[0] : `${list.length} images (${list[0]} … ${list.at(-1)})`} in ${path.basename(folder.fsPath) || folder.fsPath}.`,
    });
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  panelReady(): void {
    if (!this.store.packs)
      void this.store.refreshPacks().then(
        () => this.host.postNow(),
        () => undefined,
      );
  }

  async panelMessage(m: Exclude<ImagesViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'run':
        return await this.start(m.mode, m.controls);
      case 'cancel':
        return this.cancelActive();
      case 'save':
        return await this.save(m.where, m.index);
      case 'pickImage':
        return await this.pickImage();
      case 'openSettings':
        return void (await vscode.commands.executeCommand('workbench.action.openSettings', 'concert.image'));
    }
  }

  panelClosed(): void {
    this.cancelActive();
    this.run = undefined;
    this.runSource = undefined;
  }

  panelState(): ImagesViewState {
    const model = codecModel(this.store.packs, this.settings().packId);
    this.modelKey = JSON.stringify(model);
    return {
      mode: this.mode,
      ...(this.source && { sourceName: path.basename(this.source) }),
      controls: this.controls,
      ...(this.run && { run: this.run }),
      ...model,
    };
  }

  private persist(): void {
    const data: PersistedImages = {
      version: 1,
      mode: this.mode,
      controls: this.controls,
      ...(this.source && { source: this.source }),
      ...(this.run && { run: persistableRun(this.run) }),
      ...(this.run && this.runSource && { runSource: this.runSource }),
    };
    this.host.persist(data);
  }

  dispose(): void {
    this.host.dispose(); // first: a panel closed from now on is the window closing, which keeps the data
    this.cancelActive();
    for (const d of this.disposables) d.dispose();
  }
}
