/**
 * The smoke scenario of the VS Code tier, run inside a desktop VS Code's extension host by @vscode/test-electron
 * (bundled by test/vscode/electron.test.ts; `run` is the entry point test-electron calls). It mirrors what
 * test/e2e drives through the UI, through the API instead: activation, every contributed command registered,
 * the worker listing the bundled packs, a self-test, a worker restart, and a summary of a fixture document.
 * The desktop-only path the browser tier cannot take (Reveal Model Folder uses revealFileInOS) is checked for
 * presence only, so running the suite never opens a file manager.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

interface Pkg {
  publisher: string;
  name: string;
  contributes: { commands: { command: string }[] };
}

async function step(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`not ok - ${name}`);
    throw e;
  }
}

export async function run(): Promise<void> {
  const root = process.env.CONCERT_EXTENSION_ROOT ?? path.resolve(__dirname, '..', '..', '..');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Pkg;
  const id = `${pkg.publisher}.${pkg.name}`;

  await step('the extension activates', async () => {
    const ext = vscode.extensions.getExtension(id);
    assert.ok(ext, `${id} is loaded`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  await step('every contributed command is registered', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = pkg.contributes.commands.map((c) => c.command).filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
    assert.ok(registered.has('revealFileInOS'), 'desktop VS Code has revealFileInOS (used by Reveal Model Folder…)');
  });

  await step('Refresh Model Packs starts the worker and lists the bundled packs', async () => {
    await vscode.commands.executeCommand('concert.refreshModels');
  });

  await step('Self-Test Model Pack… runs a bundled classifier', async () => {
    await vscode.commands.executeCommand('concert.selfTestPack', 'concert-clf-sentiment');
  });

  await step('Restart Worker restarts it', async () => {
    await vscode.commands.executeCommand('concert.restartWorker');
  });

  await step('Summarize Document summarizes the fixture document', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the fixture workspace is open');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'notes.md'));
    await vscode.window.showTextDocument(doc);
    const before = doc.getText();
    await vscode.commands.executeCommand('concert.summarizeDocument');
    assert.equal(doc.getText(), before, 'summarizing does not edit the document');
  });
}
