import { z } from 'zod';
import { Prisma } from '../db/prisma.ts';
import { ConflictError, ErrorCode, fromZodIssues, NotFoundError, ValidationError } from '../errors.ts';
import type { Segment } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { compileAudience, compileRule } from './compile.ts';
import { type Audience, Audiences, type Rule, validateRule } from './rule.ts';

export type { Segment };

/** Who a query is about: a rule (or none: everyone) within an audience. */
export interface Selection {
  rule?: Rule | null;
  audience?: Audience;
}

/** The one WHERE clause, on `"Contact" c`, that counting, paging and campaigns all use. */
export function selectionSql(workspaceId: string, { rule, audience = 'ALL' }: Selection, now = new Date()): Prisma.Sql {
  const conditions = [Prisma.sql`c."workspaceId" = ${workspaceId}::uuid`, compileAudience(audience)];
  if (rule) conditions.push(compileRule(rule, { workspaceId, now }));
  return Prisma.join(conditions, ' AND ');
}

/** PostgreSQL's query_canceled, which a statement timeout raises. */
const QUERY_CANCELED = '57014';

/**
 * Runs an API read of a selection (a count, a page of ids) on the pool whose statements PostgreSQL
 * stops after HERALD_SEGMENT_READ_TIMEOUT_MS: a rule can ask to read every contact's attributes
 * hundreds of times, minutes of PostgreSQL's time over a million contacts, and the dashboard
 * previews as one types. Past it the caller is told to narrow the rule. Campaigns and journeys
 * select in their own jobs, unbounded.
 */
async function boundedRead<T extends object>(herald: Herald, query: Prisma.Sql): Promise<T[]> {
  try {
    return (await herald.boundedPool.query<T>(query.text, query.values)).rows;
  } catch (error) {
    if ((error as { code?: string }).code !== QUERY_CANCELED) throw error;
    const timeoutMs = herald.config.HERALD_SEGMENT_READ_TIMEOUT_MS;
    throw ValidationError.field(['rule'], `took longer than ${timeoutMs} ms to evaluate over this workspace's contacts: narrow it (fewer conditions on attributes)`);
  }
}

export async function countContacts(herald: Herald, workspaceId: string, selection: Selection): Promise<number> {
  const [row] = await boundedRead<{ count: string }>(herald, Prisma.sql`SELECT count(*) AS count FROM "Contact" c WHERE ${selectionSql(workspaceId, selection)}`);
  return Number(row!.count);
}

/** Contact ids in id order after `afterId`: keyset paging, stable while contacts are added. */
export async function contactIdsPage(
  herald: Herald,
  workspaceId: string,
  selection: Selection,
  { afterId, limit }: { afterId?: string | null; limit: number },
): Promise<string[]> {
  const after = afterId ? Prisma.sql`AND c.id > ${afterId}::uuid` : Prisma.empty;
  const rows = await boundedRead<{ id: string }>(
    herald,
    Prisma.sql`SELECT c.id FROM "Contact" c WHERE ${selectionSql(workspaceId, selection)} ${after} ORDER BY c.id LIMIT ${limit}`,
  );
  return rows.map((row) => row.id);
}

/** One page of a selection's contacts in id order, with the relations a caller asks for loaded alongside. */
export async function contactsPage(
  herald: Herald,
  workspaceId: string,
  selection: Selection,
  page: { afterId?: string | null; limit: number },
  relations: { include?: Prisma.ContactInclude; select?: Prisma.ContactSelect } = {},
) {
  const ids = await contactIdsPage(herald, workspaceId, selection, page);
  return herald.prisma.contact.findMany({ ...relations, where: { id: { in: ids } }, orderBy: { id: 'asc' } });
}

const segmentInput = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  audience: z.enum(Audiences).default('ALL'),
});

export async function createSegment(herald: Herald, workspaceId: string, input: { name: string; rule: unknown; audience?: Audience | null }): Promise<Segment> {
  const parsed = segmentInput.safeParse({ name: input.name, audience: input.audience ?? undefined });
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const rule = validateRule(input.rule, ['input', 'rule']);
  return herald.prisma.segment.create({ data: { workspaceId, ...parsed.data, rule: rule as Prisma.InputJsonObject } });
}

export async function updateSegment(
  herald: Herald,
  workspaceId: string,
  id: string,
  input: { name?: string | null; rule?: unknown; audience?: Audience | null },
): Promise<Segment> {
  const segment = await getSegment(herald, workspaceId, id);
  const parsed = segmentInput.safeParse({ name: input.name ?? segment.name, audience: input.audience ?? segment.audience });
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const rule = input.rule == null ? undefined : (validateRule(input.rule, ['input', 'rule']) as Prisma.InputJsonObject);
  return herald.prisma.segment.update({ where: { id: segment.id }, data: { ...parsed.data, rule } });
}

/** Campaigns in these states still read their segment; it cannot be deleted under them. */
const SEGMENT_IN_USE = ['SCHEDULED', 'SENDING', 'ACTIVE', 'PAUSED'] as const;

/**
 * Deletes a segment no live campaign uses. Drafts and finished campaigns that named it keep its
 * rule as their own, so their audience still reads the same.
 */
export async function deleteSegment(herald: Herald, workspaceId: string, id: string): Promise<{ id: string }> {
  const segment = await getSegment(herald, workspaceId, id);
  await herald.prisma.$transaction(async (tx) => {
    // Lock the segment first: a campaign scheduled meanwhile waits for this to finish, then fails its segment check.
    await tx.$queryRaw`SELECT id FROM "Segment" WHERE id = ${segment.id}::uuid FOR UPDATE`;
    const live = await tx.campaign.findMany({ where: { segmentId: segment.id, status: { in: [...SEGMENT_IN_USE] } }, select: { name: true, status: true }, take: 3 });
    if (live.length) {
      const names = live.map((campaign) => `"${campaign.name}" (${campaign.status})`).join(', ');
      throw new ConflictError(`The segment is used by ${names}; pause and cancel those campaigns or change their audience first`, ErrorCode.segmentInUse);
    }
    const users = await tx.campaign.findMany({ where: { segmentId: segment.id }, select: { id: true, audienceRule: true } });
    for (const campaign of users) {
      const rules = [segment.rule, campaign.audienceRule].filter((rule) => rule != null) as Prisma.InputJsonObject[];
      const rule = rules.length === 1 ? rules[0]! : { and: rules };
      await tx.campaign.update({ where: { id: campaign.id }, data: { segmentId: null, audienceRule: rule } });
    }
    await tx.segment.delete({ where: { id: segment.id } });
  });
  return { id };
}

export async function getSegment(herald: Herald, workspaceId: string, id: string): Promise<Segment> {
  const segment = await herald.prisma.segment.findFirst({ where: { id, workspaceId } });
  if (!segment) throw new NotFoundError(ErrorCode.segmentNotFound, 'No segment with this id');
  return segment;
}

export function selectionOf(segment: Segment): Selection {
  return { rule: segment.rule as unknown as Rule, audience: segment.audience };
}
