import { ValidationError } from '../errors.ts';
import type { Herald } from '../herald-context.ts';

export const Intervals = ['HOUR', 'DAY', 'WEEK', 'MONTH'] as const;
export type Interval = (typeof Intervals)[number];

export interface AnalyticsBucket {
  start: Date;
  sent: number;
  displayed: number;
  clicked: number;
  conversions: number;
}

export interface WorkspaceAnalytics {
  from: Date;
  to: Date;
  interval: Interval;
  timezone: string;
  buckets: AnalyticsBucket[];
}

const MAX_BUCKETS = 1000;
const HOURS: Record<Interval, number> = { HOUR: 1, DAY: 24, WEEK: 168, MONTH: 672 };

/**
 * Sent, displayed, clicked and converted messages per hour, day, week or month of the workspace's
 * time zone, each counted when it happened (a push sent Monday and clicked Tuesday is a Tuesday click).
 */
export async function workspaceAnalytics(herald: Herald, workspaceId: string, from: Date, to: Date, interval: Interval): Promise<WorkspaceAnalytics> {
  if (!(to > from)) throw ValidationError.field(['to'], 'must be after from');
  if ((to.getTime() - from.getTime()) / 3600_000 / HOURS[interval] > MAX_BUCKETS) {
    throw ValidationError.field(['interval'], `at most ${MAX_BUCKETS} buckets: choose a longer interval or a shorter range`);
  }
  const { timezone } = await herald.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: { timezone: true } });
  const unit = interval.toLowerCase();
  const step = `1 ${unit}`;
  const fact = (column: string) => `SELECT '${column}' AS kind, "${column}" AS ts FROM "Message"
      WHERE "workspaceId" = $1::uuid AND NOT test AND "${column}" >= $2 AND "${column}" < $3`;
  const { rows } = await herald.pool.query<AnalyticsBucket>(
    // Bucket starts are instants truncated in the zone, as each fact's: hours step by real hours (on
    // a day the clocks change a wall-clock series would skip or repeat one), longer intervals by the
    // zone's calendar, each wall-clock start made an instant and truncated again (a midnight the
    // clocks skip). Not generate_series' time-zone form: PostgreSQL 15 has none.
    `WITH buckets AS (
       SELECT DISTINCT date_trunc($5, b, $4::text) AS start FROM (
         SELECT generate_series(date_trunc('hour', $2::timestamptz, $4::text), $3::timestamptz - interval '1 millisecond', interval '1 hour') AS b WHERE $5 = 'hour'
         UNION ALL
         SELECT local AT TIME ZONE $4 FROM generate_series(date_trunc($5, $2::timestamptz AT TIME ZONE $4), $3::timestamptz AT TIME ZONE $4 - interval '1 millisecond', $6::interval) local WHERE $5 <> 'hour'
       ) series
     ), facts AS (
       SELECT date_trunc($5, ts, $4::text) AS start, kind FROM (
         ${fact('sentAt')} UNION ALL ${fact('displayedAt')} UNION ALL ${fact('clickedAt')} UNION ALL ${fact('convertedAt')}
       ) f
     )
     SELECT b.start,
       count(*) FILTER (WHERE kind = 'sentAt')::int AS sent,
       count(*) FILTER (WHERE kind = 'displayedAt')::int AS displayed,
       count(*) FILTER (WHERE kind = 'clickedAt')::int AS clicked,
       count(*) FILTER (WHERE kind = 'convertedAt')::int AS conversions
     FROM buckets b LEFT JOIN facts f USING (start)
     GROUP BY b.start ORDER BY b.start`,
    [workspaceId, from, to, timezone, unit, step],
  );
  return { from, to, interval, timezone, buckets: rows };
}

export interface WorkspaceStats {
  workspaceId: string;
  activeApiKeys: number;
  updatedAt: Date;
}

/** The live figures of a workspace's dashboard. */
export async function workspaceStats(herald: Herald, workspaceId: string): Promise<WorkspaceStats> {
  const activeApiKeys = await herald.prisma.apiKey.count({ where: { workspaceId, revokedAt: null } });
  return { workspaceId, activeApiKeys, updatedAt: new Date() };
}
