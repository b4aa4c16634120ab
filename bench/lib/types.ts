/** What every benchmark row reports, and what each row function is given. */
export interface BenchRow {
  /** P1, P2, …, M-<pack> */
  id: string;
  /** What is divided by what. */
  measure: string;
  /** The ratio (lower is better), or null when it could not be measured (see note). */
  ratio: number | null;
  /** The goal: ratio ≤ goal; null for rows that inform a choice rather than meet a goal. */
  goal: number | null;
  /** The two sides, in words with their units (for the table). */
  numerator?: string;
  denominator?: string;
  detail?: Record<string, unknown>;
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Timed repetitions per variant (after one warm-up each), interleaved. */
  repeats: number;
  /** intra-op threads of every session, ours and the references'. */
  threads: number;
  /** Repository root. */
  root: string;
  /** Scratch folder for generated models (not committed). */
  cacheDir: string;
  python: string;
  log: (line: string) => void;
}
