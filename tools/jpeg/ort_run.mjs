// Runs an ONNX graph in onnxruntime-node (the runtime the extension uses) for tools/jpeg/export.py's parity check:
//   node tools/jpeg/ort_run.mjs model.onnx feeds.json out.json
// feeds.json: [{"name": {"dtype": "int64"|"float32", "dims": [...], "data": [...]}}, ...] (one object per run; a
// value {"from": "present.0.key"} reuses that output of the previous run as input). out.json: one object per run,
// {output name: {"dims", "data"}}.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ort = createRequire(resolve(root, 'package.json'))('onnxruntime-node');
const [model, feedsPath, outPath] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
const runs = JSON.parse(readFileSync(feedsPath, 'utf8'));
const results = [];
let prev = {};
for (const run of runs) {
  const feeds = {};
  for (const [name, v] of Object.entries(run)) {
    if (v.from) {
      feeds[name] = prev[v.from];
    } else if (v.dtype === 'int64') {
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(v.data.map((x) => BigInt(x))), v.dims);
    } else {
      feeds[name] = new ort.Tensor('float32', Float32Array.from(v.data), v.dims);
    }
  }
  const out = await session.run(feeds);
  prev = out;
  const rec = {};
  for (const [name, t] of Object.entries(out)) rec[name] = { dims: t.dims, data: Array.from(t.data) };
  results.push(rec);
}
writeFileSync(outPath, JSON.stringify(results));
