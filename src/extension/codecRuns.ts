/**
 * The run-state machine and Save of the codec panels (Concert: Images, Concert: Video): one run at a time (a new run
 * or Cancel aborts the one in flight, which really cancels the worker request), its progress notifications filtered
 * by token and by run, the result or the stop (cancelled, or the worker's one-line error), then a final post and
 * persist; and writing sample files next to the source or into a folder chosen in a dialog, never over a file.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { freeNames } from './codecPanel';
import { errorMessage, isCancelled } from './errors';

/** What one run does at each stage; the slot calls it. */
export interface RunStages<P extends { progressToken: string }, R> {
  /** The Window progress title while the run is in flight. */
  title: string;
  /** Prefix of the progress token (`image`, `video`). */
  tokenPrefix: string;
  /** The worker's progress notifications of this kind. */
  progress: { on(listener: (p: P) => void): { dispose(): void } };
  /** The worker request (its progress token and the signal that cancels it). */
  request(progressToken: string, signal: AbortSignal): Promise<R>;
  /** Whether run `id` is still the one the panel shows (a later run replaces it). */
  current(id: number): boolean;
  /** A notification of this run. */
  onProgress(p: P): void;
  onResult(r: R): void;
  /** Cancelled, or failed with the worker's one-line message (`error` is what was thrown). */
  onStopped(status: 'cancelled' | 'error', message: string, error: unknown): void;
  /** After the result or the stop, while the run is current: post the state and persist it. */
  settle(): void;
}

export class RunSlot {
  private active: { id: number; ac: AbortController } | undefined;

  private seq = 0;

  /** Continues the ids after `seq` (the last run of a restored panel). */
  resume(seq: number): void {
    this.seq = Math.max(this.seq, seq);
  }

  /** Cancels the run in flight, if any. */
  cancel(): void {
    this.active?.ac.abort();
    this.active = undefined;
  }

  /** The next run's id (cancels the run in flight): the caller shows the run as started, then calls `run`. */
  next(): number {
    this.cancel();
    this.active = { id: ++this.seq, ac: new AbortController() };
    return this.seq;
  }

  /** Runs `id` (from `next`). Never throws: failures go to `onStopped`. */
  async run<P extends { progressToken: string }, R>(id: number, s: RunStages<P, R>): Promise<void> {
    const ac = this.active?.id === id ? this.active.ac : new AbortController();
    const progressToken = `${s.tokenPrefix}-${id}-${randomUUID()}`;
    try {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: s.title }, async () => {
        const sub = s.progress.on((p) => {
          if (p.progressToken === progressToken && s.current(id)) s.onProgress(p);
        });
        try {
          return await s.request(progressToken, ac.signal);
        } finally {
          sub.dispose();
        }
      });
      if (s.current(id)) s.onResult(result);
    } catch (e) {
      if (s.current(id)) s.onStopped(isCancelled(e) ? 'cancelled' : 'error', isCancelled(e) ? 'Cancelled.' : errorMessage(e), e);
    } finally {
      if (this.active?.id === id) this.active = undefined;
      if (s.current(id)) s.settle();
    }
  }
}

/** A folder chosen in a dialog (opened near `near`), or undefined when the user cancelled. */
export async function pickFolder(near: string | undefined, title: string): Promise<vscode.Uri | undefined> {
  const at = near ? vscode.Uri.file(path.dirname(near)) : vscode.workspace.workspaceFolders?.[0]?.uri;
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Save Here',
    title,
    ...(at && { defaultUri: at }),
  });
  return picked?.[0];
}

/**
 * Writes `files` (name → base64 bytes) into `folder`, each under its own name unless that is taken (then
 * `<stem> (2).<ext>`, …); returns the names written, in order.
 */
export async function writeFree(folder: vscode.Uri, files: readonly { name: string; base64: string }[]): Promise<string[]> {
  const existing = await vscode.workspace.fs.readDirectory(folder).then(
    (entries) => entries.map(([n]) => n),
    () => [] as string[],
  );
  const names = freeNames(
    files.map((f) => f.name),
    existing,
  );
  for (const [i, f] of files.entries()) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(folder, names[i]!), Buffer.from(f.base64, 'base64'));
  return names;
}

/** The notice after a Save: the one file, or the first and last of several. */
export function savedText(names: readonly string[], what: string, folder: vscode.Uri): string {
  const list = names.length === 1 ? names[0] : `${names.length} ${what} (${names[0]} … ${names.at(-1)})`;
  return `Saved ${list} in ${path.basename(folder.fsPath) || folder.fsPath}.`;
}
