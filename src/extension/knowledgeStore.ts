/**
 * The knowledge store (issue 13): the items the user model of Concert: Collaborate reads, kept per workspace in
 * workspaceState (or, for items added with `concert.knowledge.scope` = `global`, in globalState, shared by every
 * window), surviving reloads. Files and folders are read when a run starts, within the limits of knowledgeItems.ts;
 * the store also remembers which items the last answer's passages came from, for the Knowledge view.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KnowledgeItem } from '../protocol/worker';
import { errorMessage } from './errors';
import {
  KNOWLEDGE_LIMITS,
  KnowledgeBudget,
  entryIdOf,
  folderFileId,
  sanitizeEntries,
  uniqueTitle,
  type KnowledgeEntry,
  type KnowledgeScope,
} from './knowledgeItems';
import { looksBinary } from './summaryState';

/** workspaceState / globalState keys of the items. */
const KEYS: Record<KnowledgeScope, string> = { workspace: 'concert.knowledge.v1', global: 'concert.knowledge.global.v1' };
/** workspaceState key of the ids the last answer used. */
const USED_KEY = 'concert.knowledge.used.v1';

/** Folders a glob never descends into. */
const EXCLUDE = '{**/node_modules/**,**/.git/**,**/dist/**,**/out/**,**/*.onnx,**/*.bin,**/*.png,**/*.jpg,**/*.zip}';

export type NewEntry = Omit<KnowledgeEntry, 'id' | 'enabled' | 'scope' | 'addedAt'>;

export interface CollectedKnowledge {
  items: KnowledgeItem[];
  /** One line per item or file left out or cut, with the reason. */
  skipped: string[];
}

export class KnowledgeStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private usedIds: Set<string>;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const used = context.workspaceState.get<unknown>(USED_KEY);
    this.usedIds = new Set(Array.isArray(used) ? used.filter((v): v is string => typeof v === 'string').slice(0, 1000) : []);
  }

  private memento(scope: KnowledgeScope): vscode.Memento {
    return scope === 'global' ? this.context.globalState : this.context.workspaceState;
  }

  private read(scope: KnowledgeScope): KnowledgeEntry[] {
    return sanitizeEntries(this.memento(scope).get<unknown>(KEYS[scope]), scope);
  }

  private async write(scope: KnowledgeScope, entries: KnowledgeEntry[]): Promise<void> {
    await this.memento(scope).update(
      KEYS[scope],
      entries.map(({ scope: _s, ...e }) => e),
    );
    this.changed.fire();
  }

  /** Every item: this workspace's first, then the global ones, each in the order they were added. */
  all(): KnowledgeEntry[] {
    return [...this.read('workspace'), ...this.read('global')];
  }

  get(id: string): KnowledgeEntry | undefined {
    return this.all().find((e) => e.id === id);
  }

  /** Whether the last answer's passages came from this item. */
  isUsed(id: string): boolean {
    return this.usedIds.has(id);
  }

  async add(entry: NewEntry, scope: KnowledgeScope): Promise<KnowledgeEntry> {
    const entries = this.read(scope);
    if (entries.length >= KNOWLEDGE_LIMITS.items)
      throw new Error(`the knowledge store holds at most ${KNOWLEDGE_LIMITS.items} items per scope; remove some first.`);
    const full: KnowledgeEntry = {
      ...entry,
      title: uniqueTitle(
        entry.title,
        this.all().map((e) => e.title),
      ),
      id: `k-${randomUUID()}`,
      enabled: true,
      scope,
      addedAt: Date.now(),
    };
    await this.write(scope, [...entries, full]);
    return full;
  }

  private async update(id: string, change: (e: KnowledgeEntry) => KnowledgeEntry | undefined): Promise<boolean> {
    for (const scope of ['workspace', 'global'] as const) {
      const entries = this.read(scope);
      const i = entries.findIndex((e) => e.id === id);
      if (i < 0) continue;
      const next = change(entries[i]!);
      await this.write(scope, next ? entries.map((e, j) => (j === i ? next : e)) : entries.filter((_, j) => j !== i));
      return true;
    }
    return false;
  }

  rename(id: string, title: string): Promise<boolean> {
    return this.update(id, (e) => ({ ...e, title }));
  }

  setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return this.update(id, (e) => ({ ...e, enabled }));
  }

  remove(id: string): Promise<boolean> {
    this.usedIds.delete(id);
    return this.update(id, () => undefined);
  }

  /** Marks the items the last answer's passages came from (worker item ids; a folder's files mark the folder). */
  setUsed(itemIds: readonly string[]): void {
    this.usedIds = new Set(itemIds.map(entryIdOf));
    void this.context.workspaceState.update(USED_KEY, [...this.usedIds]);
    this.changed.fire();
  }

  /**
   * The enabled items as the worker takes them, read now: files and folders from disk (or from the open editor,
   * unsaved edits included), within the limits of KNOWLEDGE_LIMITS. Never throws: what cannot be read is skipped,
   * with the reason.
   */
  async collect(token?: vscode.CancellationToken): Promise<CollectedKnowledge> {
    const budget = new KnowledgeBudget();
    const items: KnowledgeItem[] = [];
    const push = (id: string, title: string, text: string) => {
      if (!text.trim()) return;
      const kept = budget.take(title, text);
      if (kept !== undefined) items.push({ id, title, text: kept });
    };
    for (const e of this.all()) {
      if (!e.enabled || token?.isCancellationRequested) continue;
      try {
        switch (e.kind) {
          case 'note':
          case 'selection':
            push(e.id, e.title, e.text ?? '');
            break;
          case 'file': {
            const text = await readText(vscode.Uri.parse(e.uri ?? ''));
            if (typeof text === 'string') push(e.id, e.title, text);
            else budget.skipped.push(`${e.title} (${text.skipped})`);
            break;
          }
          case 'folder': {
            const base = vscode.Uri.parse(e.uri ?? '');
            const files = await vscode.workspace.findFiles(
              new vscode.RelativePattern(base, e.glob ?? '**/*'),
              EXCLUDE,
              KNOWLEDGE_LIMITS.folderFiles + 1,
              token,
            );
            if (files.length > KNOWLEDGE_LIMITS.folderFiles) budget.skipped.push(`${e.title} (only the first ${KNOWLEDGE_LIMITS.folderFiles} files)`);
            files.sort((a, b) => a.path.localeCompare(b.path));
            for (const f of files.slice(0, KNOWLEDGE_LIMITS.folderFiles)) {
              const rel = path.posix.relative(base.path, f.path) || path.posix.basename(f.path);
              const text = await readText(f);
              if (typeof text === 'string') push(folderFileId(e.id, rel), `${e.title}/${rel}`, text);
              else budget.skipped.push(`${e.title}/${rel} (${text.skipped})`);
            }
            break;
          }
        }
      } catch (err) {
        budget.skipped.push(`${e.title} (${errorMessage(err)})`);
      }
    }
    for (const s of budget.skipped) this.log.info(`knowledge: left out or cut: ${s}`);
    return { items, skipped: budget.skipped };
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** A file's text (the open document's, with unsaved edits), or why it was skipped. */
async function readText(uri: vscode.Uri): Promise<string | { skipped: string }> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString() && !d.isClosed);
  if (open) return open.getText();
  let stat: vscode.FileStat;
  try {
    stat = await vscode.workspace.fs.stat(uri);
  } catch {
    return { skipped: 'not found' };
  }
  if (stat.type & vscode.FileType.Directory) return { skipped: 'a folder' };
  if (stat.size > KNOWLEDGE_LIMITS.fileBytes) return { skipped: `larger than ${KNOWLEDGE_LIMITS.fileBytes / 1024} KB` };
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  if (looksBinary(text)) return { skipped: 'not text' };
  return text;
}
