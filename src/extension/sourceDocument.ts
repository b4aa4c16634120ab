/**
 * The document a panel's run read (its "source"), as the summary and rewrite panels name, hash, find and re-open it.
 * And the panels' watch on it: whether it changed since the run, and the last active text editor.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from './errors';
import type { LineRange } from './summaryState';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function toLineRange(r: vscode.Range): LineRange {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}
export const toRange = (r: LineRange) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);

/** A short name for the tab-less places we mention a document (file name, or the untitled name). */
export function documentName(doc: vscode.TextDocument): string {
  return path.posix.basename(doc.uri.path) || doc.uri.toString();
}

/** The document with this URI if it is open. */
export function openDocument(uri: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri && !d.isClosed);
}

/** The source document, open (opening it again if it was closed; an unsaved untitled one is gone). */
export async function findDocument(source: { uri: string; fileName: string }): Promise<vscode.TextDocument> {
  const open = openDocument(source.uri);
  if (open) return open;
  const uri = vscode.Uri.parse(source.uri);
  if (uri.scheme === 'untitled') throw new Error(`${source.fileName} was closed without being saved.`);
  try {
    return await vscode.workspace.openTextDocument(uri);
  } catch (e) {
    throw new Error(`Cannot open ${source.fileName}: ${errorMessage(e)}`);
  }
}

/** What a {@link SourceWatcher} asks its panel about the shown run's source. */
export interface WatchedSource {
  /** The URI of the document the shown run read; undefined when there is no run. */
  uri(): string | undefined;
  /** Whether the open document `doc` (at that URI) differs from what the run read. */
  differs(doc: vscode.TextDocument): boolean;
  /** `changed` was updated after an edit to the source. */
  onDidChange(): void;
}

/**
 * A panel's watch on text editors and its source document: the last active editor (with the panel focused there is
 * no active text editor, and the commands use the last one), and whether the source changed since the run, checked
 * again 300 ms after edits to it.
 */
export class SourceWatcher implements vscode.Disposable {
  /** Whether the source changed since the run; undefined when unknown (no run, or the document is not open). */
  changed: boolean | undefined;
  private lastEditor: vscode.TextEditor | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly source: WatchedSource) {
    this.lastEditor = vscode.window.activeTextEditor;
    this.subscriptions = [
      vscode.window.onDidChangeActiveTextEditor((e) => {
        if (e) this.lastEditor = e;
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && e.document.uri.toString() === this.source.uri()) this.scheduleCheck();
      }),
    ];
  }

  /** The active text editor, or else the last one while it is still visible and open. */
  editor(): vscode.TextEditor | undefined {
    const visible = (e: vscode.TextEditor | undefined) => e && vscode.window.visibleTextEditors.includes(e) && !e.document.isClosed;
    return vscode.window.activeTextEditor ?? (visible(this.lastEditor) ? this.lastEditor : undefined);
  }

  /** Computes `changed` now (the page asked for the state). */
  check(): void {
    this.changed = this.compute();
  }

  private compute(): boolean | undefined {
    const uri = this.source.uri();
    if (uri === undefined) return undefined;
    const doc = openDocument(uri);
    return doc ? this.source.differs(doc) : undefined;
  }

  private scheduleCheck(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const changed = this.compute();
      if (changed !== this.changed) {
        this.changed = changed;
        this.source.onDidChange();
      }
    }, 300);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
