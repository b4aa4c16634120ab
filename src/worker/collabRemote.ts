/**
 * The seam between `collab/run` and the remote core client (src/runtime/oip/client.ts): connects, checks that the
 * remote model can collaborate with the local user model, and turns the client's wire records into the privacy
 * ledger of the result. Failures become one-line bad-input errors that say the local core can run instead.
 */
import { WorkerErrorCode, type CollabLedger } from '../protocol/worker';
import { RemoteCoreError, connectRemoteCore } from '../runtime/oip/client';
import type { ConnectRemoteCore } from './collabJob';
import { WorkerFailure } from './service';

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
    if (e instanceof RemoteCoreError)
      throw new WorkerFailure(e.kind === 'cancelled' ? WorkerErrorCode.Cancelled : WorkerErrorCode.BadInput, `remote core: ${e.message}`);
    throw e;
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
    lm: core,
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
