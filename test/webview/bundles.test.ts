/// <reference lib="dom" />
/**
 * Every webview bundle the build produces (dist/webview/*.js), generically: the harness knows how its host serves
 * it (script, styles and title as in the host code of src/extension), and the page loads under the extension's CSP,
 * handshakes with a message the host's guard accepts, names every control, and stays clean (no console error, CSP
 * violation or request off the harness origin). A new panel fails here until it is listed in VIEWS; a panel
 * without its own test file is reported as a todo.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { axControls, RESULTS, startSuite, withPage, type WebviewSuite } from './common';
import { FakeHost, ROOT, VIEWS, type ViewShell } from './harness';

const DIST = join(ROOT, 'dist', 'webview');
const bundles = existsSync(DIST)
  ? readdirSync(DIST)
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(0, -3))
      .sort()
  : [];
const views: Record<string, ViewShell> = VIEWS;
const hostSources = readdirSync(join(ROOT, 'src', 'extension'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: `src/extension/${f}`, text: readFileSync(join(ROOT, 'src', 'extension', f), 'utf8') }));

let suite: WebviewSuite;

describe('every webview bundle (webview tier)', () => {
  before(async () => {
    assert.ok(bundles.length > 0, `no bundles in ${DIST}: run \`npm run build\` first (npm test does)`);
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('each bundle in dist/webview is known to the harness', () => {
    const unknown = bundles.filter((b) => !(b in views));
    assert.deepEqual(
      unknown,
      [],
      `dist/webview has bundles the harness does not know: ${unknown.join(', ')}. Add them to VIEWS in test/webview/harness.ts (and give each its own test file).`,
    );
  });

  it("the harness serves each view the way its host does (script, styles, title from the host's code)", () => {
    for (const v of Object.values(views)) {
      const host = hostSources.find((s) => s.text.includes(`'${v.name}.js'`));
      assert.ok(host, `no host code in src/extension serves ${v.name}.js`);
      for (const style of v.styles) {
        const [dir, file] = style.split('/');
        assert.ok(host.text.includes(`'${dir}', '${file}'`) || host.text.includes(`'${file}'`), `${host.file} links ${style}`);
      }
      assert.ok(host.text.includes(`'${v.title}'`), `${host.file} titles the page '${v.title}'`);
      // The panels give their script, style and title to PanelHost (src/extension/panelHost.ts), which builds the page
      // (the codec panels through their base class, src/extension/codecController.ts).
      const viaPanelHost =
        host.text.includes('new PanelHost(') ||
        (host.text.includes('extends CodecController<') &&
          hostSources.some((s) => s.file === 'src/extension/codecController.ts' && s.text.includes('new PanelHost(')));
      const builder = viaPanelHost ? hostSources.find((s) => s.file === 'src/extension/panelHost.ts') : host;
      assert.ok(
        builder?.text.includes('webviewHtml('),
        `${host.file} builds its page with webviewHtml() (the CSP this tier checks), itself or through PanelHost`,
      );
    }
  });

  for (const name of bundles) {
    const view = views[name];
    it(`${name}: loads under the CSP, handshakes, names its controls and stays clean`, { skip: view ? false : 'not in VIEWS (see above)' }, async () => {
      assert.ok(view, `${name} is in VIEWS`);
      await withPage(suite, async (page) => {
        const host = await FakeHost.open<{ type: string }, unknown>(page, suite.harness, view, (m): m is { type: string } => view.accept(m));
        assert.deepEqual(await host.waitFor('ready'), { type: 'ready' });
        assert.deepEqual(host.refused, []);
        await page.waitForTimeout(200);
        const unnamed = (await axControls(page)).filter((c) => !c.name);
        assert.deepEqual(unnamed, [], `${name}: controls without an accessible name`);
        await page.screenshot({ path: join(RESULTS, `${name}-initial.png`), fullPage: true });
      });
    });
    it(`${name}: has its own test file`, {
      todo: existsSync(join(ROOT, 'test', 'webview', `${name}.test.ts`))
        ? false
        : `no test/webview/${name}.test.ts yet: rendering, controls and intents of this panel are untested in the browser`,
    }, () => {
      assert.ok(existsSync(join(ROOT, 'test', 'webview', `${name}.test.ts`)));
    });
  }
});
