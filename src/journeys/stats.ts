import type { Herald } from '../herald-context.ts';
import type { JourneyDefinition } from './definition.ts';
import { type SplitExperiment, splitExperiments } from './splits.ts';
import { definitionsOf } from './versions.ts';

export interface StepStats {
  key: string;
  entered: number;
  waiting: number;
  passed: number;
  sent: number;
}

export interface Figures {
  entered: number;
  active: number;
  completed: number;
  exited: number;
  converted: number;
  steps: StepStats[];
}

export interface JourneyStats extends Figures {
  journeyId: string;
  /** The same figures per published version that has enrolments (and the current one), newest first. */
  versions: (Figures & { version: number })[];
  /** Each split step of each version, reported as an experiment. */
  splits: SplitExperiment[];
  updatedAt: Date;
}

/**
 * A journey's figures in total and per version, from the enrolments and their paths. Per step (by
 * key, in the version's order, then keys only other versions had; the total follows the current
 * version): entered = arrived there, waiting = there now, passed = left it onwards (not by
 * exiting), sent = a message went. Contacts in flight count under the version they entered.
 */
export async function journeyStats(herald: Herald, journeyId: string): Promise<JourneyStats> {
  const [stats] = await journeyStatsMany(herald, [journeyId]);
  return stats!;
}

type Totals = Omit<Figures, 'steps'>;
type TotalsRow = Totals & { journeyId: string; version: number };
type PassedRow = { journeyId: string; version: number; step: string; left: number; passed: number; sent: number };
type WaitingRow = { journeyId: string; version: number; step: string; count: number };

/**
 * journeyStats for many journeys in the order asked, with the same few queries whatever their
 * number (the journey list reads its 100 rows' figures at once, through Journey.stats' loader).
 */
export async function journeyStatsMany(herald: Herald, journeyIds: readonly string[]): Promise<JourneyStats[]> {
  if (journeyIds.length === 0) return [];
  const ids = [...journeyIds];
  const totals = await herald.prisma.$queryRaw<TotalsRow[]>`
    SELECT "journeyId"::text AS "journeyId", version, count(*)::int AS entered, count(*) FILTER (WHERE status = 'ACTIVE')::int AS active,
      count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed, count(*) FILTER (WHERE status = 'EXITED')::int AS exited,
      count("convertedAt")::int AS converted
    FROM "JourneyEnrollment" WHERE "journeyId" = ANY(${ids}::uuid[]) GROUP BY 1, 2`;
  const passed = await herald.prisma.$queryRaw<PassedRow[]>`
    SELECT p."journeyId"::text AS "journeyId", en.version, p.step, count(*)::int AS left,
      count(*) FILTER (WHERE p.outcome NOT IN ('exited', 'merged'))::int AS passed, count(*) FILTER (WHERE p.outcome = 'sent')::int AS sent
    FROM "JourneyPathEntry" p JOIN "JourneyEnrollment" en ON en.id = p."enrollmentId" WHERE p."journeyId" = ANY(${ids}::uuid[]) GROUP BY 1, 2, 3`;
  const here = await herald.prisma.$queryRaw<WaitingRow[]>`
    SELECT "journeyId"::text AS "journeyId", version, step, count(*)::int
    FROM "JourneyEnrollment" WHERE "journeyId" = ANY(${ids}::uuid[]) AND status = 'ACTIVE' GROUP BY 1, 2, 3`;
  const journeys = await herald.prisma.journey.findMany({ where: { id: { in: ids } }, select: { id: true, version: true } });
  const current = new Map(journeys.map((journey) => [journey.id, journey.version]));

  const versionsOf = new Map<string, number[]>();
  for (const journeyId of ids) {
    const now = current.get(journeyId) ?? 0;
    const entered = totals.filter((row) => row.journeyId === journeyId).map((row) => row.version);
    versionsOf.set(journeyId, [...new Set([...entered, ...(now ? [now] : [])])].sort((a, b) => b - a));
  }
  const read = await definitionsOf(
    herald.prisma,
    [...versionsOf].flatMap(([journeyId, versions]) => versions.map((version) => ({ journeyId, version }))),
  );
  const definitions = new Map(
    [...versionsOf].map(([journeyId, versions]) => [
      journeyId,
      new Map(versions.flatMap((version) => (read.has(`${journeyId}:${version}`) ? [[version, read.get(`${journeyId}:${version}`)!] as const] : []))),
    ]),
  );
  const splits = await splitExperiments(herald.prisma, definitions);

  const updatedAt = new Date();
  return ids.map((journeyId) => {
    const mine = <T extends { journeyId: string; version: number }>(rows: T[], version?: number) =>
      rows.filter((row) => row.journeyId === journeyId && (version === undefined || row.version === version));
    const orderOf = (version: number) => definitions.get(journeyId)?.get(version)?.steps.map((step) => step.key) ?? [];
    return {
      journeyId,
      ...figures(orderOf(current.get(journeyId) ?? 0), sum(mine(totals)), mine(passed), mine(here)),
      versions: versionsOf.get(journeyId)!.map((version) => ({ version, ...figures(orderOf(version), sum(mine(totals, version)), mine(passed, version), mine(here, version)) })),
      splits: splits.get(journeyId) ?? [],
      updatedAt,
    };
  });
}

const ZERO: Totals = { entered: 0, active: 0, completed: 0, exited: 0, converted: 0 };

function sum(rows: Totals[]): Totals {
  return rows.reduce(
    (a, b) => ({ entered: a.entered + b.entered, active: a.active + b.active, completed: a.completed + b.completed, exited: a.exited + b.exited, converted: a.converted + b.converted }),
    ZERO,
  );
}

/** Per step: the version's keys in order, then any other key contacts passed or wait at. */
function figures(order: string[], counts: Totals, rows: PassedRow[], waitingRows: WaitingRow[]): Figures {
  const left = new Map<string, { left: number; passed: number; sent: number }>();
  for (const row of rows) {
    const total = left.get(row.step) ?? { left: 0, passed: 0, sent: 0 };
    left.set(row.step, { left: total.left + row.left, passed: total.passed + row.passed, sent: total.sent + row.sent });
  }
  const waiting = new Map<string, number>();
  for (const row of waitingRows) waiting.set(row.step, (waiting.get(row.step) ?? 0) + row.count);
  const keys = [...new Set([...order, ...left.keys(), ...waiting.keys()])];
  return {
    ...counts,
    steps: keys.map((key) => ({
      key,
      entered: (left.get(key)?.left ?? 0) + (waiting.get(key) ?? 0),
      waiting: waiting.get(key) ?? 0,
      passed: left.get(key)?.passed ?? 0,
      sent: left.get(key)?.sent ?? 0,
    })),
  };
}
