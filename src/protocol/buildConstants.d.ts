// Constants esbuild injects at build time (`define` in esbuild.mjs). Read them through their modules
// (CONCERT_VERSION in ./version.ts), which also cover sources run unbundled (tests through tsx).

/** package.json's `version`. */
declare const __CONCERT_VERSION__: string;
