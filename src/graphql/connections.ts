import { parsePrismaCursor } from '@pothos/plugin-prisma';
import { GraphQLError } from 'graphql';
import { RequestErrorCode } from '../errors.ts';
import { builder } from './builder.ts';
import { isUuid } from './ids.ts';

/**
 * `totalCount` for a connection type shared by several fields: Pothos hands over either the count
 * or a function computing it, depending on the field that built the connection.
 */
export function totalCountField(t: PothosSchemaTypes.ObjectFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, object>) {
  return t.int({
    resolve: (connection) => {
      const { totalCount } = connection as { totalCount?: number | (() => number | Promise<number>) };
      return typeof totalCount === 'function' ? totalCount() : (totalCount ?? 0);
    },
  });
}

/**
 * A Pothos prisma connection's query, once its cursor is known to hold a row id: a cursor a client
 * made up (the right prefix around anything else) is bad input, not a query PostgreSQL refuses.
 */
export function checkedCursor<Query extends { cursor?: { id?: unknown } }>(query: Query): Query {
  const id = query.cursor?.id;
  if (query.cursor && (typeof id !== 'string' || !isUuid(id))) invalidCursor();
  return query;
}

function invalidCursor(): never {
  throw new GraphQLError('Invalid cursor', { extensions: { code: RequestErrorCode.badUserInput } });
}

/** What one column of a cursor holds: a row id, or a time. */
type CursorPart = 'uuid' | 'time';

const fits: Record<CursorPart, (value: unknown) => boolean> = {
  uuid: (value) => typeof value === 'string' && isUuid(value),
  // A Date as cursors are written now; a string as older compound (`J:`) cursors held it.
  time: (value) => (value instanceof Date || typeof value === 'string') && Number.isFinite(new Date(value).getTime()),
};

/**
 * A related connection's `after` and `before`, checked before Pothos gives them to Prisma: each
 * must name a row by `parts`, the cursor's columns in order, or it is bad input as in
 * checkedCursor. `args` are what the connection's `query` is called with: Pothos types only the
 * field's own arguments there, but passes the connection's too (its query never sees the parsed cursor).
 */
export function checkCursorArgs(args: object, ...parts: CursorPart[]): void {
  const { after, before } = args as { after?: string | null; before?: string | null };
  for (const cursor of [after, before]) {
    if (cursor == null) continue;
    let value: unknown;
    try {
      value = parsePrismaCursor(cursor);
    } catch {
      invalidCursor();
    }
    const values = parts.length === 1 ? [value] : value;
    if (!Array.isArray(values) || values.length !== parts.length || !parts.every((part, index) => fits[part](values[index]))) invalidCursor();
  }
}

/**
 * A Pothos prisma connection's query (ordered by id) paged from its cursor's id value instead of
 * from its row: Prisma's cursor reads the row it names and, once that row is deleted, finds
 * nothing after it, so a client paging while rows go would lose every later page. `after` goes
 * into the query's where (`skip`, which stepped over the cursor's row, is dropped); a negative
 * `take` (paging back with `before`) still takes the rows nearest the cursor.
 */
export function pagedById<Query extends { cursor?: { id?: unknown }; skip?: number; take?: number }>(query: Query, order: 'asc' | 'desc') {
  const { cursor, skip, ...page } = checkedCursor(query);
  if (!cursor) return { page: { ...page, skip }, after: {} };
  const id = cursor.id as string;
  const forward = (page.take ?? 0) >= 0;
  return { page, after: { id: forward === (order === 'asc') ? { gt: id } : { lt: id } } };
}
