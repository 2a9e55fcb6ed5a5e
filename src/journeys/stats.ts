import type { Herald } from '../herald-context.ts';
import type { JourneyDefinition } from './definition.ts';
import { type SplitExperiment, splitExperiments } from './splits.ts';
import { definitionOf } from './versions.ts';

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

type Totals = Omit<Figures, 'steps'>;
const ZERO: Totals = { entered: 0, active: 0, completed: 0, exited: 0, converted: 0 };

/**
 * A journey's figures in total and per version, from the enrolments and their paths. Per step (by
 * key, in the version's order, then keys only other versions had; the total follows the current
 * version): entered = arrived there, waiting = there now, passed = left it onwards (not by
 * exiting), sent = a message went. Contacts in flight count under the version they entered.
 */
export async function journeyStats(herald: Herald, journeyId: string): Promise<JourneyStats> {
  const totals = await herald.prisma.$queryRaw<(Totals & { version: number })[]>`
    SELECT version, count(*)::int AS entered, count(*) FILTER (WHERE status = 'ACTIVE')::int AS active,
      count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed, count(*) FILTER (WHERE status = 'EXITED')::int AS exited,
      count("convertedAt")::int AS converted
    FROM "JourneyEnrollment" WHERE "journeyId" = ${journeyId}::uuid GROUP BY version`;
  const passed = await herald.prisma.$queryRaw<{ version: number; step: string; left: number; passed: number; sent: number }[]>`
    SELECT en.version, p.step, count(*)::int AS left, count(*) FILTER (WHERE p.outcome <> 'exited')::int AS passed, count(*) FILTER (WHERE p.outcome = 'sent')::int AS sent
    FROM "JourneyPathEntry" p JOIN "JourneyEnrollment" en ON en.id = p."enrollmentId" WHERE p."journeyId" = ${journeyId}::uuid GROUP BY 1, 2`;
  const here = await herald.prisma.$queryRaw<{ version: number; step: string; count: number }[]>`
    SELECT version, step, count(*)::int FROM "JourneyEnrollment" WHERE "journeyId" = ${journeyId}::uuid AND status = 'ACTIVE' GROUP BY 1, 2`;
  const journey = await herald.prisma.journey.findUnique({ where: { id: journeyId }, select: { version: true } });
  const current = journey?.version ?? 0;

  const versions = [...new Set([...totals.map((row) => row.version), ...(current ? [current] : [])])].sort((a, b) => b - a);
  const definitions = new Map<number, JourneyDefinition>();
  for (const version of versions) definitions.set(version, await definitionOf(herald.prisma, journeyId, version));

  const figures = (order: string[], counts: Totals, rows: typeof passed, waitingRows: typeof here): Figures => {
    const left = new Map<string, { left: number; passed: number; sent: number }>();
    for (const row of rows) {
      const sum = left.get(row.step) ?? { left: 0, passed: 0, sent: 0 };
      left.set(row.step, { left: sum.left + row.left, passed: sum.passed + row.passed, sent: sum.sent + row.sent });
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
  };
  const orderOf = (version: number) => definitions.get(version)?.steps.map((step) => step.key) ?? [];
  const sum = (rows: Totals[]): Totals =>
    rows.reduce(
      (a, b) => ({ entered: a.entered + b.entered, active: a.active + b.active, completed: a.completed + b.completed, exited: a.exited + b.exited, converted: a.converted + b.converted }),
      ZERO,
    );
  return {
    journeyId,
    ...figures(orderOf(current), sum(totals), passed, here),
    versions: versions.map((version) => ({
      version,
      ...figures(
        orderOf(version),
        sum(totals.filter((row) => row.version === version)),
        passed.filter((row) => row.version === version),
        here.filter((row) => row.version === version),
      ),
    })),
    splits: await splitExperiments(herald.prisma, journeyId, definitions),
    updatedAt: new Date(),
  };
}
