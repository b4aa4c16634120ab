/**
 * code-server 4.99.4 (VS Code 1.99.3) with the built extension loaded in development mode, for the VS Code tier.
 * Each session gets a fresh temporary profile (user data, extensions, HOME and XDG folders, a workspace copied
 * from a fixture), binds to 127.0.0.1 on a free port, runs in its own process group, and is ended exactly: the
 * group gets SIGTERM, then SIGKILL, and `stop()` checks that no process of the group is left.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CODE_SERVER_VERSION = '4.99.4';

/** The user settings of every session: quiet, offline, no prompts. */
export const BASE_SETTINGS: Record<string, unknown> = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'workbench.startupEditor': 'none',
  'workbench.enableExperiments': false,
  'workbench.tips.enabled': false,
  'workbench.colorTheme': 'Default Dark Modern',
  // The fixture workspace is ours: trust it without a prompt (CodeServerOptions.trusted: false turns trust on).
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'files.hotExit': 'off',
  'window.restoreWindows': 'none',
  'editor.accessibilitySupport': 'off',
  // Arrow keys then move by document lines, so scenarios can select lines by keyboard.
  'editor.wordWrap': 'off',
  '[markdown]': { 'editor.wordWrap': 'off' },
  'typescript.disableAutomaticTypeAcquisition': true,
  'npm.autoDetect': 'off',
};

/**
 * The settings of a session whose workspace is not trusted: Workspace Trust on, and the workspace opened in Restricted
 * Mode without the start-up dialog (a fresh profile trusts no folder).
 */
export const UNTRUSTED_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.emptyWindow': false,
};

/** Fails (never skips) with the install line: CI installs code-server, so its absence is a broken setup. */
export function requireCodeServer(root: string): string {
  // The browser tiers' toolchain lives in its own package (test/package.json), installed by test/setup.mjs.
  const harness = join(root, 'test', 'node_modules', 'code-server');
  const pkg = join(harness, 'package.json');
  const entry = join(harness, 'out', 'node', 'entry.js');
  const how = 'Run `node test/setup.mjs` (npm test does): it installs the Debian packages code-server builds with and the test harness of test/package.json.';
  if (!existsSync(pkg) || !existsSync(entry)) throw new Error(`code-server ${CODE_SERVER_VERSION} is not installed in test/node_modules. ${how}`);
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  if (version !== CODE_SERVER_VERSION)
    throw new Error(`test/node_modules has code-server ${version}; this tier is pinned to ${CODE_SERVER_VERSION} (VS Code 1.99.3). ${how}`);
  // Its native modules are built by the install scripts; a skipped postinstall shows up here.
  const rg = join(harness, 'lib', 'vscode', 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  if (!existsSync(rg)) throw new Error(`code-server's install scripts did not finish (no ${rg}). ${how}`);
  return entry;
}

/**
 * A copy of the extension as it ships on this machine's platform: the stage that `npm run package` packs into the
 * VSIX (build/packageVsix.mjs: the `!` entries of .vscodeignore plus this platform's ONNX Runtime under
 * dist/node_modules). Loading the stage, not the working tree, tests what a VSIX holds (a bundle, asset or runtime
 * file missing from it fails here) and keeps a run steady while someone rebuilds.
 */
export async function snapshotExtension(root: string, dest: string): Promise<string> {
  const required = ['package.json', 'dist/extension.js', 'dist/worker.js', 'dist/webview/status.js'];
  const missing = required.filter((f) => !existsSync(join(root, f)));
  if (missing.length) throw new Error(`the built extension is incomplete (missing ${missing.join(', ')}): run \`npm run build\` first (npm test does)`);
  const { stageTarget } = (await import(pathToFileURL(join(root, 'build', 'packageVsix.mjs')).href)) as {
    stageTarget: (target: string, stage: string) => string[];
  };
  stageTarget(hostTarget(), dest);
  return dest;
}

/** The VS Code platform target of this machine (linux-x64 here). */
export function hostTarget(): string {
  return `${process.platform}-${process.arch}`;
}

/** `code-server --install-extension`, as a user installs a downloaded VSIX (offline: no gallery). */
function installVsix(entry: string, vsix: string, userDataDir: string, extensionsDir: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync(process.execPath, [entry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 || !/successfully installed/i.test(out)) throw new Error(`installing ${vsix} failed (exit ${r.status}):\n${out.slice(-3000)}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Pids whose process group is `pgid` (from /proc; Linux). */
export function processGroup(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may contain spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      /* the process ended while we looked */
    }
  }
  return out;
}

export interface CodeServerOptions {
  /** Repository root: code-server is taken from its node_modules. */
  root: string;
  /** The extension folder (loaded in development mode); a snapshot of the repository's build when omitted. */
  extensionPath?: string;
  /** A VSIX to install with `--install-extension` into the empty extensions folder instead (no development mode). */
  vsix?: string;
  /** A folder copied as the workspace. */
  workspaceFixture: string;
  settings?: Record<string, unknown>;
  /** false: Workspace Trust is on and the workspace is not trusted (UNTRUSTED_SETTINGS); default: trusted. */
  trusted?: boolean;
  /** Where the server log is copied when the session ends (kept as a test artifact). */
  logCopy?: string;
}

export class CodeServer {
  private exited = false;
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly workspace: string,
    readonly userDataDir: string,
    private readonly child: ChildProcess,
    private readonly logFile: string,
    private readonly extensionPath: string | undefined,
    private readonly logCopy: string | undefined,
  ) {
    child.once('exit', () => {
      this.exited = true;
    });
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The process group (= the server's pid): everything the server started, the extension's worker included. */
  get pgid(): number {
    return this.child.pid ?? -1;
  }

  /** The workbench on the fixture workspace, with the extension in development mode unless it was installed. */
  get workbenchUrl(): string {
    if (this.extensionPath === undefined) return `${this.origin}/?folder=${encodeURIComponent(this.workspace)}`;
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${this.port}${this.extensionPath}`]]);
    return `${this.origin}/?folder=${encodeURIComponent(this.workspace)}&payload=${encodeURIComponent(payload)}`;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The user's settings as the workbench wrote them (user and machine scopes merged, machine last). */
  writtenSettings(): Record<string, unknown> {
    const read = (p: string) => {
      try {
        return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
      } catch {
        return {};
      }
    };
    return { ...read(join(this.userDataDir, 'User', 'settings.json')), ...read(join(this.userDataDir, 'Machine', 'settings.json')) };
  }

  static async start(o: CodeServerOptions): Promise<CodeServer> {
    const entry = requireCodeServer(o.root);
    const dir = mkdtempSync(join(tmpdir(), 'concert-e2e-'));
    const d = (...p: string[]) => {
      const f = join(dir, ...p);
      mkdirSync(f, { recursive: true });
      return f;
    };
    const userDataDir = d('user-data');
    const extensionsDir = d('extensions');
    const home = d('home');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: home,
      XDG_CONFIG_HOME: d('xdg', 'config'),
      XDG_DATA_HOME: d('xdg', 'data'),
      XDG_CACHE_HOME: d('xdg', 'cache'),
      XDG_RUNTIME_DIR: d('xdg', 'runtime'),
      TMPDIR: d('tmp'),
      // No marketplace, no telemetry, no update checks.
      EXTENSIONS_GALLERY: '{}',
      NODE_OPTIONS: '',
    };
    const workspace = join(dir, 'workspace');
    let extensionPath: string | undefined;
    let port: number;
    try {
      writeFileSync(
        join(d('user-data', 'User'), 'settings.json'),
        JSON.stringify({ ...BASE_SETTINGS, ...(o.trusted === false && UNTRUSTED_SETTINGS), ...o.settings }, null, 2),
      );
      if (o.vsix) installVsix(entry, o.vsix, userDataDir, extensionsDir, env);
      else extensionPath = o.extensionPath ?? (await snapshotExtension(o.root, join(dir, 'extension')));
      cpSync(o.workspaceFixture, workspace, { recursive: true });
      port = await freePort();
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const logFile = join(dir, 'code-server.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(
      process.execPath,
      [
        entry,
        '--user-data-dir',
        userDataDir,
        '--extensions-dir',
        extensionsDir,
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--auth',
        'none',
        '--disable-telemetry',
        '--disable-update-check',
        ...(o.trusted === false ? [] : ['--disable-workspace-trust']),
        '--ignore-last-opened',
        workspace,
      ],
      // detached: its own process group, so stop() ends exactly what this session started.
      { cwd: workspace, env, detached: true, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    const server = new CodeServer(dir, port, workspace, userDataDir, child, logFile, extensionPath, o.logCopy);
    live.add(server);
    try {
      await server.waitHealthy(60_000);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`code-server exited during start-up:\n${this.log().slice(-3000)}`);
      try {
        const r = await fetch(`${this.origin}/healthz`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`code-server did not answer /healthz within ${timeoutMs} ms:\n${this.log().slice(-3000)}`);
  }

  /** SIGTERM to the group, up to 5 s, then SIGKILL; returns the pids that were still there at SIGKILL time. */
  async stop(): Promise<{ killed: number[]; left: number[] }> {
    live.delete(this);
    const pgid = this.pgid;
    let killed: number[] = [];
    if (pgid > 0) {
      signalGroup(pgid, 'SIGTERM');
      const deadline = Date.now() + 5_000;
      while (processGroup(pgid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      killed = processGroup(pgid);
      if (killed.length) signalGroup(pgid, 'SIGKILL');
      const hard = Date.now() + 3_000;
      while (processGroup(pgid).length && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
    }
    const left = pgid > 0 ? processGroup(pgid) : [];
    if (this.logCopy) {
      try {
        mkdirSync(join(this.logCopy, '..'), { recursive: true });
        copyFileSync(this.logFile, this.logCopy);
      } catch {
        /* best effort */
      }
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    return { killed, left };
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

/** Sessions not stopped yet: the exit hook below kills their groups if the test process dies first. */
const live = new Set<CodeServer>();
process.once('exit', () => {
  for (const s of live) signalGroup(s.pgid, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const s of live) signalGroup(s.pgid, 'SIGKILL');
    process.exit(130);
  });
}

/** The Concert logs that code-server keeps under `userDataDir`, oldest first (a window reload starts a new one); undefined when there is none yet. */
export function concertLog(userDataDir: string): string | undefined {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'Concert.log') found.push(p);
    }
  };
  try {
    walk(join(userDataDir, 'logs'));
  } catch {
    return undefined;
  }
  return found.length
    ? found
        .sort()
        .map((f) => readFileSync(f, 'utf8'))
        .join('')
    : undefined;
}

/** The last `lines` lines of the Concert log (for failure messages). */
export function concertLogTail(userDataDir: string, lines = 30): string {
  const text = concertLog(userDataDir);
  if (text === undefined) return `(no Concert.log under ${join(userDataDir, 'logs')})`;
  return `Concert.log, last ${lines} lines:\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
}
