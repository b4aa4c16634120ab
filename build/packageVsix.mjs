// `npm run package`: one VSIX per platform that onnxruntime-node ships native binaries for.
//
// Why a staging folder per target: vsce's `--no-dependencies` mode never packs the top-level node_modules/, and
// packing with dependencies would ship every platform's ONNX Runtime (159 MB). Each staging folder holds exactly
// the files that target's VSIX ships, and ONNX Runtime goes to dist/node_modules/, where Node's resolution finds it
// from dist/worker.js (in a dev checkout there is no dist/node_modules and the root node_modules is used instead).
//
// Usage: node build/packageVsix.mjs [--target linux-x64 …] [--no-build]
// Output: $VSIX_OUT, else dist/vsix/, as concert-<target>-<version>.vsix (the folder is printed).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** VS Code target → onnxruntime-node 1.30's binary folder. It has no darwin-x64 build, so neither has Concert. */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
  'darwin-arm64': 'darwin/arm64',
};

/** Most a VSIX may weigh (issue #11): the models alone compress to about 50 MB. */
export const MAX_VSIX_BYTES = 80 * 1024 * 1024;

/** The extension's own files: the `!` entries of the root .vscodeignore (one list for the VSIX and the test tier). */
export function extensionFiles() {
  return readFileSync(join(root, '.vscodeignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('!'))
    .map((l) =>
      l
        .slice(1)
        .replace(/^\//, '')
        .replace(/\/\*\*$/, ''),
    )
    .filter((f) => f !== 'package.json');
}

/** What ONNX Runtime needs at run time, relative to node_modules/ (its binaries are added per target). */
const RUNTIME_FILES = [
  'onnxruntime-node/package.json',
  'onnxruntime-node/LICENSE',
  'onnxruntime-node/dist',
  'onnxruntime-common/package.json',
  'onnxruntime-common/LICENSE',
  'onnxruntime-common/dist/cjs',
];

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * The files of one target's ONNX Runtime binary folder that ship. The darwin folder carries two identical dylibs
 * (npm packages cannot hold symlinks); the binding links `@rpath/libonnxruntime.1.dylib`, so the versioned copy is
 * dropped, but only while the two really are identical.
 */
export function runtimeBinaries(nodeModules, target) {
  const folder = join(nodeModules, 'onnxruntime-node', 'bin', 'napi-v6', TARGETS[target]);
  if (!existsSync(folder)) throw new Error(`onnxruntime-node has no binaries for ${target} (${folder})`);
  const names = readdirSync(folder).sort();
  const keep = names.filter((n) => {
    const m = /^libonnxruntime\.1\.\d+\.\d+\.dylib$/.exec(n);
    return !(m && names.includes('libonnxruntime.1.dylib') && sha256(join(folder, n)) === sha256(join(folder, 'libonnxruntime.1.dylib')));
  });
  return keep.map((n) => `onnxruntime-node/bin/napi-v6/${TARGETS[target]}/${n}`);
}

/**
 * The package.json that ships: no scripts or development dependencies (nothing in the VSIX runs npm), and no
 * `files` list (that one is for the CLI's npm tarball; vsce refuses it beside a .vscodeignore).
 */
export function shippedManifest(pkg) {
  const { scripts: _s, devDependencies: _d, files: _f, ...rest } = pkg;
  return rest;
}

const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));

/** Copies what one target's VSIX holds into `stage` and returns the list of files (relative, sorted). */
export function stageTarget(target, stage) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  writeFileSync(join(stage, 'package.json'), JSON.stringify(shippedManifest(pkg), null, 2) + '\n');
  for (const entry of extensionFiles()) {
    const from = join(root, entry);
    if (!existsSync(from)) throw new Error(`missing ${entry}: run the production build first`);
    cpSync(from, join(stage, entry), {
      recursive: true,
      // Source maps and earlier VSIXs stay out; so does a dev checkout's dist/node_modules if one exists.
      filter: (f) => !f.endsWith('.map') && !relative(root, f).startsWith(join('dist', 'vsix')) && !relative(root, f).startsWith(join('dist', 'node_modules')),
    });
  }
  const nodeModules = join(root, 'node_modules');
  for (const f of [...RUNTIME_FILES, ...runtimeBinaries(nodeModules, target)]) {
    const from = join(nodeModules, f);
    if (!existsSync(from)) continue; // LICENSE files are optional in some releases
    cpSync(from, join(stage, 'dist', 'node_modules', f), { recursive: true, filter: (p) => !p.endsWith('.map') && !p.endsWith('.d.ts') });
  }
  // What the extension logs at start-up: which build of Concert this is.
  writeFileSync(
    join(stage, 'dist', 'build-info.json'),
    JSON.stringify({ target, version: pkg.version, onnxruntime: pkg.dependencies['onnxruntime-node'] }, null, 2) + '\n',
  );
  // The stage holds exactly what ships: vsce's own defaults still apply, so ignore nothing more.
  writeFileSync(join(stage, '.vscodeignore'), '# staged by build/packageVsix.mjs: every file here ships\n');
  return walk(stage)
    .map((f) => relative(stage, f).split('\\').join('/'))
    .filter((f) => f !== '.vscodeignore')
    .sort();
}

function parseArgs(argv) {
  const targets = [];
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') targets.push(argv[++i]);
    else if (argv[i] === '--no-build') build = false;
    else throw new Error(`unknown argument ${argv[i]} (usage: node build/packageVsix.mjs [--target T …] [--no-build])`);
  }
  for (const t of targets)
    if (!(t in TARGETS)) throw new Error(`unknown target ${t}; one of ${Object.keys(TARGETS).join(', ')} (onnxruntime-node ships no darwin-x64 binaries)`);
  return { targets: targets.length ? targets : Object.keys(TARGETS), build };
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

async function main() {
  const { targets, build } = parseArgs(process.argv.slice(2));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (build) run(process.execPath, [join(root, 'esbuild.mjs'), '--production'], root);
  const out = resolve(process.env.VSIX_OUT || join(root, 'dist', 'vsix'));
  mkdirSync(out, { recursive: true });
  const stages = mkdtempSync(join(tmpdir(), 'concert-vsix-'));
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const results = [];
  try {
    for (const target of targets) {
      const stage = join(stages, target);
      const files = stageTarget(target, stage);
      const file = join(out, `concert-${target}-${version}.vsix`);
      console.log(`\n# ${target}: ${files.length} files staged`);
      run(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--out', file], stage);
      const bytes = statSync(file).size;
      results.push({ target, file, bytes });
      if (bytes > MAX_VSIX_BYTES) throw new Error(`${file} is ${(bytes / 2 ** 20).toFixed(1)} MB, over the ${MAX_VSIX_BYTES / 2 ** 20} MB budget`);
    }
  } finally {
    rmSync(stages, { recursive: true, force: true });
  }
  console.log(`\nVSIX files in ${out}:`);
  for (const r of results) console.log(`  ${relative(out, r.file)}  ${(r.bytes / 2 ** 20).toFixed(1)} MB`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`package: ${e.message}`);
    process.exit(1);
  });
}
