import { type DocumentNode, GraphQLError, Kind, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { RequestErrorCode } from '../errors.ts';
import type { Context } from '../graphql/context.ts';

/**
 * Introspection (`__schema`, `__type`) answers only a secret key: the schema is a map of every
 * field, for the backends that integrate with Herald, not for pages or strangers.
 */
export function introspectionForSecretKeys(): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const { principal } = args.contextValue;
      if (principal.kind === 'secret' || !introspects(args.document)) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError('Introspection (__schema, __type) needs a secret key', {
            extensions: { code: principal.kind === 'none' ? RequestErrorCode.unauthenticated : RequestErrorCode.forbidden, http: { status: 200 } },
          }),
        ],
      });
    },
  };
}

/** By document: Yoga's parser cache hands the same document to every request of one query text. */
const introspecting = new WeakMap<DocumentNode, boolean>();

function introspects(document: DocumentNode): boolean {
  let known = introspecting.get(document);
  if (known === undefined) introspecting.set(document, (known = findsIntrospection(document)));
  return known;
}

function findsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD]: (node) => {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true;
    },
  });
  return found;
}
