import type { Herald } from '../herald-context.ts';

/** Where service workers post `{ token, type }`: HERALD_PUBLIC_URL, else the address Herald listens on. */
export function trackUrlOf(herald: Herald): string {
  return `${herald.publicUrl}/track`;
}
