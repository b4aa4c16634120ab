/**
 * The check every e2e suite ends with: the workbench and the webviews logged no errors, broke no CSP and reached
 * nothing off 127.0.0.1.
 *
 * One thing is not Concert's doing: VS Code's webview service worker sometimes misses a page it just created
 * (microsoft/vscode#326544, seen in this harness about once in ten runs), so the page's resources go to their virtual
 * host, whose name does not resolve, and the page stays blank. Concert's answer is PageStartWatch: a page that does not
 * say `ready` is rendered again, and the log says so. Such misses pass only when that log line is there and no page
 * was given up on; they are printed either way.
 */
import type { PageProblems } from '../webview/browser';
import { problemLines } from '../webview/browser';
import { concertLog } from './codeServer';

export function workbenchProblems(problems: PageProblems, userDataDir: string): string[] {
  const lines = problemLines(problems);
  if (!problems.serviceWorkerMisses.length) return lines;
  const log = (concertLog(userDataDir) ?? '').split('\n');
  // The lines of pageStartSettings (src/extension/pageStartWatch.ts).
  const rendered = log.filter((l) => /the page did not start in \d+ s; rendering it again/.test(l));
  const gaveUp = log.filter((l) => /the page did not start;/.test(l));
  console.log(
    `# VS Code's webview service worker missed ${problems.serviceWorkerMisses.length} resource request(s):\n` +
      [...problems.serviceWorkerMisses, ...rendered, ...gaveUp].map((l) => `#   ${l}`).join('\n'),
  );
  if (!rendered.length || gaveUp.length)
    lines.push(...problems.serviceWorkerMisses.map((m) => `webview resource missed by the service worker, and Concert did not bring the page back: ${m}`));
  return lines;
}
