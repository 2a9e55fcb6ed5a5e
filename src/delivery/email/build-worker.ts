import { parentPort } from 'node:worker_threads';
import { RenderError } from '../templates.ts';
import type { BuildReply, BuildRequest, BuiltOnThread } from './builds.ts';
import { type CompiledEmail, type CompiledSource, compileEmail } from './compile.ts';
import type { EmailContent } from './content.ts';
import { buildMessage } from './message.ts';
import { keepBody, wholeOf } from './mime.ts';

/**
 * The thread that renders and builds emails (builds.ts starts it; `npm run build` bundles it as
 * dist/email-build-worker.mjs beside dist/main.mjs). It compiles each campaign's email once from
 * the content and compiled source the main thread sends with its first batch, answers each batch
 * with the messages' header fields and their bodies' bytes (moved, not copied), and keeps the
 * bodies the main thread gives back once sent, for the next messages.
 */

const port = parentPort!;
const compiled = new Map<string, Promise<CompiledEmail>>();
const CACHED_CAMPAIGNS = 64;

port.on('message', (request: BuildRequest) => {
  if (request.kind === 'release') return keepBody(Buffer.from(request.body));
  void answer(request).then(
    ({ reply, transfer }) => port.postMessage(reply, transfer),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies BuildReply),
  );
});

async function answer(request: Exclude<BuildRequest, { kind: 'release' }>): Promise<{ reply: BuildReply; transfer: ArrayBuffer[] }> {
  const ready = await compiledFor(request.campaign);
  if (request.kind === 'compile') return { reply: { id: request.id, results: [] }, transfer: [] };
  const { id, setup, jobs } = request;
  const transfer: ArrayBuffer[] = [];
  const results = jobs.map((job): BuiltOnThread | { error: string } => {
    const built = buildMessage(ready, setup, job);
    if (built instanceof RenderError) return { error: built.message };
    const { messageId, fields, bodyHash, body } = built.email;
    const whole = wholeOf(body);
    transfer.push(whole.buffer as ArrayBuffer);
    return { messageId, fields, bodyHash, returnPath: built.returnPath, body: whole.buffer as ArrayBuffer, offset: body.byteOffset, length: body.length };
  });
  return { reply: { id, results }, transfer };
}

function compiledFor(campaign: { key: string; content?: EmailContent; source?: CompiledSource }): Promise<CompiledEmail> {
  let email = compiled.get(campaign.key);
  if (!email) {
    if (!campaign.content) throw new Error(`the build thread has not seen campaign ${campaign.key}`);
    email = compileEmail(campaign.content, campaign.source);
    compiled.set(campaign.key, email);
    if (compiled.size > CACHED_CAMPAIGNS) compiled.delete(compiled.keys().next().value!);
  }
  return email;
}
