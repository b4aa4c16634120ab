/**
 * Every command Concert contributes, with its package.json title. The extension registers a handler for each
 * (a `Record<CommandName, …>` makes a missing one a compile error) and test/unit/contributions.test.ts checks
 * package.json against this table. No `vscode` import: tests load this file.
 */

export const CATEGORY = 'Concert';

/**
 * Context keys that switch a feature's commands and menus on. A key stays false until its feature lands, so the
 * commands are declared (keybindings, docs) but hidden; FEATURE_ENABLED says which have landed.
 */
export const FEATURE_KEYS = {
  cad: 'concert.feature.cad',
  diffusion: 'concert.feature.diffusion',
  collab: 'concert.feature.collab',
  codec: 'concert.feature.codec',
} as const;
export type Feature = keyof typeof FEATURE_KEYS;

/** The value activation gives each feature key. */
export const FEATURE_ENABLED: Record<Feature, boolean> = { cad: true, diffusion: true, collab: false, codec: false };

/** Set once the model packs are known and none is valid; shows the "no packs" welcome view. */
export const NO_PACKS_KEY = 'concert.noPacks';

export interface CommandDef {
  id: string;
  title: string;
  icon?: string;
  /** Hidden (palette and menus) until this feature's context key is true. */
  feature?: Feature;
}

export const COMMANDS = {
  doctor: { id: 'concert.doctor', title: 'Run Doctor', icon: '$(pulse)' },
  restartWorker: { id: 'concert.restartWorker', title: 'Restart Worker', icon: '$(debug-restart)' },
  showLog: { id: 'concert.showLog', title: 'Show Log', icon: '$(output)' },
  selectDevice: { id: 'concert.selectDevice', title: 'Select Device…', icon: '$(chip)' },
  openModelFolder: { id: 'concert.openModelFolder', title: 'Reveal Model Folder…', icon: '$(folder-opened)' },
  addModelFolder: { id: 'concert.addModelFolder', title: 'Add Model Folder…', icon: '$(new-folder)' },
  selfTestPack: { id: 'concert.selfTestPack', title: 'Self-Test Model Pack…', icon: '$(beaker)' },
  refreshModels: { id: 'concert.refreshModels', title: 'Refresh Model Packs', icon: '$(refresh)' },
  summarizeDocument: { id: 'concert.summarizeDocument', title: 'Summarize Document', feature: 'cad' },
  summarizeSelection: { id: 'concert.summarizeSelection', title: 'Summarize Selection', feature: 'cad' },
  askAboutDocument: { id: 'concert.askAboutDocument', title: 'Ask About This Document…', feature: 'cad' },
  rewriteSelection: { id: 'concert.rewriteSelection', title: 'Rewrite Selection…', feature: 'diffusion' },
  continueAtCursor: { id: 'concert.continueAtCursor', title: 'Continue with Diffusion', feature: 'diffusion' },
  collaborate: { id: 'concert.collaborate', title: 'Collaborate with Core Model…', feature: 'collab' },
  previewImageCompletion: { id: 'concert.previewImageCompletion', title: 'Preview Image Completion', feature: 'codec' },
  previewVideoContinuation: { id: 'concert.previewVideoContinuation', title: 'Preview Video Continuation', feature: 'codec' },
} as const satisfies Record<string, CommandDef>;

export type CommandName = keyof typeof COMMANDS;

export const COMMAND_LIST: readonly CommandDef[] = Object.values(COMMANDS);

/** The package.json form of one command (what the contributions test compares against). */
export function toContribution(def: CommandDef): Record<string, unknown> {
  return { command: def.id, title: def.title, category: CATEGORY, ...(def.icon && { icon: def.icon }) };
}
