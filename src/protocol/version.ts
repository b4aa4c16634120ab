/**
 * Concert's version. It lives in package.json only: esbuild injects it into every bundle (`__CONCERT_VERSION__`,
 * see esbuild.mjs and buildConstants.d.ts). Sources run without a build (tests through tsx) say `0.0.0-unbundled`.
 */
export const CONCERT_VERSION: string = typeof __CONCERT_VERSION__ === 'string' ? __CONCERT_VERSION__ : '0.0.0-unbundled';
