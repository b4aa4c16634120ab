/**
 * The knowledge store's items as data (issue 13): what is kept, the checks on what workspaceState / globalState
 * hand back, the size limits, and how items become the worker's `KnowledgeItem`s and back (a passage names the item
 * it came from). No `vscode` import, so tests cover it; knowledgeStore.ts keeps and reads the items.
 *
 * Files and folders are kept by reference and read at run time (so the knowledge follows edits); a selection and a
 * note are kept as text. Nothing here is ever sent to a remote core: the knowledge goes to the user model, which
 * runs in the local worker.
 */
import { looksBinary } from './summaryState';

/** The Knowledge tree view of the Concert container. */
export const KNOWLEDGE_VIEW_ID = 'concert.knowledge';

export const KNOWLEDGE_KINDS = ['file', 'selection', 'folder', 'note'] as const;
export type KnowledgeKind = (typeof KNOWLEDGE_KINDS)[number];
/** Where an item is kept: this workspace's storage, or the extension's global storage (every window). */
export type KnowledgeScope = 'workspace' | 'global';

export interface KnowledgeEntry {
  /** Stable, unique across both scopes (`k-` + random). */
  id: string;
  kind: KnowledgeKind;
  title: string;
  enabled: boolean;
  scope: KnowledgeScope;
  /** file: the file; selection: the document it came from; folder: the folder the glob is relative to. */
  uri?: string;
  /** folder: a glob relative to `uri`, e.g. `**\/*.md`. */
  glob?: string;
  /** selection and note: the text itself. */
  text?: string;
  /** selection: where it came from, e.g. `lines 3–5` (shown only). */
  where?: string;
  /** ms since the epoch. */
  addedAt: number;
}

export const KNOWLEDGE_LIMITS = {
  /** Items per scope. */
  items: 200,
  titleChars: 120,
  /** A selection or a note. */
  textChars: 20_000,
  globChars: 200,
  /** Files larger than this are skipped when the knowledge is read. */
  fileBytes: 512 * 1024,
  /** What one file (or selection, or note) contributes at most; the rest is cut. */
  itemChars: 50_000,
  /** Files one folder item contributes at most. */
  folderFiles: 100,
  /** All knowledge of one run. */
  totalChars: 400_000,
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** Persisted items may come from an older version or be edited by hand: keep only well-formed ones, once per id. */
export function sanitizeEntries(raw: unknown, scope: KnowledgeScope): KnowledgeEntry[] {
  if (!Array.isArray(raw)) return [];
  const out: KnowledgeEntry[] = [];
  for (const v of raw.slice(0, KNOWLEDGE_LIMITS.items)) {
    if (!isObj(v) || !isStr(v.id, 64) || !/^k-[\w-]{1,60}$/.test(v.id) || out.some((e) => e.id === v.id)) continue;
    if (!KNOWLEDGE_KINDS.includes(v.kind as KnowledgeKind) || !isStr(v.title, KNOWLEDGE_LIMITS.titleChars) || !v.title.trim()) continue;
    const kind = v.kind as KnowledgeKind;
    const uri = isStr(v.uri, 4096) ? v.uri : undefined;
    const glob = isStr(v.glob, KNOWLEDGE_LIMITS.globChars) ? v.glob : undefined;
    const text = isStr(v.text, KNOWLEDGE_LIMITS.textChars) ? v.text : undefined;
    if ((kind === 'file' || kind === 'folder') && !uri) continue;
    if (kind === 'folder' && (glob === undefined || validateGlob(glob))) continue;
    if ((kind === 'selection' || kind === 'note') && text === undefined) continue;
    out.push({
      id: v.id,
      kind,
      title: v.title,
      enabled: v.enabled !== false,
      scope,
      ...(uri !== undefined && { uri }),
      ...(kind === 'folder' && glob !== undefined && { glob }),
      ...(text !== undefined && (kind === 'selection' || kind === 'note') && { text }),
      ...(kind === 'selection' && isStr(v.where, 100) && { where: v.where }),
      addedAt: typeof v.addedAt === 'number' && Number.isFinite(v.addedAt) ? v.addedAt : 0,
    });
  }
  return out;
}

/** Why `title` cannot name an item, or undefined when it can. */
export function validateTitle(title: string): string | undefined {
  if (!title.trim()) return 'Type a name.';
  if (title.length > KNOWLEDGE_LIMITS.titleChars) return `Keep the name under ${KNOWLEDGE_LIMITS.titleChars} characters.`;
  return undefined;
}

/** Why `glob` cannot select a folder's files, or undefined when it can. */
export function validateGlob(glob: string): string | undefined {
  const g = glob.trim();
  if (!g) return 'Type a glob pattern, e.g. **/*.md';
  if (g.length > KNOWLEDGE_LIMITS.globChars) return `Keep the pattern under ${KNOWLEDGE_LIMITS.globChars} characters.`;
  if (g.startsWith('/') || /^[a-zA-Z]:/.test(g) || g.split(/[\\/]/).includes('..'))
    return 'The pattern is relative to the folder: no leading "/", drive or "..".';
  return undefined;
}

/** Why a note (or selection) cannot be kept, or undefined when it can. */
export function validateNote(text: string): string | undefined {
  if (!text.trim()) return 'Type the note.';
  if (text.length > KNOWLEDGE_LIMITS.textChars) return `Keep it under ${KNOWLEDGE_LIMITS.textChars.toLocaleString('en-US')} characters (add a file instead).`;
  if (looksBinary(text)) return 'That does not look like text.';
  return undefined;
}

/** A default title for a note: its first line, shortened. */
export function noteTitle(text: string): string {
  const line = text.trim().split(/\r?\n/)[0]?.trim() ?? '';
  return shorten(line || 'Note', 60);
}

export const shorten = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s);

/** `title`, or `title (2)`, `title (3)` … when another item (of either scope: the tree shows both) has it. */
export function uniqueTitle(title: string, taken: readonly string[]): string {
  if (!taken.includes(title)) return title;
  for (let i = 2; ; i++) {
    const t = `${title} (${i})`;
    if (!taken.includes(t)) return t;
  }
}

/** What the tree shows after an item's title. */
export function describeEntry(e: KnowledgeEntry, used: boolean): string {
  const what =
    e.kind === 'file'
      ? 'file'
      : e.kind === 'folder'
        ? `folder · ${e.glob ?? ''}`
        : e.kind === 'selection'
          ? `selection${e.where ? ` · ${e.where}` : ''}`
          : `note · ${(e.text ?? '').length.toLocaleString('en-US')} chars`;
  return [what, e.scope === 'global' ? 'global' : undefined, e.enabled ? undefined : 'disabled', used ? 'used in last answer' : undefined]
    .filter(Boolean)
    .join(' · ');
}

/** The worker id of a folder item's file: the item's id, `#`, the file's path inside the folder. */
export const folderFileId = (entryId: string, relPath: string) => `${entryId}#${relPath}`;

/** The store's item a passage came from (a folder's file maps to its folder item). */
export const entryIdOf = (itemId: string) => itemId.split('#', 1)[0] ?? itemId;

/** Cuts `text` to `max` characters at a line or word boundary near the end; says whether it cut. */
export function capText(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  const head = text.slice(0, max);
  const at = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '));
  return { text: at > max * 0.8 ? head.slice(0, at) : head, cut: true };
}

/** Keeps adding texts while the run's budget lasts; what did not fit is reported by title. */
export class KnowledgeBudget {
  private used = 0;
  readonly skipped: string[] = [];
  constructor(private readonly total: number = KNOWLEDGE_LIMITS.totalChars) {}

  /** The part of `text` that fits (cut to the per-item limit), or undefined when the budget is spent. */
  take(title: string, text: string): string | undefined {
    const left = this.total - this.used;
    if (left <= 0) {
      this.skipped.push(`${title} (over the ${this.total.toLocaleString('en-US')}-character budget of a run)`);
      return undefined;
    }
    const { text: kept, cut } = capText(text, Math.min(KNOWLEDGE_LIMITS.itemChars, left));
    if (cut) this.skipped.push(`${title} (cut to ${kept.length.toLocaleString('en-US')} characters)`);
    this.used += kept.length;
    return kept;
  }
}
