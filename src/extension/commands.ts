/**
 * Command handlers. `Record<CommandName, …>` makes a command declared in commandTable.ts without a handler a
 * compile error; every handler runs inside `guard`, so a failure is a one-line notification, never a throw.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEVICE_CHOICES, Requests, type DeviceChoice, type SelfTestResult } from '../protocol/worker';
import { COMMANDS, SAMPLE_DOCUMENT, WALKTHROUGH_ID, type CommandName } from './commandTable';
import { errorMessage, isCancelled } from './errors';
import { doctorLines, doctorNeedsAttention, doctorSummary, packsSummary, providerLabel } from './present';
import { addUserModelFolders, readSetting, readWorkerSettings, writeSetting } from './settings';
import { settingDef } from './settingsTable';
import type { CollabController } from './collabController';
import type { ImagesController } from './imagesController';
import type { VideoController } from './videoController';
import type { KnowledgeView } from './knowledgeView';
import type { RewriteController } from './rewriteController';
import type { SummaryController } from './summaryController';
import { downloadModel } from './downloadModel';
import { addModel } from './addModel';
import type { WorkerStore } from './workerStore';

/** Timed forward passes per self-test: enough for a stable mean, short on a CPU. */
const SELF_TEST_STEPS = 20;

export interface CommandDeps {
  store: WorkerStore;
  log: vscode.LogOutputChannel;
  extensionRoot: string;
  /** Summaries and questions (context-aware decoding) and their panel. */
  summary: SummaryController;
  /** Diffusion rewriting and continuation with classifier guidance, and their panel. */
  rewrite: RewriteController;
  /** Collaboration of a core and a user model over the knowledge store, and its panel. */
  collab: CollabController;
  /** The knowledge store's tree view and its commands. */
  knowledge: KnowledgeView;
  /** JPEG-LM image completion and generation, and the Images panel. */
  images: ImagesController;
  /** AVC-LM video continuation and the Video panel. */
  video: VideoController;
  /** Where the Hugging Face token is kept (Download Model…). */
  secrets: vscode.SecretStorage;
}

type Handler = (...args: unknown[]) => unknown;

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const handlers = makeHandlers(deps);
  return (Object.keys(handlers) as CommandName[]).map((name) => vscode.commands.registerCommand(COMMANDS[name].id, guard(deps, name, handlers[name])));
}

function guard({ log }: CommandDeps, name: CommandName, fn: Handler): Handler {
  const { id, title } = COMMANDS[name];
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      if (isCancelled(e)) {
        void vscode.window.showInformationMessage(`Concert: ${title.replace(/…$/, '')} cancelled.`);
        return;
      }
      log.error(`${id} failed: ${errorMessage(e)}`);
      if ((await vscode.window.showErrorMessage(`Concert: ${errorMessage(e)}`, 'Show Log')) === 'Show Log') log.show(true);
    }
  };
}

/** A VS Code cancellation token as an AbortSignal (what WorkerClient.request takes). */
function abortOn(token: vscode.CancellationToken): AbortSignal {
  const ac = new AbortController();
  if (token.isCancellationRequested) ac.abort();
  else token.onCancellationRequested(() => ac.abort());
  return ac.signal;
}

function inWindowProgress<T>(title: string, task: () => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, task);
}

function makeHandlers(deps: CommandDeps): Record<CommandName, Handler> {
  const { store, log } = deps;
  const client = store.client;
  let progressCounter = 0;

  return {
    async doctor() {
      const report = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Concert: running doctor…', cancellable: true },
        (_p, token) => client.request0(Requests.doctor, abortOn(token)),
      );
      store.setPacks(report.packs);
      log.info('── Concert doctor ──');
      for (const line of doctorLines(report)) log.info(line);
      const show = doctorNeedsAttention(report) ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      if ((await show(doctorSummary(report), 'Show Log')) === 'Show Log') log.show(true);
    },

    async restartWorker() {
      await inWindowProgress('Concert: restarting worker', () => client.restart());
      if (store.packs) await store.refreshPacks();
    },

    showLog() {
      log.show();
    },

    async selectDevice() {
      const current = readSetting('concert.device');
      const available = client.provider?.available.map((a) => a.name);
      const descriptions = settingDef('concert.device').enumDescriptions ?? [];
      const items = DEVICE_CHOICES.map((device, i) => ({
        label: device === current ? `$(check) ${device}` : device,
        description:
          device !== 'auto' && available && !available.includes(device)
            ? 'not reported by ONNX Runtime here'
            : device === client.provider?.chosen
              ? 'in use'
              : '',
        ...(descriptions[i] !== undefined && { detail: descriptions[i] }),
        device,
      }));
      const pick = await vscode.window.showQuickPick(items, {
        title: 'Concert: Select Device',
        placeHolder: `Execution provider for the inference worker (now: ${String(current)})`,
      });
      if (pick && pick.device !== current) await writeSetting('concert.device', pick.device satisfies DeviceChoice);
    },

    async openModelFolder() {
      const { settings } = readWorkerSettings(deps.extensionRoot);
      const folders = [
        { label: 'Bundled models', detail: settings.bundledModelsDir },
        ...settings.modelFolders.map((f) => ({ label: path.basename(f) || f, detail: f })),
      ];
      const pick = folders.length === 1 ? folders[0] : await vscode.window.showQuickPick(folders, { title: 'Concert: Reveal Model Folder' });
      if (!pick) return;
      try {
        await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(pick.detail));
      } catch {
        // Web and remote windows (code-server, Codespaces) have no OS file manager: offer the path instead.
        const copy = await vscode.window.showInformationMessage(`Concert model folder: ${pick.detail}`, 'Copy Path');
        if (copy) await vscode.env.clipboard.writeText(pick.detail);
      }
    },

    async addModelFolder() {
      const picked = await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: true,
        openLabel: 'Add Model Folder',
        title: 'Concert: folders with model packs (a pack or a folder of packs)',
      });
      if (!picked?.length) return;
      const added = await addUserModelFolders(picked.map((u) => u.fsPath));
      const msg = added.length
        ? `Concert: added ${added.length} model folder${added.length === 1 ? '' : 's'} to your user settings.`
        : 'Concert: those folders are already in concert.modelFolders.';
      void vscode.window.showInformationMessage(msg);
    },

    async addModel() {
      await addModel(store, log);
    },

    async downloadModel() {
      await downloadModel(store, deps.secrets, log);
    },

    async selfTestPack(packId?: unknown) {
      let id = typeof packId === 'string' ? packId : undefined;
      if (!id) {
        const packs = await inWindowProgress('Concert: listing model packs', () => store.refreshPacks());
        const valid = packs.filter((p) => p.valid);
        if (!valid.length) {
          const a = await vscode.window.showWarningMessage(`Concert: no valid model pack to test (${packsSummary(packs)}).`, 'Add Model Folder', 'Show Log');
          if (a === 'Add Model Folder') await vscode.commands.executeCommand(COMMANDS.addModelFolder.id);
          if (a === 'Show Log') log.show(true);
          return;
        }
        const pick = await vscode.window.showQuickPick(
          valid.map((p) => ({ label: p.id, description: `${p.kind} · ${p.source}`, detail: p.dir, packId: p.id })),
          { title: 'Concert: Self-Test Model Pack', placeHolder: 'Loads the pack and runs each graph on synthetic inputs' },
        );
        if (!pick) return;
        id = pick.packId;
      }
      const packToTest = id;
      const progressToken = `selfTest-${++progressCounter}`;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Concert: self-test of ${packToTest}`, cancellable: true },
        async (progress, token): Promise<SelfTestResult> => {
          let donePct = 0;
          progress.report({ message: 'loading the model…' });
          const sub = client.onProgress.on((p) => {
            if (p.progressToken !== progressToken || p.total <= 0) return;
            const pct = (100 * p.step) / p.total;
            progress.report({ increment: pct - donePct, message: p.message ?? `step ${p.step} of ${p.total}` });
            donePct = pct;
          });
          try {
            return await client.request(Requests.selfTest, { packId: packToTest, steps: SELF_TEST_STEPS, progressToken }, abortOn(token));
          } finally {
            sub.dispose();
          }
        },
      );
      const line = `${result.packId} passed its self-test: ${result.stepsRun} steps, ${result.meanMsPerStep.toFixed(1)} ms/step on ${providerLabel(result.provider)} (graphs: ${result.graphs.join(', ')})`;
      log.info(line);
      void vscode.window.showInformationMessage(`Concert: ${line}.`);
    },

    async refreshModels() {
      const packs = await inWindowProgress('Concert: listing model packs', () => store.refreshPacks());
      vscode.window.setStatusBarMessage(`Concert: ${packsSummary(packs)}`, 5000);
    },

    getStarted: () => vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false),

    async openSample() {
      // An untitled copy: trying a rewrite on it can never touch the shipped file.
      const content = await vscode.workspace.fs.readFile(vscode.Uri.file(path.join(deps.extensionRoot, SAMPLE_DOCUMENT)));
      const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: new TextDecoder().decode(content) });
      await vscode.window.showTextDocument(doc, { preview: false });
    },

    summarizeDocument: () => deps.summary.summarizeDocument(),
    summarizeSelection: () => deps.summary.summarizeSelection(),
    askAboutDocument: () => deps.summary.askAboutDocument(),
    rewriteSelection: () => deps.rewrite.rewriteSelection(),
    continueAtCursor: () => deps.rewrite.continueAtCursor(),
    collaborate: () => deps.collab.collaborate(),
    setCoreToken: () => deps.collab.setCoreToken(),
    completeImage: (uri?: unknown) => deps.images.completeImage(uri),
    generateImage: () => deps.images.generateImage(),
    continueVideo: (uri?: unknown) => deps.video.continueVideo(uri),
    knowledgeAddFile: () => deps.knowledge.addActiveFile(),
    knowledgeAddSelection: () => deps.knowledge.addSelection(),
    knowledgeAddFolder: () => deps.knowledge.addFolder(),
    knowledgeAddNote: () => deps.knowledge.addNote(),
    knowledgeRename: (item?: unknown) => deps.knowledge.rename(item),
    knowledgeEnable: (item?: unknown) => deps.knowledge.setEnabled(item, true),
    knowledgeDisable: (item?: unknown) => deps.knowledge.setEnabled(item, false),
    knowledgeRemove: (item?: unknown) => deps.knowledge.remove(item),
  };
}
