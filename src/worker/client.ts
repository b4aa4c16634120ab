/**
 * Starts and supervises the inference worker for the extension host and the CLI (no `vscode` import here).
 * - fork with ELECTRON_RUN_AS_NODE=1 (so it also works from VS Code's Electron binary), parent pid passed;
 * - JSON-RPC over IPC with typed requests from src/protocol/worker, AbortSignal → `$/cancelRequest`;
 * - on a crash every pending request is rejected at once with WorkerCrashed, then the worker is restarted with
 *   backoff; after 5 crashes in 3 minutes it stays down and `onDidFail` fires;
 * - a heartbeat: `worker/ping` (answered from the worker's event loop) every few seconds; a worker that answers none
 *   for `hungAfterMs` (stopped, or stuck in a synchronous loop) is killed with SIGKILL, its pending requests are
 *   rejected with WorkerCrashed saying it stopped responding, and it is restarted like a crashed one;
 * - bytes on the IPC channel that are not a message (Node parses the channel itself and would throw them at this
 *   process as an uncaught exception) are a protocol violation: the worker is killed, its pending requests are
 *   rejected with WorkerCrashed saying so, and it is restarted like a crashed one;
 * - `stop()` asks for shutdown, waits, then kills; `kill()` kills at once (exit paths of the CLI).
 */
import { fork, type ChildProcess } from 'node:child_process';
import {
  CancellationTokenSource,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  createMessageConnection,
  type CancellationToken,
  type MessageConnection,
  type NotificationType,
  type RequestType,
  type RequestType0,
} from 'vscode-jsonrpc/node';
import {
  Notifications,
  Requests,
  WorkerErrorCode,
  type ProviderReport,
  type DiffusionStepProgress,
  type ImageProgress,
  type VideoProgress,
  type DownloadProgress,
  type StepProgress,
  type TokenProgress,
  type WorkerSettings,
  type WorkerStatus,
} from '../protocol/worker';
import { guardIpcChannel } from '../protocol/ipcChannel';
import { guardedReader } from '../protocol/rpcGuard';
import { RestartPolicy } from './restartPolicy';

export type WorkerState = 'stopped' | 'starting' | 'running' | 'restarting' | 'failed';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface WorkerClientOptions {
  /** Absolute path of dist/worker.js. */
  workerModule: string;
  settings: () => WorkerSettings;
  log: Logger;
  /** Lines the worker writes to stderr (its log). */
  onStderr?: (text: string) => void;
  restartPolicy?: RestartPolicy;
  /** Executable used to run the worker; defaults to this process's (Electron-as-Node inside VS Code). */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Liveness check (default: a ping every 5 s, hung after 20 s without an answer); false turns it off. */
  heartbeat?: { intervalMs?: number; hungAfterMs?: number } | false;
}

export const HEARTBEAT_DEFAULTS = { intervalMs: 5000, hungAfterMs: 20_000 } as const;

/** A typed error with a one-line, user-facing message. */
export class WorkerError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

interface Pending {
  method: string;
  reject: (e: Error) => void;
}
type Listener<T> = (v: T) => void;

class Emitter<T> {
  private listeners = new Set<Listener<T>>();
  on(l: Listener<T>): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }
  fire(v: T): void {
    for (const l of [...this.listeners]) l(v);
  }
}

export class WorkerClient {
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private starting: Promise<MessageConnection> | undefined;
  private readonly pending = new Set<Pending>();
  private readonly policy: RestartPolicy;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private _state: WorkerState = 'stopped';
  private _provider: ProviderReport | undefined;
  private failure: string | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** The child this client killed for a fault: found hung by the heartbeat (silent that long), or sending garbage. */
  private fault: { child: ChildProcess; kind: 'hung'; silentMs: number } | { child: ChildProcess; kind: 'garbage'; detail: string } | undefined;

  readonly onDidChangeState = new Emitter<WorkerState>();
  readonly onDidFail = new Emitter<string>();
  readonly onProgress = new Emitter<StepProgress>();
  readonly onTokens = new Emitter<TokenProgress>();
  readonly onDiffusionStep = new Emitter<DiffusionStepProgress>();
  readonly onImageProgress = new Emitter<ImageProgress>();
  readonly onVideoProgress = new Emitter<VideoProgress>();
  readonly onDownloadProgress = new Emitter<DownloadProgress>();
  readonly onStatus = new Emitter<WorkerStatus>();
  readonly onDidStart = new Emitter<number>();

  constructor(private readonly options: WorkerClientOptions) {
    this.policy = options.restartPolicy ?? new RestartPolicy();
  }

  get state(): WorkerState {
    return this._state;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get provider(): ProviderReport | undefined {
    return this._provider;
  }

  private setState(s: WorkerState): void {
    if (s === this._state) return;
    this._state = s;
    this.onDidChangeState.fire(s);
  }

  /** Starts the worker if it is not running. Rejects if it gave up after repeated crashes. */
  start(): Promise<MessageConnection> {
    if (this.connection && this._state === 'running') return Promise.resolve(this.connection);
    if (this._state === 'failed')
      return Promise.reject(new WorkerError(WorkerErrorCode.WorkerUnavailable, this.failure ?? 'the Concert worker is not running'));
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private spawn(): Promise<MessageConnection> {
    this.stopping = false;
    if (this._state !== 'restarting') this.setState('starting');
    const child = fork(this.options.workerModule, ['--client-pid', String(process.pid)], {
      execPath: this.options.execPath ?? process.execPath,
      execArgv: [],
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1', ELECTRON_NO_ASAR: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const forward = (d: Buffer) => this.options.onStderr?.(d.toString('utf8'));
    child.stderr?.on('data', forward);
    child.stdout?.on('data', forward);
    guardIpcChannel(child, (e) => {
      if (this.child !== child || this.fault?.child === child) return;
      this.options.log.error(`worker ${child.pid} wrote bytes that are not a message on its IPC channel (${firstLine(e.message)}); killing it`);
      this.fault = { child, kind: 'garbage', detail: firstLine(e.message) };
      child.kill('SIGKILL');
    });
    // Messages that would crash vscode-jsonrpc outside any handler (a $/cancelRequest without an id) are dropped.
    const reader = guardedReader(new IPCMessageReader(child), (why) => this.options.log.error(`worker ${child.pid}: dropped a malformed message (${why})`));
    const connection = createMessageConnection(reader, new IPCMessageWriter(child));
    connection.onNotification(Notifications.stepProgress, (p) => this.onProgress.fire(p));
    connection.onNotification(Notifications.tokenProgress, (p) => this.onTokens.fire(p));
    connection.onNotification(Notifications.diffusionProgress, (p) => this.onDiffusionStep.fire(p));
    connection.onNotification(Notifications.imageProgress, (p) => this.onImageProgress.fire(p));
    connection.onNotification(Notifications.videoProgress, (p) => this.onVideoProgress.fire(p));
    connection.onNotification(Notifications.downloadProgress, (p) => this.onDownloadProgress.fire(p));
    connection.onNotification(Notifications.status, (s) => this.onStatus.fire(s));
    connection.onError(([e]) => this.options.log.warn(`worker connection error: ${e.message}`));
    connection.listen();
    this.connection = connection;
    this.startHeartbeat(child, connection);

    return new Promise<MessageConnection>((resolve, reject) => {
      let settled = false;
      child.once('error', (e) => {
        if (!settled) {
          settled = true;
          reject(new WorkerError(WorkerErrorCode.WorkerUnavailable, `could not start the Concert worker: ${e.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        this.onExit(child, connection, code, signal);
        if (!settled) {
          settled = true;
          reject(
            new WorkerError(WorkerErrorCode.WorkerCrashed, `the Concert worker exited during start-up (${describeExit(code, signal)}); see the Concert log`),
          );
        }
      });
      this.track(connection.sendRequest(Requests.configure, { settings: this.options.settings() }), 'worker/configure').then(
        (r) => {
          if (settled) return;
          settled = true;
          this._provider = r.provider;
          const found = r.provider.available.map((p) => p.name).join(', ') || 'none';
          this.options.log.info(
            `worker ${child.pid} running on ${r.provider.chosen} (${r.provider.device}); execution providers found: ${found}${r.provider.fallbackReasons.length ? `; fell back: ${r.provider.fallbackReasons.join('; ')}` : ''}`,
          );
          this.setState('running');
          this.onDidStart.fire(child.pid ?? 0);
          resolve(connection);
        },
        (e: Error) => {
          if (settled) return;
          settled = true;
          reject(e);
          // A worker that cannot configure itself is useless; stop it (not counted as a crash).
          this.stopping = true;
          child.kill('SIGKILL');
        },
      );
    });
  }

  private onExit(child: ChildProcess, connection: MessageConnection, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.connection = undefined;
    this.stopHeartbeat();
    const fault = this.fault?.child === child ? this.fault : undefined;
    this.fault = undefined;
    const hung = fault?.kind === 'hung' ? fault : undefined;
    const garbage = fault?.kind === 'garbage' ? fault : undefined;
    const expected = this.stopping && !fault;
    const reason = hung
      ? `it stopped responding for ${(hung.silentMs / 1000).toFixed(1)} s and was killed`
      : garbage
        ? `it wrote bytes that are not a message on its IPC channel and was killed`
        : describeExit(code, signal);
    for (const p of [...this.pending]) {
      p.reject(
        new WorkerError(
          WorkerErrorCode.WorkerCrashed,
          expected
            ? `the Concert worker was stopped while handling "${p.method}"`
            : hung
              ? `the Concert worker stopped responding while handling "${p.method}" (no answer for ${(hung.silentMs / 1000).toFixed(1)} s), so it was killed; it is being restarted, try again`
              : garbage
                ? `the Concert worker broke the protocol while handling "${p.method}" (it wrote bytes that are not a message), so it was killed; it is being restarted, try again`
                : `the Concert worker stopped unexpectedly (${reason}) while handling "${p.method}"; it is being restarted, try again`,
        ),
      );
    }
    this.pending.clear();
    connection.dispose();
    if (expected) {
      this.setState('stopped');
      return;
    }
    const decision = this.policy.recordCrash();
    this.options.log.error(
      `worker ${child.pid} exited unexpectedly (${reason}); crash ${decision.crashesInWindow} in the last ${Math.round(this.policy.windowMs / 60000)} minutes`,
    );
    if (!decision.restart) {
      this.failure = `The Concert worker crashed ${decision.crashesInWindow} times in the last ${Math.round(this.policy.windowMs / 60000)} minutes and will not be restarted. Check the Concert log, then run "Concert: Restart Worker".`;
      this.setState('failed');
      this.onDidFail.fire(this.failure);
      return;
    }
    this.setState('restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start().catch((e: Error) => this.options.log.warn(`restart failed: ${e.message}`));
    }, decision.delayMs);
  }

  /**
   * Pings the worker every intervalMs; a worker that has answered nothing for hungAfterMs is killed (SIGKILL works on
   * a stopped process too) and handled like a crash. Replies are all that counts: the ping is answered from the
   * worker's event loop, which long jobs keep free (ONNX Runtime runs off it, tokenising yields between slices).
   */
  private startHeartbeat(child: ChildProcess, connection: MessageConnection): void {
    this.stopHeartbeat();
    if (this.options.heartbeat === false) return;
    const intervalMs = this.options.heartbeat?.intervalMs ?? HEARTBEAT_DEFAULTS.intervalMs;
    const hungAfterMs = this.options.heartbeat?.hungAfterMs ?? HEARTBEAT_DEFAULTS.hungAfterMs;
    let lastAnswer = Date.now();
    let waiting = false;
    const timer = setInterval(() => {
      if (this.child !== child) {
        clearInterval(timer);
        return;
      }
      const silentMs = Date.now() - lastAnswer;
      if (silentMs >= hungAfterMs) {
        clearInterval(timer);
        this.options.log.error(`worker ${child.pid} answered no heartbeat for ${silentMs} ms; killing it`);
        this.fault = { child, kind: 'hung', silentMs };
        child.kill('SIGKILL');
        return;
      }
      if (waiting) return;
      waiting = true;
      connection.sendRequest(Requests.ping).then(
        () => {
          lastAnswer = Date.now();
          waiting = false;
        },
        () => (waiting = false),
      );
    }, intervalMs);
    timer.unref();
    this.heartbeatTimer = timer;
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Kills the worker at once (SIGKILL), without restarting it: for exit paths that cannot wait. Synchronous. */
  kill(): void {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    child.kill('SIGKILL');
  }

  /** Rejects `p`'s caller at once if the worker dies, instead of waiting for the transport to notice. */
  private track<R>(p: Promise<R>, method: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { method, reject };
      this.pending.add(entry);
      p.then(
        (v) => {
          if (this.pending.delete(entry)) resolve(v);
        },
        (e: unknown) => {
          if (this.pending.delete(entry)) reject(toWorkerError(e));
        },
      );
    });
  }

  /** Sends a request with parameters; aborting `signal` sends `$/cancelRequest`. */
  request<P, R>(type: RequestType<P, R, void>, params: P, signal?: AbortSignal): Promise<R> {
    return this.send(type.method, signal, (c, token) => c.sendRequest(type, params as never, token));
  }

  /** Sends a request without parameters. */
  request0<R>(type: RequestType0<R, void>, signal?: AbortSignal): Promise<R> {
    return this.send(type.method, signal, (c, token) => c.sendRequest(type, token));
  }

  private async send<R>(method: string, signal: AbortSignal | undefined, go: (c: MessageConnection, token: CancellationToken) => Promise<R>): Promise<R> {
    if (signal?.aborted) throw new WorkerError(WorkerErrorCode.Cancelled, 'cancelled');
    const connection = await this.start();
    // The user may have cancelled while the worker was starting.
    if (signal?.aborted) throw new WorkerError(WorkerErrorCode.Cancelled, 'cancelled');
    const cts = new CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.track(go(connection, cts.token), method);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }

  sendNotification<P>(type: NotificationType<P>, params: P): void {
    void this.connection?.sendNotification(type, params as never);
  }

  /** Re-sends the settings (e.g. after the user changed them). */
  async reconfigure(): Promise<ProviderReport | undefined> {
    if (this._state !== 'running') return undefined;
    const r = await this.request(Requests.configure, { settings: this.options.settings() });
    this._provider = r.provider;
    return r.provider;
  }

  /** Stops the worker and starts a fresh one; also clears a "failed" state. */
  async restart(): Promise<void> {
    await this.stop();
    this.policy.reset();
    this.failure = undefined;
    this._state = 'stopped';
    await this.start();
  }

  /** Graceful shutdown with a deadline, then SIGKILL. */
  async stop(timeoutMs = 2000): Promise<void> {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    const child = this.child;
    const connection = this.connection;
    if (!child) {
      if (this._state !== 'failed') this.setState('stopped');
      return;
    }
    this.stopping = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (child.exitCode !== null || child.signalCode !== null) return;
    const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    try {
      if (connection) {
        await Promise.race([connection.sendRequest(Requests.shutdown).catch(() => undefined), deadline]);
        void connection.sendNotification(Notifications.exit).catch(() => undefined);
      }
    } catch {
      /* the worker may already be gone */
    }
    if ((await Promise.race([exited.then(() => 'exited' as const), deadline])) === 'timeout') {
      this.options.log.warn(`worker ${child.pid} did not exit within ${timeoutMs} ms; killing it`);
      child.kill('SIGKILL');
      await exited;
    }
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

function toWorkerError(e: unknown): Error {
  if (e instanceof WorkerError) return e;
  if (e instanceof ResponseError) return new WorkerError(e.code, e.message, e.data);
  const err = e as Error;
  return new WorkerError(WorkerErrorCode.Internal, err?.message ?? String(e));
}
