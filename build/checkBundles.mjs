// What each bundle may contain, checked on esbuild's metafile after every build (esbuild.mjs). Lint keeps the
// arrows of single imports (eslint/layers.mjs); this check looks at the result: the extension host must never load
// ONNX Runtime or the inference layers, and the webview bundles must hold nothing Node-only.
import { builtinModules } from 'node:module';

const builtins = new Set(builtinModules);
const isBuiltin = (p) => p.startsWith('node:') || builtins.has(p) || builtins.has(p.split('/')[0]);
const onnxruntime = /(^|\/)onnxruntime-[a-z]+(\/|$)/;

/**
 * Per bundle kind: `inputs` lists forbidden bundled modules (esbuild's input paths, relative to the repository root),
 * `externals` forbidden external imports (left to `require` at run time), each with the reason printed on failure.
 * @type {Record<string, { inputs: Array<[RegExp, string]>, externals: Array<[RegExp | ((path: string) => boolean), string]> }>}
 */
export const BUNDLE_RULES = {
  extension: {
    inputs: [
      [onnxruntime, 'the extension host never loads ONNX Runtime: inference runs in the worker process'],
      [/^src\/(runtime|engine|codec)\//, 'the extension host never loads the inference layers (src/runtime, src/engine, src/codec)'],
      [/^src\/worker\/(?!(client|restartPolicy)\.ts$)/, 'the extension host reaches the worker only through src/worker/client.ts'],
      [/^src\/cli\//, 'the extension host does not contain the CLI'],
      [/^webview\//, 'webview code runs in the webviews, not in the extension host'],
    ],
    externals: [[onnxruntime, 'the extension host never loads ONNX Runtime: inference runs in the worker process']],
  },
  cli: {
    inputs: [
      [onnxruntime, 'the CLI never loads ONNX Runtime: inference runs in the worker process'],
      [/^src\/(runtime|engine|codec)\//, 'the CLI never loads the inference layers (src/runtime, src/engine, src/codec)'],
      [/^src\/worker\/(?!(client|restartPolicy)\.ts$)/, 'the CLI reaches the worker only through src/worker/client.ts'],
      [/^src\/extension\//, 'the CLI does not contain the VS Code glue'],
      [/^webview\//, 'webview code runs in the webviews'],
    ],
    externals: [
      [onnxruntime, 'the CLI never loads ONNX Runtime: inference runs in the worker process'],
      [/^vscode$/, 'the CLI runs outside VS Code'],
    ],
  },
  worker: {
    inputs: [
      [/^src\/(extension|cli)\//, 'the worker does not contain the VS Code glue or the CLI'],
      [/^webview\//, 'webview code runs in the webviews'],
    ],
    externals: [[/^vscode$/, 'the worker runs outside VS Code']],
  },
  webview: {
    inputs: [
      [/^src\/(?!protocol\/webview\.ts$)/, 'webview bundles contain only webview/ and the shared message types (src/protocol/webview.ts)'],
      [onnxruntime, 'webview bundles are browser code'],
      [/(^|\/)node_modules\/(vscode-jsonrpc|@huggingface\/tokenizers)\//, 'webview bundles are browser code'],
    ],
    externals: [[() => true, 'webview bundles are self-contained browser code (an external import is a Node built-in or a package left to `require`)']],
  },
};

/** The chain of bundled modules from the entry point to `target`, through the metafile's import graph. */
function chain(metafile, entry, target) {
  const prev = new Map([[entry, undefined]]);
  const queue = [entry];
  while (queue.length) {
    const at = queue.shift();
    if (at === target) break;
    for (const imp of metafile.inputs[at]?.imports ?? []) {
      if (!prev.has(imp.path)) {
        prev.set(imp.path, at);
        queue.push(imp.path);
      }
    }
  }
  if (!prev.has(target)) return [target];
  const path = [];
  for (let p = target; p !== undefined; p = prev.get(p)) path.unshift(p);
  return path;
}

/** The bundled module that imports the external `path` (for the message), if any. */
function importerOf(metafile, output, path) {
  return Object.keys(output.inputs).find((i) => (metafile.inputs[i]?.imports ?? []).some((imp) => imp.external && imp.path === path));
}

/**
 * Problems of one build's metafile for a bundle kind of BUNDLE_RULES, one sentence each; empty when clean.
 * @param {'extension' | 'cli' | 'worker' | 'webview'} kind
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function checkBundle(kind, metafile) {
  const rules = BUNDLE_RULES[kind];
  if (!rules) throw new Error(`checkBundle: unknown bundle kind ${kind}`);
  const problems = [];
  for (const [out, output] of Object.entries(metafile.outputs)) {
    if (out.endsWith('.map') || out.endsWith('.css')) continue;
    for (const input of Object.keys(output.inputs)) {
      const rule = rules.inputs.find(([re]) => re.test(input));
      if (rule) {
        const via = output.entryPoint ? chain(metafile, output.entryPoint, input) : [input];
        problems.push(`${out} contains ${input}${via.length > 1 ? ` (via ${via.join(' → ')})` : ''}: ${rule[1]}.`);
      }
    }
    const seen = new Set();
    for (const imp of output.imports ?? []) {
      if (!imp.external || seen.has(imp.path)) continue;
      seen.add(imp.path);
      const rule = rules.externals.find(([m]) => (typeof m === 'function' ? m(imp.path) : m.test(imp.path)));
      if (rule) {
        const from = importerOf(metafile, output, imp.path);
        problems.push(`${out} loads ${isBuiltin(imp.path) ? 'the Node built-in ' : ''}'${imp.path}'${from ? ` (imported by ${from})` : ''}: ${rule[1]}.`);
      }
    }
  }
  return problems;
}

/** An esbuild plugin that checks each (re)build of a bundle kind and reports problems as build errors. */
export function bundleCheck(kind, onProblems = () => {}) {
  return {
    name: `concert-bundle-check-${kind}`,
    setup(build) {
      build.initialOptions.metafile = true;
      build.onEnd((result) => {
        if (!result.metafile) return;
        const problems = checkBundle(kind, result.metafile);
        onProblems(problems);
        return { errors: problems.map((text) => ({ text: `bundle check: ${text}` })) };
      });
    },
  };
}
