import { useMemo, useState } from 'react';
import { useQuery, useSubscription } from 'urql';
import { graphql } from '../generated/index.ts';
import { Link } from '../router.tsx';
import { TimeChart } from '../ui/chart.tsx';
import { count, dateTime, words } from '../ui/format.ts';

const OverviewQuery = graphql(`
  query Overview($from: DateTime!, $to: DateTime!, $interval: Interval!) {
    viewer { id name settings { timezone } }
    contacts(first: 1) { totalCount }
    segments(first: 1) { totalCount }
    live: campaigns(first: 1, status: [SENDING, ACTIVE, SCHEDULED]) { totalCount }
    analytics(from: $from, to: $to, interval: $interval) {
      timezone
      totals { sent displayed clicked conversions }
      buckets { start sent displayed clicked conversions }
    }
  }
`);

const Deliveries = graphql(`
  subscription OverviewDeliveries {
    deliveryEvents { type campaignId messageId contactId reason at }
  }
`);

const RANGES = {
  day: { label: 'Last 24 hours', hours: 24, interval: 'HOUR' },
  week: { label: 'Last 7 days', hours: 24 * 7, interval: 'DAY' },
  month: { label: 'Last 30 days', hours: 24 * 30, interval: 'DAY' },
} as const;
type Range = keyof typeof RANGES;

type Delivery = { type: string; campaignId: string; messageId: string; contactId: string; reason?: string | null; at: string };

/** The workspace at a glance: its figures over a range, the chart, and messages moving now. */
export function Overview() {
  const [range, setRange] = useState<Range>('week');
  // The window ends at the next hour so the current bucket is in it; it moves only with the range.
  const variables = useMemo(() => {
    const to = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000);
    const from = new Date(to.getTime() - RANGES[range].hours * 3_600_000);
    return { from: from.toISOString(), to: to.toISOString(), interval: RANGES[range].interval };
  }, [range]);
  const [{ data, error }, refetch] = useQuery({ query: OverviewQuery, variables });
  const [{ data: feed }] = useSubscription({ query: Deliveries }, (previous: Delivery[] = [], event) => {
    // Figures in the chart are refreshed a second after activity, however much of it there is.
    scheduleRefetch(() => refetch({ requestPolicy: 'network-only' }));
    return [event.deliveryEvents, ...previous].slice(0, 12);
  });

  const analytics = data?.analytics;
  const totals = analytics?.totals;
  const timeZone = analytics?.timezone;
  const series = useMemo(
    () =>
      analytics
        ? (['sent', 'displayed', 'clicked', 'conversions'] as const).map((key) => ({ label: words(key), values: analytics.buckets.map((bucket) => bucket[key]) }))
        : [],
    [analytics],
  );
  const times = useMemo(() => analytics?.buckets.map((bucket) => Date.parse(bucket.start)) ?? [], [analytics]);

  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      {error && <p className="problem">{error.message}</p>}
      <section aria-label="Workspace" className="figures">
        <Figure label="Contacts" value={data?.contacts.totalCount} to="/contacts" />
        <Figure label="Segments" value={data?.segments.totalCount} to="/segments" />
        <Figure label="Campaigns sending, active or scheduled" value={data?.live.totalCount} to="/campaigns" />
      </section>
      <section aria-labelledby="activity">
        <div className="section-head">
          <h2 id="activity">Messages</h2>
          <label>
            Range{' '}
            <select value={range} onChange={(event) => setRange(event.target.value as Range)}>
              {Object.entries(RANGES).map(([key, { label }]) => (
                <option key={key} value={key}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="figures" aria-live="polite">
          <Figure label="Sent" value={totals?.sent} />
          <Figure label="Displayed" value={totals?.displayed} />
          <Figure label="Clicked" value={totals?.clicked} />
          <Figure label="Conversions" value={totals?.conversions} />
        </div>
        {analytics && (
          <TimeChart
            times={times}
            series={series}
            timeZone={timeZone}
            summary={`Messages by ${words(analytics.buckets.length ? variables.interval : 'day')}, ${RANGES[range].label.toLowerCase()}: ${count(totals!.sent)} sent, ${count(totals!.displayed)} displayed, ${count(totals!.clicked)} clicked, ${count(totals!.conversions)} conversions.`}
          />
        )}
        {timeZone && <p className="hint">Buckets start at local midnight or the hour in the workspace’s zone, {timeZone}.</p>}
      </section>
      <section aria-labelledby="now">
        <h2 id="now">Happening now</h2>
        {!feed?.length ? (
          <p className="hint">Messages appear here the moment they are queued, sent, displayed or clicked.</p>
        ) : (
          <ol className="feed">
            {feed.map((event) => (
              <li key={`${event.messageId}-${event.type}`}>
                <span className={`badge ${event.type.toLowerCase()}`}>{words(event.type)}</span>{' '}
                <Link to={`/campaigns/${event.campaignId}`}>campaign</Link> → <Link to={`/contacts/${event.contactId}`}>contact</Link>
                {event.reason && <> ({words(event.reason)})</>} <time dateTime={event.at}>{dateTime(event.at, timeZone)}</time>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

let pending: ReturnType<typeof setTimeout> | undefined;
function scheduleRefetch(refetch: () => void) {
  if (pending) return;
  pending = setTimeout(() => {
    pending = undefined;
    refetch();
  }, 1000);
}

function Figure({ label, value, to }: { label: string; value: number | undefined; to?: string }) {
  const figure = <strong>{value === undefined ? '…' : count(value)}</strong>;
  return (
    <div className="figure">
      {figure}
      <span>{to ? <Link to={to}>{label}</Link> : label}</span>
    </div>
  );
}
