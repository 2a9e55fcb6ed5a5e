import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import dbus, { type Variant } from 'dbus-next';

/** One call to org.freedesktop.Notifications.Notify, as a desktop would have shown it. */
export interface DesktopNotification {
  id: number;
  appName: string;
  summary: string; // the title
  body: string;
  actions: string[]; // flat [key, label, key, label, ...], as on the wire
  hints: Record<string, unknown>;
  closedReason: number | null; // 1 expired, 2 dismissed by the user, 3 CloseNotification, null: still shown
}

export interface NotificationBus {
  address: string; // DBUS_SESSION_BUS_ADDRESS for the browser
  notifications(): DesktopNotification[];
  /** Every Notify call in order, one that replaced an earlier notification included: what popped up. */
  calls(): DesktopNotification[];
  waitFor(predicate: (n: DesktopNotification) => boolean, timeoutMs?: number): Promise<DesktopNotification>;
  click(id: number, action?: string): void; // ActionInvoked(id, action), then NotificationClosed(id, 2)
  dismiss(id: number): void; // NotificationClosed(id, 2)
  close(): Promise<void>;
}

const NAME = 'org.freedesktop.Notifications';
const OBJECT_PATH = '/org/freedesktop/Notifications';
const DISMISSED = 2;
const CLOSED_BY_CALL = 3;

/** Starts a private session bus; resolves with its address, rejects if none is printed in time. */
async function startDbusDaemon(timeoutMs: number): Promise<{ daemon: ChildProcess; address: string }> {
  const daemon = spawn('dbus-daemon', ['--config-file=/usr/share/dbus-1/session.conf', '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  daemon.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      daemon.kill('SIGKILL');
      reject(new Error(`dbus-daemon ${why}; stderr: ${stderr.trim() || '(empty)'}`));
    };
    const timer = setTimeout(() => fail(`printed no address within ${timeoutMs} ms`), timeoutMs);
    daemon.on('error', (error) => fail(`could not start (${error.message})`));
    daemon.on('exit', (code) => fail(`exited with ${code} before printing its address`));
    daemon.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        daemon.removeAllListeners('exit');
        resolve(line.trim());
      }
    });
  });
  return { daemon, address };
}

/**
 * A private D-Bus session bus (a real dbus-daemon) with a tiny notification daemon on it: it
 * implements org.freedesktop.Notifications (Notify, CloseNotification, GetCapabilities with
 * "actions" and "body", GetServerInformation), records every notification, and lets a test act as
 * the user: `click` emits ActionInvoked (a browser turns that into a trusted `notificationclick`)
 * and `dismiss` emits NotificationClosed with reason 2 (dismissed by the user).
 */
export async function startNotificationBus(options: { timeoutMs?: number } = {}): Promise<NotificationBus> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { daemon, address } = await startDbusDaemon(timeoutMs);
  const shown: DesktopNotification[] = [];
  const calls: DesktopNotification[] = [];
  let nextId = 1;

  class Notifications extends dbus.interface.Interface {
    Notify(
      appName: string, replacesId: number, _icon: string, summary: string, body: string,
      actions: string[], hints: Record<string, Variant>, _expire: number,
    ) {
      const replaced = replacesId ? shown.find((n) => n.id === replacesId) : undefined;
      const id = replaced?.id ?? nextId++;
      const values = Object.fromEntries(Object.entries(hints).map(([key, variant]) => [key, variant.value as unknown]));
      const notification = { id, appName, summary, body, actions, hints: values, closedReason: null };
      if (replaced) shown.splice(shown.indexOf(replaced), 1, notification);
      else shown.push(notification);
      calls.push({ ...notification });
      return id;
    }
    CloseNotification(id: number) {
      this.markClosed(id, CLOSED_BY_CALL);
    }
    GetCapabilities() {
      return ['actions', 'body'];
    }
    GetServerInformation() {
      return ['herald-test-notifications', 'herald', '1.0', '1.2'];
    }
    // Signals: configureMembers wraps these so that calling one emits it with the returned arguments.
    ActionInvoked(id: number, action: string) {
      return [id, action];
    }
    NotificationClosed(id: number, reason: number) {
      return [id, reason];
    }
    markClosed(id: number, reason: number) {
      const notification = shown.find((n) => n.id === id);
      if (!notification || notification.closedReason !== null) return;
      notification.closedReason = reason;
      this.NotificationClosed(id, reason);
    }
  }
  Notifications.configureMembers({
    methods: {
      Notify: { inSignature: 'susssasa{sv}i', outSignature: 'u' },
      CloseNotification: { inSignature: 'u' },
      GetCapabilities: { outSignature: 'as' },
      GetServerInformation: { outSignature: 'ssss' },
    },
    signals: {
      ActionInvoked: { signature: 'us' },
      NotificationClosed: { signature: 'uu' },
    },
  });

  const bus = dbus.sessionBus({ busAddress: address });
  const service = new Notifications(NAME);
  const killDaemon = () => daemon.kill('SIGKILL');
  process.once('exit', killDaemon); // the test process ending without close() must not leave it behind
  const stop = async () => {
    process.off('exit', killDaemon);
    bus.disconnect();
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = once(daemon, 'exit');
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    bus.export(OBJECT_PATH, service);
    const reply = await Promise.race([
      bus.requestName(NAME, dbus.NameFlag.DO_NOT_QUEUE),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`requesting ${NAME} took over ${timeoutMs} ms`)), timeoutMs)),
    ]);
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new Error(`could not own ${NAME} on ${address} (reply ${reply})`);
  } catch (error) {
    await stop();
    throw error;
  }

  const find = (id: number) => {
    const notification = shown.find((n) => n.id === id);
    if (!notification) throw new Error(`no notification ${id}; shown: ${shown.map((n) => `${n.id} "${n.summary}"`).join(', ') || 'none'}`);
    return notification;
  };

  return {
    address,
    notifications: () => shown.map((n) => ({ ...n })),
    calls: () => calls.map((n) => ({ ...n })),
    async waitFor(predicate, waitMs = 10_000) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const match = shown.find(predicate);
        if (match) return { ...match };
        if (Date.now() > deadline) {
          const seen = shown.map((n) => JSON.stringify({ summary: n.summary, body: n.body })).join(', ') || 'none';
          throw new Error(`no desktop notification matched within ${waitMs} ms (shown: ${seen})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    click(id, action = 'default') {
      find(id);
      service.ActionInvoked(id, action);
      service.markClosed(id, DISMISSED);
    },
    dismiss(id) {
      find(id);
      service.markClosed(id, DISMISSED);
    },
    close: stop,
  };
}
