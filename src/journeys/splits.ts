import { rateInterval } from '../analytics/sequential.ts';
import { type ExperimentMetric, judgeArms } from '../campaigns/experiment.ts';
import type { Prisma } from '../db/prisma.ts';
import type { JourneyDefinition, SplitStep } from './definition.ts';

type Db = Prisma.TransactionClient;

export interface SplitPathResult {
  name: string;
  percent: number;
  /** Enrolments that took the path: the trials. */
  contacts: number;
  /** Of them, those a message went to (SENT) from a send step after the split; likewise shown, opened, clicked. */
  sent: number;
  displayed: number;
  opened: number;
  clicked: number;
  /** Of them, those converted (the journey's goal) after passing the split. */
  conversions: number;
  /** `metric` per contact on the path. */
  rate: number;
  /** An always-valid interval for `rate`. */
  interval: [number, number];
}

export interface SplitExperiment {
  version: number;
  step: string;
  metric: ExperimentMetric;
  paths: SplitPathResult[];
  /** The best other path against the first, as a campaign's variants (campaigns/experiment.ts). */
  lift: number | null;
  interval: [number, number] | null;
  probabilityToBeatControl: number | null;
  significant: boolean;
  winner: string | null;
}

/**
 * Each split step of each version of each journey as an experiment, per journey id (one query for
 * all the journeys asked), read like a campaign's (judgeArms, the same
 * always-valid statistics): a path's trials are the contacts who took it, so a path that sends
 * nothing is a holdout; its successes are conversions of the journey's goal after the split when
 * the journey has one, else clicks on a message sent after it. Per version, since a new version
 * may change the paths.
 */
export async function splitExperiments(db: Db, definitions: Map<string, Map<number, JourneyDefinition>>): Promise<Map<string, SplitExperiment[]>> {
  const splits = [...definitions].flatMap(([journeyId, versions]) =>
    [...versions].flatMap(([version, definition]) =>
      definition.steps.filter((step): step is SplitStep => step.kind === 'split').map((step) => ({ journeyId, version, step, goal: definition.goal != null })),
    ),
  );
  const byJourney = new Map<string, SplitExperiment[]>([...definitions.keys()].map((journeyId) => [journeyId, []]));
  if (splits.length === 0) return byJourney;
  const journeyIds = [...new Set(splits.map((split) => split.journeyId))];
  const rows = await db.$queryRaw<{ journeyId: string; version: number; step: string; path: string; contacts: number; sent: number; displayed: number; opened: number; clicked: number; conversions: number }[]>`
    WITH split AS (
      SELECT p."enrollmentId" AS id, p."journeyId", en.version, p.step, p.outcome AS path, p.seq, p."passedAt", en."convertedAt"
      FROM "JourneyPathEntry" p JOIN "JourneyEnrollment" en ON en.id = p."enrollmentId"
      WHERE p."journeyId" = ANY(${journeyIds}::uuid[]) AND p.step = ANY(${[...new Set(splits.map((split) => split.step.key))]}::text[])
    ), after AS (
      SELECT s.id, s.step, bool_or(m.status = 'SENT') AS sent, bool_or(m."displayedAt" IS NOT NULL) AS displayed,
        bool_or(m."openedAt" IS NOT NULL) AS opened, bool_or(m."clickedAt" IS NOT NULL) AS clicked
      FROM split s
      JOIN "JourneyPathEntry" later ON later."enrollmentId" = s.id AND later.seq > s.seq AND later.outcome = 'sent'
      JOIN "Campaign" k ON k."journeyId" = s."journeyId" AND k."journeyVersion" = s.version AND k."journeyStep" = later.step
      JOIN "Message" m ON m."campaignId" = k.id AND m.occurrence = 'journey:' || s.id::text AND NOT m.test
      GROUP BY 1, 2
    )
    SELECT s."journeyId"::text AS "journeyId", s.version, s.step, s.path, count(*)::int AS contacts,
      count(*) FILTER (WHERE a.sent)::int AS sent, count(*) FILTER (WHERE a.displayed)::int AS displayed,
      count(*) FILTER (WHERE a.opened)::int AS opened, count(*) FILTER (WHERE a.clicked)::int AS clicked,
      count(*) FILTER (WHERE s."convertedAt" >= s."passedAt")::int AS conversions
    FROM split s LEFT JOIN after a ON a.id = s.id AND a.step = s.step
    GROUP BY 1, 2, 3, 4`;
  const counted = new Map(rows.map((row) => [`${row.journeyId}/${row.version}/${row.step}/${row.path}`, row]));
  for (const { journeyId, version, step, goal } of splits) {
    const metric: ExperimentMetric = goal ? 'CONVERSIONS' : 'CLICKS';
    const paths = step.paths.map((path): SplitPathResult => {
      const row = counted.get(`${journeyId}/${version}/${step.key}/${path.name}`) ?? { contacts: 0, sent: 0, displayed: 0, opened: 0, clicked: 0, conversions: 0 };
      const arm = { successes: metric === 'CONVERSIONS' ? row.conversions : row.clicked, trials: row.contacts };
      const { contacts, sent, displayed, opened, clicked, conversions } = row;
      return { name: path.name, percent: path.percent, contacts, sent, displayed, opened, clicked, conversions, rate: contacts ? arm.successes / contacts : 0, interval: rateInterval(arm) };
    });
    const { versus, winner } = judgeArms(paths.map((path) => ({ name: path.name, successes: metric === 'CONVERSIONS' ? path.conversions : path.clicked, trials: path.contacts })));
    byJourney.get(journeyId)!.push({ version, step: step.key, metric, paths, ...versus, winner });
  }
  return byJourney;
}
