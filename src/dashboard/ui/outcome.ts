import type { CombinedError } from 'urql';

/** What a mutation's union answered, flattened: its data, or an error with field errors by path. */
export interface Problem {
  message: string;
  /** "name", "content.title", "rule.and.0.attribute.path": the path without the leading "input". */
  fields: Map<string, string>;
}

type Union = { __typename?: string; data?: unknown; message?: string; code?: string; fieldErrors?: { path: string[]; message: string }[] };

/**
 * Reads a mutation result: `{ data }` for a Success type, `{ problem }` for an Error (typed
 * errors come back as values, never as top-level errors; those mean the request itself failed).
 */
export function outcome(
  result: { data?: object | null; error?: CombinedError },
  field: string,
): { data: unknown; problem?: undefined } | { data?: undefined; problem: Problem } {
  if (result.error) return { problem: { message: result.error.graphQLErrors[0]?.message ?? result.error.message, fields: new Map() } };
  const value = (result.data as Record<string, Union> | null | undefined)?.[field];
  if (!value) return { problem: { message: 'No answer from Herald.', fields: new Map() } };
  if ('data' in value) return { data: value.data };
  const fields = new Map<string, string>();
  for (const error of value.fieldErrors ?? []) {
    const path = error.path[0] === 'input' || error.path[0] === 'rule' ? error.path.slice(1) : error.path;
    fields.set(path.join('.'), error.message);
  }
  return { problem: { message: value.message ?? 'Herald refused this.', fields } };
}

/** The field error at `path`, or at any path under it (a rule's nested condition). */
export function fieldError(problem: Problem | undefined, path: string): string | undefined {
  if (!problem) return undefined;
  const exact = problem.fields.get(path);
  if (exact) return exact;
  for (const [key, message] of problem.fields) if (key.startsWith(`${path}.`)) return `${key.slice(path.length + 1)}: ${message}`;
  return undefined;
}
