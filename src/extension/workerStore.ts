/**
 * What the host knows about the worker and the model packs, in one place, so the status bar, the status view and
 * the context keys all show the same thing. Listing packs is the only thing here that starts the worker.
 */
import * as vscode from 'vscode';
import { Requests, type PackSummary, type WorkerStatus } from '../protocol/worker';
import type { StatusViewState } from '../protocol/webview';
import type { WorkerClient } from '../worker/client';
import { NO_PACKS_KEY } from './commandTable';
import { errorMessage } from './errors';

export class WorkerStore implements vscode.Disposable {
  private _packs: PackSummary[] | undefined;
  private status: WorkerStatus | undefined;
  private listing: Promise<PackSummary[]> | undefined;
  private lastError: string | undefined;
  private _started = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    readonly client: WorkerClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const fire = () => this.changed.fire();
    this.disposables.push(
      this.changed,
      client.onDidChangeState.on((s) => {
        if (s !== 'stopped') this._started = true;
        if (s === 'running') this.lastError = undefined;
        if (s !== 'running') this.status = undefined;
        fire();
      }),
      client.onDidStart.on(fire),
      client.onDidFail.on((msg) => {
        this.lastError = msg;
        fire();
      }),
      client.onStatus.on((s) => {
        this.status = s;
        fire();
      }),
    );
  }

  /** True once the worker has been started at least once in this window. */
  get started(): boolean {
    return this._started;
  }

  /** The last failure (worker gave up, or listing packs failed), cleared by the next success. */
  get error(): string | undefined {
    return this.lastError;
  }

  get packs(): readonly PackSummary[] | undefined {
    return this._packs;
  }

  setPacks(packs: PackSummary[]): void {
    this._packs = packs;
    void vscode.commands.executeCommand('setContext', NO_PACKS_KEY, !packs.some((p) => p.valid));
    this.changed.fire();
  }

  /** Asks the worker for its packs (starting it if needed); concurrent callers share one request. */
  refreshPacks(): Promise<PackSummary[]> {
    if (!this.listing) {
      this.listing = this.list().finally(() => {
        this.listing = undefined;
        this.changed.fire();
      });
      this.changed.fire();
    }
    return this.listing;
  }

  private async list(): Promise<PackSummary[]> {
    try {
      const packs = await this.client.request0(Requests.listPacks);
      this.lastError = undefined;
      this.setPacks(packs);
      return packs;
    } catch (e) {
      this.lastError = errorMessage(e);
      throw e;
    }
  }

  /** Sends changed settings to a running worker (restarting it if that fails); a stopped one reads them at start. */
  async applySettings(): Promise<void> {
    if (this.client.state !== 'running') return;
    try {
      const provider = await this.client.reconfigure();
      if (provider) this.log.info(`worker reconfigured: ${provider.chosen} (${provider.device})`);
    } catch (e) {
      this.log.warn(`reconfiguring the worker failed (${errorMessage(e)}); restarting it`);
      await this.client.restart().catch((err: unknown) => this.log.error(`restart failed: ${errorMessage(err)}`));
    }
    this.changed.fire();
    // Model folders may have changed: refresh a list the user has already seen.
    if (this._packs) await this.refreshPacks().catch((e: unknown) => this.log.warn(`listing model packs failed: ${errorMessage(e)}`));
  }

  snapshot(): StatusViewState {
    const p = this.client.provider;
    const running = this.client.state === 'running';
    return {
      workerState: this.client.state,
      ...(p && running && { provider: { chosen: p.chosen, device: p.device, requested: p.requested, fallbackReasons: [...p.fallbackReasons] } }),
      ...(this._packs && {
        packs: this._packs.map((k) => ({
          id: k.id,
          kind: k.kind,
          source: k.source,
          valid: k.valid,
          dir: k.dir,
          ...(k.error && { error: k.error }),
          ...(k.sizeBytes !== undefined && { sizeBytes: k.sizeBytes }),
          ...(k.displayName && { displayName: k.displayName }),
        })),
      }),
      ...(this.listing && { busy: true }),
      ...(running && this.client.pid !== undefined && { pid: this.client.pid }),
      ...(this.status && { loadedSessions: [...this.status.loadedSessions], rssBytes: this.status.rssBytes }),
      ...(this.lastError && { error: this.lastError }),
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
