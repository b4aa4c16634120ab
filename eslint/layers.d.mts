// Types of eslint/layers.mjs for the tests that read its table.
import type { ESLint } from 'eslint';

export interface Zone {
  /** Folders or single modules (repository-relative, no extension) the zone may import. */
  layers: string[];
  /** Bare specifiers the zone may import: exact, or `pkg/*` for a package and its subpaths. */
  packages: string[];
  /** Whether Node built-ins are allowed. */
  node: boolean;
}
export const LAYERS: Record<string, Zone>;
export const TABLE_FILE: string;
export function zoneOf(path: string): string | undefined;
export function resolveSpecifier(fromFile: string, spec: string): string;
export function isBuiltin(spec: string): boolean;
export function allowedText(key: string): string;
export function checkImport(fromFile: string, spec: string): string | undefined;
declare const plugin: ESLint.Plugin;
export default plugin;
