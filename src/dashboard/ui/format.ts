const numbers = new Intl.NumberFormat('en');
const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

export const count = (value: number) => numbers.format(value);
export const rate = (value: number) => percent.format(value);

/** A date-time in the workspace's zone (the figures' zone), or the browser's when none is given. */
export function dateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('en-GB', { timeZone, dateStyle: 'medium', timeStyle: 'short' });
}

/** "HOUR" → "hour": enum values as words. */
export const words = (value: string) => value.toLowerCase().replace(/_/g, ' ');

/** A datetime-local input's value ("2026-12-01T18:30", the browser's zone) as an ISO instant. */
export const fromLocalInput = (value: string) => (value ? new Date(value).toISOString() : null);

export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
