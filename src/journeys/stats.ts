import type { Herald } from '../herald-context.ts';
import type { JourneyDefinition } from './definition.ts';
import { definitionOf } from './versions.ts';

export interface JourneyStats {
  journeyId: string;
  entered: number;
  active: number;
  completed: number;
  exited: number;
  converted: number;
  steps: { key: string; entered: number; waiting: number; passed: number; sent: number }[];
  updatedAt: Date;
}

/**
 * A journey's figures over all its versions, from the enrolments and their paths. Per step (by
 * key, in the current version's order, then keys only older versions had): entered = arrived
 * there, waiting = there now, passed = left it onwards (not by exiting), sent = a message went.
 */
export async function journeyStats(herald: Herald, journeyId: string): Promise<JourneyStats> {
  const [totals] = await herald.prisma.$queryRaw<{ entered: number; active: number; completed: number; exited: number; converted: number }[]>`
    SELECT count(*)::int AS entered, count(*) FILTER (WHERE status = 'ACTIVE')::int AS active,
      count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed, count(*) FILTER (WHERE status = 'EXITED')::int AS exited,
      count("convertedAt")::int AS converted
    FROM "JourneyEnrollment" WHERE "journeyId" = ${journeyId}::uuid`;
  const passed = await herald.prisma.$queryRaw<{ step: string; left: number; passed: number; sent: number }[]>`
    SELECT step, count(*)::int AS left, count(*) FILTER (WHERE outcome <> 'exited')::int AS passed, count(*) FILTER (WHERE outcome = 'sent')::int AS sent
    FROM "JourneyPathEntry" WHERE "journeyId" = ${journeyId}::uuid GROUP BY step`;
  const here = await herald.prisma.$queryRaw<{ step: string; count: number }[]>`
    SELECT step, count(*)::int FROM "JourneyEnrollment" WHERE "journeyId" = ${journeyId}::uuid AND status = 'ACTIVE' GROUP BY step`;
  const journey = await herald.prisma.journey.findUnique({ where: { id: journeyId }, select: { version: true } });
  const current: JourneyDefinition | null = journey?.version ? await definitionOf(herald.prisma, journeyId, journey.version) : null;
  const keys = [...new Set([...(current?.steps.map((step) => step.key) ?? []), ...passed.map((row) => row.step), ...here.map((row) => row.step)])];
  const left = new Map(passed.map((row) => [row.step, row]));
  const waiting = new Map(here.map((row) => [row.step, row.count]));
  return {
    journeyId,
    ...totals!,
    steps: keys.map((key) => ({
      key,
      entered: (left.get(key)?.left ?? 0) + (waiting.get(key) ?? 0),
      waiting: waiting.get(key) ?? 0,
      passed: left.get(key)?.passed ?? 0,
      sent: left.get(key)?.sent ?? 0,
    })),
    updatedAt: new Date(),
  };
}
