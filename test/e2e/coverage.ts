/**
 * test/e2e/commands.json: every command Concert contributes, with the VS Code-tier scenario that runs it, or why
 * it is not run there. Read by the scenarios (which record what they ran) and by coverage.test.ts (which fails
 * when package.json gains a command the list does not mention).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type CommandCoverage =
  /** Run by the named test of `file` (a suite of test/e2e), which asserts on its result. */
  | { kind: 'scenario'; scenario: string; file: string }
  /** Cannot be exercised in this tier, and why (e.g. needs a GPU, or a desktop-only API). */
  | { kind: 'notExercised'; reason: string };

export const COMMANDS_JSON = fileURLToPath(new URL('./commands.json', import.meta.url));

interface Entry {
  scenario?: string;
  /** The suite that runs the scenario (default workbench.test.ts; installed.test.ts runs the installed VSIX). */
  file?: string;
  notExercised?: string;
}

export const DEFAULT_SUITE = 'workbench.test.ts';

export function coverage(): Record<string, CommandCoverage> {
  const raw = JSON.parse(readFileSync(COMMANDS_JSON, 'utf8')) as { commands: Record<string, Entry> };
  const out: Record<string, CommandCoverage> = {};
  for (const [id, e] of Object.entries(raw.commands)) {
    const kinds = [e.scenario, e.notExercised].filter((v) => v !== undefined);
    const extra = Object.keys(e).filter((k) => !['scenario', 'file', 'notExercised'].includes(k));
    if (kinds.length !== 1 || extra.length || (e.file !== undefined && e.scenario === undefined))
      throw new Error(`commands.json: ${id} needs exactly one of "scenario" (optionally with "file") or "notExercised"`);
    if (e.scenario !== undefined) out[id] = { kind: 'scenario', scenario: e.scenario, file: e.file ?? DEFAULT_SUITE };
    else out[id] = { kind: 'notExercised', reason: e.notExercised ?? '' };
  }
  return out;
}
