/**
 * test/e2e/commands.json against package.json: every contributed command is either exercised by a scenario of the
 * VS Code tier, checked to be hidden until its feature lands, or listed with the reason it cannot be exercised.
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
const paletteWhen = new Map<string, string | undefined>((pkg.contributes?.menus?.commandPalette ?? []).map((m: { command: string; when?: string }) => [m.command, m.when]));
const scenarios = readFileSync(new URL('test/e2e/workbench.test.ts', root), 'utf8');
const listed = coverage();
/** Which features have landed; commandTable.ts may predate FEATURE_ENABLED, when no feature had. */
const enabled: Record<string, boolean> = (commandTable as { FEATURE_ENABLED?: Record<string, boolean> }).FEATURE_ENABLED ?? Object.fromEntries(Object.keys(commandTable.FEATURE_KEYS).map((k) => [k, false]));

describe('command coverage of the VS Code tier (test/e2e/commands.json)', () => {
  it('lists every command package.json contributes', () => {
    const missing = declared.filter((id) => !(id in listed));
    assert.deepEqual(missing, [], `package.json contributes commands that test/e2e/commands.json does not mention: ${missing.join(', ')}. Add a scenario to test/e2e/workbench.test.ts (or the reason it cannot be exercised) and list it there.`);
  });

  it('lists no command that package.json does not contribute', () => {
    const stale = Object.keys(listed).filter((id) => !declared.includes(id));
    assert.deepEqual(stale, [], `test/e2e/commands.json lists commands package.json no longer contributes: ${stale.join(', ')}`);
  });

  it('names scenarios that exist in test/e2e/workbench.test.ts', () => {
    for (const [id, c] of Object.entries(listed)) {
      if (c.kind !== 'scenario') continue;
      const quoted = [`'${c.scenario}'`, `"${c.scenario}"`, `\`${c.scenario}\``];
      assert.ok(quoted.some((q) => scenarios.includes(`it(${q}`) || scenarios.includes(`it(\n    ${q}`)), `${id}: no test titled "${c.scenario}" in test/e2e/workbench.test.ts`);
    }
  });

  it('keeps "hidden" only for features that have not landed, and those commands really are hidden', () => {
    for (const [id, c] of Object.entries(listed)) {
      if (c.kind !== 'hidden') continue;
      assert.ok(c.feature in commandTable.FEATURE_KEYS, `${id}: unknown feature "${c.feature}"`);
      assert.equal(enabled[c.feature], false, `${id}: feature "${c.feature}" has landed (FEATURE_ENABLED), so ${id} is visible now: give it a scenario in test/e2e/workbench.test.ts`);
      const key = commandTable.FEATURE_KEYS[c.feature as keyof typeof commandTable.FEATURE_KEYS];
      assert.match(paletteWhen.get(id) ?? '', new RegExp(`(^|&&\\s*)${key.replace(/\./g, '\\.')}(\\s*&&|$)`), `${id}: its commandPalette entry should require ${key}`);
    }
  });

  it('commands of landed features have a scenario', () => {
    for (const def of commandTable.COMMAND_LIST) {
      if (def.feature && enabled[def.feature]) assert.equal(listed[def.id]?.kind, 'scenario', `${def.id}: feature "${def.feature}" has landed; the VS Code tier must run it`);
    }
  });

  it('gives a reason for every command it does not exercise', () => {
    for (const [id, c] of Object.entries(listed)) if (c.kind === 'notExercised') assert.ok(c.reason.trim().length > 20, `${id}: say why it cannot be exercised`);
  });
});
