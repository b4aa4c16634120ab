/**
 * Reliance (log p(y | document, x) − log p(y | x), in nats) → a shade class. Positive: the document raised the
 * token (document-supported); negative: the document lowered it. Five steps each way on a logarithmic-ish scale;
 * the colours come from the theme (media/summary.css), so light, dark and high-contrast themes all work. Pure.
 */

/** Upper bounds (nats) of levels 0–3; anything above the last is level 4. */
export const RELIANCE_STEPS = [0.1, 0.5, 1, 2] as const;

/** −4 … 4: the sign says which way the document pushed, the size how hard. */
export function relianceLevel(r: number): number {
  if (Number.isNaN(r)) return 0;
  const a = Math.abs(r);
  let level = RELIANCE_STEPS.findIndex((b) => a < b);
  if (level === -1) level = RELIANCE_STEPS.length;
  return r < 0 ? -level : level;
}

/** `rel-0`, `rel-p1` … `rel-p4` (supported), `rel-n1` … `rel-n4` (contradicted by / absent from the document). */
export function relianceClass(r: number): string {
  const l = relianceLevel(r);
  return l === 0 ? 'rel-0' : l > 0 ? `rel-p${l}` : `rel-n${-l}`;
}

export function formatReliance(r: number): string {
  if (!Number.isFinite(r)) return r > 0 ? '+∞ nats' : r < 0 ? '−∞ nats' : 'n/a';
  const v = Math.abs(r) < 0.005 ? 0 : r;
  return `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v).toFixed(2)} nats`;
}

/** The hover text (and accessible description) of a token. */
export function relianceTitle(r: number): string {
  const l = relianceLevel(r);
  const what = l > 0 ? 'the document made this token more likely' : l < 0 ? 'the document made this token less likely' : 'about as likely without the document';
  return `Reliance on the document: ${formatReliance(r)} (${what})`;
}

/** Legend entries, weakest to strongest, for the panel's key. */
export const RELIANCE_LEGEND: { cls: string; label: string }[] = [
  { cls: 'rel-n4', label: `≤ −${RELIANCE_STEPS[3]}` },
  { cls: 'rel-n2', label: `−${RELIANCE_STEPS[1]}` },
  { cls: 'rel-0', label: '0' },
  { cls: 'rel-p2', label: `+${RELIANCE_STEPS[1]}` },
  { cls: 'rel-p4', label: `≥ +${RELIANCE_STEPS[3]}` },
];
