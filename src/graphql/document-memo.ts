import type { DocumentNode, GraphQLSchema } from 'graphql';

/**
 * Values kept per schema and parsed document, dropped with them. Yoga's parser cache hands one
 * document object to every request of one query text, so what is known of a document (its
 * validation, its public-surface verdict, its compiled form) is worked out once per text.
 */
export interface DocumentMemo<T> {
  get(schema: GraphQLSchema, document: DocumentNode): T | undefined;
  /** Keeps `value` and answers it. */
  set(schema: GraphQLSchema, document: DocumentNode, value: T): T;
}

export function documentMemo<T>(): DocumentMemo<T> {
  const bySchema = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, T>>();
  return {
    get: (schema, document) => bySchema.get(schema)?.get(document),
    set(schema, document, value) {
      let byDocument = bySchema.get(schema);
      if (!byDocument) bySchema.set(schema, (byDocument = new WeakMap()));
      byDocument.set(document, value);
      return value;
    },
  };
}
