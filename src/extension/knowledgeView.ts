/**
 * The "Knowledge" tree view of the Concert container (issue 13) and the commands behind it: add the active file, a
 * selection, a folder (with a glob) or a note; rename, enable, disable and remove items. Each item has a checkbox
 * (enabled: the user model reads it), and the items the last Collaborate answer's passages came from are marked.
 * The item commands take the tree's item from its context menu, or ask with a quick pick from the palette.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  KNOWLEDGE_VIEW_ID,
  describeEntry,
  noteTitle,
  shorten,
  validateGlob,
  validateNote,
  validateTitle,
  type KnowledgeEntry,
  type KnowledgeScope,
} from './knowledgeItems';
import type { KnowledgeStore } from './knowledgeStore';
import { readSetting } from './settings';
import { documentName, toLineRange } from './sourceDocument';
import { scopeLabel } from './summaryState';

export { KNOWLEDGE_VIEW_ID };

const ICONS: Record<KnowledgeEntry['kind'], string> = { file: 'file', selection: 'selection', folder: 'folder', note: 'note' };

export class KnowledgeView implements vscode.TreeDataProvider<KnowledgeEntry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<KnowledgeEntry | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly tree: vscode.TreeView<KnowledgeEntry>;

  constructor(private readonly store: KnowledgeStore) {
    this.tree = vscode.window.createTreeView(KNOWLEDGE_VIEW_ID, { treeDataProvider: this, manageCheckboxStateManually: true, showCollapseAll: false });
    this.disposables.push(
      this.changed,
      this.tree,
      store.onDidChange(() => this.refresh()),
      this.tree.onDidChangeCheckboxState(async (e) => {
        for (const [entry, state] of e.items) await store.setEnabled(entry.id, state === vscode.TreeItemCheckboxState.Checked);
      }),
    );
    this.refresh();
  }

  private refresh(): void {
    const all = this.store.all();
    const enabled = all.filter((e) => e.enabled).length;
    this.tree.description = all.length ? `${enabled} of ${all.length} enabled` : '';
    this.changed.fire(undefined);
  }

  getChildren(element?: KnowledgeEntry): KnowledgeEntry[] {
    return element ? [] : this.store.all();
  }

  /** A flat list (TreeView.reveal needs the parent). */
  getParent(): undefined {
    return undefined;
  }

  getTreeItem(e: KnowledgeEntry): vscode.TreeItem {
    const used = this.store.isUsed(e.id);
    const item = new vscode.TreeItem(e.title, vscode.TreeItemCollapsibleState.None);
    item.id = e.id;
    item.description = describeEntry(e, used);
    item.iconPath = new vscode.ThemeIcon(used ? 'pass-filled' : ICONS[e.kind], used ? new vscode.ThemeColor('charts.green') : undefined);
    item.checkboxState = {
      state: e.enabled ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked,
      tooltip: e.enabled ? 'Enabled: the user model reads it (uncheck to disable)' : 'Disabled (check to enable)',
    };
    item.contextValue = `knowledge.${e.enabled ? 'enabled' : 'disabled'}`;
    item.accessibilityInformation = { label: `${e.title}, ${describeEntry(e, used)}` };
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${escapeMd(e.title)}** — ${describeEntry(e, used)}\n\n`);
    if (e.uri) tip.appendMarkdown(`${escapeMd(vscode.Uri.parse(e.uri).fsPath || e.uri)}${e.glob ? ` · \`${e.glob.replace(/`/g, '')}\`` : ''}\n\n`);
    if (e.text) tip.appendText(shorten(e.text, 400));
    item.tooltip = tip;
    if (e.kind === 'file' && e.uri) item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.parse(e.uri)] };
    return item;
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────────────────

  private scope(): KnowledgeScope {
    return readSetting('concert.knowledge.scope') === 'global' ? 'global' : 'workspace';
  }

  private async added(e: KnowledgeEntry): Promise<void> {
    await this.tree.reveal(e, { select: true, focus: false }).then(undefined, () => undefined);
    vscode.window.setStatusBarMessage(`Concert: added “${e.title}” to the knowledge${e.scope === 'global' ? ' (global)' : ''}.`, 5000);
  }

  async addActiveFile(): Promise<void> {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc) return void vscode.window.showWarningMessage('Concert: open a file first; Add Active File adds the file of the active editor.');
    const name = documentName(doc);
    if (doc.isUntitled) {
      // An unsaved document has no file to read later: keep its text, as a selection of the whole document.
      const why = validateNote(doc.getText());
      if (why) return void vscode.window.showWarningMessage(`Concert: ${name} cannot be added: ${why}`);
      return this.added(
        await this.store.add({ kind: 'selection', title: name, text: doc.getText(), where: 'whole document', uri: doc.uri.toString() }, this.scope()),
      );
    }
    const uri = doc.uri.toString();
    const existing = this.store.all().find((e) => e.kind === 'file' && e.uri === uri);
    if (existing) {
      if (!existing.enabled) await this.store.setEnabled(existing.id, true);
      vscode.window.setStatusBarMessage(`Concert: “${existing.title}” is already in the knowledge.`, 5000);
      return;
    }
    await this.added(await this.store.add({ kind: 'file', title: name, uri }, this.scope()));
  }

  async addSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty)
      return void vscode.window.showWarningMessage('Concert: select some text first; Add Selection keeps the selected text.');
    const text = editor.document.getText(editor.selection);
    const why = validateNote(text);
    if (why) return void vscode.window.showWarningMessage(`Concert: the selection cannot be added: ${why}`);
    const where = scopeLabel(toLineRange(editor.selection));
    await this.added(
      await this.store.add(
        { kind: 'selection', title: `${documentName(editor.document)} (${where})`, text, where, uri: editor.document.uri.toString() },
        this.scope(),
      ),
    );
  }

  async addFolder(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Add to Knowledge',
      title: 'Concert: a folder whose files the user model may read',
      ...(vscode.workspace.workspaceFolders?.[0] && { defaultUri: vscode.workspace.workspaceFolders[0].uri }),
    });
    const folder = picked?.[0];
    if (!folder) return;
    const glob = await vscode.window.showInputBox({
      title: 'Concert: Add Folder to Knowledge',
      prompt: `Which files of ${path.posix.basename(folder.path) || folder.path} (a glob relative to the folder)`,
      value: '**/*.md',
      ignoreFocusOut: true,
      validateInput: validateGlob,
    });
    if (glob === undefined) return;
    const title = vscode.workspace.asRelativePath(folder, false) || path.posix.basename(folder.path);
    await this.added(await this.store.add({ kind: 'folder', title, uri: folder.toString(), glob: glob.trim() }, this.scope()));
  }

  async addNote(): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: 'Concert: Add Note to Knowledge',
      prompt: 'A fact or note the user model may read (the core model never sees it)',
      placeHolder: 'e.g. The release is planned for 14 March.',
      ignoreFocusOut: true,
      validateInput: validateNote,
    });
    if (text === undefined || !text.trim()) return;
    await this.added(await this.store.add({ kind: 'note', title: noteTitle(text), text: text.trim() }, this.scope()));
  }

  /** The item a tree context menu passed, or one the user picks (palette). */
  private async target(arg: unknown, verb: string, filter: (e: KnowledgeEntry) => boolean = () => true): Promise<KnowledgeEntry | undefined> {
    const id = typeof arg === 'object' && arg !== null && typeof (arg as { id?: unknown }).id === 'string' ? (arg as { id: string }).id : undefined;
    if (id) {
      const e = this.store.get(id);
      if (!e) void vscode.window.showWarningMessage('Concert: that knowledge item is gone.');
      return e;
    }
    const items = this.store.all().filter(filter);
    if (!items.length) {
      void vscode.window.showInformationMessage(`Concert: no knowledge item to ${verb.toLowerCase()}.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      items.map((e) => ({ label: e.title, description: describeEntry(e, this.store.isUsed(e.id)), entry: e })),
      { title: `Concert: ${verb} Knowledge Item`, placeHolder: `The item to ${verb.toLowerCase()}` },
    );
    return pick?.entry;
  }

  async rename(arg?: unknown): Promise<void> {
    const e = await this.target(arg, 'Rename');
    if (!e) return;
    const title = await vscode.window.showInputBox({
      title: 'Concert: Rename Knowledge Item',
      prompt: 'The name the Knowledge view and the Collaborate panel show',
      value: e.title,
      ignoreFocusOut: true,
      validateInput: validateTitle,
    });
    if (title === undefined || title.trim() === e.title) return;
    await this.store.rename(e.id, title.trim());
  }

  async setEnabled(arg: unknown, enabled: boolean): Promise<void> {
    const e = await this.target(arg, enabled ? 'Enable' : 'Disable', (x) => x.enabled !== enabled);
    if (e) await this.store.setEnabled(e.id, enabled);
  }

  async remove(arg?: unknown): Promise<void> {
    const e = await this.target(arg, 'Remove');
    if (!e) return;
    if (e.kind === 'note' || e.kind === 'selection') {
      // Its text is kept only here.
      const ok = await vscode.window.showWarningMessage(`Remove “${e.title}” from the knowledge? Its text is kept nowhere else.`, { modal: true }, 'Remove');
      if (ok !== 'Remove') return;
    }
    await this.store.remove(e.id);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

const escapeMd = (s: string) => s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
