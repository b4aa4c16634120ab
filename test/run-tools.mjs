// The tools tier: Python tests of tools/ (data pipeline, tokenizer, training, export parity) with Debian's python3,
// then the reduced --smoke pipeline end to end (data → tokenizer → tiny models → export → packs), and a check that
// the runtime accepts the packs it produced. Set CONCERT_TOOLS_SMOKE=0 to run only the unit tests (local iteration).
// It ends with a TAP-style summary (`# tests N`, `# pass N`, `# fail N`, `# skipped N`: each Python test and each
// smoke step counts once), which test/run.mjs adds to the totals of `npm test`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const python = process.env.CONCERT_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch, onnx, sentencepiece, numpy'], { encoding: 'utf8' });
if (!existsSync(python) || probe.status !== 0) {
  console.error(
    `tools tests need ${python} with torch, onnx, sentencepiece and numpy. Install them with:\n  sudo apt-get install -y --no-install-recommends $(cat tools/requirements-apt.txt)\n${probe.stderr ?? ''}`,
  );
  process.exit(1);
}
const env = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' };
const tally = { pass: 0, fail: 0, skipped: 0 };
const summarize = () => {
  console.log(
    `# tests ${tally.pass + tally.fail + tally.skipped}\n# pass ${tally.pass}\n# fail ${tally.fail}\n# cancelled 0\n# skipped ${tally.skipped}\n# todo 0`,
  );
};
const fail = (status) => {
  summarize();
  process.exit(status || 1);
};
const run = (what, cmd, args, extraEnv = {}) => {
  console.log(`\n# tools: ${what}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...env, ...extraEnv } });
  console.log(`# tools: ${what} ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  tally[r.status === 0 ? 'pass' : 'fail']++;
  if (r.status !== 0) fail(r.status);
};

// The Python tests: unittest reports on stderr, passed through as it comes and read for the counts at the end.
{
  console.log('\n# tools: python unit tests');
  const t0 = Date.now();
  const { status, report } = await new Promise((resolve) => {
    const child = spawn(python, ['-m', 'unittest', 'discover', '-s', 'tools/tests'], { stdio: ['inherit', 'inherit', 'pipe'], env });
    let text = '';
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      text += chunk;
    });
    child.on('close', (code) => resolve({ status: code ?? 1, report: text }));
  });
  const ran = Number(/^Ran (\d+) tests?/m.exec(report)?.[1] ?? 0);
  const verdict = /^(OK|FAILED)\b.*$/m.exec(report)?.[0] ?? '';
  const n = (what) => Number(new RegExp(`\\b${what}=(\\d+)`).exec(verdict)?.[1] ?? 0);
  const failed = n('failures') + n('errors') + n('unexpected successes');
  const skipped = n('skipped') + n('expected failures');
  tally.pass += Math.max(0, ran - failed - skipped);
  tally.skipped += skipped;
  tally.fail += failed || (status !== 0 ? 1 : 0);
  console.log(`# tools: python unit tests ${status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (status !== 0) fail(status);
}
if (process.env.CONCERT_TOOLS_SMOKE !== '0') {
  run('smoke data build', python, ['tools/data/build.py', '--smoke']);
  // The grounded data of issue #16 on the smoke corpora, and its invariants on the built files (the unit pass above
  // had no build to check yet).
  run('smoke grounded data build', python, ['tools/data/build_grounded.py', '--smoke']);
  run('grounded data invariants on the smoke build', python, ['-m', 'unittest', 'tools.tests.test_grounded.BuiltFiles.test_smoke_build']);
  run("the user model's grounded mixture on the smoke build", python, ['-m', 'unittest', 'tools.tests.test_diffusion.GroundedMixTest']);
  run("the causal LM's cloze source on the smoke build", python, ['-m', 'unittest', 'tools.tests.test_grounded.ClozeQuestions']);
  run('smoke training of the text packs', 'bash', ['tools/models/train_all.sh'], { SMOKE: '1' });
  if (existsSync('tools/diffusion/train_all.sh')) run('smoke training of the diffusion packs', 'bash', ['tools/diffusion/train_all.sh'], { SMOKE: '1' });
  // The runtime must accept what the tools produce (full check: graphs loaded into ONNX Runtime).
  const v = spawnSync(process.execPath, ['bin/concert.js', 'validate', 'data/build/smoke-packs', '--json'], { encoding: 'utf8', env });
  const packs = v.stdout ? JSON.parse(v.stdout).packs : [];
  if (v.status !== 0 || !packs.length) {
    console.error(
      `# tools: smoke packs rejected by the runtime: ${
        packs
          .filter((p) => !p.valid)
          .map((p) => p.error)
          .join('; ') || v.stderr
      }`,
    );
    tally.fail++;
    fail(1);
  }
  tally.pass++;
  console.log(`# tools: runtime accepts ${packs.length} smoke packs (${packs.map((p) => p.id).join(', ')})`);
  // The TypeScript engine and runtime reproduce the freshly exported smoke diffusion packs (graphs and whole runs).
  if (existsSync('data/build/smoke-golden/concert-ssd-core'))
    run(
      'ONNX Runtime parity of the smoke diffusion packs',
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', 'test/worker/diffusion-parity.test.ts'],
      {
        CONCERT_SSD_PACK_ROOT: 'data/build/smoke-packs',
        CONCERT_SSD_GOLDEN_ROOT: 'data/build/smoke-golden',
      },
    );
}
summarize();
