#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI itself is bundled into dist/cli.js. A published package ships dist/; in a source checkout
// (`npm ci` runs no install scripts, see .npmrc) the first run builds it.
const path = require('node:path');
const fs = require('node:fs');
const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  const build = path.join(root, 'esbuild.mjs');
  if (!fs.existsSync(build)) {
    console.error(`concert: this installation is incomplete (no ${cli}); reinstall Concert`);
    process.exit(1);
  }
  console.error('concert: building the CLI (first run in this checkout)…');
  const r = require('node:child_process').spawnSync(process.execPath, [build], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !fs.existsSync(cli)) {
    console.error(`concert: the build failed; run "npm run build" in ${root} to see why`);
    process.exit(1);
  }
}
require(cli).runFromCommandLine();
