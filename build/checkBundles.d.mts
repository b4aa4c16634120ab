// Types of build/checkBundles.mjs for the tests.
import type { Metafile, Plugin } from 'esbuild';

export type BundleKind = 'extension' | 'cli' | 'worker' | 'webview';
export const BUNDLE_RULES: Record<BundleKind, { inputs: Array<[RegExp, string]>; externals: Array<[RegExp | ((path: string) => boolean), string]> }>;
export function checkBundle(kind: BundleKind, metafile: Metafile): string[];
export function bundleCheck(kind: BundleKind, onProblems?: (problems: string[]) => void): Plugin;
