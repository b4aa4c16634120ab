/**
 * One memory measurement (bench/lib/memory.ts): after a one-node canary session (ONNX Runtime itself is loaded and
 * running), load a pack's graphs with the CPU arena on or off, run each graph a few
 * times on synthetic inputs of a typical size (2 rows, 64 tokens), and print the resident memory before the sessions
 * were created and the process's peak.
 *   node --expose-gc --import tsx bench/lib/memoryChild.ts <pack dir> on|off <threads>
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { syntheticFeeds } from '../../src/runtime/feeds';
import { SessionCache, ort, runCanary } from '../../src/runtime/ort';
import { externalDataFiles, readPackFile, validatePack } from '../../src/runtime/packs';

/**
 * This process's peak resident memory in bytes: Linux's VmHWM (of this program's own address space), not getrusage's
 * maxRSS, which survives exec and would report the spawning benchmark's peak.
 */
function peakResident(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const [dir, arena, threads] = process.argv.slice(2);
  const pack = await validatePack(path.resolve(dir!), 'bundled');
  const m = pack.manifest;
  const files = new Set<string>();
  for (const [role, file] of Object.entries(m.graphs)) {
    files.add(file);
    for (const ext of externalDataFiles(m, role, await readPackFile(pack, file))) files.add(ext.file);
  }
  const weightBytes = [...files].reduce((n, f) => n + statSync(path.join(pack.dir, f)).size, 0);
  // ONNX Runtime's environment, thread pool and code pages are paid once per process, whatever the model: a one-node
  // canary session before the baseline keeps them out of the model's share.
  await runCanary('cpu');
  global.gc?.();
  const baselineRss = process.memoryUsage().rss;
  const sessions = new SessionCache('cpu', Number(threads), 0, () => {}, { cpuMemArena: arena === 'on' });
  const block = typeof m.knobs?.['blockSize'] === 'number' ? m.knobs['blockSize'] : 2;
  const dims = { batch_size: 2, sequence_length: 64, context_length: 64, past_sequence_length: 0, block_length: block };
  for (const role of Object.keys(m.graphs)) {
    const g = await sessions.get(pack, role);
    const specs = m.io[role]!.inputs.map((i) => ({ ...i, shape: i.shape.map((d) => (typeof d === 'string' && d in dims ? dims[d as keyof typeof dims] : d)) }));
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(syntheticFeeds(specs))) feeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
    // Token ids must be valid: keep them small.
    for (const [name, t] of Object.entries(feeds)) if (t.type === 'int64' && /ids$/.test(name)) (t.data as BigInt64Array).fill(5n);
    for (let i = 0; i < 3; i++) await g.session.run(feeds);
  }
  const peakRss = peakResident();
  await sessions.clear();
  console.log(JSON.stringify({ pack: m.id, weightBytes, baselineRss, peakRss }));
}

void main();
