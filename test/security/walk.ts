import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
} from 'graphql';

/** One step down the graph: a field read on a concrete (or interface) type. */
interface Step {
  type: string;
  field: GraphQLField<unknown, unknown>;
}

/** A request that reads one field coordinate (`Type.field`) by the shortest path from a root field. */
export interface Probe {
  coordinate: string;
  /** Every coordinate read on the way, root field first. */
  path: string[];
  query: string;
}

/**
 * Every field coordinate reachable from `rootField` (of `Query` or `Mutation`), each with the
 * request that reads it by the shortest path: required arguments filled with sample values, union
 * and interface members reached with inline fragments. `rootArgs` is the root field's argument text,
 * e.g. `(input: $input)`, and `variables` its variable definitions, e.g. `($input: EventInput!)`.
 */
export function probesFrom(
  schema: GraphQLSchema,
  operation: 'query' | 'mutation',
  rootField: string,
  rootArgs = '',
  variables = '',
  maxDepth = 6,
): Probe[] {
  const rootType = operation === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  const root = rootType.getFields()[rootField]!;
  const probes: Probe[] = [];
  const seen = new Set<string>();
  const queue: Step[][] = [[{ type: rootType.name, field: root }]];
  seen.add(`${rootType.name}.${rootField}`);
  probes.push(probe(operation, rootArgs, variables, [{ type: rootType.name, field: root }]));
  while (queue.length) {
    const steps = queue.shift()!;
    if (steps.length >= maxDepth) continue;
    const named = getNamedType(steps.at(-1)!.field.type);
    for (const [type, field] of fieldsOf(schema, named)) {
      const coordinate = `${type}.${field.name}`;
      if (seen.has(coordinate)) continue;
      seen.add(coordinate);
      const next = [...steps, { type, field }];
      probes.push(probe(operation, rootArgs, variables, next));
      if (isCompositeType(getNamedType(field.type))) queue.push(next);
    }
  }
  return probes;
}

/** The fields a selection on `type` can read: its own, and for abstract types each member's. */
function fieldsOf(schema: GraphQLSchema, type: GraphQLNamedType): [string, GraphQLField<unknown, unknown>][] {
  const own = isObjectType(type) || isInterfaceType(type) ? Object.values(type.getFields()).map((field) => [type.name, field] as [string, GraphQLField<unknown, unknown>]) : [];
  const members = isAbstractType(type) ? schema.getPossibleTypes(type) : [];
  return [...own, ...members.flatMap((member) => Object.values(member.getFields()).map((field) => [member.name, field] as [string, GraphQLField<unknown, unknown>]))];
}

function probe(operation: string, rootArgs: string, variables: string, steps: Step[]): Probe {
  let selection = isCompositeType(getNamedType(steps.at(-1)!.field.type)) ? '{ __typename }' : '';
  for (let index = steps.length - 1; index >= 1; index--) {
    const { type, field } = steps[index]!;
    const parent = getNamedType(steps[index - 1]!.field.type);
    const read = `${field.name}${sampleArgs(field.args)} ${selection}`;
    // Reached through an abstract type, or a member's own field: select it in a fragment.
    selection = parent.name === type ? `{ ${read} }` : `{ ... on ${type} { ${read} } }`;
  }
  const root = steps[0]!.field;
  return {
    coordinate: `${steps.at(-1)!.type}.${steps.at(-1)!.field.name}`,
    path: steps.map((step) => `${step.type}.${step.field.name}`),
    query: `${operation}${variables} { ${root.name}${rootArgs} ${selection} }`,
  };
}

/** Required arguments with plausible values; optional ones left out. */
function sampleArgs(args: readonly GraphQLArgument[]): string {
  const required = args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined);
  if (!required.length) return '';
  return `(${required.map((arg) => `${arg.name}: ${sampleValue(arg.type)}`).join(', ')})`;
}

function sampleValue(type: GraphQLInputType): string {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return `[${sampleValue(inner.ofType)}]`;
  if (isEnumType(inner)) return inner.getValues()[0]!.name;
  if (isInputObjectType(inner)) {
    const fields = Object.values(inner.getFields()).filter((field) => isNonNullType(field.type));
    const chosen = inner.isOneOf ? [Object.values(inner.getFields())[0]!] : fields;
    return `{ ${chosen.map((field) => `${field.name}: ${sampleValue(field.type)}`).join(', ')} }`;
  }
  switch (inner.name) {
    case 'Int':
    case 'Float':
      return '1';
    case 'Boolean':
      return 'true';
    case 'DateTime':
      return '"2026-01-01T00:00:00Z"';
    default:
      return '"x"';
  }
}
