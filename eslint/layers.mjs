// The architecture's import arrows as one allow-list table, enforced by the local rule `concert/layers`
// (eslint.config.mjs). ARCHITECTURE.md shows the same table; test/unit/lint-zones.test.ts checks that the two agree
// and probes every arrow, allowed and forbidden.
//
// Every file under src/ and webview/ belongs to the zone with the longest matching key (a folder, or a single
// module without its extension). A zone may import:
//   - its own zone (for a folder: anything under it; for a single module: nothing else by that right);
//   - `layers`: folders or single modules, by path from the repository root (a folder covers what is under it);
//   - `packages`: bare specifiers, exact (`vscode-jsonrpc/node`), or a package with all its subpaths (`pkg/*`);
//   - Node built-ins (`node:fs`, `fs`, …) when `node` is true.
// Everything else is an error: other layers, deep imports into packages (`onnxruntime-node/dist/index.js`),
// absolute paths, files outside src/ and webview/. Type-only imports count too: an arrow is an arrow.
import { statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {{ layers: string[], packages: string[], node: boolean }} Zone */

/** @type {Record<string, Zone>} */
export const LAYERS = {
  'src/engine': { layers: [], packages: [], node: false },
  'src/codec': { layers: ['src/engine'], packages: [], node: false },
  'src/protocol': { layers: [], packages: ['vscode-jsonrpc/node'], node: false },
  'src/protocol/webview': { layers: [], packages: [], node: false },
  'src/runtime': {
    layers: ['src/engine', 'src/codec', 'src/protocol'],
    packages: ['@huggingface/tokenizers', '@huggingface/jinja', '@huggingface/hub', 'minisearch', 'tinyh264/lib/TinyH264.js'],
    node: true,
  },
  'src/runtime/ort': { layers: ['src/runtime', 'src/protocol'], packages: ['onnxruntime-node', 'onnxruntime-node/package.json'], node: true },
  'src/worker': { layers: ['src/runtime', 'src/engine', 'src/protocol'], packages: ['vscode-jsonrpc/node'], node: true },
  'src/worker/client': { layers: ['src/worker/restartPolicy', 'src/protocol'], packages: ['vscode-jsonrpc/node'], node: true },
  'src/worker/restartPolicy': { layers: [], packages: [], node: false },
  'src/cli': { layers: ['src/worker/client', 'src/protocol'], packages: [], node: true },
  'src/extension': { layers: ['src/worker/client', 'src/protocol'], packages: ['vscode'], node: true },
  webview: { layers: ['src/protocol/webview'], packages: ['@vscode-elements/elements/*'], node: false },
};

export const TABLE_FILE = 'eslint/layers.mjs';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const posix = (p) => p.split(sep).join('/');
const under = (path, key) => path === key || path.startsWith(`${key}/`);
const builtins = new Set(builtinModules);
const isFolder = (key) => statSync(resolve(ROOT, key), { throwIfNoEntry: false })?.isDirectory() ?? false;

/** The zone key of a repository-relative path (no extension), or undefined outside src/ and webview/. */
export function zoneOf(path) {
  let best;
  for (const key of Object.keys(LAYERS)) if (under(path, key) && (!best || key.length > best.length)) best = key;
  return best;
}

/** The repository-relative module path of a relative specifier, without its extension or a trailing /index. */
export function resolveSpecifier(fromFile, spec) {
  const abs = resolve(dirname(resolve(ROOT, fromFile)), spec);
  return posix(relative(ROOT, abs))
    .replace(/\.(d\.)?([cm]?[jt]s|tsx?)$/, '')
    .replace(/\/index$/, '');
}

export const isBuiltin = (spec) => spec.startsWith('node:') || builtins.has(spec) || builtins.has(spec.split('/')[0]);

/** What a zone may import, in words (the message of every violation). */
export function allowedText(key) {
  const z = LAYERS[key];
  const own = isFolder(key) ? [key] : [];
  const items = [...new Set([...own, ...z.layers])].concat(z.packages, z.node ? ['node built-ins'] : []);
  return `${key} may import only: ${items.join(', ')} (layers table in ${TABLE_FILE})`;
}

/** Why `spec`, imported by the repository-relative file `fromFile`, is forbidden; undefined when it is allowed. */
export function checkImport(fromFile, spec) {
  const from = posix(fromFile).replace(/\.(d\.)?([cm]?[jt]s|tsx?)$/, '');
  const key = zoneOf(from);
  if (!key) return undefined;
  const z = LAYERS[key];
  if (spec.startsWith('.')) {
    const target = resolveSpecifier(fromFile, spec);
    if (under(target, key) || z.layers.some((l) => under(target, l))) return undefined;
    return `'${spec}' is ${target.startsWith('..') ? 'outside the repository' : target}: ${allowedText(key)}`;
  }
  if (spec.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(spec)) return `'${spec}' is an absolute path: ${allowedText(key)}`;
  if (isBuiltin(spec)) return z.node ? undefined : `'${spec}' is a Node built-in: ${allowedText(key)}`;
  const ok = z.packages.some((p) => (p.endsWith('/*') ? under(spec, p.slice(0, -2)) : spec === p));
  return ok ? undefined : `'${spec}' is not on the list: ${allowedText(key)}`;
}

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: `Imports follow the architecture's allow-list (${TABLE_FILE}, ARCHITECTURE.md).` },
    schema: [],
  },
  create(context) {
    const file = posix(relative(ROOT, context.filename));
    const zone = zoneOf(file.replace(/\.(d\.)?([cm]?[jt]s|tsx?)$/, ''));
    if (!zone) {
      return /^(src|webview)\//.test(file) && /\.[cm]?[jt]s$/.test(file)
        ? {
            Program: (node) =>
              context.report({ node, message: `${file} belongs to no layer: add its folder to the layers table in ${TABLE_FILE} and ARCHITECTURE.md.` }),
          }
        : {};
    }
    const check = (node, source) => {
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string') return;
      const why = checkImport(file, source.value);
      if (why) context.report({ node: source, message: why });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
      TSImportEqualsDeclaration: (node) => node.moduleReference.type === 'TSExternalModuleReference' && check(node, node.moduleReference.expression),
      TSImportType: (node) => check(node, node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments.length === 1) check(node, node.arguments[0]);
      },
    };
  },
};

export default { meta: { name: 'concert' }, rules: { layers: rule } };
