/**
 * Every command Concert contributes, with its package.json title. The extension registers a handler for each
 * (a `Record<CommandName, …>` makes a missing one a compile error) and test/unit/contributions.test.ts checks
 * package.json against this table. No `vscode` import: tests load this file.
 */

export const CATEGORY = 'Concert';

/** Set once the model packs are known and none is valid; shows the "no packs" welcome view. */
export const NO_PACKS_KEY = 'concert.noPacks';

export interface CommandDef {
  id: string;
  title: string;
  icon?: string;
  /**
   * The feature a command belongs to. Feature commands are in the palette and a menu (text features the editor's,
   * Complete Image… the explorer's on image files) from the first moment, before activation (no context key hides
   * them): a command that cannot run says why when it is run.
   */
  feature?: 'cad' | 'diffusion' | 'collab' | 'codec';
}

export const COMMANDS = {
  doctor: { id: 'concert.doctor', title: 'Run Doctor', icon: '$(pulse)' },
  restartWorker: { id: 'concert.restartWorker', title: 'Restart Worker', icon: '$(debug-restart)' },
  showLog: { id: 'concert.showLog', title: 'Show Log', icon: '$(output)' },
  selectDevice: { id: 'concert.selectDevice', title: 'Select Device…', icon: '$(chip)' },
  openModelFolder: { id: 'concert.openModelFolder', title: 'Reveal Model Folder…', icon: '$(folder-opened)' },
  addModelFolder: { id: 'concert.addModelFolder', title: 'Add Model Folder…', icon: '$(new-folder)' },
  addModel: { id: 'concert.addModel', title: 'Add Model…', icon: '$(add)' },
  downloadModel: { id: 'concert.downloadModel', title: 'Download Model…', icon: '$(cloud-download)' },
  selfTestPack: { id: 'concert.selfTestPack', title: 'Self-Test Model Pack…', icon: '$(beaker)' },
  refreshModels: { id: 'concert.refreshModels', title: 'Refresh Model Packs', icon: '$(refresh)' },
  getStarted: { id: 'concert.getStarted', title: 'Get Started', icon: '$(book)' },
  openSample: { id: 'concert.openSample', title: 'Open Sample Document' },
  summarizeDocument: { id: 'concert.summarizeDocument', title: 'Summarize Document', feature: 'cad' },
  summarizeSelection: { id: 'concert.summarizeSelection', title: 'Summarize Selection', feature: 'cad' },
  askAboutDocument: { id: 'concert.askAboutDocument', title: 'Ask About This Document…', feature: 'cad' },
  rewriteSelection: { id: 'concert.rewriteSelection', title: 'Rewrite Selection…', feature: 'diffusion' },
  continueAtCursor: { id: 'concert.continueAtCursor', title: 'Continue with Diffusion', feature: 'diffusion' },
  collaborate: { id: 'concert.collaborate', title: 'Collaborate…', icon: '$(comment-discussion)', feature: 'collab' },
  setCoreToken: { id: 'concert.setCoreToken', title: 'Set Core Token…', icon: '$(key)' },
  // JPEG-LM previews (issue 14). In the palette from the first moment; the explorer offers Complete Image… on PNG/JPEG files.
  completeImage: { id: 'concert.completeImage', title: 'Complete Image…', icon: '$(file-media)', feature: 'codec' },
  generateImage: { id: 'concert.generateImage', title: 'Generate Image', icon: '$(sparkle)', feature: 'codec' },
  // AVC-LM video continuation (issue 15): in the palette from the first moment; the explorer offers it on clips.
  continueVideo: { id: 'concert.continueVideo', title: 'Continue Video…', icon: '$(device-camera-video)', feature: 'codec' },
  knowledgeAddFile: { id: 'concert.knowledgeAddFile', title: 'Add Active File to Knowledge', icon: '$(file-add)' },
  knowledgeAddSelection: { id: 'concert.knowledgeAddSelection', title: 'Add Selection to Knowledge', icon: '$(selection)' },
  knowledgeAddFolder: { id: 'concert.knowledgeAddFolder', title: 'Add Folder to Knowledge…', icon: '$(new-folder)' },
  knowledgeAddNote: { id: 'concert.knowledgeAddNote', title: 'Add Note to Knowledge…', icon: '$(note)' },
  knowledgeRename: { id: 'concert.knowledgeRename', title: 'Rename Knowledge Item…', icon: '$(edit)' },
  knowledgeEnable: { id: 'concert.knowledgeEnable', title: 'Enable Knowledge Item', icon: '$(check)' },
  knowledgeDisable: { id: 'concert.knowledgeDisable', title: 'Disable Knowledge Item', icon: '$(circle-slash)' },
  knowledgeRemove: { id: 'concert.knowledgeRemove', title: 'Remove from Knowledge', icon: '$(trash)' },
} as const satisfies Record<string, CommandDef>;

export type CommandName = keyof typeof COMMANDS;

/** The explorer context menu's condition for Complete Image…: image files the worker reads (see imagesMessages.ts). */
export const IMAGE_FILE_WHEN = '!explorerResourceIsFolder && resourceExtname =~ /^\\.(png|jpe?g)$/i';

/** The explorer context menu's condition for Continue Video…: the clips of VIDEO_MENU_EXTENSIONS (see videoMessages.ts). */
export const VIDEO_FILE_WHEN = '!explorerResourceIsFolder && resourceExtname =~ /^\\.(h264|264|mp4|mkv|webm|mov)$/i';

/** The walkthrough of package.json `contributes.walkthroughs`, as `workbench.action.openWalkthrough` names it. */
export const WALKTHROUGH_ID = 'concert-dev.concert#gettingStarted';

/** The walkthrough's sample document, shipped in media/. */
export const SAMPLE_DOCUMENT = 'media/walkthrough/sample.md';

export const COMMAND_LIST: readonly CommandDef[] = Object.values(COMMANDS);

/** The package.json form of one command (what the contributions test compares against). */
export function toContribution(def: CommandDef): Record<string, unknown> {
  return { command: def.id, title: def.title, category: CATEGORY, ...(def.icon && { icon: def.icon }) };
}
