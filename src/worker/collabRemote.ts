/**
 * The seam between `collab/run` and the remote core client (src/runtime/oip/client.ts): connects, checks that the
 * remote model can collaborate with the local user model, and turns the client's wire records into the privacy
 * ledger of the result. Failures — at connection and at any later step (the server refused, reset, timed out or
 * restarted after the client's bounded retries) — become one-line bad-input errors that say the local core can run
 * instead; a cancel stays a cancel. None reaches the worker as an internal error.
 */
import type { DiffusionLM } from '../engine/models';
import { WorkerErrorCode, type CollabLedger } from '../protocol/worker';
import { RemoteCoreError, connectRemoteCore, type RemoteCore as OipRemoteCore } from '../runtime/oip/client';
import type { ConnectRemoteCore } from './collabJob';
import { WorkerFailure } from './service';

/** A RemoteCoreError as the worker answers it (a cancel stays a cancel); anything else unchanged. */
export function remoteFailure(e: unknown): unknown {
  if (!(e instanceof RemoteCoreError)) return e;
  return e.kind === 'cancelled'
    ? new WorkerFailure(WorkerErrorCode.Cancelled, 'collaboration cancelled')
    : new WorkerFailure(WorkerErrorCode.BadInput, `remote core: ${e.message}`);
}

/** The core as the engine sees it, with every step's RemoteCoreError turned into the worker's typed error. */
export function typedErrors(core: OipRemoteCore): DiffusionLM {
  const rethrow = (e: unknown): never => {
    throw remoteFailure(e);
  };
  return {
    vocabSize: core.vocabSize,
    blockSize: core.blockSize,
    k: core.k,
    tTrain: core.tTrain,
    selfConditioning: core.selfConditioning,
    maxContext: core.maxContext,
    encodeContext: (rows, signal) => core.encodeContext(rows, signal).catch(rethrow),
    denoise: (context, noisy, selfCond, tFrac, signal, recipe) => core.denoise(context, noisy, selfCond, tFrac, signal, recipe).catch(rethrow),
  };
}

export const connectCollabCore: ConnectRemoteCore = async (params, expect, signal) => {
  let core;
  try {
    core = await connectRemoteCore({
      url: params.url,
      signal,
      ...(params.token !== undefined && { token: params.token }),
      ...(params.mode !== undefined && { mode: params.mode }),
      ...(params.topK !== undefined && { topK: params.topK }),
    });
  } catch (e) {
    throw remoteFailure(e);
  }
  const info = core.info;
  if (info.vocabSize !== expect.vocabSize || info.blockSize !== expect.blockSize || info.k !== expect.k) {
    core.close();
    throw new WorkerFailure(
      WorkerErrorCode.BadInput,
      `the remote core at ${core.url} (${info.pack}: vocabulary ${info.vocabSize}, block ${info.blockSize}, K ${info.k}) cannot collaborate with the user model (vocabulary ${expect.vocabSize}, block ${expect.blockSize}, K ${expect.k})`,
    );
  }
  return {
    lm: typedErrors(core),
    model: { packId: info.pack },
    ledger(): CollabLedger {
      const t = core.totals();
      const sent = core.ledger
        .filter((r) => r.kind === 'infer' && r.sent)
        .map((r, i) => ({
          step: r.sent!.noise?.step ?? i,
          block: r.sent!.noise?.block ?? -1,
          ...(r.sent!.blockIds && { tokenIds: r.sent!.blockIds }),
          note: `${r.sent!.mode}: context ids of ${r.sent!.contextIds.length} row(s), ${r.bytesSent} bytes sent, ${r.bytesReceived} received${r.sent!.withheld ? `; withheld: ${r.sent!.withheld}` : ''}`,
        }));
      return {
        coreLocation: core.url,
        requests: t.requests,
        bytesSent: t.bytesSent,
        bytesReceived: t.bytesReceived,
        sent,
        summary: `core at ${core.url} (${core.mode}): ${t.requests} requests, ${t.bytesSent} bytes sent, ${t.bytesReceived} received; the knowledge never left this machine`,
      };
    },
    close: async () => core.close(),
  };
};
