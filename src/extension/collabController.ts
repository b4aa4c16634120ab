/**
 * Collaboration of a core and a user model over the knowledge store (issue 13): the "Concert: Collaborate…" command,
 * the worker run behind it (`collab/run`, progress with Cancel) and the one "Concert: Collaborate" webview panel —
 * instruction box, λ_user and α sliders, local or remote core, outputs side by side (collaboration, core alone, user
 * alone on request) with the tokens the user model changed highlighted, Copy / Insert at Cursor, the passages the
 * user model read and the privacy ledger of what was sent to the core.
 *
 * The knowledge goes only to the user model, in the local worker. A remote core (`concert.collab.coreUrl`, a user or
 * machine setting; its token in SecretStorage) is used only in trusted workspaces.
 *
 * State: the host owns the data (the controls and the last run) and keeps it in workspaceState; the page keeps
 * only UI state (open sections, an unsent draft) and asks for the data again (`ready`) when it is re-created.
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { CollabControls, CollabRunView, CollabVariant, CollabViewState, CollabViewToHost, HostToCollabView } from '../protocol/webview';
import { Requests, type CollabRunParams } from '../protocol/worker';
import { COMMANDS } from './commandTable';
import { refuseInstruction, isCollabViewToHost } from './collabMessages';
import { COLLAB_VIEW_TYPE, coreLabel, finishedRun, restorePersisted, startedRun, stepProgress, type PersistedCollab } from './collabState';
import { errorMessage, isCancelled } from './errors';
import type { KnowledgeStore } from './knowledgeStore';
import { KNOWLEDGE_VIEW_ID } from './knowledgeItems';
import { PanelHost, type PanelOwner } from './panelHost';
import { readCollabSettings } from './settings';
import type { CollabSettings } from './settingsTable';
import { SourceWatcher, documentName } from './sourceDocument';
import type { WorkerStore } from './workerStore';

export { COLLAB_VIEW_TYPE };
const PANEL_TITLE = 'Concert: Collaborate';
/** workspaceState key of the (single) collaborate panel's data. */
const STATE_KEY = 'concert.collabPanel.v1';
/** SecretStorage key of the remote core's token. */
export const CORE_TOKEN_KEY = 'concert.collab.coreToken';
/** Streamed steps are forwarded to the page at most this often. */
const POST_INTERVAL_MS = 80;

interface Active {
  id: number;
  ac: AbortController;
}

export class CollabController implements vscode.Disposable, PanelOwner<CollabViewToHost, HostToCollabView> {
  private readonly host: PanelHost<CollabViewToHost, HostToCollabView>;
  private controls: CollabControls;
  private run: CollabRunView | undefined;
  private active: Active | undefined;
  private seq = 0;
  private hasToken = false;
  private readonly editors: SourceWatcher;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    context: vscode.ExtensionContext,
    private readonly store: WorkerStore,
    private readonly knowledge: KnowledgeStore,
    private readonly log: vscode.LogOutputChannel,
    private readonly secrets: vscode.SecretStorage,
  ) {
    this.host = new PanelHost(
      context,
      log,
      {
        viewType: COLLAB_VIEW_TYPE,
        title: PANEL_TITLE,
        name: 'collab',
        script: 'collab.js',
        sharedStyles: ['base.css'],
        style: 'collab.css',
        stateKey: STATE_KEY,
        postIntervalMs: POST_INTERVAL_MS,
        isMessage: isCollabViewToHost,
      },
      this,
    );
    this.controls = this.defaultControls('');
    const saved = restorePersisted(this.host.saved());
    if (saved) {
      this.controls = saved.controls;
      this.run = saved.run;
      this.seq = saved.run?.id ?? 0;
    }
    // Only the last active text editor matters here (Insert at Cursor); the panel has no source document.
    this.editors = new SourceWatcher({ uri: () => undefined, differs: () => false, onDidChange: () => undefined });
    void this.refreshToken();
    this.disposables.push(
      this.editors,
      knowledge.onDidChange(() => this.host.postNow()),
      secrets.onDidChange((e) => {
        if (e.key === CORE_TOKEN_KEY) void this.refreshToken();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('concert.collab')) this.host.postNow();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.host.postNow()),
      vscode.window.onDidChangeActiveTextEditor(() => this.host.schedulePost()),
    );
  }

  private settings(): CollabSettings {
    return readCollabSettings((w) => this.log.warn(w));
  }

  private defaultControls(instruction: string): CollabControls {
    const s = this.settings();
    return { instruction, lambdaUser: s.lambdaUser, alpha: s.alpha, core: 'local', compare: s.compare, userOnly: false };
  }

  private async refreshToken(): Promise<void> {
    const had = this.hasToken;
    this.hasToken = Boolean(await this.secrets.get(CORE_TOKEN_KEY).then(undefined, () => undefined));
    if (had !== this.hasToken) this.host.postNow();
  }

  /** The remote core's URL, or why it cannot be used now. */
  private remote(): { url?: string; available: boolean; reason?: string } {
    const url = this.settings().coreUrl;
    if (!vscode.workspace.isTrusted)
      return { ...(url && { url }), available: false, reason: 'This workspace is not trusted: the remote core is off until you trust it.' };
    if (!url) return { available: false, reason: 'No remote core is set: set concert.collab.coreUrl (user settings).' };
    return { url, available: true };
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Opens the panel with keyboard focus; a selection in the active editor becomes the instruction. */
  collaborate(): void {
    const editor = this.editors.editor();
    const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection).trim() : '';
    if (selected && !refuseInstruction(selected) && this.run?.status !== 'running') {
      this.controls = { ...this.controls, instruction: selected };
      this.run = undefined;
      this.persist();
    }
    this.host.show(true);
    this.host.postNow();
  }

  async setCoreToken(): Promise<void> {
    const value = await vscode.window.showInputBox({
      title: 'Concert: Set Core Token',
      prompt: `The bearer token of the remote core${this.settings().coreUrl ? ` (${this.settings().coreUrl})` : ''}, kept in VS Code's secret storage. Leave empty to remove it.`,
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) return;
    if (value.trim()) await this.secrets.store(CORE_TOKEN_KEY, value.trim());
    else await this.secrets.delete(CORE_TOKEN_KEY);
    await this.refreshToken();
    vscode.window.setStatusBarMessage(value.trim() ? 'Concert: core token saved in secret storage.' : 'Concert: core token removed.', 5000);
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  private cancelActive(): void {
    this.active?.ac.abort();
    this.active = undefined;
  }

  /** Runs with `controls` and shows it in the panel. Never throws: failures are shown in the panel. */
  private async start(controls: CollabControls): Promise<void> {
    this.controls = controls;
    const why = refuseInstruction(controls.instruction);
    if (why) return this.host.notice({ level: 'warning', text: why });
    let core: CollabRunParams['core'];
    if (controls.core === 'remote') {
      const remote = this.remote();
      if (!remote.available || !remote.url) return this.host.notice({ level: 'error', text: remote.reason ?? 'The remote core cannot be used.' });
      const token = await this.secrets.get(CORE_TOKEN_KEY).then(undefined, () => undefined);
      core = { url: remote.url, ...(token && { token }) };
    }
    this.cancelActive();
    const id = ++this.seq;
    const ac = new AbortController();
    this.active = { id, ac };
    const settings = this.settings();
    const { items, skipped } = await this.knowledge.collect();
    if (this.active?.id !== id || ac.signal.aborted) return; // superseded or cancelled while reading the knowledge
    const run = startedRun(id, controls, core ? core.url : coreLabel('local'), items.length);
    this.run = run;
    this.host.show();
    this.host.postNow();
    this.persist();
    if (!items.length)
      this.host.notice({
        level: 'warning',
        text: 'No knowledge is enabled: the user model reads only the instruction. Add files or notes in the Knowledge view.',
      });
    else if (skipped.length)
      this.host.notice({
        level: 'info',
        text: `Knowledge left out or cut: ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? ` and ${skipped.length - 3} more` : ''}.`,
      });

    const progressToken = `collab-${id}-${randomUUID()}`;
    const params: CollabRunParams = {
      instruction: controls.instruction.trim(),
      knowledge: items,
      lambdaUser: controls.lambdaUser,
      alpha: controls.alpha,
      maxTokens: settings.maxTokens,
      compare: controls.compare || controls.userOnly,
      progressToken,
      ...(core && { core }),
    };
    const current = () => this.run?.id === id;
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Concert: collaborating (${core ? 'remote' : 'local'} core)`, cancellable: true },
        async (progress, token) => {
          const onCancel = token.onCancellationRequested(() => ac.abort());
          progress.report({ message: 'loading the models…' });
          const sub = this.store.client.onDiffusionStep.on((p) => {
            if (p.progressToken !== progressToken || !current() || !this.run) return;
            const line = stepProgress(p);
            this.run = { ...this.run, progress: line };
            this.host.schedulePost();
            if (line.message) progress.report({ message: line.message });
          });
          try {
            return await this.store.client.request(Requests.collabRun, params, ac.signal);
          } finally {
            sub.dispose();
            onCancel.dispose();
          }
        },
      );
      if (!current() || !this.run) return;
      this.run = finishedRun(this.run, result);
      this.knowledge.setUsed(result.passages.map((p) => p.itemId));
      this.log.info(
        `collaboration: ${result.tokens.length} tokens, λ_user ${controls.lambdaUser}, α ${controls.alpha}, core ${coreLabel(result.ledger.coreLocation)}, ${result.passages.length} passages, ${result.ledger.requests} core requests (${result.ledger.bytesSent} B sent), ${result.record.durationMs} ms`,
      );
    } catch (e) {
      if (!current() || !this.run) return;
      const { progress: _p, ...rest } = this.run;
      if (isCancelled(e)) this.run = { ...rest, status: 'cancelled', message: 'Cancelled.' };
      else {
        const msg = errorMessage(e);
        this.run = { ...rest, status: 'error', message: msg };
        this.log.error(`collaboration failed: ${msg}`);
      }
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (current()) {
        this.host.postNow();
        this.persist();
      }
    }
  }

  private output(variant: CollabVariant): string | undefined {
    const r = this.run;
    if (!r || r.status === 'running') return undefined;
    const text = variant === 'collab' ? r.text : variant === 'core' ? r.coreOnly : r.userOnly;
    return text?.trim() ? text.trim() : undefined;
  }

  private static readonly NAMES: Record<CollabVariant, string> = { collab: 'collaboration', core: 'core-only output', user: 'user-only output' };

  private async copy(variant: CollabVariant): Promise<void> {
    const text = this.output(variant);
    if (!text) return this.host.notice({ level: 'warning', text: 'There is no output to copy yet.' });
    await vscode.env.clipboard.writeText(text);
    this.host.notice({ level: 'info', text: `Copied the ${CollabController.NAMES[variant]} to the clipboard.` });
  }

  /** Inserts the output at the cursor of the last active editor, as one edit (one undo step). */
  private async insert(variant: CollabVariant): Promise<void> {
    const text = this.output(variant);
    if (!text) return this.host.notice({ level: 'warning', text: 'There is no output to insert yet.' });
    const editor = this.editors.editor();
    if (!editor) return this.host.notice({ level: 'warning', text: 'Open a text editor and place the cursor where the text should go.' });
    const at = editor.selection.active;
    let ok = false;
    try {
      ok = await editor.edit((b) => b.insert(at, text));
    } catch (e) {
      this.log.warn(`insert failed: ${errorMessage(e)}`);
    }
    const name = documentName(editor.document);
    if (!ok) return this.host.notice({ level: 'error', text: `Could not edit ${name} (is it read-only?).` });
    this.host.notice({
      level: 'info',
      text: `Inserted the ${CollabController.NAMES[variant]} at line ${at.line + 1}, column ${at.character + 1} of ${name}; one Undo removes it.`,
    });
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  panelReady(): void {
    void this.refreshToken();
  }

  async panelMessage(m: Exclude<CollabViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'run':
        return await this.start(m.controls);
      case 'cancel':
        return this.cancelActive();
      case 'copy':
        return await this.copy(m.variant);
      case 'insert':
        return await this.insert(m.variant);
      case 'setToken':
        return void (await vscode.commands.executeCommand(COMMANDS.setCoreToken.id));
      case 'openSettings':
        return void (await vscode.commands.executeCommand('workbench.action.openSettings', 'concert.collab'));
      case 'showKnowledge':
        return void (await vscode.commands.executeCommand(`${KNOWLEDGE_VIEW_ID}.focus`));
    }
  }

  panelClosed(): void {
    this.cancelActive();
    this.run = undefined;
  }

  panelState(): CollabViewState {
    const all = this.knowledge.all();
    const remote = this.remote();
    return {
      ...(this.run && { run: this.run }),
      controls: this.controls,
      remote: { ...remote, hasToken: this.hasToken },
      knowledge: { enabled: all.filter((e) => e.enabled).length, total: all.length },
      canInsert: this.editors.editor() !== undefined,
    };
  }

  private persist(): void {
    const data: PersistedCollab = { version: 1, controls: this.controls, ...(this.run && { run: this.run }) };
    this.host.persist(data);
  }

  dispose(): void {
    this.host.dispose(); // first: a panel closed from now on is the window closing, which keeps the data
    this.cancelActive();
    for (const d of this.disposables) d.dispose();
  }
}
