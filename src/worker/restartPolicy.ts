/**
 * When to restart a crashed worker (the vscode-languageclient rule): restart with a growing delay, and give up when
 * `maxCrashes` crashes fall within `windowMs` — by default 5 crashes in 3 minutes.
 */
export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  crashesInWindow: number;
}

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxCrashes = 5,
    readonly windowMs = 3 * 60_000,
    readonly baseDelayMs = 500,
    readonly maxDelayMs = 8_000,
  ) {}

  recordCrash(now = Date.now()): RestartDecision {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    const n = this.crashes.length;
    if (n >= this.maxCrashes) return { restart: false, delayMs: 0, crashesInWindow: n };
    return { restart: true, delayMs: Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1)), crashesInWindow: n };
  }

  reset(): void {
    this.crashes = [];
  }
}
