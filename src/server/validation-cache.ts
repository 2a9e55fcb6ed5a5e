import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Validation verdicts by schema and document (Yoga's parser cache hands one document object to
 * every request of one query text). It stands in for Yoga's own validation cache, which keys them
 * by the names of the validation rules as well: a string rebuilt from ~30 rules on every request,
 * ~3% of a browser call's CPU. Every operation here is validated with the same rules, so the
 * document decides. First among the plugins: on a hit, the verdict is set before graphql-armor
 * adds its rules, whose checks ran when the document was first validated.
 */
export function validationCache(): Plugin {
  const verdicts = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly Error[]>>();
  return {
    onValidate({ params: { schema, documentAST }, setResult }) {
      let bySchema = verdicts.get(schema);
      if (!bySchema) verdicts.set(schema, (bySchema = new WeakMap()));
      const known = bySchema.get(documentAST);
      if (known) {
        setResult(known);
        return undefined;
      }
      return ({ result }) => void bySchema.set(documentAST, result);
    },
  };
}
