/**
 * Context-aware summaries and answers (issue 5): the three commands, the worker runs behind them (progress with
 * Cancel, tokens streamed into the panel), and the one "Concert: Summary" webview panel with its α slider,
 * side-by-side regular decoding, reliance shading, reveal-in-source, Copy / Insert and the α sweep.
 *
 * State: the host owns the data (the request, enough to re-run it, and the last result) and keeps it in
 * workspaceState; the page keeps only UI state and asks for the data again (`ready`) whenever it is re-created —
 * after being hidden (no retainContextWhenHidden) or after a window reload (WebviewPanelSerializer).
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  SWEEP_ALPHAS,
  type HostToSummaryView,
  type SummaryOutputView,
  type SummaryRunView,
  type SummarySweepView,
  type SummaryVariant,
  type SummaryViewState,
  type SummaryViewToHost,
} from '../protocol/webview';
import { Requests, type CadRunParams, type CadTask } from '../protocol/worker';
import { commentLine, commentSyntaxFor, describeSyntax, formatComment } from './commentStyle';
import { errorMessage, isCancelled } from './errors';
import { PanelHost, type PanelOwner } from './panelHost';
import { readCadSettings } from './settings';
import type { CadSettings } from './settingsTable';
import { SourceWatcher, documentName, findDocument, sha256, toLineRange, toRange } from './sourceDocument';
import { isSummaryViewToHost } from './summaryMessages';
import {
  SUMMARY_VIEW_TYPE,
  applyTokenProgress,
  finishedRun,
  modelChoices,
  refuseText,
  requestKnobs,
  restorePersisted,
  runKnobs,
  scopeLabel,
  startedRun,
  sweepPoint,
  tokenCount,
  withKnobs,
  type PersistedSummary,
  type RerunKnobs,
  type SummaryRequest,
} from './summaryState';
import { findSupportSpan } from './supportSpan';
import type { WorkerStore } from './workerStore';

export { SUMMARY_VIEW_TYPE };
const PANEL_TITLE = 'Concert: Summary';
/** workspaceState key of the (single) summary panel's data. */
const STATE_KEY = 'concert.summaryPanel.v1';
const MAX_QUESTION_CHARS = 2000;
/** Streamed tokens are forwarded to the page at most this often. */
const POST_INTERVAL_MS = 50;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface Active {
  id: number;
  ac: AbortController;
}

export class SummaryController implements vscode.Disposable, PanelOwner<SummaryViewToHost, HostToSummaryView> {
  private readonly host: PanelHost<SummaryViewToHost, HostToSummaryView>;
  /** What the shown run asked for; undefined before the first run (or after the panel was closed). */
  private request: SummaryRequest | undefined;
  private state: SummaryViewState = {};
  private active: Active | undefined;
  private seq = 0;
  private lastQuestion = '';
  private readonly sourceWatch: SourceWatcher;
  private readonly storeSub: vscode.Disposable;

  constructor(
    context: vscode.ExtensionContext,
    private readonly store: WorkerStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.host = new PanelHost(
      context,
      log,
      {
        viewType: SUMMARY_VIEW_TYPE,
        title: PANEL_TITLE,
        name: 'summary',
        script: 'summary.js',
        sharedStyles: ['base.css'],
        style: 'summary.css',
        stateKey: STATE_KEY,
        postIntervalMs: POST_INTERVAL_MS,
        isMessage: isSummaryViewToHost,
      },
      this,
    );
    const saved = restorePersisted(this.host.saved());
    if (saved) {
      this.request = saved.request;
      this.state = saved.state;
      this.seq = saved.state.run?.id ?? 0;
    }
    this.sourceWatch = new SourceWatcher({
      uri: () => this.request?.source.uri,
      differs: (doc) => sha256(doc.getText()) !== this.request?.source.documentSha256,
      onDidChange: () => this.host.postNow(),
    });
    // The model picker follows the pack list (Add Model…, Refresh Model Packs, changed settings).
    this.storeSub = store.onDidChange(() => this.host.schedulePost());
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  async summarizeDocument(): Promise<void> {
    const editor = this.editorOrRefuse();
    if (editor) await this.startFromEditor(editor, 'summarize', false);
  }

  async summarizeSelection(): Promise<void> {
    const editor = this.editorOrRefuse();
    if (!editor) return;
    if (editor.selection.isEmpty) return this.refuse('select some text first (or use Summarize Document).');
    await this.startFromEditor(editor, 'summarize', true);
  }

  async askAboutDocument(): Promise<void> {
    const editor = this.editorOrRefuse();
    if (!editor) return;
    const selection = !editor.selection.isEmpty;
    const name = documentName(editor.document);
    // Refuse an unusable document before asking for a question about it.
    const why = refuseText(editor.document.getText(selection ? editor.selection : undefined), { fileName: name, selection });
    if (why) return this.refuse(why);
    const question = await vscode.window.showInputBox({
      title: 'Concert: Ask About This Document',
      prompt: selection ? `A question about the selection (${scopeLabel(toLineRange(editor.selection))} of ${name})` : `A question about ${name}`,
      placeHolder: 'e.g. What does this module do?',
      value: this.lastQuestion,
      ignoreFocusOut: true,
      validateInput: (v) =>
        !v.trim() ? 'Type a question.' : v.length > MAX_QUESTION_CHARS ? `Keep the question under ${MAX_QUESTION_CHARS} characters.` : undefined,
    });
    if (question === undefined || !question.trim()) return;
    this.lastQuestion = question.trim();
    await this.startFromEditor(editor, 'ask', selection, question.trim());
  }

  private editorOrRefuse(): vscode.TextEditor | undefined {
    const editor = this.sourceWatch.editor();
    if (!editor) this.refuse('open a text document first: summaries and questions work on the active text editor.');
    return editor;
  }

  private refuse(why: string): void {
    void vscode.window.showWarningMessage(`Concert: ${why}`);
  }

  private async startFromEditor(editor: vscode.TextEditor, task: CadTask, selection: boolean, question?: string): Promise<void> {
    const doc = editor.document;
    const fileName = documentName(doc);
    const range = selection ? editor.selection : undefined;
    const text = doc.getText(range);
    const why = refuseText(text, { fileName, selection });
    if (why) return this.refuse(why);
    const cad = this.settings();
    // A model picked in the panel stays picked for the panel's next runs.
    const packId = this.request?.packId;
    const request: SummaryRequest = {
      task,
      ...(question !== undefined && { question }),
      ...requestKnobs(task, cad),
      ...(packId !== undefined && { packId }),
      source: {
        uri: doc.uri.toString(),
        fileName,
        languageId: doc.languageId,
        ...(range && { range: toLineRange(range) }),
        documentSha256: sha256(doc.getText()),
      },
    };
    await this.run(request, text);
  }

  private settings(): CadSettings {
    return readCadSettings((w) => this.log.warn(w));
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────

  private cancelActive(): void {
    this.active?.ac.abort();
    this.active = undefined;
  }

  /** Runs `request` on `text` and shows it in the panel. Never throws: failures are shown in the panel and as a notification. */
  private async run(request: SummaryRequest, text: string): Promise<void> {
    this.cancelActive();
    const id = ++this.seq;
    const ac = new AbortController();
    this.active = { id, ac };
    const cad = this.settings();
    const previous = this.request;
    // The sweep describes the input, not α: keep a finished one while the input stays the same.
    const keepSweep = this.state.sweep?.status === 'done' && previous !== undefined && sameInput(previous, request);
    const run = startedRun(id, request);
    this.request = request;
    this.state = { run, ...(keepSweep && this.state.sweep && { sweep: this.state.sweep }) };
    this.sourceWatch.changed = false;
    this.host.show();
    this.host.postNow();
    this.persist();

    const name = request.source.fileName;
    const scope = request.source.range ? ` (${scopeLabel(request.source.range)})` : '';
    const progressToken = `cad-${id}-${randomUUID()}`;
    const params: CadRunParams = {
      task: request.task,
      document: text,
      ...(request.question !== undefined && { question: request.question }),
      ...runKnobs(request),
      maxTokens: request.task === 'ask' ? cad.maxAnswerTokens : cad.maxSummaryTokens,
      compareRegular: request.compareRegular,
      progressToken,
      ...(request.seed !== undefined && { seed: request.seed }),
      ...packOf(request, cad),
    };
    try {
      const result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Concert: ${request.task === 'ask' ? 'answering about' : 'summarizing'} ${name}${scope}`,
          cancellable: true,
        },
        async (progress, token) => {
          const onCancel = token.onCancellationRequested(() => ac.abort());
          progress.report({ message: 'loading the model…' });
          const sub = this.store.client.onTokens.on((p) => {
            if (p.progressToken !== progressToken || this.state.run !== run) return;
            applyTokenProgress(run, p);
            this.host.schedulePost();
            progress.report({ message: `${plural(tokenCount(run), 'token')}${p.part ? ` (part ${p.part + 1})` : ''}` });
          });
          try {
            return await this.store.client.request(Requests.cadRun, params, ac.signal);
          } finally {
            sub.dispose();
            onCancel.dispose();
          }
        },
      );
      if (this.state.run !== run) return; // superseded by a newer run
      this.request = { ...request, seed: result.run.seed };
      this.state = { ...this.state, run: finishedRun(run, result, request.source.range?.start.line ?? 0) };
      this.log.info(
        `${request.task} of ${name}${scope}: ${result.tokens.length} tokens with ${result.model.id}${result.run.prompt ? ` (${result.run.prompt.template})` : ''}, α ${result.alpha}, seed ${result.run.seed}, ${result.run.durationMs} ms${result.run.chunks ? `, ${result.run.chunks} chunks` : ''}`,
      );
    } catch (e) {
      if (this.state.run !== run) return;
      if (isCancelled(e)) {
        this.state = { ...this.state, run: { ...run, status: 'cancelled', message: `Cancelled after ${plural(tokenCount(run), 'token')}.` } };
      } else {
        const msg = errorMessage(e);
        this.state = { ...this.state, run: { ...run, status: 'error', message: msg } };
        this.log.error(`${request.task} of ${name} failed: ${msg}`);
        void this.showError(msg);
      }
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (this.state.run?.id === id) {
        this.host.postNow();
        this.persist();
      }
    }
  }

  private async showError(msg: string): Promise<void> {
    if ((await vscode.window.showErrorMessage(`Concert: ${msg}`, 'Show Log')) === 'Show Log') this.log.show(true);
  }

  /** The text a re-run (or sweep) reads: the same range of the source document, as it is now. */
  private async readInput(req: SummaryRequest): Promise<{ text: string; sha: string; doc: vscode.TextDocument } | undefined> {
    let doc: vscode.TextDocument;
    try {
      doc = await findDocument(req.source);
    } catch (e) {
      this.host.notice({ level: 'error', text: errorMessage(e) });
      return undefined;
    }
    const text = req.source.range ? doc.getText(doc.validateRange(toRange(req.source.range))) : doc.getText();
    const why = refuseText(text, { fileName: req.source.fileName, selection: req.source.range !== undefined });
    if (why) {
      this.host.notice({ level: 'warning', text: `Cannot run again: ${why}` });
      return undefined;
    }
    return { text, sha: sha256(doc.getText()), doc };
  }

  private async rerun(alpha: number, compareRegular: boolean, packId?: string, knobs: Omit<RerunKnobs, 'alpha' | 'compareRegular'> = {}): Promise<void> {
    const req0 = this.request;
    // A model change keeps the seed (and everything else): only the model differs from the run before.
    const req = req0 && packId !== undefined ? withPack(req0, packId) : req0;
    if (!req)
      return this.host.notice({
        level: 'warning',
        text: 'Nothing to run again: use Summarize Document, Summarize Selection or Ask About This Document first.',
      });
    const input = await this.readInput(req);
    if (!input) return;
    if (input.sha !== req.source.documentSha256 && req.source.range) {
      this.log.info(`${req.source.fileName} changed since the last run; reading ${scopeLabel(req.source.range)} as they are now`);
    }
    await this.run({ ...withKnobs(req, { alpha, compareRegular, ...knobs }), source: { ...req.source, documentSha256: input.sha } }, input.text);
  }

  /** Greedy runs at α ∈ SWEEP_ALPHAS on the same input; the panel plots the share of document-supported tokens. */
  private async sweep(): Promise<void> {
    const req = this.request;
    if (!req) return;
    const input = await this.readInput(req);
    if (!input) return;
    this.cancelActive();
    const id = ++this.seq;
    const ac = new AbortController();
    this.active = { id, ac };
    const cad = this.settings();
    const sweep: SummarySweepView = { status: 'running', alphas: [...SWEEP_ALPHAS], points: [] };
    this.state = { ...this.state, sweep };
    this.host.show();
    this.host.postNow();
    const current = () => this.state.sweep === sweep;
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Concert: α sweep on ${req.source.fileName}`, cancellable: true },
        async (progress, token) => {
          const onCancel = token.onCancellationRequested(() => ac.abort());
          try {
            for (const [i, alpha] of SWEEP_ALPHAS.entries()) {
              progress.report({ message: `α ${alpha} (${i + 1} of ${SWEEP_ALPHAS.length})`, ...(i > 0 && { increment: 100 / SWEEP_ALPHAS.length }) });
              const r = await this.store.client.request(
                Requests.cadRun,
                {
                  task: req.task,
                  document: input.text,
                  ...(req.question !== undefined && { question: req.question }),
                  alpha,
                  // The same kind of output as the run: quoted or free (plausibility β and adaptive α stay the worker's).
                  ...(req.extractive !== undefined && { extractive: req.extractive }),
                  ...(req.wholeDocument && { wholeDocument: true }),
                  decoding: { mode: 'greedy' },
                  maxTokens: req.task === 'ask' ? cad.maxAnswerTokens : cad.maxSummaryTokens,
                  ...packOf(req, cad),
                },
                ac.signal,
              );
              if (!current()) return;
              sweep.points.push(sweepPoint(alpha, r));
              this.host.postNow();
            }
          } finally {
            onCancel.dispose();
          }
        },
      );
      if (current()) sweep.status = 'done';
    } catch (e) {
      if (!current()) return;
      if (isCancelled(e)) {
        sweep.status = 'cancelled';
        sweep.message = `Sweep cancelled after ${sweep.points.length} of ${SWEEP_ALPHAS.length} runs.`;
      } else {
        sweep.status = 'error';
        sweep.message = errorMessage(e);
        this.log.error(`α sweep failed: ${sweep.message}`);
        void this.showError(sweep.message);
      }
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (current()) {
        this.host.postNow();
        this.persist();
      }
    }
  }

  // ── acting on the output ────────────────────────────────────────────────────────────────────────────────────

  private output(variant: SummaryVariant): { run: SummaryRunView; out: SummaryOutputView } | undefined {
    const run = this.state.run;
    const out = variant === 'cad' ? run?.cad : run?.regular;
    return run && out ? { run, out } : undefined;
  }

  /** The column to show the source in: where it is visible already, else the one the panel is not in. */
  private sourceColumn(doc: vscode.TextDocument): vscode.ViewColumn {
    const visible = vscode.window.visibleTextEditors.find((e) => e.document === doc);
    if (visible?.viewColumn) return visible.viewColumn;
    return this.host.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
  }

  private async reveal(variant: SummaryVariant, index: number): Promise<void> {
    const found = this.output(variant);
    const req = this.request;
    if (!found || !req || index >= found.out.tokens.length) return;
    const doc = await findDocument(req.source);
    let scopeStart = 0;
    let scopeText = doc.getText();
    let note = '';
    if (req.source.range) {
      if (sha256(scopeText) === req.source.documentSha256) {
        const r = doc.validateRange(toRange(req.source.range));
        scopeStart = doc.offsetAt(r.start);
        scopeText = doc.getText(r);
      } else note = ` (${req.source.fileName} changed since the run, so the whole document was searched)`;
    }
    const res = findSupportSpan(scopeText, { tokens: found.out.tokens, index });
    if (!res.found) return this.host.notice({ level: 'warning', text: `No supporting span found in ${req.source.fileName}: ${res.reason}.` });
    const range = new vscode.Range(doc.positionAt(scopeStart + res.span.start), doc.positionAt(scopeStart + res.span.end));
    // Keep focus in the panel, so keyboard users can walk on through the tokens.
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: this.sourceColumn(doc), preserveFocus: true, selection: range });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    this.host.notice({
      level: 'info',
      text: `“${res.span.query}”: line ${range.start.line + 1} of ${req.source.fileName}${res.span.stem ? ' (same word stem)' : ''}${note}.`,
    });
  }

  private async copy(variant: SummaryVariant): Promise<void> {
    const found = this.output(variant);
    const text = found?.out.text.trim();
    if (!found || !text) return this.host.notice({ level: 'warning', text: 'There is no output to copy yet.' });
    await vscode.env.clipboard.writeText(text);
    this.host.notice({ level: 'info', text: `Copied the ${found.run.task === 'ask' ? 'answer' : 'summary'} to the clipboard.` });
  }

  /** Inserts the output into the source document as one edit (one undo step), after a warning if the document changed. */
  private async insert(variant: SummaryVariant, mode: 'comment' | 'cursor'): Promise<void> {
    const found = this.output(variant);
    const req = this.request;
    const text = found?.out.text.trim();
    if (!found || !req || !text) return this.host.notice({ level: 'warning', text: 'There is no output to insert yet.' });
    if (found.run.status === 'running') return this.host.notice({ level: 'warning', text: 'Wait for the run to finish (or cancel it) before inserting.' });
    const what = found.run.task === 'ask' ? 'answer' : 'summary';
    const doc = await findDocument(req.source);
    if (sha256(doc.getText()) !== req.source.documentSha256) {
      const pick = await vscode.window.showWarningMessage(
        `${req.source.fileName} has changed since this ${what} was made. Insert it anyway?`,
        { modal: true, detail: 'The text was generated from the earlier version of the document.' },
        'Insert',
      );
      if (pick !== 'Insert') return this.host.notice({ level: 'info', text: 'Nothing was inserted.' });
    }
    const editor =
      vscode.window.visibleTextEditors.find((e) => e.document === doc) ??
      (await vscode.window.showTextDocument(doc, { viewColumn: this.sourceColumn(doc), preserveFocus: false }));
    let at: vscode.Position;
    let insertText: string;
    let how: string;
    if (mode === 'cursor') {
      at = editor.selection.active;
      insertText = text;
      how = `at line ${at.line + 1}, column ${at.character + 1}`;
    } else {
      const syntax = commentSyntaxFor(doc.languageId, doc.getText());
      const eol = doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
      const line = commentLine(editor.selection.start.line, doc.lineAt(0).text);
      if (line >= doc.lineCount) {
        at = doc.lineAt(doc.lineCount - 1).range.end;
        insertText = eol + formatComment(text, syntax, { indent: '', eol }).replace(/(\r?\n)+$/, '');
      } else {
        at = new vscode.Position(line, 0);
        insertText = formatComment(text, syntax, { indent: /^\s*/.exec(doc.lineAt(line).text)![0], eol });
      }
      how = `as ${describeSyntax(syntax)}${'guessed' in syntax ? ` (guessed for language "${doc.languageId}")` : ''} above line ${line + 1}`;
    }
    let ok = false;
    try {
      ok = await editor.edit((b) => b.insert(at, insertText));
    } catch (e) {
      this.log.warn(`insert into ${req.source.fileName} failed: ${errorMessage(e)}`);
    }
    if (!ok) return this.host.notice({ level: 'error', text: `Could not edit ${req.source.fileName} (is it read-only?).` });
    this.host.notice({ level: 'info', text: `Inserted the ${what} ${how} of ${req.source.fileName}; one Undo removes it.` });
  }

  // ── the panel ───────────────────────────────────────────────────────────────────────────────────────────────

  /** PanelOwner: the page asked for the data; the host posts the state next. */
  panelReady(): void {
    this.sourceWatch.check();
    // The picker needs the pack list: ask the worker once (a run would start it anyway).
    if (!this.store.packs && this.request)
      void this.store.refreshPacks().catch((e: unknown) => this.log.warn(`listing model packs failed: ${errorMessage(e)}`));
  }

  /** The panel's model picker: remember the model for the panel's runs and run the shown input again with it. */
  private async pickModel(packId: string): Promise<void> {
    const req = this.request;
    if (packId && !this.store.packs?.some((p) => p.id === packId && p.valid && p.kind === 'causal-lm'))
      return this.host.notice({ level: 'warning', text: `There is no usable causal-LM model "${packId}" (Refresh Model Packs, or Add Model…).` });
    if (!req) return;
    if ((req.packId ?? '') === packId) return;
    if (this.state.run?.status === 'running') this.cancelActive();
    await this.rerun(req.alpha, req.compareRegular, packId);
  }

  /** PanelOwner: a checked message from the page; the host logs a failure and shows it in the panel. */
  async panelMessage(m: Exclude<SummaryViewToHost, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'cancel':
        return this.cancelActive();
      case 'rerun':
        return await this.rerun(m.alpha, m.compareRegular, undefined, {
          ...(m.plausibility !== undefined && { plausibility: m.plausibility }),
          ...(m.adaptive !== undefined && { adaptive: m.adaptive }),
          ...(m.extractive !== undefined && { extractive: m.extractive }),
        });
      case 'sweep':
        return await this.sweep();
      case 'reveal':
        return await this.reveal(m.variant, m.index);
      case 'copy':
        return await this.copy(m.variant);
      case 'insert':
        return await this.insert(m.variant, m.mode);
      case 'model':
        return await this.pickModel(m.packId);
    }
  }

  /** PanelOwner: the user closed the panel: stop its work and forget it (the host drops the saved data next). */
  panelClosed(): void {
    this.cancelActive();
    this.request = undefined;
    this.state = {};
  }

  /** PanelOwner: the state as the page sees it: plus whether the source changed since the run. */
  panelState(): SummaryViewState {
    const run = this.state.run;
    const changed = this.sourceWatch.changed;
    const packs = this.store.packs;
    const picker: Pick<SummaryViewState, 'models' | 'modelId'> = {
      ...(packs && { models: modelChoices(packs) }),
      ...(this.request?.packId !== undefined && { modelId: this.request.packId }),
    };
    if (!run || changed === undefined || run.status === 'running') return { ...this.state, ...picker };
    return { ...this.state, ...picker, run: { ...run, source: { ...run.source, changed } } };
  }

  private persist(): void {
    const data: PersistedSummary | undefined = this.request ? { version: 1, request: this.request, state: this.state } : undefined;
    this.host.persist(data);
  }

  dispose(): void {
    this.host.dispose(); // first: a panel closed from now on is the window closing, which keeps the data
    this.cancelActive();
    this.sourceWatch.dispose();
    this.storeSub.dispose();
  }
}

/** The model of a run: the one picked in the panel, else the `concert.cad.modelPack` setting, else the worker's default. */
function packOf(req: SummaryRequest, cad: CadSettings): { packId?: string } {
  const id = req.packId ?? cad.packId;
  return id !== undefined ? { packId: id } : {};
}

/** `req` with the model picked in the panel (empty: back to the default model). */
function withPack(req: SummaryRequest, packId: string): SummaryRequest {
  const next: SummaryRequest = { ...req };
  delete next.packId;
  return packId ? { ...next, packId } : next;
}

/** Same document, range, task, question, model, extractive output and passage choice (α and the side-by-side toggle may differ). */
function sameInput(a: SummaryRequest, b: SummaryRequest): boolean {
  return (
    a.task === b.task &&
    a.question === b.question &&
    a.extractive === b.extractive &&
    !a.wholeDocument === !b.wholeDocument &&
    a.packId === b.packId &&
    a.source.uri === b.source.uri &&
    a.source.documentSha256 === b.source.documentSha256 &&
    JSON.stringify(a.source.range) === JSON.stringify(b.source.range)
  );
}
