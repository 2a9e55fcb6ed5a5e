/**
 * The signed-in workspace's secret key, kept in this tab's session storage: gone when the tab
 * closes, never in a URL (where it would reach history, logs and Referer headers).
 */
const STORAGE_KEY = 'herald.secretKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function keepKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
