/**
 * AVC-LM video continuation (issue 15, thesis ch. 6): the "Concert: Continue Video…" command (explorer menu on clips,
 * palette) and the one "Concert: Video" webview panel — the prompt frames, per sample its generated frames as they
 * decode and a player over prompt + continuation, the verdicts, the sampling knobs, Cancel, Save (`<stem>-continue-<i>
 * .h264`, and `.mp4` when the worker could wrap them with ffmpeg; next to the clip or into a chosen folder, never over
 * a file) and the run record.
 *
 * The worker reads the clip itself (and runs ffmpeg when the clip needs it: `concert.ffmpegPath`, ignored in untrusted
 * workspaces); the panel only sees PNG frames. Nothing is written until the user saves. The host owns the data and
 * keeps it in workspaceState (capped); the page keeps UI state only. Shared with the Images panel: codecController.ts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HostToVideoView, VideoControls, VideoRunView, VideoViewState, VideoViewToHost } from '../protocol/webview';
import { Requests, VIDEO_DEFAULTS } from '../protocol/worker';
import { CodecController } from './codecController';
import { defaultSampling } from './codecPanel';
import { readVideoSettings } from './settings';
import type { VideoSettings } from './settingsTable';
import { VIDEO_EXTENSIONS, isVideoFile, isVideoViewToHost, sampleFileName } from './videoMessages';
import * as state from './videoState';
import type { WorkerStore } from './workerStore';

export const VIDEO_VIEW_TYPE = state.VIDEO_VIEW_TYPE;
const DECODING = defaultSampling(VIDEO_DEFAULTS.decoding);

export class VideoController extends CodecController<VideoViewToHost, HostToVideoView, VideoSettings, VideoRunView> {
  private controls: VideoControls;
  /** The shown run's clips (what Save writes), by sample. */
  private clips: state.VideoClip[] = [];

  constructor(context: vscode.ExtensionContext, store: WorkerStore, log: vscode.LogOutputChannel) {
    super(
      context,
      store,
      log,
      {
        viewType: state.VIDEO_VIEW_TYPE,
        title: 'Concert: Video',
        name: 'video',
        script: 'video.js',
        style: 'video.css',
        sharedStyles: ['base.css', 'panel.css'],
        // workspaceState key of the (single) video panel's data; streamed frames go to the page at most every 100 ms.
        stateKey: 'concert.videoPanel.v1',
        postIntervalMs: 100,
        isMessage: isVideoViewToHost,
        blobImages: true,
      },
      {
        section: 'concert.video',
        filters: { Videos: [...VIDEO_EXTENSIONS] },
        openLabel: 'Continue Video',
        title: 'Concert: the clip to continue (.h264, .mp4, .mkv, .webm, .mov, .avi)',
        model: 'the video model',
        accepts: isVideoFile,
        kind: 'a video clip (.h264, .264, .mp4, .mkv, .webm, .mov or .avi)',
      },
      readVideoSettings,
    );
    this.controls = this.defaultControls();
    const saved = state.restorePersisted(this.host.saved());
    if (saved) {
      this.controls = saved.controls;
      this.source = saved.source;
      this.run = saved.run;
      this.runSource = saved.runSource;
      this.clips = saved.clips ?? [];
      this.slot.resume(saved.run?.id ?? 0);
    }
    // concert.ffmpegPath is outside the concert.video section: a change to it is read on the next run.
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('concert.ffmpegPath')) this.settingsChanged();
      }),
    );
  }

  protected modelOf(): Pick<VideoViewState, 'model' | 'noModel'> {
    return state.videoModel(this.store.packs, this.settings().packId, this.run?.video?.fps);
  }

  protected settingsChanged(): void {
    if (!this.run) this.controls = this.defaultControls();
  }

  private defaultControls(): VideoControls {
    const s = this.settings();
    return { promptFrames: s.promptFrames, frames: s.frames, samples: s.samples, ...DECODING };
  }

  /** The settings of a run, read fresh (concert.ffmpegPath is not in the cached section). */
  private runSettings(): VideoSettings {
    return readVideoSettings((w) => this.log.warn(w));
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Continues `arg` (the explorer's file), or a clip chosen in an open dialog (the palette). */
  async continueVideo(arg?: unknown): Promise<void> {
    const uri = arg instanceof vscode.Uri ? arg : await this.askForFile();
    if (!uri || !this.useFile(uri)) return;
    await this.start(this.controls);
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Runs with `controls` and shows it in the panel. Never throws: failures are shown in the panel. */
  private async start(controls: VideoControls): Promise<void> {
    this.controls = controls;
    if (!this.source) {
      const uri = await this.askForFile();
      if (!uri || !this.useFile(uri)) {
        this.host.postNow();
        return;
      }
    }
    const source = this.source!;
    const name = path.basename(source);
    const id = this.slot.next();
    this.run = state.startedRun(id, controls, name);
    this.runSource = source;
    this.clips = [];
    this.host.show();
    this.host.postNow();
    this.persist();

    const settings = this.runSettings();
    await this.slot.run(id, {
      title: `Concert: continuing ${name}`,
      tokenPrefix: 'video',
      progress: this.store.client.onVideoProgress,
      request: (progressToken, signal) =>
        this.store.client.request(
          Requests.videoRun,
          state.videoRunParams(controls, {
            file: source,
            progressToken,
            ...(settings.packId !== undefined && { packId: settings.packId }),
            ...(settings.ffmpegPath !== undefined && { ffmpegPath: settings.ffmpegPath }),
          }),
          signal,
        ),
      ...this.stages(state.withProgress),
      onResult: (result) => {
        if (!this.run) return;
        this.run = state.finishedRun(this.run, result);
        this.clips = state.resultClips(result);
        this.log.info(
          `video continuation of ${name}: ${result.decodable} of ${result.samples.length} samples decodable with ${result.model.id}, seed ${result.run.seed}, ${result.run.timings.totalMs} ms`,
        );
        if (result.mp4Skipped) this.log.info(`video: no .mp4 files: ${result.mp4Skipped}`);
        if (result.decodable < result.samples.length)
          this.host.notice({
            level: 'warning',
            text: `${result.samples.length - result.decodable} of ${result.samples.length} samples do not decode (marked in their rows).`,
          });
      },
      onStopped: (status, message, error) => {
        if (!this.run) return;
        const f = status === 'error' ? state.failure(error, message, settings.packId) : { message };
        this.run = state.stoppedRun(this.run, status, f.message, f.fix);
        if (status === 'error') this.log.error(`video continuation of ${name} failed: ${message}`);
      },
    });
  }

  /** Writes samples as .h264 (and .mp4) files next to the clip, or into a folder chosen in a dialog. */
  private async save(where: 'source' | 'folder', index?: number): Promise<void> {
    const run = this.run;
    if (!run || run.status !== 'done') return this.host.notice({ level: 'warning', text: 'There are no finished samples to save yet.' });
    const clips = this.clips.filter((c) => index === undefined || c.index === index);
    if (!clips.length)
      return this.host.notice({ level: 'warning', text: 'There is no clip to save: run again to save (large runs are not kept across a reload).' });
    const files = clips.flatMap((c) => [
      { index: c.index, name: sampleFileName(c.index, this.runSource, 'h264'), base64: c.h264 },
      ...(c.mp4 !== undefined ? [{ index: c.index, name: sampleFileName(c.index, this.runSource, 'mp4'), base64: c.mp4 }] : []),
    ]);
    const saved = await this.writeSamples(where, true, files, { folderTitle: 'Concert: the folder for the clips', what: 'files' });
    // The run may have been replaced while the files were written: mark only the run they came from.
    if (!saved || this.run?.id !== run.id) return;
    this.run = state.markSaved(this.run, saved);
    this.host.postNow();
    this.persist();
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  async panelMessage(m: Exclude<VideoViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'run':
        return await this.start(m.controls);
      case 'cancel':
        return this.slot.cancel();
      case 'save':
        return await this.save(m.where, m.index);
      case 'pickClip':
        return await this.pickFile();
      case 'openSettings':
        return void (await vscode.commands.executeCommand('workbench.action.openSettings', m.setting ?? 'concert.video'));
    }
  }

  override panelClosed(): void {
    super.panelClosed();
    this.clips = [];
  }

  panelState(): VideoViewState {
    return {
      ...(this.source && { sourceName: path.basename(this.source) }),
      controls: this.controls,
      ...(this.run && { run: this.run }),
      ...this.postedModel(this.modelOf()),
    };
  }

  protected persist(): void {
    const kept = this.run && state.persistable(this.run, this.clips);
    const data: state.PersistedVideo = {
      version: 1,
      controls: this.controls,
      ...(this.source && { source: this.source }),
      ...(kept && { run: kept.run, clips: kept.clips }),
      ...(this.run && this.runSource && { runSource: this.runSource }),
    };
    this.host.persist(data);
  }
}
