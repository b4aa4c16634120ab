#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI itself is bundled into dist/cli.js by `npm run build` (run automatically by `npm ci`).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('concert: the CLI is not built yet; run "npm run build" in ' + path.join(__dirname, '..'));
  process.exit(1);
}
require(cli).runFromCommandLine();
