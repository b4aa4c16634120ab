/**
 * Concert: Add Model… — one model folder, picked in a folder dialog: a Concert pack (concert.json) or a folder as
 * Hugging Face publishes an ONNX decoder (onnx-community/… for transformers.js). The worker checks it in full
 * (models/validate: manifest or derived manifest, hashes, containment, graphs loaded, tokenizer) before the folder
 * is added to the user-level `concert.modelFolders` (which discovers a folder that is itself a model). Nothing is
 * ever written into the folder. The message names the model (id, kind, weight variant) or the reason it was refused.
 */
import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Requests, type PackSummary } from '../protocol/worker';
import { addVerdict, describePack } from './addModelVerdict';
import { addUserModelFolders } from './settings';
import type { WorkerStore } from './workerStore';

/** Returns the added pack, or undefined when the user backed out or the folder was refused (with a message). */
export async function addModel(store: WorkerStore, log: vscode.LogOutputChannel): Promise<PackSummary | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Add Model',
    title: 'Concert: Add Model (a Concert pack, or a Hugging Face ONNX folder as published)',
  });
  const uri = picked?.[0];
  if (!uri) return undefined;
  const dir = uri.fsPath;
  const real = await realpath(dir).catch(() => dir);
  const found = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Concert: checking ${path.basename(dir) || dir}`, cancellable: true },
    (_p, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      return store.client.request(Requests.validatePacks, { dirs: [dir] }, ac.signal);
    },
  );
  const verdict = addVerdict(dir, real, found);
  if (!verdict.ok) {
    log.warn(`Add Model: ${dir}: ${verdict.reason}`);
    if ((await vscode.window.showErrorMessage(`Concert: ${verdict.reason}`, 'Show Log')) === 'Show Log') log.show(true);
    return undefined;
  }
  const added = await addUserModelFolders([dir]);
  // The worker reads the new folder list, then the pack list (status view, Summary panel's picker) follows.
  await store.applySettings();
  const packs = await store.refreshPacks();
  const listed = packs.find((p) => p.id === verdict.pack.id && p.valid);
  const what = describePack(verdict.pack);
  log.info(`Add Model: ${what} from ${dir} (${added.length ? 'added to' : 'already in'} concert.modelFolders; nothing was written into the folder)`);
  const where = verdict.pack.kind === 'causal-lm' ? ' Pick it in the Summary panel, or set concert.cad.modelPack.' : '';
  const note = listed ? where : ` It is not listed yet: another model may have the id "${verdict.pack.id}" (see Run Doctor).`;
  void vscode.window.showInformationMessage(`Concert: ${added.length ? 'added' : 'already added'} ${what} from ${dir} to your user settings.${note}`);
  return verdict.pack;
}
