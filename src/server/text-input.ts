import { GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../errors.ts';

/**
 * PostgreSQL stores no NUL character (U+0000) in text or JSON, and its JSON refuses a lone UTF-16
 * surrogate (text would silently turn it into U+FFFD), so such a string would fail deep in a
 * write, or change on the way. Refuse it up front, in variables and in the document's own
 * literals, as the input error it is: nothing runs, nothing changes.
 */
export function rejectUnstorableText(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const where = nulIn(args.variableValues ?? {}, 'variables') ?? nulInDocument(args.document);
      if (!where) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(`Text must be well-formed Unicode without the NUL character (U+0000): not so in ${where}`, {
            extensions: { code: RequestErrorCode.badUserInput, http: { status: 400 } },
          }),
        ],
      });
    },
  };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorable = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text);

/** The path of the first string (or object key) that PostgreSQL cannot store as given, if any. */
function nulIn(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return unstorable(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nulIn(item, `${path}.${index}`);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (unstorable(key)) return `${path} (a key)`;
      const found = nulIn(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/** By document (null: none found): Yoga's parser cache hands the same document to every request of one query text. */
const nulsInDocuments = new WeakMap<DocumentNode, string | null>();

function nulInDocument(document: DocumentNode): string | undefined {
  let known = nulsInDocuments.get(document);
  if (known === undefined) nulsInDocuments.set(document, (known = findNulInDocument(document) ?? null));
  return known ?? undefined;
}

function findNulInDocument(document: DocumentNode): string | undefined {
  let found: string | undefined;
  visit(document, {
    [Kind.STRING]: (node) => {
      if (!found && unstorable(node.value)) found = 'a string in the query';
    },
  });
  return found;
}
