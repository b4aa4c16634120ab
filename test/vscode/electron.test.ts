/**
 * Tier 3: the @vscode/test-electron suite (test/vscode/suite) on a desktop VS Code, where one is installed:
 * CONCERT_VSCODE_EXECUTABLE (the Electron binary, e.g. /usr/share/code/code) or `code` on PATH. test-electron would
 * otherwise download VS Code from Microsoft, which an offline machine cannot; so without a desktop VS Code the
 * test reports itself skipped, with the reason, never passed. The browser tier (test/e2e) is the one CI relies on.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The desktop VS Code to use, or why there is none. */
function findVsCode(): { executable: string } | { reason: string } {
  const env = process.env.CONCERT_VSCODE_EXECUTABLE;
  if (env) return existsSync(env) ? { executable: env } : { reason: `CONCERT_VSCODE_EXECUTABLE=${env} does not exist` };
  const which = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' });
  const cli = which.status === 0 ? which.stdout.trim() : '';
  if (!cli) {
    return {
      reason:
        'no desktop VS Code on this machine (set CONCERT_VSCODE_EXECUTABLE to its Electron binary, or install `code`); @vscode/test-electron would download VS Code, which this offline machine cannot. test/e2e covers the same scenarios in code-server.',
    };
  }
  // Linux packages put a launcher script at <install>/bin/code; the Electron binary is <install>/code.
  const real = realpathSync(cli);
  const electron = join(dirname(dirname(real)), 'code');
  return existsSync(electron)
    ? { executable: electron }
    : { reason: `found ${cli}, but not the VS Code binary next to it (${electron}); set CONCERT_VSCODE_EXECUTABLE` };
}

it('the VS Code smoke suite passes on desktop VS Code (@vscode/test-electron)', { timeout: 10 * 60_000 }, async (t) => {
  const found = findVsCode();
  if ('reason' in found) {
    t.skip(found.reason);
    return;
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    t.skip('desktop VS Code needs a display: run this tier under xvfb-run (DISPLAY is not set)');
    return;
  }
  const { runTests } = await import('@vscode/test-electron');
  const tmp = mkdtempSync(join(tmpdir(), 'concert-vscode-'));
  try {
    const suite = join(tmp, 'suite', 'index.js');
    await esbuild.build({
      entryPoints: [join(ROOT, 'test', 'vscode', 'suite', 'index.ts')],
      outfile: suite,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode'],
      logLevel: 'warning',
    });
    const workspace = join(tmp, 'workspace');
    cpSync(join(ROOT, 'test', 'e2e', 'fixtures', 'workspace'), workspace, { recursive: true });
    await runTests({
      vscodeExecutablePath: found.executable,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: suite,
      extensionTestsEnv: { CONCERT_EXTENSION_ROOT: ROOT },
      launchArgs: [
        workspace,
        '--disable-extensions',
        `--user-data-dir=${join(tmp, 'user-data')}`,
        `--extensions-dir=${join(tmp, 'extensions')}`,
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--disable-telemetry',
        '--disable-updates',
      ],
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
