/**
 * CAD cost relative to plain decoding for the same number of tokens, on the bundled LM (CPU) — row P2 of
 * `npm run bench` (bench/lib/p2Cad.ts) on its own:
 *   batched  = CAD with both inputs as one batch of two rows (what Concert runs)
 *   two-pass = CAD with each input as its own batch, through the same engine loop
 * Usage: node --import tsx bench/cad-speed.ts [--tokens 64] [--repeats 7] [--threads 2]
 * Prints the row as JSON; the goal for batched ÷ plain is ≤ 1.35.
 */
import * as path from 'node:path';
import { arg } from './common';
import { benchCad } from './lib/p2Cad';

void benchCad(
  {
    quick: false,
    repeats: Number(arg('repeats', '7')),
    threads: Number(arg('threads', '2')),
    root: path.join(__dirname, '..'),
    cacheDir: path.join(__dirname, '..', '.cache', 'bench'),
    python: '/usr/bin/python3',
    log: (l) => console.log(l),
  },
  Number(arg('tokens', '64')),
).then((row) => console.log(JSON.stringify(row, null, 2)));
