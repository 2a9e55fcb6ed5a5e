import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompiledEmail, CompiledSource } from './compile.ts';
import type { EmailContent } from './content.ts';
import type { BuildJob, BuiltMessage, SendSetup } from './message.ts';
import { adoptBody } from './mime.ts';

/**
 * Renders and builds emails on a thread of their own (build-worker.ts), so that the main thread,
 * which claims ledger rows, talks to PostgreSQL and writes to the SMTP connections, is not also
 * the one rendering ~53 KB of HTML, its text part and ~88 KB of MIME per recipient: on a quiet
 * 2-core machine that thread was the limit of a broadcast (one core busy, the other half idle). A
 * batch crosses as one message each way; bodies move between the threads without copying, and go
 * back to the build thread once sent (mime.ts releaseBody) to be filled again.
 */

/** What the main thread asks the build thread. */
export type BuildRequest =
  | {
      kind: 'build';
      id: number;
      /** The campaign's email; its content only with the first batch the thread gets for this key. */
      campaign: { key: string; content?: EmailContent; source?: CompiledSource };
      setup: SendSetup;
      jobs: BuildJob[];
    }
  /** Compile a campaign's email ahead of its first batch; answered with no results. */
  | { kind: 'compile'; id: number; campaign: { key: string; content: EmailContent; source?: CompiledSource } }
  | { kind: 'release'; body: ArrayBuffer };

/** A built message as it crosses back: its body's bytes are `length` bytes at `offset` in `body`. */
export interface BuiltOnThread {
  messageId: string;
  fields: string[];
  bodyHash?: string;
  returnPath: string;
  body: ArrayBuffer;
  offset: number;
  length: number;
}

export type BuildReply = { id: number; results: (BuiltOnThread | { error: string })[] } | { id: number; error: string };

/** A message built, or why this recipient's email could not be rendered (TEMPLATE_ERROR). */
export type BuildResult = BuiltMessage | { renderError: string };

type Pending = { resolve: (results: BuildReply & { results: unknown }) => void; reject: (error: Error) => void };

// The resource limits of the build thread: it holds the campaigns' compiled templates and one
// batch's renders at a time (a message's strings are ~150 KB of young garbage).
const LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

export class EmailBuilds {
  private thread: { worker: Worker; known: Set<string> } | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /**
   * Starts the thread and compiles a campaign there before its first batch: a broadcast calls it
   * as its audience is being written, so that its first recipients do not also wait for the
   * thread's start and the compile (~1 s of a cold start's first batch, on 2 busy cores).
   */
  async warm(key: string, compiled: CompiledEmail): Promise<void> {
    if (this.thread?.known.has(key)) return;
    const thread = this.thread ?? this.start();
    thread.known.add(key);
    await this.ask(thread, { kind: 'compile', id: this.nextId++, campaign: { key, content: compiled.content, source: compiled.source } });
  }

  /** Builds one campaign's messages on the build thread, in order; rejects when the thread failed. */
  async build(key: string, compiled: CompiledEmail, setup: SendSetup, jobs: BuildJob[]): Promise<BuildResult[]> {
    if (jobs.length === 0) return [];
    const thread = this.thread ?? this.start();
    const first = !thread.known.has(key);
    thread.known.add(key);
    const campaign = first ? { key, content: compiled.content, source: compiled.source } : { key };
    const reply = await this.ask(thread, { kind: 'build', id: this.nextId++, campaign, setup, jobs });
    const { worker } = thread;
    return (reply.results as (BuiltOnThread | { error: string })[]).map((result) => {
      if ('error' in result) return { renderError: result.error };
      const { body: bytes, offset, length, returnPath, ...email } = result;
      const giveBack = () => worker.postMessage({ kind: 'release', body: bytes } satisfies BuildRequest, [bytes]);
      return { returnPath, email: { ...email, body: adoptBody(Buffer.from(bytes, offset, length), giveBack) } };
    });
  }

  private ask(thread: NonNullable<EmailBuilds['thread']>, request: Exclude<BuildRequest, { kind: 'release' }>): Promise<BuildReply & { results: unknown }> {
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      thread.worker.postMessage(request satisfies BuildRequest);
    });
  }

  close(): void {
    void this.thread?.worker.terminate();
    this.thread = undefined;
  }

  private start(): NonNullable<EmailBuilds['thread']> {
    const worker = startWorker();
    worker.unref(); // it never keeps Herald running on its own
    const thread = { worker, known: new Set<string>() };
    this.thread = thread;
    worker.on('message', (reply: BuildReply) => {
      const pending = this.pending.get(reply.id);
      if (!pending) return;
      this.pending.delete(reply.id);
      if ('results' in reply) pending.resolve(reply);
      else pending.reject(new Error(`building emails failed: ${reply.error}`));
    });
    // A thread that dies fails the batches it held (their pass ends and goes again); the next batch starts a new one.
    const fail = (error: Error) => {
      if (this.thread === thread) this.thread = undefined;
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the email build thread exited with code ${code}`)));
    return thread;
  }
}

/**
 * The build thread: bundled beside dist/main.mjs by `npm run build`; from the TypeScript sources
 * (tests, `npm run dev`), the same module through tsx's loader, which a worker does not inherit.
 */
function startWorker(): Worker {
  const source = fileURLToPath(import.meta.url).endsWith('.ts');
  if (!source) return new Worker(new URL('./email-build-worker.mjs', import.meta.url), { execArgv: [], resourceLimits: LIMITS });
  const file = new URL('./build-worker.ts', import.meta.url).href;
  const load = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(file)}, ${JSON.stringify(file)}))`;
  return new Worker(load, { eval: true, execArgv: [], resourceLimits: LIMITS });
}
