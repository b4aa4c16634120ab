/**
 * Activation time of the built extension (dist/extension.js), the extension's own share (bench/lib/activation.ts:
 * a stand-in `vscode` module, a fresh Node process per sample). Budget: 50 ms (issue #11). `npm run bench` reports
 * the same measure as row P7-activation.
 *
 *   npx tsx bench/activation.ts [--runs 9]    (after `npm run build`)
 *
 * Prints the median, the spread and the ratio median ÷ budget (≤ 1 meets it), and writes bench/results/activation.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg } from './common';
import { ACTIVATION_BUDGET_MS, measureActivation } from './lib/activation';

const runs = Number(arg('runs', '9'));
const result = measureActivation(runs);
console.log('| measure | ms |\n|---|---|');
console.log(`| load dist/extension.js (median) | ${result.medianLoadMs.toFixed(1)} |`);
console.log(`| activate() (median) | ${result.medianActivateMs.toFixed(1)} |`);
console.log(`| total (median of ${runs}; min ${result.minMs.toFixed(1)}, max ${result.maxMs.toFixed(1)}) | ${result.medianMs.toFixed(1)} |`);
console.log(
  `activation ÷ ${ACTIVATION_BUDGET_MS} ms budget: ${result.ratio.toFixed(2)} (${result.ratio <= 1 ? 'within' : 'OVER'} budget; ${result.disposables} disposables registered)`,
);
mkdirSync(join(__dirname, 'results'), { recursive: true });
writeFileSync(join(__dirname, 'results', 'activation.json'), JSON.stringify(result, null, 2) + '\n');
