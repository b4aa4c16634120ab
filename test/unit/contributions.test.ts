/**
 * package.json's commands and menus against src/extension/commandTable.ts: every command declared and registered,
 * titled and categorised; every menu entry pointing at something real; nothing contributed for a feature that is not
 * built.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COLLAB_VIEW_TYPE } from '../../src/extension/collabState';
import { IMAGES_VIEW_TYPE } from '../../src/extension/imagesState';
import { KNOWLEDGE_VIEW_ID } from '../../src/extension/knowledgeItems';
import { REWRITE_VIEW_TYPE } from '../../src/extension/rewriteState';
import { SUMMARY_VIEW_TYPE } from '../../src/extension/summaryState';
import { VIDEO_VIEW_TYPE } from '../../src/extension/videoState';
import {
  CATEGORY,
  COMMANDS,
  COMMAND_LIST,
  IMAGE_FILE_WHEN,
  SAMPLE_DOCUMENT,
  VIDEO_FILE_WHEN,
  WALKTHROUGH_ID,
  toContribution,
} from '../../src/extension/commandTable';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const contributes = pkg.contributes ?? {};
const declared: { command: string; title?: string; category?: string }[] = contributes.commands ?? [];
const declaredIds = new Set(declared.map((c) => c.command));
const menus: Record<string, { command?: string; submenu?: string; when?: string }[]> = contributes.menus ?? {};
const submenuIds = new Set<string>((contributes.submenus ?? []).map((s: { id: string }) => s.id));
const featureCommands = COMMAND_LIST.filter((c) => c.feature);
/** The features that work on the text of an editor (image completion works on image files instead). */
const textFeatureCommands = featureCommands.filter((c) => c.feature !== 'codec');

/** True when `when` can only be true with `key` set (a top-level conjunct, not inside an `||`). */
function requiresKey(when: string | undefined, key: string): boolean {
  if (!when || when.includes('||')) return false;
  return when
    .split('&&')
    .map((s) => s.trim())
    .includes(key);
}

describe('command contributions', () => {
  it('package.json declares exactly the commands of the table, with the table titles', () => {
    assert.deepEqual([...declaredIds].sort(), COMMAND_LIST.map((c) => c.id).sort());
    for (const def of COMMAND_LIST) {
      assert.deepEqual(
        declared.find((c) => c.command === def.id),
        toContribution(def),
        `package.json should declare ${JSON.stringify(toContribution(def))}`,
      );
    }
  });

  it('every command has a title and the Concert category', () => {
    for (const c of declared) {
      assert.ok(c.title && c.title.trim().length > 0, `${c.command} has no title`);
      assert.equal(c.category, CATEGORY, `${c.command} category`);
    }
  });

  it('every command id is registered by the extension', () => {
    // registerCommands() registers a handler for each key of COMMANDS (a Record<CommandName, …> the compiler
    // checks); here we make sure the registration loop really is driven by COMMANDS.
    const src = readFileSync(new URL('src/extension/commands.ts', root), 'utf8');
    assert.match(src, /registerCommand\(COMMANDS\[name\]\.id/);
    assert.match(src, /Record<CommandName, Handler>/);
    for (const name of Object.keys(COMMANDS)) assert.match(src, new RegExp(`\\b${name}\\b`), `no handler for ${name}`);
  });

  it('command ids are unique and namespaced', () => {
    const ids = COMMAND_LIST.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^concert\.[a-zA-Z]+$/);
  });
});

describe('menu contributions', () => {
  it('every menu entry references a declared command or submenu', () => {
    for (const [menu, entries] of Object.entries(menus)) {
      for (const e of entries) {
        if (e.submenu !== undefined) assert.ok(submenuIds.has(e.submenu), `${menu}: unknown submenu ${e.submenu}`);
        else assert.ok(e.command && declaredIds.has(e.command), `${menu}: unknown command ${e.command}`);
      }
    }
  });

  it('every declared submenu is used, and every submenu has a menu of its own', () => {
    for (const id of submenuIds) {
      assert.ok(
        Object.values(menus).some((entries) => entries.some((e) => e.submenu === id)),
        `submenu ${id} is never shown`,
      );
      assert.ok((menus[id] ?? []).length > 0, `submenu ${id} is empty`);
    }
  });

  it('feature commands show from the first moment: no menu hides them behind a key that activation sets', () => {
    // A palette opened before activation finishes (or after it failed) must still list Summarize, Ask, Rewrite and
    // Continue; a command that cannot run explains why when it runs. Only VS Code's own keys may narrow them.
    for (const [menu, entries] of Object.entries(menus)) {
      for (const e of entries) {
        if (!featureCommands.some((c) => c.id === e.command) && e.submenu === undefined) continue;
        // `view == concert.knowledge` names one of Concert's views, not a key that activation sets.
        const keys = (e.when ?? '').replace(/\bview == concert\.\w+/g, '');
        assert.doesNotMatch(keys, /\bconcert\./, `${menu}: ${e.command ?? e.submenu} when "${e.when}" depends on a Concert context key`);
      }
    }
  });

  it('text features are in the editor context submenu', () => {
    const editorSub = contributes.menus['editor/context']?.find((e: { submenu?: string }) => e.submenu)?.submenu;
    assert.ok(editorSub, 'editor/context has a Concert submenu');
    const inSub = new Set((menus[editorSub] ?? []).map((e) => e.command));
    for (const c of textFeatureCommands) assert.ok(inSub.has(c.id), `${c.id} not in the editor submenu`);
    for (const c of featureCommands.filter((x) => x.feature === 'codec')) assert.ok(!inSub.has(c.id), `${c.id} works on images, not on text`);
  });

  it('Complete Image… is on image files in the explorer and in the palette; Generate Image in the palette; the Images panel is restored', () => {
    const explorer = menus['explorer/context'] ?? [];
    assert.deepEqual(explorer, [
      { command: COMMANDS.completeImage.id, group: 'z_concert@1', when: IMAGE_FILE_WHEN },
      { command: COMMANDS.continueVideo.id, group: 'z_concert@2', when: VIDEO_FILE_WHEN },
    ]);
    assert.match(IMAGE_FILE_WHEN, /!explorerResourceIsFolder/);
    for (const c of [COMMANDS.completeImage, COMMANDS.generateImage])
      assert.ok(!(menus.commandPalette ?? []).some((e) => e.command === c.id), `no palette entry narrows ${c.id}`);
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${IMAGES_VIEW_TYPE}`));
    const build = readFileSync(new URL('esbuild.mjs', root), 'utf8');
    assert.match(build, /'?images'?: 'webview\/images\/main\.ts'/);
    assert.ok(existsSync(new URL('media/images.css', root)));
  });

  it('Continue Video… is on clips in the explorer and in the palette; the Video panel is restored; its bundle and styles are built', () => {
    assert.match(VIDEO_FILE_WHEN, /!explorerResourceIsFolder/);
    assert.ok(!(menus.commandPalette ?? []).some((e) => e.command === COMMANDS.continueVideo.id), 'no palette entry narrows Continue Video…');
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${VIDEO_VIEW_TYPE}`));
    const build = readFileSync(new URL('esbuild.mjs', root), 'utf8');
    assert.match(build, /'?video'?: 'webview\/video\/main\.ts'/);
    for (const css of ['media/video.css', 'media/panel.css', 'media/base.css']) assert.ok(existsSync(new URL(css, root)), css);
  });

  it('nothing is contributed for a feature that is not built: no placeholder commands, context keys or claims', () => {
    const text = readFileSync(new URL('package.json', root), 'utf8');
    assert.doesNotMatch(text, /\bconcert\.feature\./, 'no feature context keys: built features show from the first moment');
    // The image previews are built (Complete Image…, Generate Image); the old placeholders are gone, video is not built.
    for (const gone of ['concert.previewImageCompletion', 'concert.previewVideoContinuation'])
      assert.ok(!text.includes(gone), `package.json still has ${gone}`);
    assert.doesNotMatch(pkg.description, /H\.264|video/i, 'the description claims an unbuilt feature');
    const commands = readFileSync(new URL('src/extension/commands.ts', root), 'utf8');
    assert.doesNotMatch(commands, /not available in this version/, 'a command handler is a placeholder');
  });

  it('Summarize Selection and Rewrite Selection are offered only with a selection', () => {
    for (const id of [COMMANDS.summarizeSelection.id, COMMANDS.rewriteSelection.id]) {
      for (const menu of ['commandPalette', 'concert.editor']) {
        const e = (menus[menu] ?? []).find((x) => x.command === id);
        assert.ok(e && requiresKey(e.when, 'editorHasSelection'), `${id} in ${menu}: ${e?.when}`);
      }
    }
  });

  it('the summary and rewrite panels are restored after a reload: their activation events are declared', () => {
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${SUMMARY_VIEW_TYPE}`));
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${REWRITE_VIEW_TYPE}`));
  });

  it('the collaborate panel is restored after a reload, and its bundle and stylesheet are built', () => {
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${COLLAB_VIEW_TYPE}`));
    const build = readFileSync(new URL('esbuild.mjs', root), 'utf8');
    assert.match(build, /'?collab'?: 'webview\/collab\/main\.ts'/);
    assert.ok(existsSync(new URL('media/collab.css', root)));
  });

  it('Collaborate… is in the palette and the editor submenu from the first moment; Add Selection needs a selection', () => {
    assert.ok(!(menus.commandPalette ?? []).some((e) => e.command === COMMANDS.collaborate.id), 'no palette entry narrows Collaborate…');
    assert.ok((menus['concert.editor'] ?? []).some((e) => e.command === COMMANDS.collaborate.id && !e.when));
    for (const menu of ['commandPalette', 'concert.editor']) {
      const e = (menus[menu] ?? []).find((x) => x.command === COMMANDS.knowledgeAddSelection.id);
      assert.ok(e && requiresKey(e.when, 'editorHasSelection'), `${COMMANDS.knowledgeAddSelection.id} in ${menu}: ${e?.when}`);
    }
  });

  it('the Knowledge view offers its add commands in its title and its item commands on each item', () => {
    const inView = (menu: string) => (menus[menu] ?? []).filter((e) => e.when?.includes(`view == ${KNOWLEDGE_VIEW_ID}`)).map((e) => e.command);
    for (const c of [COMMANDS.knowledgeAddFile, COMMANDS.knowledgeAddSelection, COMMANDS.knowledgeAddFolder, COMMANDS.knowledgeAddNote, COMMANDS.collaborate])
      assert.ok(inView('view/title').includes(c.id), `${c.id} in the Knowledge view title`);
    for (const c of [COMMANDS.knowledgeRename, COMMANDS.knowledgeEnable, COMMANDS.knowledgeDisable, COMMANDS.knowledgeRemove])
      assert.ok(inView('view/item/context').includes(c.id), `${c.id} on the Knowledge view's items`);
  });

  it("the rewrite panel's bundle is built: esbuild.mjs lists its webview entry point", () => {
    const build = readFileSync(new URL('esbuild.mjs', root), 'utf8');
    assert.match(build, /'?rewrite'?: 'webview\/rewrite\/main\.ts'/);
    assert.ok(existsSync(new URL('webview/rewrite/main.ts', root)));
    assert.ok(existsSync(new URL('media/rewrite.css', root)));
  });
});

describe('views', () => {
  it('the activity-bar container, its icon and the status webview view exist', () => {
    const container = contributes.viewsContainers?.activitybar?.find((c: { id: string }) => c.id === 'concert');
    assert.ok(container, 'activitybar container concert');
    assert.ok(existsSync(new URL(container.icon, root)), `icon ${container.icon} exists`);
    const status = contributes.views?.concert?.find((v: { id: string }) => v.id === 'concert.status');
    assert.equal(status?.type, 'webview');
    const knowledge = contributes.views?.concert?.find((v: { id: string }) => v.id === KNOWLEDGE_VIEW_ID);
    assert.ok(knowledge && knowledge.type === undefined && !knowledge.when, 'the Knowledge tree view is always in the Concert container');
  });

  it('viewsWelcome targets a declared view and links only to declared commands', () => {
    const viewIds = new Set(Object.values(contributes.views ?? {}).flatMap((vs) => (vs as { id: string }[]).map((v) => v.id)));
    for (const w of contributes.viewsWelcome ?? []) {
      assert.ok(viewIds.has(w.view), `viewsWelcome for unknown view ${w.view}`);
      for (const m of (w.contents as string).matchAll(/\(command:([^)\s?]+)/g)) assert.ok(declaredIds.has(m[1]!), `welcome links to unknown command ${m[1]}`);
    }
  });

  it('the walkthrough is declared with a step per feature, each completed by its command, and its media ship', () => {
    const [id, walkthroughId] = WALKTHROUGH_ID.split('#');
    assert.equal(id, `${pkg.publisher}.${pkg.name}`);
    assert.ok(walkthroughId);
    const w = (
      contributes.walkthroughs as { id: string; steps: { id: string; description: string; media: { markdown?: string }; completionEvents?: string[] }[] }[]
    ).find((x) => x.id === walkthroughId);
    assert.ok(w, `no walkthrough ${walkthroughId}`);
    const linked = (d: string) => [...d.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1] ?? '');
    for (const want of [COMMANDS.openSample.id, COMMANDS.summarizeDocument.id, COMMANDS.askAboutDocument.id, COMMANDS.rewriteSelection.id]) {
      const step = w.steps.find((st) => linked(st.description).includes(want));
      assert.ok(step, `no walkthrough step runs ${want}`);
      assert.ok(step.completionEvents?.includes(`onCommand:${want}`), `the step that runs ${want} is not completed by it`);
    }
    for (const st of w.steps) {
      for (const c of linked(st.description)) assert.ok(declaredIds.has(c) || c === 'concert.status.focus', `step ${st.id} links to unknown command ${c}`);
      if (st.media.markdown) assert.ok(existsSync(new URL(st.media.markdown, root)), `missing ${st.media.markdown}`);
    }
    assert.ok(existsSync(new URL(SAMPLE_DOCUMENT, root)));
  });
});
