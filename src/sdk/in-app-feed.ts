import type { InAppActions, InAppMessage } from './in-app.ts';

/**
 * The visitor's on-site messages as this browser knows them: read from Herald at most once a
 * minute per visitor (session storage), shown one after another, and never shown again in this
 * session once closed, clicked or answered, whatever a cached answer still says. `show` draws one
 * (in-app.ts, which the SDK loads only when there is something to show).
 */

export interface InAppAnswer {
  messages: InAppMessage[];
  /** Events after which Herald may have a new message: tracking one reads again. */
  triggers: string[];
}

const CACHE_KEY = 'herald:inApp';
const DONE_KEY = 'herald:inAppDone';
const CACHE_MS = 60_000;

function session<T>(key: string, value?: T): T | null {
  try {
    if (value !== undefined) sessionStorage.setItem(key, JSON.stringify(value));
    return JSON.parse(sessionStorage.getItem(key) ?? 'null') as T | null;
  } catch {
    return null; // storage blocked: read from Herald every time
  }
}

export class InAppFeed {
  /** The events that trigger on-site messages, as of the last read. */
  triggers = new Set<string>();
  private readonly waiting: InAppMessage[] = [];
  /** Tokens queued or shown on this page. */
  private readonly seen = new Set<string>();
  private showing = false;
  /** Counts `forget`s: a read still on its way for a forgotten visitor is dropped. */
  private generation = 0;

  constructor(
    private readonly read: (visitor: Record<string, string | undefined>) => Promise<InAppAnswer>,
    private readonly actions: InAppActions,
    private readonly show: (message: InAppMessage, actions: InAppActions) => Promise<void>,
  ) {}

  /** Reads the visitor's messages (from the session cache unless `fresh`) and shows the new ones. */
  async load(visitor: Record<string, string | undefined>, fresh = false): Promise<void> {
    const who = JSON.stringify(visitor);
    const generation = this.generation;
    const cached = session<InAppAnswer & { who: string; at: number }>(CACHE_KEY);
    let answer: InAppAnswer | null = !fresh && cached?.who === who && Date.now() - cached.at < CACHE_MS ? cached : null;
    if (!answer) {
      answer = await this.read(visitor);
      if (generation !== this.generation) return;
      session(CACHE_KEY, { ...answer, who, at: Date.now() });
    }
    this.triggers = new Set(answer.triggers);
    const done = new Set(session<string[]>(DONE_KEY) ?? []);
    for (const message of answer.messages) {
      if (done.has(message.token) || this.seen.has(message.token) || Date.parse(message.expiresAt) <= Date.now()) continue;
      this.seen.add(message.token);
      this.waiting.push(message);
    }
    void this.showNext();
  }

  /** The visitor changed (logout): what was read for the last one is neither cached nor still to be shown. */
  forget(): void {
    this.generation++;
    this.waiting.length = 0;
    this.triggers.clear();
    try {
      sessionStorage.removeItem(CACHE_KEY);
    } catch {
      // storage blocked: nothing was cached
    }
  }

  private async showNext(): Promise<void> {
    if (this.showing) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.showing = true;
    if (document.readyState === 'loading') await new Promise((resolve) => addEventListener('DOMContentLoaded', resolve, { once: true }));
    try {
      await this.show(next, this.actions);
      session(DONE_KEY, [...(session<string[]>(DONE_KEY) ?? []), next.token].slice(-100));
    } catch {
      // Not drawn (the renderer could not be loaded): a later page shows it.
    }
    this.showing = false;
    void this.showNext();
  }
}
