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

type Compiled = { html: string } | { errors?: { line: number; message: string }[]; message: string };

let thread: { worker: Worker; pending: Map<number, (result: Compiled) => void> } | undefined;
let nextId = 0;

/**
 * MJML compiles on a worker thread (mjml-worker.mjs), started for a save and ended as soon as it
 * has no compile left, before the save answers: loaded in Herald's own heap, MJML's ~50 MB stayed
 * for good after the first save of an MJML campaign and counted against every send that followed
 * (with the thread kept for a second after its work, the email bench's sends still began beside
 * it). A save pays the thread's start and MJML's load instead (~0.3 s on a quiet machine, ~1 s loaded).
 */
function compileOnThread(source: string): Promise<Compiled> {
  const current = thread ?? startThread();
  const id = nextId++;
  return new Promise((resolve) => {
    current.pending.set(id, resolve);
    current.worker.postMessage({ id, source });
  });
}

function startThread(): NonNullable<typeof thread> {
  // execArgv: [] — the TypeScript loader (tsx) is not needed there and costs memory.
  const worker = new Worker(fromRoot('src', 'delivery', 'email', 'mjml-worker.mjs'), { execArgv: [] });
  worker.unref(); // it never keeps Herald running on its own
  const started: NonNullable<typeof thread> = { worker, pending: new Map() };
  thread = started;
  worker.on('message', ({ id, ...result }: { id: number } & Compiled) => {
    const resolve = started.pending.get(id);
    started.pending.delete(id);
    if (!resolve) return;
    if (started.pending.size > 0) return resolve(result);
    // The last compile: the thread ends (a compile asked for meanwhile starts another), then it answers.
    if (thread === started) thread = undefined;
    void worker.terminate().finally(() => resolve(result));
  });
  // A thread that dies fails what it held, as a problem with the MJML; the next compile starts a new one.
  const fail = (error: Error) => {
    if (thread === started) thread = undefined;
    for (const resolve of started.pending.values()) resolve({ message: `could not be compiled: ${error.message}` });
    started.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the MJML thread exited with code ${code}`)));
  return started;
}
