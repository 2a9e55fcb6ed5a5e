import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { startBrowserProcess } from './browser-process.ts';

/** A CDP event's params, as the browser sends them: `{ method, params, sessionId? }`. */
export type CdpListener = (params: Record<string, any>, sessionId: string | undefined) => void;

export interface CdpClient {
  /**
   * Sends one command to the browser, or to an attached target when `sessionId` is given (flat
   * sessions); rejects with the browser's error, or after timeoutMs naming the method.
   */
  send<T = Record<string, any>>(method: string, params?: Record<string, unknown>, sessionId?: string, timeoutMs?: number): Promise<T>;
  on(event: string, listener: CdpListener): void;
  off(event: string, listener: CdpListener): void;
  close(): void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** A minimal Chrome DevTools Protocol client over the browser's WebSocket, with flat sessions. */
export async function connectCdp(url: string, timeoutMs = 10_000): Promise<CdpClient> {
  const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no CDP connection to ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`CDP connection to ${url} failed: ${error.message}`));
    });
  });

  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, CdpListener[]>();

  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      sessionId?: string;
      result?: unknown;
      error?: { code: number; message: string; data?: string };
    };
    if (message.id === undefined) {
      for (const listener of listeners.get(message.method ?? '') ?? []) listener(message.params ?? {}, message.sessionId);
      return;
    }
    const request = pending.get(message.id);
    if (!request) return;
    pending.delete(message.id);
    clearTimeout(request.timer);
    if (message.error) request.reject(new Error(`${message.error.message}${message.error.data ? ` (${message.error.data})` : ''}`));
    else request.resolve(message.result ?? {});
  });
  socket.on('close', () => {
    for (const request of pending.values()) {
      clearTimeout(request.timer);
      request.reject(new Error('CDP connection closed before the answer came'));
    }
    pending.clear();
  });

  return {
    send<T>(method: string, params: Record<string, unknown> = {}, sessionId?: string, commandTimeoutMs = timeoutMs) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        if (socket.readyState !== WebSocket.OPEN) {
          reject(new Error(`CDP ${method}: the connection is closed`));
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`CDP ${method} got no answer within ${commandTimeoutMs} ms`));
        }, commandTimeoutMs);
        pending.set(id, {
          resolve: resolve as (result: unknown) => void,
          reject: (error) => reject(new Error(`CDP ${method} failed: ${error.message}`)),
          timer,
        });
        socket.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
      });
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    off(event, listener) {
      listeners.set(event, (listeners.get(event) ?? []).filter((other) => other !== listener));
    },
    close() {
      socket.close();
    },
  };
}

export interface LaunchOptions {
  dbusAddress: string; // session bus where notifications go (see notifications.ts)
  timeoutMs?: number; // for start-up and each CDP command; default 30 s
  extraArgs?: string[];
}

/** One service worker registration as the ServiceWorker domain reports it. */
export interface WorkerRegistration {
  registrationId: string;
  scopeURL: string;
  isDeleted: boolean;
}
/** One service worker version (ServiceWorker.workerVersionUpdated). */
export interface WorkerVersion {
  versionId: string;
  registrationId: string;
  scriptURL: string;
  runningStatus: 'stopped' | 'starting' | 'running' | 'stopping';
  status: 'new' | 'installing' | 'installed' | 'activating' | 'activated' | 'redundant';
}

export interface TargetInfo {
  targetId: string;
  type: string; // 'page', 'service_worker', 'browser', ...
  url: string;
  title: string;
  attached: boolean;
}

export interface Chromium {
  cdp: CdpClient;
  session: string; // the flat CDP session of the page every call below uses
  navigate(url: string): Promise<void>;
  /** Evaluates in the page, awaiting a promise; returns the value as JSON data, throws the page's exception. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  grantNotifications(origin: string): Promise<void>;
  /** Waits until a registration whose scope is `scopeURL` has an activated version; resolves with its registrationId. */
  activeWorker(scopeURL: string, timeoutMs?: number): Promise<string>;
  /**
   * Registers the page's service worker `scriptPath` and waits until it is the registration's active
   * worker with nothing installing or waiting; resolves with the registrationId. A registration of
   * another script URL at the same scope (the SDK's, with its query) is an update: a push delivered
   * while the new version replaces the old one is lost, so nothing may be delivered before this.
   */
  registerWorker(scriptPath: string): Promise<string>;
  /** Closes every page but the one these calls drive (pages a click opened, which may run the SDK). */
  closeOtherPages(): Promise<void>;
  /** Fires the worker's `push` event with `data` as its text (CDP ServiceWorker.deliverPushMessage). */
  deliverPush(origin: string, registrationId: string, data: string): Promise<void>;
  targets(): Promise<TargetInfo[]>;
  logs(): string[]; // console messages and exceptions from the page and service workers
  output(): string; // the last lines Chromium printed, for error messages
  close(): Promise<void>;
}

const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, offline, quiet; measured in this environment (see /work/shared/ENVIRONMENT.md, "Real browsers"). */
const FLAGS = [
  '--headless',
  '--no-sandbox', // root in a container: the setuid sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--password-store=basic', // no keyring to ask over D-Bus
  '--remote-debugging-port=0', // Chromium picks the port and prints "DevTools listening on ws://…"
];

/** Readable text of a Runtime.RemoteObject argument of console.* */
function textOf(arg: { type: string; value?: unknown; description?: string }): string {
  if (arg.value !== undefined) return typeof arg.value === 'string' ? arg.value : JSON.stringify(arg.value);
  return arg.description ?? arg.type;
}

/**
 * Starts headless Chromium (Debian's, never a downloaded one) on a fresh temporary profile whose
 * desktop notifications go to the D-Bus at `dbusAddress`, and drives it over raw CDP with flat
 * sessions: one page, plus every service worker attached for its console. Chromium cannot
 * subscribe to push offline (it needs FCM), so pushes are delivered with
 * ServiceWorker.deliverPushMessage, which fires the worker's real `push` event.
 */
export async function launchChromium(options: LaunchOptions): Promise<Chromium> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const profile = await mkdtemp(path.join(tmpdir(), 'herald-chromium-'));
  const browser = startBrowserProcess(
    'Chromium',
    CHROMIUM,
    [...FLAGS, `--user-data-dir=${profile}`, ...(options.extraArgs ?? []), 'about:blank'],
    { DBUS_SESSION_BUS_ADDRESS: options.dbusAddress },
    profile,
  );
  const output = browser.output;
  let cdp: CdpClient | undefined;
  const close = () =>
    browser.stop(async () => {
      await cdp?.send('Browser.close', {}, undefined, 5_000); // a clean shutdown
      cdp?.close();
    });

  const logs: string[] = [];
  const log = (line: string) => {
    logs.push(line);
    if (process.env.HERALD_BROWSER_DEBUG) console.log(`chromium: ${line}`);
  };
  const registrations = new Map<string, WorkerRegistration>();
  const versions = new Map<string, WorkerVersion>();
  let session = '';
  let pageTarget = '';
  try {
    const url = await browser.waitForOutput(/DevTools listening on (ws:\/\/\S+)/, 'a DevTools address', timeoutMs);
    cdp = await connectCdp(url, timeoutMs);
    const client = cdp;
    const where = new Map<string, string>(); // sessionId → 'page' | 'worker <url>'

    client.on('Runtime.consoleAPICalled', (params, sessionId) =>
      log(`[${params.type}] ${(params.args as []).map(textOf).join(' ')} (${where.get(sessionId ?? '') ?? 'browser'})`),
    );
    client.on('Runtime.exceptionThrown', (params, sessionId) => {
      const details = params.exceptionDetails as { text: string; exception?: { description?: string } };
      log(`[exception] ${details.exception?.description ?? details.text} (${where.get(sessionId ?? '') ?? 'browser'})`);
    });
    client.on('Log.entryAdded', (params, sessionId) => {
      const entry = params.entry as { level: string; text: string; url?: string };
      log(`[${entry.level}] ${entry.text}${entry.url ? ` ${entry.url}` : ''} (${where.get(sessionId ?? '') ?? 'browser'})`);
    });
    client.on('ServiceWorker.workerRegistrationUpdated', (params) => {
      for (const registration of params.registrations as WorkerRegistration[]) registrations.set(registration.registrationId, registration);
    });
    client.on('ServiceWorker.workerVersionUpdated', (params) => {
      for (const version of params.versions as WorkerVersion[]) versions.set(version.versionId, version);
    });
    client.on('ServiceWorker.workerErrorReported', (params) => {
      const error = params.errorMessage as { errorMessage: string; sourceURL: string; lineNumber: number };
      log(`[worker error] ${error.errorMessage} ${error.sourceURL}:${error.lineNumber}`);
    });
    // Service workers come and go (Chromium stops idle ones): attach to each for its console.
    client.on('Target.attachedToTarget', (params) => {
      const info = params.targetInfo as TargetInfo;
      const sessionId = params.sessionId as string;
      if (info.type !== 'service_worker') return;
      where.set(sessionId, `worker ${info.url}`);
      void Promise.all([
        client.send('Runtime.enable', {}, sessionId),
        client.send('Log.enable', {}, sessionId),
        client.send('Runtime.runIfWaitingForDebugger', {}, sessionId),
      ]).catch(() => undefined); // a worker that stopped meanwhile
    });
    await client.send('Target.setAutoAttach', {
      autoAttach: true,
      waitForDebuggerOnStart: true, // so the console of a worker's first moments is not lost
      flatten: true,
      filter: [{ type: 'service_worker' }, { type: 'page', exclude: true }],
    });

    const { targetInfos } = await client.send<{ targetInfos: TargetInfo[] }>('Target.getTargets');
    const page = targetInfos.find((target) => target.type === 'page');
    if (!page) throw new Error(`Chromium has no page target (targets: ${JSON.stringify(targetInfos)})`);
    pageTarget = page.targetId;
    session = (await client.send<{ sessionId: string }>('Target.attachToTarget', { targetId: page.targetId, flatten: true })).sessionId;
    where.set(session, 'page');
    await Promise.all(['Page.enable', 'Runtime.enable', 'Log.enable', 'ServiceWorker.enable'].map((method) => client.send(method, {}, session)));
  } catch (error) {
    await close();
    throw error;
  }
  const client = cdp;

  const waitFor = async <T>(what: string, check: () => T | undefined, waitMs: number): Promise<T> => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (!browser.running()) throw new Error(`${what}: Chromium exited; its output:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const chromium: Chromium = {
    cdp: client,
    session,
    async navigate(url) {
      let loaded = false;
      const onLoad: CdpListener = (_params, sessionId) => {
        if (sessionId === session) loaded = true;
      };
      client.on('Page.loadEventFired', onLoad);
      try {
        const answer = await client.send<{ errorText?: string }>('Page.navigate', { url }, session);
        if (answer.errorText) throw new Error(`Chromium could not open ${url}: ${answer.errorText}`);
        await waitFor(`the load event of ${url}`, () => (loaded ? true : undefined), timeoutMs);
      } finally {
        client.off('Page.loadEventFired', onLoad);
      }
    },
    async evaluate<T>(expression: string) {
      type Evaluated = { result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } };
      const answer = await client
        .send<Evaluated>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, session)
        .catch((error: Error) => {
          throw new Error(`${error.message}\nin: ${expression}`);
        });
      if (answer.exceptionDetails) {
        const details = answer.exceptionDetails;
        throw new Error(`page threw: ${details.exception?.description ?? details.text}\nin: ${expression}`);
      }
      return answer.result.value as T;
    },
    async grantNotifications(origin) {
      await client.send('Browser.grantPermissions', { origin, permissions: ['notifications'] });
    },
    activeWorker(scopeURL, waitMs = timeoutMs) {
      return waitFor(
        `an activated service worker for ${scopeURL}`,
        () => {
          const registration = [...registrations.values()].find((candidate) => candidate.scopeURL === scopeURL && !candidate.isDeleted);
          if (!registration) return undefined;
          const active = [...versions.values()].some(
            (version) => version.registrationId === registration.registrationId && version.status === 'activated',
          );
          return active ? registration.registrationId : undefined;
        },
        waitMs,
      );
    },
    async registerWorker(scriptPath) {
      const scope = await chromium.evaluate<string>(`navigator.serviceWorker.register(${JSON.stringify(scriptPath)}).then((registration) =>
        new Promise((resolve) => {
          const script = new URL(${JSON.stringify(scriptPath)}, location.href).href;
          const check = () =>
            !registration.installing && !registration.waiting && registration.active?.scriptURL === script
              ? resolve(registration.scope)
              : setTimeout(check, 20);
          check();
        }))`);
      return chromium.activeWorker(scope);
    },
    async closeOtherPages() {
      const { targetInfos } = await client.send<{ targetInfos: TargetInfo[] }>('Target.getTargets');
      for (const target of targetInfos) {
        if (target.type === 'page' && target.targetId !== pageTarget) await client.send('Target.closeTarget', { targetId: target.targetId });
      }
    },
    async deliverPush(origin, registrationId, data) {
      await client.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data }, session);
    },
    async targets() {
      return (await client.send<{ targetInfos: TargetInfo[] }>('Target.getTargets')).targetInfos;
    },
    logs: () => [...logs],
    output,
    close,
  };
  return chromium;
}
