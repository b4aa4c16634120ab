/**
 * Diffusion rewriting and continuation with classifier guidance (issue 6): the two commands (attribute quick pick,
 * worker run with progress and Cancel, denoising steps streamed into the panel) and the one "Concert: Rewrite"
 * webview panel with its controls, timeline, score charts, diff, Accept and Reject.
 *
 * The document is never changed while text is generated: only Accept edits it, as one WorkspaceEdit (one undo step)
 * on the range the run read, after asking if the document changed since.
 *
 * State: the host owns the data (the request, enough to run it again, and the last run) and keeps it in
 * workspaceState; the page keeps only UI state and asks for the data again (`ready`) whenever it is re-created —
 * after being hidden (no retainContextWhenHidden) or after a window reload (WebviewPanelSerializer).
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type {
  HostToRewriteView,
  RewriteAttributeChoice,
  RewriteControls,
  RewriteRunView,
  RewriteTarget,
  RewriteViewState,
  RewriteViewToHost,
} from '../protocol/webview';
import { Requests, type PackSummary } from '../protocol/worker';
import { COMMANDS } from './commandTable';
import { errorMessage, isCancelled } from './errors';
import { PanelHost, type PanelOwner } from './panelHost';
import { isRewriteViewToHost } from './rewriteMessages';
import {
  REWRITE_VIEW_TYPE,
  applyStep,
  attributePickItems,
  changedWarning,
  classifierChoices,
  documentChanged,
  editText,
  finishedRun,
  firstT,
  initialControls,
  placeLabel,
  planAccept,
  progressMessage,
  promptBefore,
  rangeAfterEdit,
  refuseContinue,
  refuseRewrite,
  resolvePickConflicts,
  restorePersisted,
  runParams,
  sourceView,
  startedRun,
  stepFraction,
  targetsFromPicks,
  wholeWordExtension,
  withTargetChoices,
  type AttributePickItem,
  type PersistedRewrite,
  type RewriteRequest,
} from './rewriteState';
import { readDiffusionSettings } from './settings';
import type { DiffusionSettings } from './settingsTable';
import { SourceWatcher, documentName, findDocument, sha256, toLineRange, toRange } from './sourceDocument';
import type { LineRange } from './summaryState';
import type { WorkerStore } from './workerStore';

export { REWRITE_VIEW_TYPE };
const PANEL_TITLE = 'Concert: Rewrite';
/** workspaceState key of the (single) rewrite panel's data. */
const STATE_KEY = 'concert.rewritePanel.v1';
/** Streamed steps are forwarded to the page at most this often. */
const POST_INTERVAL_MS = 60;
/** Document versions are only comparable within one window session. */
const SESSION = randomUUID();

interface Active {
  id: number;
  ac: AbortController;
}

export class RewriteController implements vscode.Disposable, PanelOwner<RewriteViewToHost, HostToRewriteView> {
  private readonly host: PanelHost<RewriteViewToHost, HostToRewriteView>;
  /** What the shown run asked for; undefined before the first run (or after the panel was closed). */
  private request: RewriteRequest | undefined;
  private run: RewriteRunView | undefined;
  /** Classifiers from the last pack listing (or the persisted ones until the worker has been asked). */
  private classifiers: RewriteAttributeChoice[] = [];
  /** The targets of the last quick pick, pre-picked next time. */
  private lastTargets: RewriteTarget[] = [];
  private active: Active | undefined;
  private seq = 0;
  private readonly sourceWatch: SourceWatcher;
  private accepting = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    context: vscode.ExtensionContext,
    private readonly store: WorkerStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.host = new PanelHost(
      context,
      log,
      {
        viewType: REWRITE_VIEW_TYPE,
        title: PANEL_TITLE,
        name: 'rewrite',
        script: 'rewrite.js',
        sharedStyles: ['base.css'],
        style: 'rewrite.css',
        stateKey: STATE_KEY,
        postIntervalMs: POST_INTERVAL_MS,
        isMessage: isRewriteViewToHost,
      },
      this,
    );
    const saved = restorePersisted(this.host.saved());
    if (saved) {
      this.request = saved.request;
      this.run = saved.run;
      this.classifiers = saved.classifiers;
      this.lastTargets = saved.request.controls.targets;
      this.seq = saved.run?.id ?? 0;
    }
    this.sourceWatch = new SourceWatcher({
      uri: () => this.request?.source.uri,
      differs: (doc) =>
        this.request !== undefined && documentChanged(this.request.source, { version: doc.version, session: SESSION, text: () => doc.getText() }, sha256),
      onDidChange: () => this.host.postNow(),
    });
    this.disposables.push(
      store.onDidChange(() => {
        const packs = store.packs;
        if (packs && this.updateClassifiers(packs)) this.host.postNow();
      }),
    );
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  async rewriteSelection(): Promise<void> {
    const editor = this.editorOrRefuse();
    if (!editor) return;
    if (editor.selection.isEmpty) return this.refuse('select some text to rewrite first.');
    const name = documentName(editor.document);
    const why = refuseRewrite(editor.document.getText(editor.selection), name);
    if (why) return this.refuse(why);
    const settings = this.settings();
    if (!(await this.checkPacks(settings))) return;
    const targets = await this.pickTargets('Concert: Rewrite Selection', settings.lambda);
    if (!targets) return;
    // Read the selection after the pick: it is what the user sees now.
    const selection = editor.selection;
    if (selection.isEmpty) return this.refuse('the selection is gone; select the text to rewrite and try again.');
    if (editor.selections.length > 1) void vscode.window.showInformationMessage('Concert: only the primary selection is rewritten.');
    const doc = editor.document;
    const range = this.wholeWords(editor, selection);
    const original = doc.getText(range);
    const why2 = refuseRewrite(original, name);
    if (why2) return this.refuse(why2);
    // May be empty (a selection at the start of the document): the model then starts from its start-of-text marker.
    const before = doc.getText(new vscode.Range(new vscode.Position(0, 0), range.start));
    await this.runRequest({
      mode: 'rewrite',
      prompt: promptBefore(before, settings.promptChars),
      original,
      controls: initialControls(settings, targets),
      source: this.sourceOf(doc, toLineRange(range)),
    });
  }

  async continueAtCursor(): Promise<void> {
    const editor = this.editorOrRefuse();
    if (!editor) return;
    const doc = editor.document;
    const name = documentName(doc);
    const settings = this.settings();
    const readPrompt = () => promptBefore(doc.getText(new vscode.Range(new vscode.Position(0, 0), editor.selection.active)), settings.promptChars);
    const why = refuseContinue(readPrompt(), name);
    if (why) return this.refuse(why);
    if (!(await this.checkPacks(settings))) return;
    const targets = await this.pickTargets('Concert: Continue with Diffusion', settings.lambda);
    if (!targets) return;
    const cursor = editor.selection.active;
    const prompt = readPrompt();
    const why2 = refuseContinue(prompt, name);
    if (why2) return this.refuse(why2);
    await this.runRequest({
      mode: 'continue',
      prompt,
      original: '',
      controls: initialControls(settings, targets),
      source: this.sourceOf(doc, { start: { line: cursor.line, character: cursor.character }, end: { line: cursor.line, character: cursor.character } }),
    });
  }

  /** The selection widened to whole words (shown in the editor), so a selection that starts or ends mid-word works. */
  private wholeWords(editor: vscode.TextEditor, selection: vscode.Selection): vscode.Range {
    const doc = editor.document;
    const start = doc.offsetAt(selection.start);
    const end = doc.offsetAt(selection.end);
    const text = doc.getText();
    const ext = wholeWordExtension(text.slice(Math.max(0, start - 200), start), text.slice(start, end), text.slice(end, end + 200));
    if (!ext.back && !ext.forward) return selection;
    const range = new vscode.Range(doc.positionAt(start - ext.back), doc.positionAt(end + ext.forward));
    editor.selection = new vscode.Selection(range.start, range.end);
    return range;
  }

  private sourceOf(doc: vscode.TextDocument, range: LineRange): RewriteRequest['source'] {
    return {
      uri: doc.uri.toString(),
      fileName: documentName(doc),
      languageId: doc.languageId,
      range,
      rangeText: doc.getText(toRange(range)),
      version: doc.version,
      documentSha256: sha256(doc.getText()),
      session: SESSION,
    };
  }

  private editorOrRefuse(): vscode.TextEditor | undefined {
    const editor = this.sourceWatch.editor();
    if (!editor) this.refuse('open a text document first: Rewrite and Continue work on the active text editor.');
    return editor;
  }

  private refuse(why: string): void {
    this.log.info(`Rewrite refused: ${why}`);
    void vscode.window.showWarningMessage(`Concert: ${why}`);
  }

  private settings(): DiffusionSettings {
    return readDiffusionSettings((w) => this.log.warn(w));
  }

  private updateClassifiers(packs: readonly PackSummary[]): boolean {
    const next = classifierChoices(packs);
    if (JSON.stringify(next) === JSON.stringify(this.classifiers)) return false;
    this.classifiers = next;
    return true;
  }

  /** Lists the packs (starting the worker if needed); refuses when no diffusion model is installed. */
  private async checkPacks(settings: DiffusionSettings): Promise<boolean> {
    const packs = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Concert: listing model packs' }, () =>
      this.store.refreshPacks(),
    );
    this.updateClassifiers(packs);
    const diffusion = packs.filter((p) => p.valid && p.kind === 'simplex-diffusion-lm');
    if (settings.packId === undefined && diffusion.length === 0) {
      const a = await vscode.window.showWarningMessage(
        'Concert: no valid diffusion model pack (kind "simplex-diffusion-lm") is installed, so text cannot be rewritten or continued.',
        'Add Model Folder',
        'Run Doctor',
      );
      if (a === 'Add Model Folder') await vscode.commands.executeCommand(COMMANDS.addModelFolder.id);
      if (a === 'Run Doctor') await vscode.commands.executeCommand(COMMANDS.doctor.id);
      return false;
    }
    return true;
  }

  /**
   * Attributes to steer towards (several at once, one direction each); undefined when the user dismissed the pick.
   * Without classifier packs there is nothing to pick: the run is unsteered.
   */
  private async pickTargets(title: string, lambda: number): Promise<RewriteTarget[] | undefined> {
    if (!this.classifiers.length) {
      void vscode.window.setStatusBarMessage('Concert: no classifier packs are installed; running without steering.', 5000);
      return [];
    }
    const qp = vscode.window.createQuickPick<AttributePickItem & vscode.QuickPickItem>();
    qp.title = title;
    qp.placeholder = 'Steer towards… (pick any number, one direction per attribute; pick none for no steering), then Enter';
    qp.canSelectMany = true;
    qp.ignoreFocusOut = true;
    const items = attributePickItems(this.classifiers, this.lastTargets);
    qp.items = items;
    qp.selectedItems = items.filter((i) => i.picked);
    let shown = [...qp.selectedItems];
    return new Promise<RewriteTarget[] | undefined>((resolve) => {
      let done = false;
      const subs = [
        qp.onDidChangeSelection((sel) => {
          const fixed = resolvePickConflicts(shown, sel);
          shown = fixed;
          if (fixed.length !== sel.length) qp.selectedItems = fixed;
        }),
        qp.onDidAccept(() => {
          done = true;
          const targets = targetsFromPicks(qp.selectedItems, lambda, this.lastTargets);
          this.lastTargets = targets;
          resolve(targets);
          qp.hide();
        }),
        qp.onDidHide(() => {
          for (const s of subs) s.dispose();
          qp.dispose();
          if (!done) {
            this.log.info(`${title}: the attribute pick was dismissed; nothing runs.`);
            resolve(undefined);
          }
        }),
      ];
      qp.show();
    });
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  private cancelActive(): void {
    this.active?.ac.abort();
    this.active = undefined;
  }

  /** Runs `request` and shows it in the panel. Never throws: failures are shown in the panel and as a notification. */
  private async runRequest(request: RewriteRequest): Promise<void> {
    this.cancelActive();
    const id = ++this.seq;
    const ac = new AbortController();
    this.active = { id, ac };
    const settings = this.settings();
    const run = startedRun(id, request);
    this.request = request;
    this.run = run;
    this.sourceWatch.changed = false;
    this.host.show();
    this.host.postNow();
    this.persist();

    const what = request.mode === 'rewrite' ? `rewriting ${placeLabel('rewrite', request.source.range)} of` : 'continuing';
    const progressToken = `diffusion-${id}-${randomUUID()}`;
    const params = runParams(request, progressToken, settings.packId);
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Concert: ${what} ${request.source.fileName}`, cancellable: true },
        async (progress, token) => {
          const onCancel = token.onCancellationRequested(() => ac.abort());
          progress.report({ message: 'loading the model…' });
          let done = 0;
          const sub = this.store.client.onDiffusionStep.on((p) => {
            if (p.progressToken !== progressToken || this.run !== run) return;
            applyStep(run, p);
            this.host.schedulePost();
            const frac = stepFraction(p, firstT(run, p.block) ?? p.t);
            progress.report({ message: progressMessage(p, request.controls.targets), increment: Math.max(0, 100 * frac - done) });
            done = Math.max(done, 100 * frac);
          });
          try {
            return await this.store.client.request(Requests.diffusionRun, params, ac.signal);
          } finally {
            sub.dispose();
            onCancel.dispose();
          }
        },
      );
      if (this.run !== run) return; // superseded by a newer run
      this.run = finishedRun(run, result);
      // Moving a slider afterwards changes that knob and nothing else: keep the seed.
      this.request = { ...request, controls: { ...request.controls, seed: result.run.seed } };
      this.log.info(
        `${request.mode} of ${request.source.fileName}: ${result.tokens.length} tokens with ${result.model.id}, T ${result.run.knobs.steps}, ${result.run.knobs.projection}, seed ${result.run.seed}, ${result.run.durationMs} ms`,
      );
    } catch (e) {
      if (this.run !== run) return;
      if (isCancelled(e)) {
        const last = run.steps[run.steps.length - 1];
        this.run = {
          ...run,
          status: 'cancelled',
          message: last
            ? `Cancelled at step t ${last.t}/${last.T}${run.blocks > 1 ? ` of block ${last.block + 1} of ${run.blocks}` : ''}; the document was not changed.`
            : 'Cancelled; the document was not changed.',
        };
      } else {
        const msg = errorMessage(e);
        this.run = { ...run, status: 'error', message: msg };
        this.log.error(`${request.mode} of ${request.source.fileName} failed: ${msg}`);
        void this.showError(msg);
      }
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (this.run?.id === id) {
        this.host.postNow();
        this.persist();
      }
    }
  }

  private async showError(msg: string): Promise<void> {
    if ((await vscode.window.showErrorMessage(`Concert: ${msg}`, 'Show Log')) === 'Show Log') this.log.show(true);
  }

  private async rerun(controls: RewriteControls): Promise<void> {
    const req = this.request;
    if (!req) return this.host.notice({ level: 'warning', text: 'Nothing to run again: use Rewrite Selection… or Continue with Diffusion first.' });
    this.lastTargets = controls.targets;
    await this.runRequest({ ...req, controls });
  }

  // ── accept / reject ─────────────────────────────────────────────────────────────────────────────────────────

  /** Applies the output as one WorkspaceEdit (one undo step), after asking if the document changed underneath. */
  private async accept(): Promise<void> {
    if (this.accepting) return;
    const req = this.request;
    const run = this.run;
    const plan = planAccept(run);
    if (plan.kind === 'refuse' || !req || !run)
      return this.host.notice({ level: 'warning', text: plan.kind === 'refuse' ? plan.reason : 'There is nothing to accept yet.' });
    this.accepting = true;
    try {
      const doc = await findDocument(req.source);
      let range = doc.validateRange(toRange(req.source.range));
      if (documentChanged(req.source, { version: doc.version, session: SESSION, text: () => doc.getText() }, sha256)) {
        const w = changedWarning(req, doc.getText(range));
        const pick = await vscode.window.showWarningMessage(w.message, { modal: true, detail: w.detail }, 'Apply Anyway');
        if (pick !== 'Apply Anyway') return this.host.notice({ level: 'info', text: 'Nothing was changed.' });
        // The user may have typed while the question was open; and a run may have started since.
        if (this.run !== run || this.request !== req)
          return this.host.notice({ level: 'warning', text: 'The panel shows another run now; nothing was changed.' });
        range = doc.validateRange(toRange(req.source.range));
      }
      const full = doc.getText();
      const startOffset = doc.offsetAt(range.start);
      const endOffset = doc.offsetAt(range.end);
      const text = editText(req.mode, plan.output, {
        original: req.original,
        before: full.slice(Math.max(0, startOffset - 1), startOffset),
        after: full.slice(endOffset, endOffset + 1),
      });
      const edit = new vscode.WorkspaceEdit();
      edit.replace(doc.uri, range, text);
      let ok = false;
      try {
        ok = await vscode.workspace.applyEdit(edit);
      } catch (e) {
        this.log.warn(`applying the ${req.mode} to ${req.source.fileName} failed: ${errorMessage(e)}`);
      }
      if (!ok) return this.host.notice({ level: 'error', text: `Could not edit ${req.source.fileName} (is it read-only?). Nothing was changed.` });
      const written = rangeAfterEdit({ line: range.start.line, character: range.start.character }, text);
      const place = placeLabel(req.mode, toLineRange(range));
      // A later Accept (after Re-run) replaces what this one wrote.
      this.request = {
        ...req,
        source: { ...req.source, range: written, rangeText: text, version: doc.version, documentSha256: sha256(doc.getText()), session: SESSION },
      };
      this.run = { ...run, applied: true, source: sourceView(this.request) };
      this.sourceWatch.changed = false;
      const editor = vscode.window.visibleTextEditors.find((e) => e.document === doc);
      if (editor) editor.revealRange(toRange(written), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      this.host.postNow();
      this.persist();
      this.host.notice({
        level: 'info',
        text: `${req.mode === 'rewrite' ? `Replaced ${place}` : `Inserted at ${place}`} of ${req.source.fileName}; one Undo in the editor reverts it.`,
      });
    } finally {
      this.accepting = false;
    }
  }

  /** Discards the output and closes the panel; the document is not touched. */
  private reject(): void {
    const wasRunning = this.active !== undefined;
    this.cancelActive();
    vscode.window.setStatusBarMessage(`Concert: ${wasRunning ? 'run cancelled and ' : ''}output discarded; the document was not changed.`, 5000);
    this.host.close();
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  /** PanelOwner: the page asked for the data; the host posts the state next. */
  panelReady(): void {
    this.sourceWatch.check();
  }

  /** PanelOwner: a checked message from the page; the host logs a failure and shows it in the panel. */
  async panelMessage(m: Exclude<RewriteViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'cancel':
        return this.cancelActive();
      case 'rerun':
        return await this.rerun(m.controls);
      case 'accept':
        return await this.accept();
      case 'reject':
        return this.reject();
    }
  }

  /** PanelOwner: the user closed the panel (or pressed Reject): stop its work and forget it (the host drops the saved data next). */
  panelClosed(): void {
    this.cancelActive();
    this.request = undefined;
    this.run = undefined;
  }

  /** PanelOwner: the state as the page sees it: plus whether the source changed since the run. */
  panelState(): RewriteViewState {
    const settings = this.settings();
    const run = this.run;
    const classifiers = withTargetChoices(this.classifiers, run?.controls.targets ?? []);
    const state: RewriteViewState = { classifiers, defaultLambda: settings.lambda };
    if (!run) return state;
    const changed = this.sourceWatch.changed !== undefined && run.status !== 'running' && !run.applied ? this.sourceWatch.changed : undefined;
    return { ...state, run: changed === undefined ? run : { ...run, source: { ...run.source, changed } } };
  }

  private persist(): void {
    const data: PersistedRewrite | undefined = this.request
      ? { version: 1, request: this.request, ...(this.run && { run: this.run }), classifiers: this.classifiers }
      : undefined;
    this.host.persist(data);
  }

  dispose(): void {
    this.host.dispose(); // first: a panel closed from now on is the window closing, which keeps the data
    this.cancelActive();
    this.sourceWatch.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
