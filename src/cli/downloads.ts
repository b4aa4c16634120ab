/** Where the CLI keeps models pulled from the Hugging Face Hub (WorkerSettings.downloadsDir). */
import { homedir } from 'node:os';
import * as path from 'node:path';

/** `$XDG_DATA_HOME/concert/models`, else `~/.local/share/concert/models` (Windows: `%LOCALAPPDATA%\concert\models`). */
export function defaultDownloadsDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32' && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, 'concert', 'models');
  const data = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || homedir(), '.local', 'share');
  return path.join(data, 'concert', 'models');
}
