// Runs the Python tests of tools/ (data pipeline, tokenizer, model export parity) with Debian's python3, which is
// where python3-torch, python3-onnx and python3-sentencepiece live.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const python = process.env.CONCERT_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch, onnx, sentencepiece, numpy'], { encoding: 'utf8' });
if (!existsSync(python) || probe.status !== 0) {
  console.error(`tools tests need ${python} with torch, onnx, sentencepiece and numpy. Install them with:\n  sudo apt-get install -y --no-install-recommends $(cat tools/requirements-apt.txt)\n${probe.stderr ?? ''}`);
  process.exit(1);
}
const r = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'tools/tests'], { stdio: 'inherit', env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' } });
process.exit(r.status ?? 1);
