import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BidiClient, connectBidi, fromRemoteValue, type RemoteValue } from './bidi.ts';
import { startBrowserProcess } from './browser-process.ts';

export type Pref = string | number | boolean;

export interface LaunchOptions {
  pushServerUrl: string; // ws://127.0.0.1:PORT/ of an autopush server (see autopush.ts)
  dbusAddress: string; // session bus where notifications go (see notifications.ts)
  extraPrefs?: Record<string, Pref>;
  timeoutMs?: number; // for start-up and each BiDi command; default 30 s
}

export interface Firefox {
  bidi: BidiClient;
  context: string; // the top-level browsing context every call below uses
  navigate(url: string): Promise<void>;
  /** Evaluates in the page, awaiting a promise; returns the value as plain data, throws the page's exception. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  grantNotifications(origin: string): Promise<void>;
  logs(): string[]; // console and JS errors from the pages and workers (log.entryAdded)
  output(): string; // the last lines Firefox printed, for error messages
  close(): Promise<void>;
}

const FIREFOX = process.env.HERALD_FIREFOX ?? 'firefox-esr';

/** Prefs for a quiet, offline, test-only profile whose push service is ours. */
function prefsFor(options: LaunchOptions): Record<string, Pref> {
  return {
    // Web Push through our autopush server; ws:// needs the testing pref.
    'dom.push.enabled': true,
    'dom.push.connection.enabled': true,
    'dom.push.serverURL': options.pushServerUrl,
    'dom.push.testing.allowInsecureServerURL': true,
    'dom.serviceWorkers.enabled': true,
    'dom.webnotifications.enabled': true,
    'dom.webnotifications.serviceworker.enabled': true,
    'alerts.useSystemBackend': true, // notifications over D-Bus org.freedesktop.Notifications
    // No first-run pages, telemetry, updates or background traffic.
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.page': 0,
    'browser.startup.homepage_override.mstone': 'ignore',
    'startup.homepage_welcome_url': 'about:blank',
    'browser.aboutwelcome.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'app.update.auto': false,
    'app.update.disabledForTesting': true,
    'app.normandy.enabled': false,
    'extensions.update.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.manage-offline-status': false, // an offline machine must not put Firefox offline
    ...options.extraPrefs,
  };
}

/**
 * Starts headless Firefox ESR on a fresh temporary profile whose push service is `pushServerUrl`
 * and whose desktop notifications go to the D-Bus at `dbusAddress`, and drives it over WebDriver
 * BiDi (`--remote-debugging-port=0`; Firefox prints the address it chose). Permissions are granted
 * over BiDi: headless Firefox ignores prefs and permissions.sqlite for them.
 */
export async function launchFirefox(options: LaunchOptions): Promise<Firefox> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const profile = await mkdtemp(path.join(tmpdir(), 'herald-firefox-'));
  const prefs = Object.entries(prefsFor(options)).map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`);
  await writeFile(path.join(profile, 'user.js'), prefs.join(''));

  const browser = startBrowserProcess(
    'Firefox',
    FIREFOX,
    ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'],
    { DBUS_SESSION_BUS_ADDRESS: options.dbusAddress, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    profile,
  );
  const output = browser.output;
  let bidi: BidiClient | undefined;
  const close = () =>
    browser.stop(async () => {
      await bidi?.send('browser.close', {}, 5_000); // a clean shutdown
      bidi?.close();
    });

  const logs: string[] = [];
  let context = '';
  try {
    const url = await browser.waitForOutput(/WebDriver BiDi listening on (ws:\/\/\S+)/, 'a WebDriver BiDi address', timeoutMs);
    bidi = await connectBidi(`${url}/session`, timeoutMs);
    await bidi.send('session.new', { capabilities: {} });
    bidi.on('log.entryAdded', (entry) => {
      const line = `[${entry.level}] ${entry.text} (${(entry.source as { realm?: string } | undefined)?.realm ?? ''})`;
      logs.push(line);
      if (process.env.HERALD_BROWSER_DEBUG) console.log(`firefox: ${line}`);
    });
    await bidi.send('session.subscribe', { events: ['log.entryAdded'] });
    const tree = await bidi.send<{ contexts: { context: string }[] }>('browsingContext.getTree', { maxDepth: 0 });
    context = tree.contexts[0]?.context ?? '';
    if (!context) throw new Error('Firefox has no top-level browsing context');
  } catch (error) {
    await close();
    throw error;
  }
  const client = bidi;

  return {
    bidi: client,
    context,
    async navigate(url) {
      await client.send('browsingContext.navigate', { context, url, wait: 'complete' });
    },
    async evaluate<T>(expression: string) {
      type Evaluated = { type: 'success' | 'exception'; result?: RemoteValue; exceptionDetails?: { text: string } };
      const answer = await client.send<Evaluated>('script.evaluate', {
        expression,
        target: { context },
        awaitPromise: true,
        resultOwnership: 'none',
        serializationOptions: { maxObjectDepth: 20 },
      });
      if (answer.type === 'exception') {
        throw new Error(`page threw: ${answer.exceptionDetails?.text ?? 'unknown error'}\nin: ${expression}`);
      }
      return fromRemoteValue(answer.result ?? { type: 'undefined' }) as T;
    },
    async grantNotifications(origin) {
      await client.send('permissions.setPermission', { descriptor: { name: 'notifications' }, state: 'granted', origin });
    },
    logs: () => [...logs],
    output,
    close,
  };
}
