/**
 * A lean keep-alive HTTP/1.1 client for the benchmarks' many small POSTs: each call is its own
 * request on a connection of its own (one request at a time per connection, no pipelining), as a
 * browser's would be, but without Node's http.Agent, ClientRequest and IncomingMessage machinery,
 * which cost the bench ~150 µs of CPU per call on the same two cores Herald and PostgreSQL use.
 * Understands what Herald answers: a status line, headers, a Content-Length or chunked body (or
 * none for 204/304). A request that meets a closed or reset connection that had served before is
 * sent once more on a new one (the server closes keep-alive connections idle for 5 s), which the
 * benches' calls allow: each event carries an idempotency key, a beacon counts once per message.
 */
import net from 'node:net';

interface Pending {
  resolve(answer: { status: number; body: string }): void;
  reject(error: Error): void;
  retry(): void;
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  served = 0;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly onIdle: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse();
    });
    const gone = (error?: Error) => {
      this.closed = true;
      const pending = this.pending;
      this.pending = null;
      if (!pending) return;
      // Closed before answering: a reused connection the server was closing is tried again once.
      if (this.served > 0) pending.retry();
      else pending.reject(error ?? new Error('connection closed before the answer'));
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
  }

  send(head: string, body: Buffer, pending: Pending): void {
    this.pending = pending;
    this.socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.pending) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const start = end + 4;
    let body: string;
    let consumed: number;
    if (length) {
      consumed = start + Number(length[1]);
      if (this.buffer.length < consumed) return;
      body = this.buffer.toString('utf8', start, consumed);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = start;
      for (;;) {
        const line = this.buffer.indexOf('\r\n', at);
        if (line < 0) return;
        const size = parseInt(this.buffer.toString('latin1', at, line), 16);
        if (this.buffer.length < line + 2 + size + 2) return;
        if (size === 0) {
          consumed = line + 4;
          break;
        }
        parts.push(this.buffer.subarray(line + 2, line + 2 + size));
        at = line + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
    } else if (status === 204 || status === 304) {
      consumed = start;
      body = '';
    } else {
      throw new Error(`an answer without a length: ${head}`);
    }
    this.buffer = this.buffer.subarray(consumed);
    const pending = this.pending;
    this.pending = null;
    this.served++;
    if (/\r\nconnection:\s*close/i.test(head)) this.socket.destroy();
    else this.onIdle(this);
    pending.resolve({ status, body });
  }
}

/** POSTs to one origin over up to `max` keep-alive connections. */
export function createPoster(origin: string, max = 512) {
  const { hostname, port } = new URL(origin);
  const idle: Connection[] = [];
  let open = 0;
  const waiting: ((connection: Connection) => void)[] = [];
  const release = (connection: Connection) => {
    const next = waiting.shift();
    if (next) next(connection);
    else idle.push(connection);
  };
  const acquire = (fresh = false): Promise<Connection> => {
    while (!fresh && idle.length) {
      const connection = idle.pop()!;
      if (!connection.closed) return Promise.resolve(connection);
    }
    if (open < max || fresh) {
      open++;
      const socket = net.connect(Number(port), hostname);
      socket.on('close', () => open--);
      return Promise.resolve(new Connection(socket, release));
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  let resent = 0;
  const post = async (path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> => {
    const bytes = Buffer.from(body);
    const head = `POST ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}content-length: ${bytes.length}\r\n\r\n`;
    const attempt = (connection: Connection, again: boolean) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        connection.send(head, bytes, {
          resolve,
          reject,
          retry: () => {
            if (again) return reject(new Error('connection closed before the answer, twice'));
            resent++;
            acquire(true).then((fresh) => attempt(fresh, true).then(resolve, reject), reject);
          },
        });
      });
    return attempt(await acquire(), false);
  };
  return {
    post,
    resent: () => resent,
    close() {
      for (const connection of idle) connection.socket.destroy();
    },
  };
}
