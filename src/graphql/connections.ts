import { builder } from './builder.ts';

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
