/**
 * test/e2e/commands.json: every command Concert contributes, with the VS Code-tier scenario that runs it, or why
 * it is not run there. Read by the scenarios (which record what they ran) and by coverage.test.ts (which fails
 * when package.json gains a command the list does not mention).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type CommandCoverage =
  /** Run by the named test of workbench.test.ts, which asserts on its result. */
  | { kind: 'scenario'; scenario: string }
  /** Its feature has not landed: the command is declared but hidden; the tier checks that it is hidden. */
  | { kind: 'hidden'; feature: string }
  /** Cannot be exercised in this tier, and why (e.g. needs a GPU, or a desktop-only API). */
  | { kind: 'notExercised'; reason: string };

export const COMMANDS_JSON = fileURLToPath(new URL('./commands.json', import.meta.url));

interface Entry {
  scenario?: string;
  hiddenUntil?: string;
  notExercised?: string;
}

export function coverage(): Record<string, CommandCoverage> {
  const raw = JSON.parse(readFileSync(COMMANDS_JSON, 'utf8')) as { commands: Record<string, Entry> };
  const out: Record<string, CommandCoverage> = {};
  for (const [id, e] of Object.entries(raw.commands)) {
    const kinds = [e.scenario, e.hiddenUntil, e.notExercised].filter((v) => v !== undefined);
    if (kinds.length !== 1 || Object.keys(e).length !== 1) throw new Error(`commands.json: ${id} needs exactly one of "scenario", "hiddenUntil", "notExercised"`);
    if (e.scenario !== undefined) out[id] = { kind: 'scenario', scenario: e.scenario };
    else if (e.hiddenUntil !== undefined) out[id] = { kind: 'hidden', feature: e.hiddenUntil };
    else out[id] = { kind: 'notExercised', reason: e.notExercised ?? '' };
  }
  return out;
}
