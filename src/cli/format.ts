/** Human-readable output of the CLI (--json prints the result objects as they are). */
import type { CadRunResult, CollabRunResult, DiffusionRunResult, DoctorReport, PackSummary } from '../protocol/worker';

const fmtBytes = (n?: number) => (n === undefined ? '' : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);

export function printPacks(packs: PackSummary[], out: (s: string) => void): void {
  if (!packs.length) {
    out('  (none found)');
    return;
  }
  for (const p of packs) {
    out(
      p.valid
        ? `  ✓ ${p.id}  [${p.kind}${p.codec ? ` ${p.codec.format} ${p.codec.width}×${p.codec.height}` : ''}, ${p.source}, ${fmtBytes(p.sizeBytes)}${p.graphsLoaded === false ? ', graphs not loaded yet' : ''}]  ${p.dir}`
        : `  ✗ ${p.id}  [${p.source}]  ${p.error}`,
    );
  }
  if (packs.some((p) => p.valid && p.graphsLoaded === false))
    out('  (✓ = files, hashes and graphs checked statically; "concert validate <folder>" also loads the graphs into ONNX Runtime)');
}

export function printDoctor(r: DoctorReport, out: (s: string) => void): void {
  out(`Concert ${r.versions.concert} · Node ${r.versions.node} · onnxruntime-node ${r.versions.onnxruntime} · ${r.versions.platform}`);
  out(`Execution providers available: ${r.provider.available.map((a) => a.name + (a.bundled ? '' : ' (needs extra libraries)')).join(', ')}`);
  out(`Requested: ${r.provider.requested} → using ${r.provider.chosen}: ${r.provider.device}`);
  for (const reason of r.provider.fallbackReasons) out(`  fallback: ${reason}`);
  out('Model packs:');
  printPacks(r.packs, out);
}

/** The --json shape: the result plus `answer` for questions (the same string as `text`). */
export function cadJson(r: CadRunResult): unknown {
  return { ...(r.task === 'ask' && { answer: r.text }), ...r };
}

export function printCad(r: CadRunResult, out: (s: string) => void, alreadyStreamed: boolean): void {
  if (!alreadyStreamed) out(r.text || '(the model produced no text)');
  if (r.regular) out(`\n[regular decoding, α = 0]\n${r.regular.text || '(no text)'}`);
  if (r.chunks) out(`\n(${r.chunks.length} chunks summarised and merged: the document is longer than the model's context)`);
  if (r.passages?.length) {
    const where = r.passages.map((p) => (p.firstLine === p.lastLine ? `line ${p.firstLine}` : `lines ${p.firstLine}–${p.lastLine}`)).join(', ');
    out(
      `\n(answered from the document's ${where}: the passage${r.passages.length === 1 ? ' that best matches' : 's that best match'} the question; --whole-document reads it all when it fits)`,
    );
  }
}

export function printDiffusion(r: DiffusionRunResult, out: (s: string) => void): void {
  out(r.text || '(the model produced no text)');
  for (const a of r.attributes) {
    const probs = Object.entries(a.probabilities)
      .map(([l, p]) => `${l} ${(p * 100).toFixed(0)}%`)
      .join(', ');
    out(`  ${a.attribute}${a.target ? ` (target ${a.target})` : ''}: ${probs}`);
  }
}

/** The --json shape of `collab`: the result plus `core_only` / `user_only` (the same objects as coreOnly / userOnly). */
export function collabJson(r: CollabRunResult): unknown {
  return { ...r, ...(r.coreOnly && { core_only: r.coreOnly }), ...(r.userOnly && { user_only: r.userOnly }) };
}

export function printCollab(r: CollabRunResult, out: (s: string) => void): void {
  out(r.text || '(the models produced no text)');
  if (r.coreOnly) out(`\n[core only, λ_user = 0]\n${r.coreOnly.text || '(no text)'}`);
  if (r.userOnly) out(`\n[user only, λ_user = 1, α = 0]\n${r.userOnly.text || '(no text)'}`);
  const k = r.record.knobs;
  out(
    `\n(λ_user ${k.lambdaUser}, α ${k.alpha}, seed ${r.record.seed}; ${r.passages.length} passage${r.passages.length === 1 ? '' : 's'} read by the user model)`,
  );
  for (const p of r.passages) out(`  [${p.title}${p.score ? `, BM25 ${p.score.toFixed(2)}` : ''}] ${p.text.length > 100 ? `${p.text.slice(0, 99)}…` : p.text}`);
  out(
    r.ledger.summary ?? `core at ${r.ledger.coreLocation}: ${r.ledger.requests} requests, ${r.ledger.bytesSent} bytes sent, ${r.ledger.bytesReceived} received`,
  );
}
