/**
 * Pure text for the status bar, notifications and the log, so it is unit-tested without VS Code.
 */
import type { DoctorReport, PackSummary, ProviderName, ProviderReport } from '../protocol/worker';
import type { WorkerState } from '../worker/client';

const PROVIDER_LABELS: Record<ProviderName, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU', dml: 'DirectML', coreml: 'CoreML' };

export function providerLabel(p: ProviderName | string): string {
  return PROVIDER_LABELS[p as ProviderName] ?? p;
}

export interface StatusBarLook {
  text: string;
  tooltip: string;
  /** A theme colour id for the background, when the state needs attention. */
  background?: 'statusBarItem.warningBackground' | 'statusBarItem.errorBackground';
}

/** `started` is false until the first request starts the worker: then the item says "idle", not "stopped". */
export function statusBarLook(state: WorkerState, provider: ProviderReport | undefined, started: boolean, failure?: string): StatusBarLook {
  const details = provider ? providerDetails(provider) : [];
  switch (state) {
    case 'running': {
      return {
        text: `$(chip) Concert: ${providerLabel(provider?.chosen ?? 'cpu')}${provider && missedRequest(provider) ? ' $(warning)' : ''}`,
        tooltip: ['Concert worker running', ...details].join('\n'),
      };
    }
    case 'starting':
      return { text: '$(loading~spin) Concert: starting', tooltip: 'Starting the Concert worker…' };
    case 'restarting':
      return {
        text: '$(sync~spin) Concert: restarting',
        tooltip: ['The Concert worker stopped unexpectedly and is being restarted.', ...details].join('\n'),
        background: 'statusBarItem.warningBackground',
      };
    case 'failed':
      return {
        text: '$(error) Concert: failed',
        tooltip: failure ?? 'The Concert worker is not running. Run "Concert: Restart Worker".',
        background: 'statusBarItem.errorBackground',
      };
    case 'stopped':
      return {
        text: '$(chip) Concert: idle',
        tooltip: started
          ? 'The Concert worker is stopped; it starts again on the next request.'
          : 'The Concert worker starts on the first request; no models are loaded yet.',
      };
  }
}

/** The user asked for a specific provider and did not get it (with `auto`, falling back is the plan, not news). */
export function missedRequest(p: ProviderReport): boolean {
  return p.requested !== 'auto' && p.requested !== p.chosen;
}

export function providerDetails(p: ProviderReport): string[] {
  const lines = [`Provider: ${providerLabel(p.chosen)} (requested: ${p.requested})`, `Device: ${p.device}`];
  for (const r of p.fallbackReasons) lines.push(`Fallback: ${r}`);
  return lines;
}

export function packCounts(packs: readonly PackSummary[]): { valid: number; invalid: number } {
  const valid = packs.filter((p) => p.valid).length;
  return { valid, invalid: packs.length - valid };
}

export function packsSummary(packs: readonly PackSummary[]): string {
  const { valid, invalid } = packCounts(packs);
  const s = `${valid} valid model pack${valid === 1 ? '' : 's'}`;
  return invalid ? `${s}, ${invalid} invalid` : s;
}

export function doctorSummary(r: DoctorReport): string {
  const p = r.provider;
  const base = `Concert doctor: ${providerLabel(p.chosen)} (${p.device}); ${packsSummary(r.packs)}.`;
  if (missedRequest(p)) return `${base} ${providerLabel(p.requested)} was requested but is not usable here; see the log.`;
  const n = p.fallbackReasons.length;
  return n ? `${base} ${n} other provider${n === 1 ? ' was' : 's were'} not usable here; see the log.` : base;
}

/** Whether the doctor's result deserves a warning rather than an information message. */
export function doctorNeedsAttention(r: DoctorReport): boolean {
  return packCounts(r.packs).invalid > 0 || missedRequest(r.provider);
}

/** The full report, one fact a line, for the log channel. */
export function doctorLines(r: DoctorReport): string[] {
  const lines = [
    `Concert ${r.versions.concert} · Node ${r.versions.node} · onnxruntime ${r.versions.onnxruntime} · ${r.versions.platform} · worker pid ${r.workerPid} · protocol ${r.protocolVersion}`,
    `Available providers: ${r.provider.available.map((a) => a.name + (a.bundled ? '' : ' (not bundled)')).join(', ') || 'none'}`,
    ...providerDetails(r.provider),
    `Loaded sessions: ${r.loadedSessions.length ? r.loadedSessions.join(', ') : 'none'}`,
    `Model packs: ${r.packs.length ? packsSummary(r.packs) : 'none found'}`,
  ];
  for (const p of r.packs) {
    lines.push(p.valid ? `  ✓ ${p.id} (${p.kind}, ${p.source}) ${p.dir}` : `  ✗ ${p.id} (${p.source}) ${p.dir}: ${p.error ?? 'invalid'}`);
  }
  return lines;
}

/** Splits a byte stream into whole lines (worker stderr arrives in arbitrary chunks), minus terminal colour codes. */
export class LineBuffer {
  private rest = '';
  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split(/\r?\n/);
    this.rest = parts.pop() ?? '';
    return parts.map(stripAnsi).filter((l) => l.trim().length > 0);
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r.trim() ? [stripAnsi(r)] : [];
  }
}

// eslint-disable-next-line no-control-regex -- ESC is exactly what we strip
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
