// MJML to HTML on a thread of its own (see mjml.ts): MJML holds ~50 MB once loaded, which Herald
// gives back when the thread ends after a while without work. Plain JavaScript, so the thread
// starts without the TypeScript loader. Once MJML is loaded it says { ready: true }; then each
// message is { source }, answered in turn by { html }, { errors: [{ line, message }] } (MJML's
// strict validation) or { message }. mjml.ts gives it one source at a time, so that each
// compile's time is its own (the time limit ends the thread).
import { parentPort } from 'node:worker_threads';

const mjml2html = (await import('mjml')).default;
parentPort.postMessage({ ready: true });

parentPort.on('message', async ({ source }) => {
  try {
    // ignoreIncludes: MJML reads no file (mjml.ts refuses mj-include first; this is the second lock).
    const { html } = await mjml2html(source, { validationLevel: 'strict', ignoreIncludes: true });
    parentPort.postMessage({ html });
  } catch (error) {
    const errors = Array.isArray(error?.errors) ? error.errors.map(({ line, message }) => ({ line, message })) : undefined;
    parentPort.postMessage({ errors, message: String(error instanceof Error ? error.message : error) });
  }
});
