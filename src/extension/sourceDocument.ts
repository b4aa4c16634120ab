/**
 * The document a panel's run read (its "source"), as the summary and rewrite panels name, hash, find and re-open it.
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
