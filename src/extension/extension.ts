/**
 * Activation wires the pieces together and starts nothing heavy: the worker process is spawned by the first request
 * (a command, or the status view asking for the pack list), and models load inside it on first use.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CONCERT_VERSION } from '../protocol/version';
import { WorkerClient } from '../worker/client';
import { COMMANDS } from './commandTable';
import { describeBuild, readBuildInfo } from './buildInfo';
import { CollabController } from './collabController';
import { registerCommands } from './commands';
import { ImagesController } from './imagesController';
import { KnowledgeStore } from './knowledgeStore';
import { KnowledgeView } from './knowledgeView';
import { LineBuffer } from './present';
import { RewriteController } from './rewriteController';
import { RESTRICTED_SETTINGS, affectsWorker, readWorkerSettings } from './settings';
import { StatusBar } from './statusBar';
import { STATUS_VIEW_ID, StatusViewProvider } from './statusView';
import { SummaryController } from './summaryController';
import { VideoController } from './videoController';
import { WorkerStore } from './workerStore';

/** A tree view that never has items: it exists to show the "no model packs" welcome content. */
const WELCOME_VIEW_ID = 'concert.welcome';

let client: WorkerClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Concert', { log: true });
  const extensionRoot = context.extensionUri.fsPath;
  const stderr = new LineBuffer();
  // VS Code disposes subscriptions (the channel too) without awaiting deactivate(); the client may still log
  // while it shuts the worker down, and a throw there must not stop it from killing the process.
  const quiet = (write: (m: string) => void) => (m: string) => {
    try {
      write(m);
    } catch {
      /* channel closed during shutdown */
    }
  };
  const workerLog = { info: quiet((m) => log.info(m)), warn: quiet((m) => log.warn(m)), error: quiet((m) => log.error(m)) };
  log.info(describeBuild(readBuildInfo(extensionRoot), CONCERT_VERSION, `${process.platform}-${process.arch}`));

  const settings = () => {
    const { settings: s, warnings } = readWorkerSettings(extensionRoot);
    for (const w of warnings) log.warn(w);
    // Models downloaded with Download Model… (models/pull) live in the extension's global storage.
    return { ...s, downloadsDir: path.join(context.globalStorageUri.fsPath, 'models') };
  };
  client = new WorkerClient({
    workerModule: context.asAbsolutePath('dist/worker.js'),
    settings,
    log: workerLog,
    onStderr: (text) => {
      for (const line of stderr.push(text)) workerLog.info(`[worker] ${line}`);
    },
  });
  const worker = client;
  const store = new WorkerStore(worker, log);
  const statusView = new StatusViewProvider(context.extension, store, log);
  const summary = new SummaryController(context, store, log);
  const rewrite = new RewriteController(context, store, log);
  const knowledgeStore = new KnowledgeStore(context, log);
  const knowledge = new KnowledgeView(knowledgeStore);
  const collab = new CollabController(context, store, knowledgeStore, log, context.secrets);
  const images = new ImagesController(context, store, log);
  const video = new VideoController(context, store, log);

  context.subscriptions.push(
    log,
    store,
    statusView,
    new StatusBar(store),
    vscode.window.registerWebviewViewProvider(STATUS_VIEW_ID, statusView),
    // Each panel's host registers its WebviewPanelSerializer, which restores the panel after a window reload
    // (activation events onWebviewPanel:concert.summary, concert.rewrite, concert.collab, concert.images and concert.video).
    summary,
    rewrite,
    collab,
    images,
    video,
    knowledge,
    knowledgeStore,
    vscode.window.registerTreeDataProvider(WELCOME_VIEW_ID, { getChildren: () => [], getTreeItem: (e: vscode.TreeItem) => e }),
    ...registerCommands({ store, log, extensionRoot, summary, rewrite, collab, knowledge, images, video, secrets: context.secrets }),
    worker.onDidFail.on(async (msg) => {
      const a = await vscode.window.showErrorMessage(msg, 'Restart Worker', 'Show Log');
      if (a === 'Restart Worker') await vscode.commands.executeCommand(COMMANDS.restartWorker.id);
      if (a === 'Show Log') log.show(true);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (affectsWorker(e)) void store.applySettings();
    }),
    // Restricted settings (model folders) start to count once the user trusts the workspace.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void store.applySettings()),
  );
  log.info(`Concert ${CONCERT_VERSION} activated; the worker starts on first use.`);
  // Restricted Mode: say once why workspace settings that name folders, packs or servers have no effect.
  if (!vscode.workspace.isTrusted)
    log.warn(
      `This workspace is not trusted (Restricted Mode): Concert ignores its settings ${RESTRICTED_SETTINGS.join(', ')}, loads no model from inside it and uses no remote core until you trust it.`,
    );
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
