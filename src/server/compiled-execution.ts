import {
  type DocumentNode,
  type ExecutionResult,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isInputObjectType,
  Kind,
  type OperationDefinitionNode,
  typeFromAST,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { isPromise } from 'node:util/types';
import type { Context } from '../graphql/context.ts';
import { documentMemo } from '../graphql/document-memo.ts';
import { compiledAnswered, compiledDocuments, compiledHandedBack, compiledKept } from './metrics.ts';

/** Executions of one parsed document before it is compiled: a document sent once is never worth compiling. */
export const COMPILE_AFTER = 10;
/**
 * Compiled documents kept, the most recently run (each holds ~100 KB of heap and took ~2 ms to
 * compile): a browser SDK sends a few dozen documents, and a flood of made-up ones can cost
 * neither memory nor, once evicted, another compile.
 */
export const COMPILED_MAX = 100;

interface Seen {
  uses: number;
  /** The compiled operation; null once the document was found not to qualify, or was evicted. */
  compiled?: CompiledQuery | null;
  /** Its operation's name, which a call naming another must be refused for, by graphql-js. */
  name?: string;
}

/**
 * Compiled execution for a browser's hot documents (issue #24): a publishable key's document,
 * once executed COMPILE_AFTER times, runs as a function graphql-jit generated for it, instead of
 * graphql-js walking the document, coercing its variables and completing its answer anew on every
 * call (~7% of a single `trackEvent`'s CPU in Herald). The same resolvers, plugins, context and
 * answer; a call whose variables do not coerce runs through graphql-js after all, so a bad call is
 * answered in graphql-js's words.
 *
 * graphql-jit writes JavaScript from the document, so only documents it writes nothing of the
 * caller's into qualify: one query or mutation, every argument a variable (or a list or object of
 * variables) and no directive. It puts a literal argument's value into the code it generates, and
 * a string naming its internal date marker there becomes code (a literal such as
 * `"__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d1)&&(…)&&(0"` runs, as of 0.8.9): a
 * document with any literal is never compiled. Nor one whose variables reach a @oneOf input
 * (graphql-jit does not check them), nor an alias starting with `__`. Secret keys' documents
 * (the dashboard's, integrations') are not hot paths and keep graphql-js.
 */
export function compiledExecution(): Plugin<Context> {
  const seen = documentMemo<Seen>();
  /** The entries holding a compiled document, least recently run first. */
  const kept = new Set<Seen>();
  const keep = (entry: Seen) => {
    if (kept.delete(entry)) return void kept.add(entry);
    kept.add(entry);
    if (kept.size > COMPILED_MAX) {
      const [oldest] = kept;
      kept.delete(oldest!);
      oldest!.compiled = null;
    }
    compiledKept.set(kept.size);
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (args.contextValue.principal.kind !== 'publishable') return;
      const entry = seen.get(args.schema, args.document) ?? seen.set(args.schema, args.document, { uses: 0 });
      if (entry.compiled === undefined && ++entry.uses >= COMPILE_AFTER) {
        entry.compiled = compile(args.schema, args.document);
        entry.name = getOperationAST(args.document)?.name?.value;
      }
      const compiled = entry.compiled;
      if (!compiled || (args.operationName != null && args.operationName !== entry.name)) return;
      keep(entry);
      setExecuteFn((execution) => {
        // No `data`: the variables did not coerce. graphql-js answers that, in its own words.
        const answer = (result: ExecutionResult) => {
          if ('data' in result) {
            compiledAnswered.inc();
            return result;
          }
          compiledHandedBack.inc();
          return executeFn(execution);
        };
        const result = compiled.query(execution.rootValue, execution.contextValue, execution.variableValues);
        return isPromise(result) ? result.then(answer) : answer(result);
      });
    },
  };
}

function compile(schema: GraphQLSchema, document: DocumentNode): CompiledQuery | null {
  if (!qualifies(schema, document)) return null;
  let compiled;
  try {
    compiled = compileQuery(schema, document, undefined, { disablingCapturingStackErrors: true });
  } catch {
    return null; // graphql-js runs what graphql-jit cannot compile
  }
  if (!isCompiledQuery(compiled)) return null;
  compiledDocuments.inc();
  return compiled;
}

/** Whether graphql-jit may compile `document`: nothing the caller wrote but names reaches its code. */
export function qualifies(schema: GraphQLSchema, document: DocumentNode): boolean {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]!.operation === 'subscription') return false;
  const clean = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.every(clean);
    if (typeof node !== 'object' || node === null) return true;
    const { kind } = node as { kind?: string };
    switch (kind) {
      case Kind.STRING:
      case Kind.INT:
      case Kind.FLOAT:
      case Kind.BOOLEAN:
      case Kind.NULL:
      case Kind.ENUM:
      case Kind.DIRECTIVE:
        return false;
      case Kind.FIELD:
        if ((node as { alias?: { value: string } }).alias?.value.startsWith('__')) return false;
    }
    return Object.entries(node).every(([key, value]) => key === 'loc' || clean(value));
  };
  if (!clean(document)) return false;
  return operations[0]!.variableDefinitions?.every((definition) => !reachesOneOf(typeFromAST(schema, definition.type as never) as GraphQLInputType | undefined)) ?? true;
}

function reachesOneOf(type: GraphQLInputType | undefined, visited = new Set<unknown>()): boolean {
  if (!type) return true;
  const named = getNamedType(type);
  if (!isInputObjectType(named) || visited.has(named)) return false;
  if (named.isOneOf) return true;
  visited.add(named);
  return Object.values(named.getFields()).some((field) => reachesOneOf(field.type, visited));
}
