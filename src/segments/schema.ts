import { GraphQLError } from 'graphql';
import { ErrorCode, RequestErrorCode } from '../errors.ts';
import { inQuery } from '../graphql/errors.ts';
import { builder } from '../graphql/builder.ts';
import { checkedCursor, pagedById, totalCountField } from '../graphql/connections.ts';
import { type Context, workspaceIdOf } from '../graphql/context.ts';
import { localId, requireLocalId } from '../graphql/ids.ts';
import { type Audience, validateRule } from './rule.ts';
import { AudienceEnum, SegmentRuleInput } from './inputs.ts';
import { ContactRef } from '../contacts/schema.ts';
import {
  contactsPage,
  countContacts,
  getSegment,
  createSegment,
  deleteSegment,
  type Selection,
  selectionOf,
  updateSegment,
} from './service.ts';

function selectionFromArgs(rule: unknown, audience: Audience | null | undefined, path: string[]): Selection {
  return { rule: rule == null ? null : validateRule(rule, path), audience: audience ?? 'ALL' };
}

/** Translates a Pothos prisma connection's query (first/after only) into a keyset page. */
function connectionPage(
  context: Context,
  selection: Selection,
  query: { take?: number; skip?: number; cursor?: { id?: string }; include?: object; select?: object },
) {
  const { take = 21, skip: _skip, cursor, ...relations } = checkedCursor(query);
  if (take < 0) throw new GraphQLError('Page forward with first and after', { extensions: { code: RequestErrorCode.badUserInput } });
  return contactsPage(context.herald, workspaceIdOf(context), selection, { afterId: cursor?.id, limit: take }, relations);
}

/** One connection type for every list of contacts: all contacts, a rule's, a segment's. */
const ContactConnection = builder.connectionObject(
  {
    type: ContactRef,
    name: 'ContactConnection',
    fields: (t) => ({
      totalCount: totalCountField(t),
    }),
  },
  { name: 'ContactEdge' },
);

const SegmentRef = builder.prismaNode('Segment', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    rule: t.expose('rule', { type: 'JSON' }),
    audience: t.expose('audience', { type: AudienceEnum }),
    size: t.int({
      description: 'How many contacts match now.',
      resolve: (segment, _args, context) => inQuery(() => countContacts(context.herald, workspaceIdOf(context), selectionOf(segment))),
    }),
    contacts: t.prismaConnection({
      type: 'Contact',
      cursor: 'id',
      defaultSize: 50,
      maxSize: 1000,
      description: 'Members in a stable order (new contacts appear at the end).',
      totalCount: (segment, _args, context) => inQuery(() => countContacts(context.herald, workspaceIdOf(context), selectionOf(segment))),
      resolve: (query, segment, _args, context) => inQuery(() => connectionPage(context, selectionOf(segment), query)),
    }, ContactConnection),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SegmentPreview = builder.objectRef<Selection>('SegmentPreview').implement({
  fields: (t) => ({
    count: t.int({ resolve: (selection, _args, context) => inQuery(() => countContacts(context.herald, workspaceIdOf(context), selection)) }),
    sample: t.prismaField({
      type: ['Contact'],
      args: { first: t.arg.int({ defaultValue: 10 }) },
      resolve: async (query, selection, { first }, context) => {
        const limit = Math.min(Math.max(first ?? 10, 0), 100);
        return inQuery(() => contactsPage(context.herald, workspaceIdOf(context), selection, { limit }, query));
      },
    }),
  }),
});

builder.queryFields((t) => ({
  segment: t.prismaField({
    type: 'Segment',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, context) => {
      const segmentId = localId(String(id), 'Segment');
      return segmentId ? context.herald.prisma.segment.findFirst({ ...query, where: { id: segmentId, workspaceId: workspaceIdOf(context) } }) : null;
    },
  }),
  segments: t.prismaConnection({
    type: 'Segment',
    cursor: 'id',
    totalCount: (_parent, _args, context) => context.herald.prisma.segment.count({ where: { workspaceId: workspaceIdOf(context) } }),
    resolve: (query, _root, _args, context) => {
      const { page, after } = pagedById(query, 'asc');
      return context.herald.prisma.segment.findMany({ ...page, where: { workspaceId: workspaceIdOf(context), ...after }, orderBy: { id: 'asc' } });
    },
  }, { name: 'SegmentConnection' }, { name: 'SegmentEdge' }),
  previewSegment: t.field({
    type: SegmentPreview,
    description: 'How many contacts a rule reaches, and a few of them, without saving a segment.',
    args: {
      rule: t.arg({ type: SegmentRuleInput, required: true }),
      audience: t.arg({ type: AudienceEnum, defaultValue: 'ALL' }),
    },
    resolve: (_root, { rule, audience }) => inQuery(() => selectionFromArgs(rule, audience, ['rule'])),
  }),
}));

// `contacts` itself lives in the contacts domain; segments add its filters here.
builder.queryField('contacts', (t) =>
  t.prismaConnection({
    type: 'Contact',
    cursor: 'id',
    defaultSize: 50,
    maxSize: 1000,
    description: 'Contacts in a stable order, optionally only those matching a rule or a saved segment.',
    args: { segment: t.arg({ type: SegmentRuleInput }), segmentId: t.arg.id() },
    totalCount: (_parent, args, context) => inQuery(async () => countContacts(context.herald, workspaceIdOf(context), await selectionForContacts(args, context))),
    resolve: (query, _root, args, context) => inQuery(async () => connectionPage(context, await selectionForContacts(args, context), query)),
  }, ContactConnection),
);

async function selectionForContacts(args: { segment?: unknown; segmentId?: string | number | null }, context: Context): Promise<Selection> {
  if (args.segmentId == null) return selectionFromArgs(args.segment, 'ALL', ['segment']);
  const id = requireLocalId(String(args.segmentId), 'Segment', ErrorCode.segmentNotFound);
  return selectionOf(await getSegment(context.herald, workspaceIdOf(context), id));
}

const DeletedSegment = builder.objectRef<{ id: string }>('DeletedSegment').implement({ fields: (t) => ({ id: t.exposeID('id') }) });

builder.mutationFields((t) => ({
  createSegment: t.fieldWithInput({
    type: SegmentRef,
    input: {
      name: t.input.string({ required: true }),
      rule: t.input.field({ type: SegmentRuleInput, required: true }),
      audience: t.input.field({ type: AudienceEnum, defaultValue: 'ALL' }),
    },
    errors: {},
    resolve: (_root, { input }, context) => createSegment(context.herald, workspaceIdOf(context), input),
  }),
  updateSegment: t.fieldWithInput({
    type: SegmentRef,
    input: {
      id: t.input.id({ required: true }),
      name: t.input.string(),
      rule: t.input.field({ type: SegmentRuleInput }),
      audience: t.input.field({ type: AudienceEnum }),
    },
    errors: {},
    resolve: (_root, { input }, context) =>
      updateSegment(context.herald, workspaceIdOf(context), requireLocalId(String(input.id), 'Segment', ErrorCode.segmentNotFound), input),
  }),
  deleteSegment: t.fieldWithInput({
    type: DeletedSegment,
    input: { id: t.input.id({ required: true }) },
    errors: {},
    resolve: async (_root, { input }, context) => {
      await deleteSegment(context.herald, workspaceIdOf(context), requireLocalId(String(input.id), 'Segment', ErrorCode.segmentNotFound));
      return { id: String(input.id) };
    },
  }),
}));

