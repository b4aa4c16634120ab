/**
 * Reads Concert's settings from VS Code. Restricted settings (paths, URLs) only count at workspace level once the
 * workspace is trusted: a cloned repository must not be able to point the worker at files of its choosing.
 */
import * as vscode from 'vscode';
import {
  RESTRICTED_SETTINGS,
  SETTINGS,
  WORKER_SETTING_KEYS,
  toCadSettings,
  toCollabSettings,
  toDiffusionSettings,
  toImageSettings,
  toVideoSettings,
  settingValue,
  toWorkerSettings,
  trustedPackId,
  type CadSettings,
  type CollabSettings,
  type DiffusionSettings,
  type ImageSettings,
  type VideoSettings,
  type PathContext,
  type ResolvedSettings,
  type SettingKey,
} from './settingsTable';

export { SETTINGS, RESTRICTED_SETTINGS };

/** The value VS Code would use, minus workspace-level values of restricted settings in untrusted workspaces. */
export function readSetting(key: SettingKey): unknown {
  return settingValue(vscode.workspace.getConfiguration(), key, vscode.workspace.isTrusted);
}

/** `${workspaceFolder}` and relative paths; while the workspace is untrusted, its folders are off limits for packs. */
function pathContext(): PathContext {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return {
    ...(folders[0] !== undefined && { workspaceFolder: folders[0] }),
    ...(!vscode.workspace.isTrusted && { untrustedFolders: folders }),
  };
}

export function readWorkerSettings(extensionRoot: string): ResolvedSettings {
  return toWorkerSettings(readSetting, extensionRoot, pathContext());
}

/** Whether a configuration change touches anything the worker sees. */
export function affectsWorker(e: vscode.ConfigurationChangeEvent): boolean {
  return WORKER_SETTING_KEYS.some((key) => e.affectsConfiguration(key));
}

/** The summary/question settings; invalid values fall back to their defaults (reported through `warn`). */
export function readCadSettings(warn: (msg: string) => void): CadSettings {
  const { settings, warnings } = toCadSettings(readSetting);
  const packId = trustedPackId('concert.cad.modelPack', settings.packId, pathContext(), warnings);
  for (const w of warnings) warn(w);
  if (packId === undefined) delete settings.packId;
  return settings;
}

/** The rewrite/continue settings; invalid values fall back to their defaults (reported through `warn`). */
export function readDiffusionSettings(warn: (msg: string) => void): DiffusionSettings {
  const { settings, warnings } = toDiffusionSettings(readSetting);
  const packId = trustedPackId('concert.diffusion.modelPack', settings.packId, pathContext(), warnings);
  for (const w of warnings) warn(w);
  if (packId === undefined) delete settings.packId;
  return settings;
}

/** The collaboration settings; invalid values fall back to their defaults (reported through `warn`). */
export function readCollabSettings(warn: (msg: string) => void): CollabSettings {
  const { settings, warnings } = toCollabSettings(readSetting);
  for (const w of warnings) warn(w);
  return settings;
}

/** The image completion settings; invalid values fall back to their defaults (reported through `warn`). */
export function readImageSettings(warn: (msg: string) => void): ImageSettings {
  const { settings, warnings } = toImageSettings(readSetting);
  const packId = trustedPackId('concert.image.modelPack', settings.packId, pathContext(), warnings);
  for (const w of warnings) warn(w);
  if (packId === undefined) delete settings.packId;
  return settings;
}

/** The video continuation settings; invalid values fall back to their defaults (reported through `warn`). */
export function readVideoSettings(warn: (msg: string) => void): VideoSettings {
  const { settings, warnings } = toVideoSettings(readSetting);
  const packId = trustedPackId('concert.video.modelPack', settings.packId, pathContext(), warnings);
  for (const w of warnings) warn(w);
  if (packId === undefined) delete settings.packId;
  return settings;
}

/** Writes where the user will see an effect: the workspace if it already overrides the key, else user settings. */
export async function writeSetting(key: SettingKey, value: unknown): Promise<void> {
  const config = vscode.workspace.getConfiguration();
  const i = config.inspect(key);
  const target = i?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update(key, value, target);
}

/** Appends folders to the user-level `concert.modelFolders` (never the workspace: it is a restricted setting). */
export async function addUserModelFolders(folders: string[]): Promise<string[]> {
  const config = vscode.workspace.getConfiguration();
  const current = (config.inspect<string[]>('concert.modelFolders')?.globalValue ?? []).filter((v) => typeof v === 'string');
  const added = folders.filter((f) => !current.includes(f));
  if (added.length) await config.update('concert.modelFolders', [...current, ...added], vscode.ConfigurationTarget.Global);
  return added;
}
