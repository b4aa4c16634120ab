/**
 * test/e2e/commands.json against package.json: every contributed command is either exercised by a scenario of the
 * VS Code tier or listed with the reason it cannot be exercised.
 * Fast (no browser): a command added to package.json without an entry fails here at once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as commandTable from '../../src/extension/commandTable';
import { coverage } from './coverage';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const declared: string[] = (pkg.contributes?.commands ?? []).map((c: { command: string }) => c.command);
const suite = (file: string) => readFileSync(new URL(`test/e2e/${file}`, root), 'utf8');
const listed = coverage();

describe('command coverage of the VS Code tier (test/e2e/commands.json)', () => {
  it('lists every command package.json contributes', () => {
    const missing = declared.filter((id) => !(id in listed));
    assert.deepEqual(
      missing,
      [],
      `package.json contributes commands that test/e2e/commands.json does not mention: ${missing.join(', ')}. Add a scenario to test/e2e/workbench.test.ts (or the reason it cannot be exercised) and list it there.`,
    );
  });

  it('lists no command that package.json does not contribute', () => {
    const stale = Object.keys(listed).filter((id) => !declared.includes(id));
    assert.deepEqual(stale, [], `test/e2e/commands.json lists commands package.json no longer contributes: ${stale.join(', ')}`);
  });

  it('names scenarios that exist in their suites', () => {
    for (const [id, c] of Object.entries(listed)) {
      if (c.kind !== 'scenario') continue;
      const quoted = [`'${c.scenario}'`, `"${c.scenario}"`, `\`${c.scenario}\``];
      const text = suite(c.file);
      assert.ok(
        quoted.some((q) => text.includes(`it(${q}`) || text.includes(`it(\n    ${q}`)),
        `${id}: no test titled "${c.scenario}" in test/e2e/${c.file}`,
      );
    }
  });

  it('every feature command has a scenario', () => {
    for (const def of commandTable.COMMAND_LIST) {
      if (def.feature) assert.equal(listed[def.id]?.kind, 'scenario', `${def.id}: the VS Code tier must run the ${def.feature} feature's commands`);
    }
  });

  it('gives a reason for every command it does not exercise', () => {
    for (const [id, c] of Object.entries(listed))
      if (c.kind === 'notExercised') assert.ok(c.reason.trim().length > 20, `${id}: say why it cannot be exercised`);
  });
});
