/**
 * Concert's own list of model folders added with `concert models add`: `$XDG_CONFIG_HOME/concert/models.json`, else
 * `~/.config/concert/models.json` (Windows: `%APPDATA%\\concert\\models.json`). The folders themselves are never written.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';

export class RegistryError extends Error {}

export function registryPath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'concert', 'models.json');
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || homedir(), '.config');
  return path.join(base, 'concert', 'models.json');
}

export interface Registry {
  version: 1;
  models: { dir: string; added: string }[];
}

export function readRegistry(file: string): Registry {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, models: [] };
    throw new RegistryError(`${file} is not valid JSON (${(e as Error).message}); fix or delete it`);
  }
  const models = (j as { models?: unknown }).models;
  if (!Array.isArray(models)) throw new RegistryError(`${file} has no "models" list; fix or delete it`);
  return { version: 1, models: models.filter((m): m is { dir: string; added: string } => typeof m?.dir === 'string' && path.isAbsolute(m.dir)) };
}

/** The folders added with `concert models add` (an unreadable list is reported by `models add`, ignored here). */
export function registeredFolders(env: NodeJS.ProcessEnv): string[] {
  try {
    return readRegistry(registryPath(env)).models.map((m) => m.dir);
  } catch {
    return [];
  }
}

/** `--model`: a pack id, or a folder (a path with a separator, or an existing folder with a model in it) as an absolute path. */
export function modelRef(value: string): string {
  const looksLikePath = value.includes('/') || value.includes(path.sep) || value === '.' || value === '..' || value.startsWith('~');
  const isModelFolder = () => {
    try {
      return statSync(value).isDirectory() && (existsSync(path.join(value, 'concert.json')) || existsSync(path.join(value, 'config.json')));
    } catch {
      return false;
    }
  };
  return looksLikePath || isModelFolder() ? path.resolve(value) : value;
}
