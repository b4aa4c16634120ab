/**
 * The knowledge store's items as data (src/extension/knowledgeItems.ts): what survives a reload from workspaceState
 * or globalState, the checks on names, globs and notes, the tree's descriptions, the worker ids of a folder's files
 * and back, and the size budget of one run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  KNOWLEDGE_LIMITS,
  KnowledgeBudget,
  capText,
  describeEntry,
  entryIdOf,
  folderFileId,
  noteTitle,
  sanitizeEntries,
  uniqueTitle,
  validateGlob,
  validateNote,
  validateTitle,
  type KnowledgeEntry,
} from '../../src/extension/knowledgeItems';

const FILE = { id: 'k-1', kind: 'file', title: 'facts.md', enabled: true, uri: 'file:///w/facts.md', addedAt: 1 };
const NOTE = { id: 'k-2', kind: 'note', title: 'Ferry', enabled: false, text: 'The ferry is called the Blue Heron.', addedAt: 2 };
const FOLDER = { id: 'k-3', kind: 'folder', title: 'kb', enabled: true, uri: 'file:///w/kb', glob: '**/*.md', addedAt: 3 };
const SELECTION = {
  id: 'k-4',
  kind: 'selection',
  title: 'facts.md (line 2)',
  enabled: true,
  text: 'green',
  where: 'line 2',
  uri: 'file:///w/facts.md',
  addedAt: 4,
};

describe('knowledge items: what persists', () => {
  it('keeps well-formed items of every kind, with the scope they were read from', () => {
    const got = sanitizeEntries([FILE, NOTE, FOLDER, SELECTION], 'workspace');
    assert.deepEqual(
      got.map((e) => [e.id, e.kind, e.enabled, e.scope]),
      [
        ['k-1', 'file', true, 'workspace'],
        ['k-2', 'note', false, 'workspace'],
        ['k-3', 'folder', true, 'workspace'],
        ['k-4', 'selection', true, 'workspace'],
      ],
    );
    assert.equal(sanitizeEntries([FILE], 'global')[0]?.scope, 'global');
    assert.equal(got[2]?.glob, '**/*.md');
    assert.equal(got[3]?.where, 'line 2');
  });

  it('drops what is not an item: wrong shapes, unknown kinds, missing parts, duplicate ids, hostile globs', () => {
    assert.deepEqual(sanitizeEntries(undefined, 'workspace'), []);
    assert.deepEqual(sanitizeEntries({ 0: FILE }, 'workspace'), []);
    const bad = [
      null,
      'k-9',
      { ...FILE, id: 'not-an-id' },
      { ...FILE, kind: 'video' },
      { ...FILE, title: '  ' },
      { ...FILE, title: 'x'.repeat(KNOWLEDGE_LIMITS.titleChars + 1) },
      { ...FILE, id: 'k-5', uri: undefined },
      { ...NOTE, id: 'k-6', text: undefined },
      { ...NOTE, id: 'k-7', text: 'x'.repeat(KNOWLEDGE_LIMITS.textChars + 1) },
      { ...FOLDER, id: 'k-8', glob: '../../etc/*' },
      { ...FOLDER, id: 'k-10', glob: '/etc/*' },
      FILE,
      { ...FILE, title: 'again' },
    ];
    assert.deepEqual(
      sanitizeEntries(bad, 'workspace').map((e) => e.id),
      ['k-1'],
    );
  });

  it('keeps no more items than the limit, and defaults a missing enabled flag to enabled', () => {
    const many = Array.from({ length: KNOWLEDGE_LIMITS.items + 5 }, (_, i) => ({ ...NOTE, id: `k-n${i}`, enabled: undefined }));
    const got = sanitizeEntries(many, 'workspace');
    assert.equal(got.length, KNOWLEDGE_LIMITS.items);
    assert.ok(got.every((e) => e.enabled));
  });
});

describe('knowledge items: checks and names', () => {
  it('names: not empty, not too long', () => {
    assert.equal(validateTitle('Harbour notes'), undefined);
    assert.match(validateTitle('   ') ?? '', /Type a name/);
    assert.match(validateTitle('x'.repeat(200)) ?? '', /under 120/);
  });

  it('globs are relative to their folder', () => {
    assert.equal(validateGlob('**/*.md'), undefined);
    assert.equal(validateGlob('docs/*.{md,txt}'), undefined);
    for (const g of ['', '/etc/passwd', 'C:/x', '../x', 'a/../../b']) assert.ok(validateGlob(g), g);
  });

  it('notes: text, within the limit', () => {
    assert.equal(validateNote('The ferry leaves every forty minutes.'), undefined);
    assert.match(validateNote(' \n ') ?? '', /Type the note/);
    assert.match(validateNote('x'.repeat(KNOWLEDGE_LIMITS.textChars + 1)) ?? '', /under 20,000/);
    assert.match(validateNote('\u0000\u0001\u0002binary') ?? '', /not look like text/);
  });

  it("a note's title is its first line, shortened; titles are made unique", () => {
    assert.equal(noteTitle('  First line\nsecond'), 'First line');
    assert.equal(noteTitle('x'.repeat(100)).length, 60);
    assert.equal(noteTitle('   '), 'Note');
    assert.equal(uniqueTitle('a.md', ['b.md']), 'a.md');
    assert.equal(uniqueTitle('a.md', ['a.md', 'a.md (2)']), 'a.md (3)');
  });

  it('the tree describes kind, scope, state and use', () => {
    const [file, note, folder, sel] = sanitizeEntries([FILE, NOTE, FOLDER, SELECTION], 'global') as [
      KnowledgeEntry,
      KnowledgeEntry,
      KnowledgeEntry,
      KnowledgeEntry,
    ];
    assert.equal(describeEntry(file, false), 'file · global');
    assert.equal(describeEntry(note, false), 'note · 35 chars · global · disabled');
    assert.equal(describeEntry(folder, true), 'folder · **/*.md · global · used in last answer');
    assert.equal(describeEntry(sel, false), 'selection · line 2 · global');
  });
});

describe('knowledge items: the worker side', () => {
  it("a folder's files get ids that lead back to the folder item", () => {
    const id = folderFileId('k-3', 'sub/market.md');
    assert.equal(id, 'k-3#sub/market.md');
    assert.equal(entryIdOf(id), 'k-3');
    assert.equal(entryIdOf('k-1'), 'k-1');
  });

  it('cuts long texts at a line or word boundary', () => {
    assert.deepEqual(capText('short', 10), { text: 'short', cut: false });
    const cut = capText('word '.repeat(100), 52);
    assert.equal(cut.cut, true);
    assert.equal(cut.text, 'word '.repeat(10).trimEnd());
    // No boundary near the end: cut where the limit is.
    assert.equal(capText('x'.repeat(100), 50).text.length, 50);
  });

  it('a run reads at most its budget, per item and in all, and says what it left out or cut', () => {
    const b = new KnowledgeBudget(KNOWLEDGE_LIMITS.itemChars + 100);
    assert.equal(b.take('small', 'abc'), 'abc');
    const big = b.take('big', 'x'.repeat(KNOWLEDGE_LIMITS.itemChars + 10));
    assert.equal(big?.length, KNOWLEDGE_LIMITS.itemChars);
    const rest = b.take('rest', 'y'.repeat(1000));
    assert.equal(rest?.length, 97);
    assert.equal(b.take('late', 'anything'), undefined);
    assert.deepEqual(
      b.skipped.map((s) => s.split(' (')[0]),
      ['big', 'rest', 'late'],
    );
    assert.match(b.skipped.at(-1) ?? '', /budget/);
  });
});
