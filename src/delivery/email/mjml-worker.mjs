// MJML to HTML on a thread of its own (see mjml.ts): MJML holds ~50 MB once loaded, which Herald
// gives back when the thread ends after a while without work. Plain JavaScript, so the thread
// starts without the TypeScript loader. A message is { id, source }; the answer is { id, html },
// { id, errors: [{ line, message }] } (MJML's strict validation) or { id, message }.
import { parentPort } from 'node:worker_threads';

let mjml2html;

parentPort.on('message', async ({ id, source }) => {
  try {
    mjml2html ??= (await import('mjml')).default;
    // ignoreIncludes: MJML reads no file (mjml.ts refuses mj-include first; this is the second lock).
    const { html } = await mjml2html(source, { validationLevel: 'strict', ignoreIncludes: true });
    parentPort.postMessage({ id, html });
  } catch (error) {
    const errors = Array.isArray(error?.errors) ? error.errors.map(({ line, message }) => ({ line, message })) : undefined;
    parentPort.postMessage({ id, errors, message: String(error instanceof Error ? error.message : error) });
  }
});
