import type { Plugin } from 'graphql-yoga';
import { documentMemo } from '../graphql/document-memo.ts';

/**
 * Validation verdicts by schema and document (Yoga's parser cache hands one document object to
 * every request of one query text). It stands in for Yoga's own validation cache, which keys them
 * by the names of the validation rules as well: a string rebuilt from ~30 rules on every request,
 * ~3% of a browser call's CPU. Every operation here is validated with the same rules, so the
 * document decides. First among the plugins: on a hit, the verdict is set before graphql-armor
 * adds its rules, whose checks ran when the document was first validated.
 */
export function validationCache(): Plugin {
  const verdicts = documentMemo<readonly Error[]>();
  return {
    onValidate({ params: { schema, documentAST }, setResult }) {
      const known = verdicts.get(schema, documentAST);
      if (known) {
        setResult(known);
        return undefined;
      }
      return ({ result }) => void verdicts.set(schema, documentAST, result);
    },
  };
}
