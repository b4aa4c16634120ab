/**
 * Prompt cutting at patch boundaries (seed reference §4.5). The thesis' code cuts the 256×256 stream right after the
 * n-th RST7 (`FF D7`), n = ⌊32·r⌋: each RST7 closes a patch of 8 MCUs (one RST0…RST7 cycle, half a row of 16 MCUs),
 * and a 256-MCU image has 32 such patches, the last closed by EOI instead of a restart marker.
 *
 * Generalised by MCU count: a patch is 8 MCUs when a row of MCUs is a multiple of 8 long (so patches tile the rows,
 * exactly the thesis' cut for 256×256), and one row of MCUs otherwise (32×32: 2 patches of 2 MCUs; 64×64: 4 of 4).
 * With P patches, ratio r keeps n = ⌊P·r⌋ patches: the prompt ends right after the restart marker that closes the
 * n-th patch. n = 0 gives the header alone; n = P (r = 1) gives the whole stream, EOI included (the thesis finds no
 * 32nd RST7 and keeps everything).
 */
import { CANONICAL_HEADER_LENGTH, type JpegGeometry, mcuLayout } from './canonical';
import { EOI, JpegFormatError, RST0, scanEntropyMarkers } from './markers';

export interface PatchLayout {
  /** MCUs per patch. */
  readonly patchMcus: number;
  /** Patches in the image (the thesis' `TOTAL_PATCH_ROWS`, 32 for 256×256). */
  readonly patches: number;
  readonly mcuCount: number;
}

export function patchLayout(g: JpegGeometry): PatchLayout {
  const { mcusPerRow, mcuCount } = mcuLayout(g);
  const patchMcus = mcusPerRow % 8 === 0 ? 8 : mcusPerRow;
  return { patchMcus, patches: mcuCount / patchMcus, mcuCount };
}

export interface PromptCut {
  /** Patches kept (⌊P·r⌋). */
  readonly patches: number;
  /** MCUs kept: the first `keptMcus` MCUs in raster order are the user's. */
  readonly keptMcus: number;
}

/** How much of the image ratio `r` (0 ≤ r ≤ 1) keeps. */
export function promptCut(g: JpegGeometry, ratio: number): PromptCut {
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new RangeError(`ratio ${ratio} is outside 0…1`);
  const { patchMcus, patches } = patchLayout(g);
  // Math.floor of a product like 32 · 0.3 must not fall below the integer it represents by rounding error.
  const n = Math.min(patches, Math.floor(patches * ratio + 1e-9));
  return { patches: n, keptMcus: n * patchMcus };
}

/**
 * The prefix of an image-only stream that holds its first `mcus` MCUs: through the restart marker after MCU
 * `mcus` − 1; the header alone for 0; the whole stream (through EOI) when `mcus` is the MCU count. The stream must
 * have its restart markers (one after every MCU), as a canonical stream does.
 */
export function cutAfterMcus(stream: Uint8Array, mcus: number, g: JpegGeometry): Uint8Array {
  const { mcuCount } = mcuLayout(g);
  if (!Number.isInteger(mcus) || mcus < 0 || mcus > mcuCount) throw new RangeError(`cannot cut after ${mcus} of ${mcuCount} MCUs`);
  if (mcus === 0) return stream.slice(0, CANONICAL_HEADER_LENGTH);
  const { restarts, final } = scanEntropyMarkers(stream, CANONICAL_HEADER_LENGTH);
  if (mcus === mcuCount) {
    if (final?.marker !== EOI) throw new JpegFormatError('stream does not end with EOI', final?.offset ?? stream.length);
    return stream.slice(0, final.offset + 2);
  }
  const r = restarts[mcus - 1];
  if (!r) throw new JpegFormatError(`stream has ${restarts.length} restart markers, fewer than ${mcus}`, stream.length);
  if (r.marker !== RST0 + ((mcus - 1) % 8)) throw new JpegFormatError('restart markers out of order', r.offset);
  return stream.slice(0, r.offset + 2);
}

/** The prompt for keeping ratio `r` of a canonical stream (see the module comment), with what it keeps. */
export function promptForRatio(stream: Uint8Array, ratio: number, g: JpegGeometry): PromptCut & { prompt: Uint8Array } {
  const cut = promptCut(g, ratio);
  return { ...cut, prompt: cutAfterMcus(stream, cut.keptMcus, g) };
}

/**
 * The thesis' `clean_image_string` on bytes (seed reference §4.5): a stream that starts with SOI is cut after its
 * first EOI (entropy data stuffs 0xFF as FF 00, so the first FF D9 is the real EOI); otherwise EOI is appended
 * unless the stream already ends with it, and SOI is prepended where missing.
 */
export function cleanImageStream(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const startsWithSoi = n >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8;
  if (startsWithSoi) {
    for (let i = 2; i + 1 < n; i++) if (bytes[i] === 0xff && bytes[i + 1] === EOI) return bytes.slice(0, i + 2);
  }
  const endsWithEoi = !startsWithSoi && n >= 2 && bytes[n - 2] === 0xff && bytes[n - 1] === EOI;
  const head = startsWithSoi ? 0 : 2;
  const out = new Uint8Array(head + n + (endsWithEoi ? 0 : 2));
  if (head) out.set([0xff, 0xd8], 0);
  out.set(bytes, head);
  if (!endsWithEoi) out.set([0xff, EOI], head + n);
  return out;
}
