/// <reference lib="dom" />
/**
 * The untrusted-workspace scenario of the VS Code tier (issue #17, trust boundaries): code-server with Workspace Trust
 * on and a workspace that is not trusted (Restricted Mode), whose `.vscode/settings.json` points every restricted
 * Concert setting into itself or at a server: `concert.modelFolders` (absolute, `${workspaceFolder}` and relative) at
 * a folder holding a valid model (a copy of test/fixtures/hf/llama-tiny), `concert.cad.modelPack` and
 * `concert.diffusion.modelPack` at that model, and `concert.collab.coreUrl` at a loopback HTTP server this test runs.
 * The user's own settings also name the workspace's folder through `${workspaceFolder}` and a core URL on that server.
 * Concert must say why it ignores them, list only the bundled packs (Run Doctor, the Concert view), offer no remote
 * core in Collaborate… (and refuse a run that asks for one anyway), and the server must see no connection at all.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { guardContext, launchChromium, type PageProblems } from '../webview/browser';
import { ROOT } from '../webview/harness';
import { CodeServer, concertLog as concertLogOf } from './codeServer';
import { workbenchProblems } from './hygiene';
import { collabFrame } from './panels';
import { Workbench } from './workbench';

const RESULTS = join(ROOT, 'test-results', 'e2e-untrusted');
const WATCHDOG_MS = 5 * 60_000;
const STEP = { timeout: 120_000 };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  publisher: string;
  name: string;
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};
const STATUS_ITEM = `${pkg.publisher}.${pkg.name}.concert.worker`;
/** The workspace's own model: a valid published-folder model (its id is the folder name). */
const WS_PACK = 'workspace-llama';
const UNTRUSTED_REASON = 'This workspace is not trusted: the remote core is off until you trust it.';

/** Everything that reached the loopback "core" server: connections and request lines. */
const contacts: string[] = [];
let core: Server | undefined;
let fixture: string | undefined;
let server: CodeServer | undefined;
let context: BrowserContext | undefined;
let problems: PageProblems;
let wb: Workbench;

async function cleanup(): Promise<string[]> {
  const notes: string[] = [];
  await context?.close().catch((e: unknown) => notes.push(`closing Chromium: ${String(e)}`));
  context = undefined;
  if (server) {
    const { left } = await server.stop();
    if (left.length) notes.push(`processes still alive after SIGKILL: ${left.join(', ')}`);
    server = undefined;
  }
  await new Promise<void>((r) => (core ? core.close(() => r()) : r()));
  core = undefined;
  if (fixture) rmSync(fixture, { recursive: true, force: true });
  return notes;
}

/** The Concert log as code-server keeps it on disk. */
const concertLog = (): string => (server ? (concertLogOf(server.userDataDir) ?? '') : '');

describe('Concert in an untrusted workspace (code-server 4.99.4, Restricted Mode)', () => {
  before(async () => {
    mkdirSync(RESULTS, { recursive: true });
    const watchdog = setTimeout(() => {
      console.error(`untrusted-workspace watchdog: still running after ${WATCHDOG_MS / 1000} s`);
      void cleanup().finally(() => process.exit(1));
    }, WATCHDOG_MS);
    watchdog.unref();
    core = createServer((req, res) => {
      contacts.push(`${req.method} ${req.url}`);
      res.writeHead(503).end();
    });
    core.on('connection', (s) => contacts.push(`connection from ${s.remoteAddress}:${s.remotePort}`));
    await new Promise<void>((r) => core!.listen(0, '127.0.0.1', () => r()));
    const coreUrl = `http://127.0.0.1:${(core.address() as AddressInfo).port}`;
    // The workspace: a document and a valid model of its own.
    fixture = mkdtempSync(join(tmpdir(), 'concert-untrusted-'));
    writeFileSync(join(fixture, 'notes.md'), '# Notes\n\nThe ferry leaves at nine.\n');
    cpSync(join(ROOT, 'test', 'fixtures', 'hf', 'llama-tiny'), join(fixture, 'ws-models', WS_PACK), { recursive: true });
    server = await CodeServer.start({
      root: ROOT,
      workspaceFixture: fixture,
      trusted: false,
      logCopy: join(RESULTS, 'code-server.log'),
      // The user's own settings: a model folder that leads into the workspace, and a core URL.
      settings: { 'concert.modelFolders': ['${workspaceFolder}/ws-models'], 'concert.collab.coreUrl': `${coreUrl}/user-core` },
    });
    // The workspace's settings, with the copy's real paths (written before the workbench opens the folder).
    const pack = join(server.workspace, 'ws-models', WS_PACK);
    const wsSettings = {
      'concert.modelFolders': [join(server.workspace, 'ws-models'), '${workspaceFolder}/ws-models', 'ws-models'],
      'concert.cad.modelPack': pack,
      'concert.diffusion.modelPack': pack,
      // A pack id (its schema takes ids only), restricted all the same.
      'concert.image.modelPack': WS_PACK,
      'concert.video.modelPack': WS_PACK,
      // An executable inside the workspace: never run while the workspace is untrusted.
      'concert.ffmpegPath': join(server.workspace, 'tools', 'ffmpeg'),
      'concert.collab.coreUrl': `${coreUrl}/workspace-core`,
    };
    // Every restricted setting is tried (a new one must be added here).
    assert.deepEqual(Object.keys(wsSettings).sort(), [...pkg.capabilities.untrustedWorkspaces.restrictedConfigurations].sort());
    mkdirSync(join(server.workspace, '.vscode'), { recursive: true });
    writeFileSync(join(server.workspace, '.vscode', 'settings.json'), JSON.stringify(wsSettings, null, 2));
    context = await launchChromium({ profileDir: join(server.dir, 'browser'), viewport: { width: 1400, height: 900 } });
    problems = await guardContext(context, {
      allowedOrigins: [server.origin, `ws://127.0.0.1:${server.port}`],
      ignoreConsole: [/vsda/, /Failed to load resource: the server responded with a status of 404 \(Not Found\) \(.*\/vsda/],
      serviceWorkerHosts: /\.vscode-resource\.vscode-cdn\.net$/,
    });
    wb = new Workbench(context.pages()[0] ?? (await context.newPage()), RESULTS);
    wb.diagnose = () => concertLog().split('\n').slice(-30).join('\n');
    await wb.page.goto(server.workbenchUrl);
  });

  after(async () => {
    const notes = await cleanup();
    assert.deepEqual(notes, [], notes.join('\n'));
  });

  it('Concert activates in Restricted Mode and its log says which settings it ignores and why', STEP, async () => {
    const item = wb.statusBarItem(STATUS_ITEM);
    await item.waitFor({ state: 'visible', timeout: 90_000 });
    await wb.until('the status bar item to say idle', async () => (await item.getAttribute('aria-label')) === 'Concert: idle');
    const notice = await wb.until('the Restricted Mode line in the Concert log', async () =>
      concertLog()
        .split('\n')
        .find((l) => l.includes('This workspace is not trusted (Restricted Mode)')),
    );
    for (const key of pkg.capabilities.untrustedWorkspaces.restrictedConfigurations) assert.ok(notice.includes(key), `${key} in: ${notice}`);
    assert.match(notice, /loads no model from inside it and uses no remote core until you trust it/);
    await wb.screenshot('01-restricted-mode');
  });

  it("Run Doctor and the Concert view list the bundled packs only, not the workspace's model", STEP, async () => {
    assert.ok(server);
    await wb.runCommand('Concert: Run Doctor');
    await wb.waitNotification(/Concert doctor:/, 90_000);
    // The report as the log file holds it, once all of its pack lines (`✓ id (kind, source) dir`) are there.
    const packLine = /[✓✗] \S+ \(/;
    const report = await wb.until('the doctor report in the Concert log', async () => {
      const log = concertLog();
      const at = log.lastIndexOf('── Concert doctor ──');
      const tail = at < 0 ? '' : log.slice(at);
      const m = /Model packs: (\d+) valid model packs?(?:, (\d+) invalid)?/.exec(tail);
      const lines = tail.split('\n').filter((l) => packLine.test(l));
      return m && lines.length === Number(m[1]) + Number(m[2] ?? 0) && lines.length > 0 ? tail : undefined;
    });
    const packLines = report.split('\n').filter((l) => packLine.test(l));
    assert.ok(
      packLines.every((l) => /\bbundled\)/.test(l)),
      `only bundled packs:\n${packLines.join('\n')}`,
    );
    assert.ok(!report.includes(WS_PACK) && !report.includes(server.workspace), `the workspace's model is not listed:\n${report}`);
    // The user-level `${workspaceFolder}` entry: skipped, and said so.
    assert.match(
      concertLog(),
      /concert\.modelFolders: "\$\{workspaceFolder\}\/ws-models" leads into this workspace, which is not trusted; skipped until you trust it/,
    );
    await wb.clearNotifications();
    // The Concert view (its webview lists what the worker found).
    const activity = wb.page.locator('.activitybar .action-item').filter({ has: wb.page.locator('.action-label[aria-label="Concert"]') });
    if ((await activity.getAttribute('class'))?.includes('checked') !== true) await activity.locator('.action-label').click();
    const view = await wb.webview('Concert: Worker & Models');
    await view.locator('li.pack.valid').first().waitFor({ timeout: 60_000 });
    const rows = await view.locator('li.pack').allInnerTexts();
    for (const r of rows) {
      assert.match(r, /bundled/, `only bundled packs in the view:\n${rows.join('\n---\n')}`);
      assert.ok(!r.includes(WS_PACK), r);
    }
    await wb.screenshot('02-bundled-packs-only');
  });

  it('Collaborate… offers no remote core, says why, and refuses a run that asks for one anyway', STEP, async () => {
    await wb.runCommand('Concert: Collaborate…');
    const frame = await collabFrame(wb);
    const remote = frame.locator('[data-key="core:remote"]');
    await remote.waitFor({ state: 'attached', timeout: 30_000 });
    assert.equal(await remote.isDisabled(), true, 'the remote core cannot be chosen');
    assert.match(await frame.locator('.remote-note').innerText(), new RegExp(UNTRUSTED_REASON.replace(/[.:]/g, '\\$&')));
    // As a compromised or stale webview would: enable the choice, pick it and press Run. The host checks again.
    await frame.locator('#instruction').fill('When does the ferry leave?');
    await remote.evaluate((el) => {
      const input = el as HTMLInputElement;
      input.disabled = false;
      input.checked = true;
    });
    await frame.locator('[data-action="run"]').click();
    await wb.until(
      'the refusal in the panel',
      async () =>
        (
          await frame
            .locator('.notice.error')
            .innerText()
            .catch(() => '')
        ).includes(UNTRUSTED_REASON),
      20_000,
    );
    assert.equal(await frame.locator('.status.running').count(), 0, 'no run started');
    await wb.screenshot('03-collaborate-no-remote');
    await wb.runCommand('View: Close All Editors');
  });

  it('control: once the workspace is trusted, the same settings bring its model in (what the steps above would catch)', STEP, async () => {
    assert.ok(server);
    await wb.runCommand('Workspaces: Manage Workspace Trust');
    const trust = wb.page.locator('.workspace-trust-editor').getByRole('button', { name: 'Trust', exact: true }).first();
    await trust.waitFor({ state: 'visible', timeout: 20_000 });
    await trust.click();
    await wb.until('Restricted Mode to end', async () => !(await wb.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).count()), 20_000);
    await wb.runCommand('View: Close All Editors');
    // The extension re-reads its settings on the grant; the doctor then finds the workspace's model.
    const seen = await wb.until(
      "the workspace's model in the doctor report",
      async () => {
        await wb.runCommand('Concert: Run Doctor');
        await wb.waitNotification(/Concert doctor:/, 60_000);
        await wb.clearNotifications();
        const log = concertLog();
        const tail = log.slice(log.lastIndexOf('── Concert doctor ──'));
        return new RegExp(`✓ ${WS_PACK} \\(causal-lm, user\\)`).test(tail) ? tail : undefined;
      },
      60_000,
    );
    assert.ok(seen.includes(join(server.workspace, 'ws-models', WS_PACK)), seen);
    await wb.screenshot('04-trusted-control');
  });

  it('the loopback core server was never contacted during the whole suite, and the workbench stayed clean', async () => {
    // Give a late request (a health check, a retry) the chance to arrive.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(contacts, [], `the workspace's core URL was contacted:\n${contacts.join('\n')}`);
    const lines = workbenchProblems(problems, server!.userDataDir);
    assert.deepEqual(lines, [], lines.join('\n'));
  });
});
