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
 * What it shares with the Video panel is in codecController.ts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HostToImagesView, ImageControls, ImagesMode, ImagesRunView, ImagesViewState, ImagesViewToHost } from '../protocol/webview';
import { IMAGE_DEFAULTS, Requests } from '../protocol/worker';
import { CodecController } from './codecController';
import { defaultSampling } from './codecPanel';
import { IMAGE_EXTENSIONS, isImageFile, isImagesViewToHost, sampleFileName } from './imagesMessages';
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
import { readImageSettings } from './settings';
import type { ImageSettings } from './settingsTable';
import type { WorkerStore } from './workerStore';

export { IMAGES_VIEW_TYPE };
const PANEL_TITLE = 'Concert: Images';
/** workspaceState key of the (single) images panel's data. */
const STATE_KEY = 'concert.imagesPanel.v1';
/** Streamed previews are forwarded to the page at most this often (each post carries every sample's JPEG). */
const POST_INTERVAL_MS = 100;

const DECODING = defaultSampling(IMAGE_DEFAULTS.decoding);

export class ImagesController extends CodecController<ImagesViewToHost, HostToImagesView, ImageSettings, ImagesRunView> {
  private mode: ImagesMode = 'complete';
  private controls: ImageControls;

  constructor(context: vscode.ExtensionContext, store: WorkerStore, log: vscode.LogOutputChannel) {
    super(
      context,
      store,
      log,
      {
        viewType: IMAGES_VIEW_TYPE,
        title: PANEL_TITLE,
        name: 'images',
        script: 'images.js',
        style: 'images.css',
        sharedStyles: ['base.css', 'panel.css'],
        stateKey: STATE_KEY,
        postIntervalMs: POST_INTERVAL_MS,
        isMessage: isImagesViewToHost,
        blobImages: true,
      },
      {
        section: 'concert.image',
        filters: { Images: [...IMAGE_EXTENSIONS] },
        openLabel: 'Complete Image',
        title: 'Concert: the image to complete (PNG or JPEG)',
        model: 'the image model',
        accepts: isImageFile,
        kind: 'a PNG or JPEG file',
      },
      readImageSettings,
    );
    this.controls = this.defaultControls();
    const saved = restorePersisted(this.host.saved());
    if (saved) {
      this.mode = saved.mode;
      this.controls = saved.controls;
      this.source = saved.source;
      this.run = saved.run;
      this.runSource = saved.runSource;
      this.slot.resume(saved.run?.id ?? 0);
    }
  }

  protected modelOf(): Pick<ImagesViewState, 'model' | 'noModel'> {
    return codecModel(this.store.packs, this.settings().packId);
  }

  protected settingsChanged(): void {
    if (!this.run) this.controls = this.defaultControls();
  }

  private defaultControls(): ImageControls {
    const s = this.settings();
    return { ratio: s.ratio, samples: s.samples, ...DECODING };
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Completes `arg` (the explorer's file), or an image chosen in an open dialog (the palette). */
  async completeImage(arg?: unknown): Promise<void> {
    const uri = arg instanceof vscode.Uri ? arg : await this.askForFile();
    if (!uri) return;
    if (!this.useFile(uri)) return;
    await this.start('complete', this.controls);
  }

  /** Samples whole images with the panel's controls. */
  async generateImage(): Promise<void> {
    await this.start('generate', this.controls);
  }

  /** Takes `uri` as the image of the next completion; false (with a message) when it cannot be. */
  protected override useFile(uri: vscode.Uri): boolean {
    if (!super.useFile(uri)) return false;
    this.mode = 'complete';
    return true;
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Runs with `controls` and shows it in the panel. Never throws: failures are shown in the panel. */
  private async start(mode: ImagesMode, controls: ImageControls): Promise<void> {
    this.mode = mode;
    this.controls = controls;
    if (mode === 'complete' && !this.source) {
      const uri = await this.askForFile();
      if (!uri || !this.useFile(uri)) {
        this.host.postNow();
        return;
      }
    }
    const id = this.slot.next();
    const source = mode === 'complete' ? this.source : undefined;
    const name = source ? path.basename(source) : undefined;
    this.run = startedRun(id, mode, controls, name);
    this.runSource = source;
    this.host.show();
    this.host.postNow();
    this.persist();

    const settings = this.settings();
    await this.slot.run(id, {
      title: mode === 'complete' ? `Concert: completing ${name}` : 'Concert: generating images',
      tokenPrefix: 'image',
      progress: this.store.client.onImageProgress,
      request: (progressToken, signal) =>
        this.store.client.request(
          Requests.imageRun,
          imageRunParams(mode, controls, {
            progressToken,
            ...(source !== undefined && { file: source }),
            ...(settings.packId !== undefined && { packId: settings.packId }),
          }),
          signal,
        ),
      ...this.stages(withProgress),
      onResult: (result) => {
        if (!this.run) return;
        this.run = finishedRun(this.run, result);
        this.log.info(
          `image ${mode}${name ? ` of ${name}` : ''}: ${result.decodable} of ${result.samples.length} samples decodable with ${result.model.id}, seed ${result.run.seed}, ${result.run.timings.totalMs} ms`,
        );
        if (result.decodable < result.samples.length)
          this.host.notice({
            level: 'warning',
            text: `${result.samples.length - result.decodable} of ${result.samples.length} samples do not decode (marked in the gallery).`,
          });
      },
      onStopped: (status, message) => {
        if (!this.run) return;
        this.run = stoppedRun(this.run, status, message);
        if (status === 'error') this.log.error(`image ${mode} failed: ${message}`);
      },
    });
  }

  /** Writes samples as .jpg files next to the completed image, or into a folder chosen in a dialog. */
  private async save(where: 'source' | 'folder', index?: number): Promise<void> {
    const run = this.run;
    if (!run || run.status !== 'done') return this.host.notice({ level: 'warning', text: 'There are no finished samples to save yet.' });
    const samples = run.samples.filter((s) => s.jpeg !== undefined && (index === undefined || s.index === index));
    if (!samples.length) return this.host.notice({ level: 'warning', text: 'That sample has no image to save.' });
    const saved = await this.writeSamples(
      where,
      run.mode === 'complete',
      samples.map((s) => ({ index: s.index, name: sampleFileName(run.mode, s.index, this.runSource), base64: s.jpeg! })),
      { folderTitle: 'Concert: the folder for the images', what: 'images' },
    );
    // The run may have been replaced while the files were written: mark only the run they came from.
    if (!saved || this.run?.id !== run.id) return;
    this.run = markSaved(this.run, new Map([...saved].map(([i, names]) => [i, names[0]!])));
    this.host.postNow();
    this.persist();
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  async panelMessage(m: Exclude<ImagesViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'run':
        return await this.start(m.mode, m.controls);
      case 'cancel':
        return this.slot.cancel();
      case 'save':
        return await this.save(m.where, m.index);
      case 'pickImage':
        return await this.pickFile();
      case 'openSettings':
        return void (await vscode.commands.executeCommand('workbench.action.openSettings', 'concert.image'));
    }
  }

  panelState(): ImagesViewState {
    return {
      mode: this.mode,
      ...(this.source && { sourceName: path.basename(this.source) }),
      controls: this.controls,
      ...(this.run && { run: this.run }),
      ...this.postedModel(this.modelOf()),
    };
  }

  protected persist(): void {
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
}
