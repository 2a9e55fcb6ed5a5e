import { Worker } from 'node:worker_threads';
import { TypeGuards } from 'liquidjs';
import { fromRoot } from '../../paths.ts';
import { lineAt, liquidTokens, TemplateSyntaxError } from './liquid.ts';

/**
 * MJML to HTML, strictly: an MJML error is a problem with its line, not a quietly broken layout.
 * Returns the problem as a value ("line 3: mj-column cannot be used inside mj-body, …").
 */
export async function htmlOfMjml(source: string, maxChars: number): Promise<{ html: string } | { problem: string }> {
  const include = /<mj-include\b/i.exec(source);
  if (include) return { problem: `line ${lineAt(source, include.index)}: mj-include is not allowed: templates cannot read files` };
  const compiled = await compileOnThread(source);
  if ('problem' in compiled) return compiled;
  if (!('html' in compiled)) {
    if (compiled.errors?.length) return { problem: compiled.errors.map((each) => `line ${each.line}: ${each.message}`).join('; ') };
    return { problem: `is not valid MJML: ${compiled.message.split('\n')[0]}` };
  }
  const { html } = compiled;
  if (html.length > maxChars) return { problem: `compiles to ${html.length} characters of HTML; at most ${maxChars}` };
  try {
    const dropped = droppedLiquid(source, html);
    return dropped ? { problem: dropped } : { html };
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return { problem: `in the HTML compiled from MJML, ${error.message}` };
    throw error;
  }
}

/**
 * MJML silently drops text between tags that hold no content (a `{% if %}` between two
 * mj-section), which would leave its Liquid unbalanced or gone: each tag and value of the MJML
 * must still be in the HTML.
 */
function droppedLiquid(source: string, html: string): string | null {
  const compiled = new Map<string, number>();
  for (const token of liquidTokens(html)) compiled.set(token.getText(), (compiled.get(token.getText()) ?? 0) + 1);
  for (const token of liquidTokens(source)) {
    if (TypeGuards.isHTMLToken(token)) continue;
    const left = compiled.get(token.getText()) ?? 0;
    if (left === 0) return `line ${lineAt(source, token.begin)}: MJML leaves out ${token.getText()}; Liquid belongs in text, attribute values or <mj-raw>`;
    compiled.set(token.getText(), left - 1);
  }
  return null;
}

type Compiled = { html: string } | { errors?: { line: number; message: string }[]; message: string } | { problem: string };

/**
 * How long one compile may hold the MJML thread. MJML's cost is not its size: inlined CSS
 * (`<mj-style inline="inline">`) costs rules × elements, and 1,500 rules over 6,000 elements
 * (78 KB) held the thread 13 s while every other save's MJML waited. A newsletter compiles in
 * well under a second, even on a loaded machine.
 */
export const MJML_COMPILE_MS = 5_000;

interface Job {
  source: string;
  resolve: (result: Compiled) => void;
}

let thread: { worker: Worker; ready: boolean; queue: Job[]; current?: { job: Job; deadline: NodeJS.Timeout } } | undefined;

/**
 * MJML compiles on a worker thread (mjml-worker.mjs), started for a save and ended as soon as it
 * has no compile left, before the save answers: loaded in Herald's own heap, MJML's ~50 MB stayed
 * for good after the first save of an MJML campaign and counted against every send that followed
 * (with the thread kept for a second after its work, the email bench's sends still began beside
 * it). A save pays the thread's start and MJML's load instead (~0.3 s on a quiet machine, ~1 s loaded).
 *
 * The thread compiles one source at a time, each within MJML_COMPILE_MS from when the loaded
 * thread is given it: past that the thread is ended, that source answered as too slow, and the
 * sources waiting go to a fresh thread.
 */
function compileOnThread(source: string): Promise<Compiled> {
  return new Promise((resolve) => {
    const current = thread ?? startThread([]);
    current.queue.push({ source, resolve });
    next(current);
  });
}

function startThread(queue: Job[]): NonNullable<typeof thread> {
  // execArgv: [] — the TypeScript loader (tsx) is not needed there and costs memory.
  const worker = new Worker(fromRoot('src', 'delivery', 'email', 'mjml-worker.mjs'), { execArgv: [] });
  worker.unref(); // it never keeps Herald running on its own
  const started: NonNullable<typeof thread> = { worker, ready: false, queue };
  thread = started;
  worker.on('message', (message: { ready: true } | Compiled) => {
    if ('ready' in message) {
      started.ready = true;
      return next(started);
    }
    if (!started.current) return; // its compile ran out of time as it answered: the thread is ending
    const { job, deadline } = started.current;
    clearTimeout(deadline);
    started.current = undefined;
    if (started.queue.length > 0) {
      job.resolve(message);
      return next(started);
    }
    // The last compile: the thread ends (a compile asked for meanwhile starts another), then it answers.
    if (thread === started) thread = undefined;
    void worker.terminate().finally(() => job.resolve(message));
  });
  // A thread that dies fails what it held, as a problem with the MJML; the next compile starts a new one.
  const fail = (error: Error) => {
    if (thread === started) thread = undefined;
    if (started.current) clearTimeout(started.current.deadline);
    const failed = [...(started.current ? [started.current.job] : []), ...started.queue.splice(0)];
    started.current = undefined;
    for (const job of failed) job.resolve({ message: `could not be compiled: ${error.message}` });
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the MJML thread exited with code ${code}`)));
  return started;
}

/** Gives the thread its next source, once MJML is loaded there and it has none. */
function next(current: NonNullable<typeof thread>): void {
  if (!current.ready || current.current) return;
  const job = current.queue.shift();
  if (!job) return;
  const deadline = setTimeout(() => tooSlow(current), MJML_COMPILE_MS);
  deadline.unref();
  current.current = { job, deadline };
  current.worker.postMessage({ source: job.source });
}

/** Ends a thread whose compile ran past its time; the sources waiting behind it go to a new one. */
function tooSlow(current: NonNullable<typeof thread>): void {
  const { job } = current.current!;
  current.current = undefined;
  const waiting = current.queue.splice(0);
  if (thread === current) thread = undefined;
  current.worker.removeAllListeners('exit'); // ended on purpose: nothing else it held is failed
  void current.worker.terminate();
  job.resolve({ problem: `took more than ${MJML_COMPILE_MS / 1000} s to compile (inlined CSS costs its rules times the elements they are matched against)` });
  // The new thread is the one a source asked for from now on joins.
  if (waiting.length > 0) startThread(waiting);
}
