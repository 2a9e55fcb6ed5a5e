import { WebSocket } from 'ws';

/** A BiDi event as the browser sends it: `{ type: 'event', method, params }`. */
export type BidiListener = (params: Record<string, unknown>) => void;

export interface BidiClient {
  /** Sends one command; rejects with the browser's error, or after timeoutMs with the method's name. */
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  on(event: string, listener: BidiListener): void;
  close(): void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A minimal WebDriver BiDi client (https://w3c.github.io/webdriver-bidi/) over one WebSocket:
 * numbered commands, their success/error answers, and events by method name. Enough for
 * session.new, browsingContext.*, script.evaluate, permissions.setPermission and log events.
 */
export async function connectBidi(url: string, timeoutMs = 10_000): Promise<BidiClient> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no WebDriver BiDi connection to ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`WebDriver BiDi connection to ${url} failed: ${error.message}`));
    });
  });

  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, BidiListener[]>();

  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as {
      type: 'success' | 'error' | 'event';
      id?: number;
      method?: string;
      result?: unknown;
      params?: Record<string, unknown>;
      error?: string;
      message?: string;
    };
    if (message.type === 'event') {
      for (const listener of listeners.get(message.method ?? '') ?? []) listener(message.params ?? {});
      return;
    }
    const request = pending.get(message.id ?? -1);
    if (!request) return;
    pending.delete(message.id ?? -1);
    clearTimeout(request.timer);
    if (message.type === 'success') request.resolve(message.result);
    else request.reject(new Error(`${message.error}: ${message.message}`));
  });
  socket.on('close', () => {
    for (const request of pending.values()) {
      clearTimeout(request.timer);
      request.reject(new Error('WebDriver BiDi connection closed before the answer came'));
    }
    pending.clear();
  });

  return {
    send<T>(method: string, params: Record<string, unknown> = {}, commandTimeoutMs = timeoutMs) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`WebDriver BiDi ${method} got no answer within ${commandTimeoutMs} ms`));
        }, commandTimeoutMs);
        pending.set(id, {
          resolve: resolve as (result: unknown) => void,
          reject: (error) => reject(new Error(`WebDriver BiDi ${method} failed: ${error.message}`)),
          timer,
        });
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    close() {
      socket.close();
    },
  };
}

/** A BiDi RemoteValue (script.evaluate's result): `{ type, value? }`, nested for arrays and objects. */
export interface RemoteValue {
  type: string;
  value?: unknown;
}

/** Turns a serialized RemoteValue back into plain JSON-like data; nodes, functions, etc. stay as their RemoteValue. */
export function fromRemoteValue(remote: RemoteValue): unknown {
  switch (remote.type) {
    case 'undefined':
      return undefined;
    case 'null':
      return null;
    case 'string':
    case 'boolean':
      return remote.value;
    case 'number':
      return typeof remote.value === 'number' ? remote.value : Number(remote.value); // 'NaN', '-0', 'Infinity'
    case 'bigint':
      return BigInt(String(remote.value));
    case 'date':
      return new Date(String(remote.value));
    case 'array':
    case 'set':
      return ((remote.value ?? []) as RemoteValue[]).map(fromRemoteValue);
    case 'object':
    case 'map':
      return Object.fromEntries(
        ((remote.value ?? []) as [string | RemoteValue, RemoteValue][]).map(([key, value]) => [
          typeof key === 'string' ? key : String(fromRemoteValue(key)),
          fromRemoteValue(value),
        ]),
      );
    default:
      return remote;
  }
}
