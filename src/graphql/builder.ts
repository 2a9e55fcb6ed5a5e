import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import WithInputPlugin from '@pothos/plugin-with-input';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError, isObjectType } from 'graphql';
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import { ConflictError, NotFoundError, RequestErrorCode, ValidationError } from '../errors.ts';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import type { Context } from './context.ts';
import { isUuid } from './ids.ts';

/**
 * The one Pothos builder: plugins, context, scalars and auth scopes live here and nowhere else.
 * Domains import it and add their types; src/graphql/schema.ts assembles them.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { admin: boolean; secretKey: boolean; publishableKey: boolean };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    TimeZone: { Input: string; Output: string };
    LocalTime: { Input: string; Output: string };
  };
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, WithInputPlugin, DataloaderPlugin],
  prisma: {
    client: (context) => context.herald.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
    // A malformed id is "no such node", not an error: decode leniently, then answer null.
    decodeGlobalID: (globalID) => {
      try {
        return decodeGlobalID(globalID);
      } catch {
        return { typename: '', id: '' };
      }
    },
    nodeQueryOptions: {
      resolve: (_root, { id }, _context, info, resolveNode) => {
        const type = info.schema.getType(id.typename);
        const isNode = isObjectType(type) && type.getInterfaces().some((iface) => iface.name === 'Node');
        return isNode && isUuid(String(id.id)) ? resolveNode(id) : null;
      },
    },
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
  errors: {
    defaultTypes: [ValidationError, NotFoundError, ConflictError],
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: ({ principal }) => ({
      admin: principal.kind === 'admin',
      secretKey: principal.kind === 'secret',
      publishableKey: principal.kind === 'publishable',
    }),
    // No usable credential is UNAUTHENTICATED; a valid credential without the right scope is FORBIDDEN.
    unauthorizedError: (_parent, { principal }, info) =>
      principal.kind === 'none'
        ? new GraphQLError(
            principal.rejected ? 'The API key or token is not valid' : 'Authentication required: send Authorization: Bearer <key>',
            { extensions: { code: RequestErrorCode.unauthenticated, http: { status: 200 } } },
          )
        : new GraphQLError(`This key may not use ${info.parentType.name}.${info.fieldName}`, {
            extensions: { code: RequestErrorCode.forbidden, http: { status: 200 } },
          }),
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);

// TimeZone and LocalTime accept any string here: the mutation that receives one checks it and
// answers a ValidationError naming the field, rather than failing the whole request.
builder.scalarType('TimeZone', {
  description: 'An IANA time zone name, e.g. "Europe/Warsaw".',
  serialize: (value) => String(value),
  parseValue: (value) => String(value),
});
builder.scalarType('LocalTime', {
  description: 'A wall-clock time "HH:MM", 00:00 to 23:59.',
  serialize: (value) => String(value),
  parseValue: (value) => String(value),
});

// Every root field needs a workspace secret key unless it says otherwise.
builder.queryType({ authScopes: { secretKey: true } });
builder.mutationType({ authScopes: { secretKey: true } });
builder.subscriptionType({ authScopes: { secretKey: true } });
