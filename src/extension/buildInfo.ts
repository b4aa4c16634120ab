/**
 * Which build of Concert is running. `npm run package` writes dist/build-info.json into each platform's VSIX; a
 * development build has none. Logged at activation so a bug report's log says which VSIX the user installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildInfo {
  /** The VSIX platform target, e.g. `linux-x64`. */
  target: string;
  version: string;
  /** The onnxruntime-node version shipped in the VSIX. */
  onnxruntime: string;
}

export function readBuildInfo(extensionRoot: string): BuildInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(join(extensionRoot, 'dist', 'build-info.json'), 'utf8')) as Partial<BuildInfo>;
    if (typeof v.target === 'string' && typeof v.version === 'string' && typeof v.onnxruntime === 'string')
      return { target: v.target, version: v.version, onnxruntime: v.onnxruntime };
  } catch {
    /* a development build */
  }
  return undefined;
}

/** The activation log line: the build, and the platform it runs on (a mismatched VSIX is the usual crash loop). */
export function describeBuild(info: BuildInfo | undefined, version: string, platform: string): string {
  if (!info) return `Concert ${version}: development build (not installed from a VSIX) on ${platform}`;
  const mismatch = info.target !== platform ? ` — this VSIX is for ${info.target}, not ${platform}: install concert-${platform}-${info.version}.vsix` : '';
  return `Concert ${info.version}: VSIX for ${info.target} with ONNX Runtime ${info.onnxruntime}, running on ${platform}${mismatch}`;
}
