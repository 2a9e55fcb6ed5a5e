/**
 * SMS segments, counted as carriers count them. A message in the GSM 03.38 alphabet is packed in
 * 7-bit septets: 160 fit one SMS; longer ones are split into segments of 153 (7 septets go to the
 * concatenation header), and a character of the extension table (€ [ ] { } \ ^ ~ | and form feed)
 * takes two septets, never split across segments. Any other character makes the whole message
 * UCS-2: 70 UTF-16 units in one SMS, 67 per segment, a surrogate pair (an emoji) never split.
 */

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SegmentCount {
  encoding: SmsEncoding;
  segments: number;
  /** Septets (GSM-7) or UTF-16 units (UCS-2) the body takes. */
  units: number;
}

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const BASIC = new Set(GSM_BASIC);
const EXTENSION = new Set(GSM_EXTENSION);

export const LIMITS = {
  'GSM-7': { single: 160, segment: 153 },
  'UCS-2': { single: 70, segment: 67 },
} as const satisfies Record<SmsEncoding, { single: number; segment: number }>;

/** Whether every character of `text` is in the GSM 03.38 alphabet (basic or extension table). */
export function isGsm7(text: string): boolean {
  for (const char of text) if (!BASIC.has(char) && !EXTENSION.has(char)) return false;
  return true;
}

/** How many segments `text` is sent as, in which encoding. */
export function countSegments(text: string): SegmentCount {
  const encoding: SmsEncoding = isGsm7(text) ? 'GSM-7' : 'UCS-2';
  // Each character's width: septets in GSM-7, UTF-16 units in UCS-2 (iteration yields whole code points).
  const widths: number[] = [];
  for (const char of text) widths.push(encoding === 'GSM-7' ? (EXTENSION.has(char) ? 2 : 1) : char.length);
  const units = widths.reduce((sum, width) => sum + width, 0);
  const { single, segment } = LIMITS[encoding];
  if (units <= single) return { encoding, segments: 1, units };
  // Packed in order: a character that does not fit whole in a segment starts the next one.
  let segments = 1;
  let used = 0;
  for (const width of widths) {
    if (used + width > segment) {
      segments++;
      used = 0;
    }
    used += width;
  }
  return { encoding, segments, units };
}
