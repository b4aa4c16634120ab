/**
 * Entry point of the inference worker process (dist/worker.js). Started by the extension host or the CLI with
 * `fork`, it speaks JSON-RPC over Node IPC. Inference runs here so that a native crash or an out-of-memory in
 * ONNX Runtime cannot take the editor down.
 */
import { IPCMessageReader, IPCMessageWriter, ResponseError, createMessageConnection, type CancellationToken } from 'vscode-jsonrpc/node';
import { Notifications, Requests, WorkerErrorCode } from '../protocol/worker';
import { WorkerFailure, WorkerService, type JobControl } from './service';
import { parseWorkerArgs } from './args';
import { runCad } from './cadJob';
import { runDiffusion } from './diffusionJob';
import { runCollab, type CollabDeps } from './collabJob';
import { connectCollabCore } from './collabRemote';
import { runPull } from './pullJob';
import { runImage } from './imageJob';
import { runVideo } from './videoJob';
import { CoreServer } from './serve';
import { guardedReader } from '../protocol/rpcGuard';
import { guardIpcChannel } from '../protocol/ipcChannel';

const args = parseWorkerArgs(process.argv.slice(2));
if (!process.send) {
  console.error('concert worker: start me with an IPC channel (child_process.fork); use `concert serve` for other transports.');
  process.exit(2);
}

// Bytes on the IPC channel that are not a message would be an uncaught SyntaxError here (Node parses the channel
// itself): they are logged and dropped, nothing is answered for them, and the worker stays up. Messages that arrived
// in the same read after them are lost with them (Node's parser stops there); the client's own requests never do this.
guardIpcChannel(process, (e) => {
  const line = e.message.split('\n')[0] ?? '';
  console.error(`concert worker: dropped bytes on the IPC channel that are not a message (${line.length > 160 ? `${line.slice(0, 157)}…` : line})`);
});
// Messages that would crash vscode-jsonrpc outside any handler (a $/cancelRequest without an id) are dropped.
const connection = createMessageConnection(
  guardedReader(new IPCMessageReader(process), (why) => console.error(`concert worker: dropped a malformed message (${why})`)),
  new IPCMessageWriter(process),
);
/** collab/run reaches a remote core through the Open Inference Protocol client (src/runtime/oip). */
const collabDeps: CollabDeps = { connectRemoteCore: connectCollabCore };
const service = new WorkerService((s) => void connection.sendNotification(Notifications.status, s));

/** Minimum gap between progress notifications; CONCERT_PROGRESS_INTERVAL_MS=0 reports every step (tests, benches). */
const progressIntervalMs = Number(process.env.CONCERT_PROGRESS_INTERVAL_MS ?? 50) || 0;

/** Progress is throttled so that fast loops do not flood the channel; the first and last step always go out. */
function jobControl(token: CancellationToken, progressToken: string | undefined): JobControl {
  let last = 0;
  return {
    isCancelled: () => token.isCancellationRequested,
    progress(step, total, message) {
      if (!progressToken) return;
      const now = Date.now();
      if (step !== 1 && step !== total && now - last < progressIntervalMs) return;
      last = now;
      void connection.sendNotification(Notifications.stepProgress, { progressToken, step, total, ...(message !== undefined && { message }) });
    },
  };
}

function toResponseError(e: unknown): ResponseError<void> {
  // Error data (e.g. steps run before a cancel) travels untyped; the protocol's error type is void.
  if (e instanceof WorkerFailure) return new ResponseError(e.code, e.message, e.data as void);
  const err = e as Error & { pack?: string };
  if (err?.constructor?.name === 'PackError') return new ResponseError(WorkerErrorCode.PackInvalid, err.message);
  console.error(err?.stack ?? String(e));
  return new ResponseError(WorkerErrorCode.Internal, err?.message ?? String(e));
}

const handle =
  <P, R>(fn: (p: P, token: CancellationToken) => Promise<R>) =>
  async (p: P, token: CancellationToken): Promise<R | ResponseError<void>> => {
    try {
      return await fn(p, token);
    } catch (e) {
      return toResponseError(e);
    }
  };

/** handle() for requests that carry params: anything but an object is refused before a handler reads a field of it. */
const handleParams = <P, R>(fn: (p: P, token: CancellationToken) => Promise<R>) =>
  handle<P, R>((p, token) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw new WorkerFailure(WorkerErrorCode.BadInput, 'the request needs its parameters as an object');
    return fn(p, token);
  });

connection.onRequest(
  Requests.configure,
  handleParams((p) => service.configure(p.settings)),
);
connection.onRequest(Requests.doctor, (token) => handle(() => service.doctor())(undefined, token));
connection.onRequest(Requests.listPacks, (token) => handle(() => service.listPacks())(undefined, token));
connection.onRequest(
  Requests.validatePacks,
  handleParams((p) => service.validatePacks(p.dirs)),
);
connection.onRequest(
  Requests.tokenize,
  handleParams((p) => service.tokenize(p)),
);
connection.onRequest(
  Requests.selfTest,
  handleParams((p, token) => service.selfTest(p, jobControl(token, p.progressToken))),
);
connection.onRequest(
  Requests.cadRun,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p.progressToken;
    return runCad(service, p, {
      signal: ac.signal,
      ...(progressToken && { onToken: (t) => void connection.sendNotification(Notifications.tokenProgress, { progressToken, ...t }) }),
    });
  }),
);
connection.onRequest(
  Requests.diffusionRun,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p.progressToken;
    return runDiffusion(service, p, {
      signal: ac.signal,
      ...(progressToken && { onStep: (s) => void connection.sendNotification(Notifications.diffusionProgress, { progressToken, ...s }) }),
    });
  }),
);
connection.onRequest(
  Requests.collabRun,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p?.progressToken;
    return runCollab(
      service,
      p,
      {
        signal: ac.signal,
        ...(progressToken && { onStep: (s) => void connection.sendNotification(Notifications.diffusionProgress, { progressToken, ...s }) }),
      },
      collabDeps,
    );
  }),
);
connection.onRequest(
  Requests.imageRun,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p?.progressToken;
    return runImage(service, p, {
      signal: ac.signal,
      progressIntervalMs,
      ...(progressToken && { onProgress: (s) => void connection.sendNotification(Notifications.imageProgress, { progressToken, ...s }) }),
    });
  }),
);
connection.onRequest(
  Requests.videoRun,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p?.progressToken;
    return runVideo(service, p, {
      signal: ac.signal,
      progressIntervalMs,
      ...(progressToken && { onProgress: (s) => void connection.sendNotification(Notifications.videoProgress, { progressToken, ...s }) }),
    });
  }),
);
connection.onRequest(
  Requests.pullModel,
  handleParams((p, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const progressToken = p?.progressToken;
    return runPull(service, p, {
      signal: ac.signal,
      progressIntervalMs: progressIntervalMs,
      ...(progressToken && { onProgress: (d) => void connection.sendNotification(Notifications.downloadProgress, { progressToken, ...d }) }),
    });
  }),
);
// `concert serve`: one OIP v2 server per worker.
let coreServer: CoreServer | undefined;
connection.onRequest(
  Requests.serverStart,
  handle(async (p) => {
    if (coreServer) throw new WorkerFailure(WorkerErrorCode.BadInput, `a core server is already running at ${coreServer.url}`);
    coreServer = await CoreServer.start(service, p ?? {});
    return coreServer.describe();
  }),
);
connection.onRequest(Requests.serverStop, async () => {
  const s = coreServer;
  coreServer = undefined;
  if (s) await s.close();
  return { stopped: !!s };
});
connection.onRequest(Requests.ping, () => ({ pid: process.pid, uptimeMs: Math.round(process.uptime() * 1000) }));
connection.onRequest(Requests.shutdown, async () => {
  await service.dispose();
});
connection.onNotification(Notifications.exit, () => process.exit(0));
connection.onClose(() => process.exit(0));
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group: the CLI (the parent) turns it into a cancel, and kills this
// process if it does not answer. Dying here on SIGINT would be reported as a crash instead of "cancelled".
process.on('SIGINT', () => {});
connection.listen();

// If the parent dies without a goodbye (killed, crashed), do not linger holding memory and threads. This also holds
// after SIGSTOP/SIGCONT: the overdue timer runs at once on SIGCONT, and a new parent pid (re-parented to init or a
// subreaper) counts as the parent gone even if its pid was reused.
if (args.clientPid) {
  const parentAtStart = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parentAtStart) process.exit(0);
    try {
      process.kill(args.clientPid!, 0);
    } catch {
      process.exit(0);
    }
  }, 3000);
  timer.unref();
}
