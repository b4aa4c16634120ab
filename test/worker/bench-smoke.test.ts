/**
 * `npm run bench -- --quick` (bench/run.ts) still runs end to end: every row of the table produced a number; and so does
 * the quality-speed curve of diffusion (bench/diffusion-curve.ts) at tiny sizes. This
 * asserts that the benchmark works, not how fast anything is (the quick sizes are too small to mean anything).
 * Rows that need PyTorch (P1's reference loop, P3's generated model) may only be missing where /usr/bin/python3 has
 * no torch, and then they must say why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { requireBuild } from '../helpers/worker';

const ROOT = path.resolve('.');
const dir = mkdtempSync(path.join(tmpdir(), 'concert-bench-smoke-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const python = process.env['CONCERT_PYTHON'] ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch, onnx'], { encoding: 'utf8' }).status === 0;

interface Report {
  quick: boolean;
  machine: { nproc: number; loadAverageBefore: number[] };
  rows: { id: string; ratio: number | null; goal: number | null; note?: string }[];
}

describe('npm run bench -- --quick, and the diffusion curve', () => {
  it('produces a number for every row and writes the JSON report', { timeout: 180_000 }, () => {
    requireBuild();
    const out = path.join(dir, 'bench.json');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `bench/run.ts --quick failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    assert.equal(report.quick, true);
    assert.ok(report.machine.nproc >= 1 && report.machine.loadAverageBefore.length === 3);
    const ids = report.rows.map((x) => x.id);
    for (const want of ['P1', 'P2', 'P3', 'P4', 'P4-AR', 'P6', 'P7-activation', 'P7-worker', 'P7-first-token', 'P7-ask', 'S-spin'])
      assert.ok(ids.includes(want), `row ${want} is missing (rows: ${ids.join(', ')})`);
    assert.ok(
      ids.some((id) => id.startsWith('M-')),
      'no memory row',
    );
    for (const row of report.rows) {
      if (!hasTorch && (row.id === 'P1' || row.id === 'P3')) {
        if (row.ratio === null) assert.ok(row.note, `${row.id} is missing without saying why`);
        continue;
      }
      assert.ok(
        typeof row.ratio === 'number' && Number.isFinite(row.ratio) && row.ratio > 0,
        `${row.id} produced no number: ${row.note ?? JSON.stringify(row)}`,
      );
    }
    // The table was printed, one line per row.
    for (const id of ids) assert.match(r.stdout, new RegExp(`^\\| ${id} \\|`, 'm'));
    console.log(`# bench --quick ran in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('bench/diffusion-curve.ts draws every variant at every T, and reuse keeps the tokens (#18)', { timeout: 120_000 }, () => {
    const json = path.join(dir, 'curve.json');
    const svg = path.join(dir, 'curve.svg');
    const args = ['--steps-list', '4,8', '--prompts', '1', '--tokens', '4', '--speed-runs', '2', '--threads', '1', '--out', json, '--svg', svg];
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/diffusion-curve.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, `bench/diffusion-curve.ts failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    const cells = (
      JSON.parse(readFileSync(json, 'utf8')) as {
        cells: { variant: string; steps: number; tokensPerSecond: number; sameTokensAsFull?: boolean; contextTokensEncoded: number }[];
      }
    ).cells;
    assert.deepEqual(
      cells.map((c) => `${c.steps} ${c.variant}`),
      ['4 full', '4 early stop 0.4', '4 no context reuse', '8 full', '8 early stop 0.4', '8 no context reuse'],
    );
    for (const c of cells) assert.ok(Number.isFinite(c.tokensPerSecond) && c.tokensPerSecond > 0, JSON.stringify(c));
    for (const c of cells.filter((x) => x.variant === 'no context reuse')) {
      assert.equal(c.sameTokensAsFull, true, 'context reuse changed the tokens');
      // Two runs re-encoding whole contexts read more context tokens than the two runs of `full` that reused them.
      const full = cells.find((x) => x.variant === 'full' && x.steps === c.steps)!;
      assert.ok(c.contextTokensEncoded > full.contextTokensEncoded, `${c.contextTokensEncoded} vs ${full.contextTokensEncoded}`);
    }
    const drawn = readFileSync(svg, 'utf8');
    assert.match(drawn, /^<svg /);
    assert.equal(drawn.match(/<polyline /g)?.length, 3 + 2 + 2, 'tokens/s for three variants, judge and perplexity for two');
    assert.match(r.stdout, /^\| 8 \| no context reuse \| [\d.]+ \| same tokens as full \|/m);
  });
});
