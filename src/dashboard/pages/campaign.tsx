import { useMemo, useRef, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../generated/index.ts';
import type { CampaignStatsLiveSubscription } from '../generated/graphql.ts';
import { Link, navigate } from '../router.tsx';
import { TimeChart } from '../ui/chart.tsx';
import { count, dateTime, rate, words } from '../ui/format.ts';
import { outcome, type Problem } from '../ui/outcome.ts';
import { ProblemBox } from '../ui/form.tsx';
import { ExperimentPanel } from '../campaigns/experiment-panel.tsx';
import { FeedbackPanel } from '../campaigns/feedback-panel.tsx';
import { CampaignMessages } from './campaign-messages.tsx';
import { ScheduleForm, TestSend } from './campaign-actions.tsx';

const CampaignQuery = graphql(`
  query CampaignPage($id: ID!) {
    viewer { id settings { timezone } }
    campaign(id: $id) {
      id name kind channel status createdAt startedAt completedAt activeUntil warnings frequencyCapped
      schedule { sendAt localTime }
      audience { type rule segment { id name } }
      content { title body url imageUrl iconUrl actions { action title } question { kind text } }
      email { subject preheader question { kind text } }
      inApp { layout title body buttons { label url } question { kind text } }
      sms { body segments worstCaseSegments }
      trigger { event delaySeconds exceptionEvents reEligibleAfterSeconds }
      deliveryWindow { start end }
      conversion { event withinSeconds }
      holdoutPercent
      variants { name }
    }
  }
`);

const StatsLive = graphql(`
  subscription CampaignStatsLive($id: ID!, $experiment: Boolean!) {
    campaignStats(campaignId: $id) {
      targeted queued sent failed expired suppressed displayed clicked closed conversions
      clickRate conversionRate updatedAt responses nps
      suppressedBy { reason count }
      answers { kind answer count }
      experiment @include(if: $experiment) {
        metric
        variants { name sent displayed clicked conversions rate interval }
        holdout { size conversions rate }
        lift interval probabilityToBeatControl significant winner
      }
    }
  }
`);

const Move = graphql(`
  mutation CampaignMove($id: ID!, $send: Boolean!, $activate: Boolean!, $pause: Boolean!, $resume: Boolean!, $cancel: Boolean!, $archive: Boolean!, $duplicate: Boolean!) {
    sendCampaignNow(input: { id: $id }) @include(if: $send) { __typename ...MoveResult ... on MutationSendCampaignNowSuccess { data { id status } } }
    activateCampaign(input: { id: $id }) @include(if: $activate) { __typename ...MoveResult ... on MutationActivateCampaignSuccess { data { id status } } }
    pauseCampaign(input: { id: $id }) @include(if: $pause) { __typename ...MoveResult ... on MutationPauseCampaignSuccess { data { id status } } }
    resumeCampaign(input: { id: $id }) @include(if: $resume) { __typename ...MoveResult ... on MutationResumeCampaignSuccess { data { id status } } }
    cancelCampaign(input: { id: $id }) @include(if: $cancel) { __typename ...MoveResult ... on MutationCancelCampaignSuccess { data { id status } } }
    archiveCampaign(input: { id: $id }) @include(if: $archive) { __typename ...MoveResult ... on MutationArchiveCampaignSuccess { data { id status } } }
    duplicateCampaign(input: { id: $id }) @include(if: $duplicate) { __typename ...MoveResult ... on MutationDuplicateCampaignSuccess { data { id status } } }
  }
`);

graphql(`
  fragment MoveResult on Error { message ... on ValidationError { fieldErrors { path message } } }
`);

type Stats = CampaignStatsLiveSubscription['campaignStats'];
type MoveName = 'send' | 'activate' | 'pause' | 'resume' | 'cancel' | 'archive' | 'duplicate';
const MOVES: Record<MoveName, { label: string; field: string; from: string[]; kind?: string }> = {
  send: { label: 'Send now', field: 'sendCampaignNow', from: ['DRAFT', 'SCHEDULED'], kind: 'BROADCAST' },
  activate: { label: 'Activate', field: 'activateCampaign', from: ['DRAFT'], kind: 'TRIGGERED' },
  pause: { label: 'Pause', field: 'pauseCampaign', from: ['SCHEDULED', 'SENDING', 'ACTIVE'] },
  resume: { label: 'Resume', field: 'resumeCampaign', from: ['PAUSED'] },
  cancel: { label: 'Cancel', field: 'cancelCampaign', from: ['SCHEDULED', 'SENDING', 'ACTIVE', 'PAUSED'] },
  archive: { label: 'Archive', field: 'archiveCampaign', from: ['SENT', 'CANCELED', 'DRAFT'] },
  duplicate: { label: 'Duplicate', field: 'duplicateCampaign', from: ['DRAFT', 'SCHEDULED', 'SENDING', 'SENT', 'ACTIVE', 'PAUSED', 'CANCELED', 'ARCHIVED'] },
};

/** One campaign: what it sends to whom, its live funnel and suppressions, and every message. */
export function CampaignPage({ id }: { id: string }) {
  const [{ data, error }, refetch] = useQuery({ query: CampaignQuery, variables: { id } });
  // Every snapshot the subscription brings, for the chart: counts since this page opened.
  const history = useRef<{ at: number; stats: Stats }[]>([]);
  // While it sends, its status moves with its counts: each snapshot reads it again (≤ 10/s).
  const status = useRef<string | undefined>(undefined);
  status.current = data?.campaign?.status;
  // The experiment is read with each snapshot only for a campaign that has one; the subscription
  // waits for the campaign to know.
  const experiment = Boolean(data?.campaign && (data.campaign.variants.length > 0 || data.campaign.holdoutPercent > 0));
  const [{ data: live }] = useSubscription({ query: StatsLive, variables: { id, experiment }, pause: !data }, (_previous, next) => {
    history.current = [...history.current, { at: Date.now(), stats: next.campaignStats }].slice(-600);
    if (status.current === 'SENDING' || status.current === 'SCHEDULED') refetch({ requestPolicy: 'network-only' });
    return next;
  });
  const [moving, move] = useMutation(Move);
  const [problem, setProblem] = useState<Problem>();

  const campaign = data?.campaign;
  const stats = live?.campaignStats;
  const timeZone = data?.viewer.settings.timezone;
  if (error) return <p className="problem">{error.message}</p>;
  if (data && !campaign) {
    return (
      <>
        <h1 tabIndex={-1}>Campaign not found</h1>
        <Link to="/campaigns">All campaigns</Link>
      </>
    );
  }
  if (!campaign) return <p aria-busy="true">Loading…</p>;

  const act = async (name: MoveName) => {
    setProblem(undefined);
    const flags = Object.fromEntries(Object.keys(MOVES).map((key) => [key, key === name]));
    const result = outcome(await move({ id, ...flags } as never), MOVES[name].field);
    if (result.problem) return setProblem(result.problem);
    const moved = result.data as { id: string };
    if (name === 'duplicate') navigate(`/campaigns/${moved.id}/edit`);
    else refetch({ requestPolicy: 'network-only' });
  };
  const moves = (Object.keys(MOVES) as MoveName[]).filter((name) => MOVES[name].from.includes(campaign.status) && (!MOVES[name].kind || MOVES[name].kind === campaign.kind));
  const editable = campaign.status === 'DRAFT' || campaign.status === 'SCHEDULED';

  return (
    <>
      <p className="crumbs">
        <Link to="/campaigns">Campaigns</Link> /
      </p>
      <div className="section-head">
        <h1 tabIndex={-1}>{campaign.name}</h1>
        <span className={`badge ${campaign.status.toLowerCase()}`} aria-live="polite">
          {words(campaign.status)}
        </span>
      </div>
      <div className="toolbar" role="group" aria-label="Campaign actions">
        {editable && (
          <Link className="button quiet" to={`/campaigns/${id}/edit`}>
            Edit
          </Link>
        )}
        {moves.map((name) => (
          <button key={name} type="button" className={name === 'send' || name === 'activate' ? '' : 'quiet'} disabled={moving.fetching} onClick={() => act(name)}>
            {MOVES[name].label}
          </button>
        ))}
      </div>
      <ProblemBox problem={problem} />
      {campaign.warnings.length > 0 && (
        <ul className="notice">
          {campaign.warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      )}
      <Funnel stats={stats} />
      <FeedbackPanel question={campaign.content?.question ?? campaign.email?.question ?? campaign.inApp?.question} stats={stats} />
      <ExperimentPanel experiment={stats?.experiment} />
      <section aria-labelledby="over-time">
        <h2 id="over-time">Over time</h2>
        {history.current.length > 1 ? (
          <LiveChart points={history.current} timeZone={timeZone} />
        ) : (
          <p className="hint">The chart follows the counts live from when this page opened.</p>
        )}
      </section>
      <Suppressions stats={stats} />
      <section aria-labelledby="details">
        <h2 id="details">Details</h2>
        <dl className="details">
          <dt>Kind</dt>
          <dd>
            {words(campaign.kind)} · {words(campaign.channel)}
          </dd>
          <dt>Audience</dt>
          <dd>
            {campaign.audience.segment ? <Link to={`/segments/${campaign.audience.segment.id}`}>{campaign.audience.segment.name}</Link> : 'Everyone'}
            {campaign.audience.rule ? ' and its own rule' : ''} ({words(campaign.audience.type)} contacts)
          </dd>
          {campaign.content && (
            <>
              <dt>Notification</dt>
              <dd>
                <strong>{campaign.content.title}</strong> {campaign.content.body} → {campaign.content.url}
              </dd>
            </>
          )}
          {campaign.email && (
            <>
              <dt>Email</dt>
              <dd>{campaign.email.subject}</dd>
            </>
          )}
          {campaign.inApp && (
            <>
              <dt>On-site message</dt>
              <dd data-testid="in-app-details">
                {words(campaign.inApp.layout)}: <strong>{campaign.inApp.title}</strong> {campaign.inApp.body}
                {campaign.inApp.buttons.map((button) => ` [${button.label} → ${button.url}]`).join('')}
              </dd>
            </>
          )}
          {campaign.sms && (
            <>
              <dt>SMS</dt>
              <dd data-testid="sms-details">
                {campaign.sms.body} ({campaign.sms.segments} segment{campaign.sms.segments === 1 ? '' : 's'} as written, at most {campaign.sms.worstCaseSegments} rendered)
              </dd>
            </>
          )}
          {campaign.trigger && (
            <>
              <dt>Trigger</dt>
              <dd>
                {campaign.trigger.event}, after {campaign.trigger.delaySeconds} s
                {campaign.trigger.exceptionEvents.length > 0 && `, unless ${campaign.trigger.exceptionEvents.join(', ')}`}
              </dd>
            </>
          )}
          <dt>Schedule</dt>
          <dd>
            {campaign.schedule?.sendAt ? `${dateTime(campaign.schedule.sendAt, timeZone)}${campaign.schedule.localTime ? ' in each recipient’s zone' : ''}` : 'Not scheduled'}
          </dd>
          {campaign.deliveryWindow && (
            <>
              <dt>Delivery window</dt>
              <dd>
                {campaign.deliveryWindow.start}–{campaign.deliveryWindow.end}, recipient’s time
              </dd>
            </>
          )}
          <dt>Started</dt>
          <dd>{dateTime(campaign.startedAt, timeZone)}</dd>
          <dt>Completed</dt>
          <dd>{dateTime(campaign.completedAt, timeZone)}</dd>
        </dl>
      </section>
      {editable && campaign.kind === 'BROADCAST' && <ScheduleForm id={id} onDone={() => refetch({ requestPolicy: 'network-only' })} />}
      <TestSend campaignId={id} />
      <CampaignMessages campaignId={id} timeZone={timeZone} live={stats?.updatedAt} />
    </>
  );
}

const STEPS = [
  ['targeted', 'Targeted'],
  ['sent', 'Sent'],
  ['displayed', 'Displayed'],
  ['clicked', 'Clicked'],
  ['conversions', 'Converted'],
] as const;

/** targeted → sent → displayed → clicked → converted, each as a share of the step before. */
function Funnel({ stats }: { stats?: Stats }) {
  return (
    <section aria-labelledby="funnel">
      <h2 id="funnel">Funnel</h2>
      <ol className="funnel" aria-live="polite">
        {STEPS.map(([key, label], index) => {
          const value = stats?.[key];
          const before = index > 0 && stats ? stats[STEPS[index - 1]![0]] : undefined;
          const width = stats && stats.targeted ? Math.max(2, (100 * (value ?? 0)) / stats.targeted) : 0;
          return (
            <li key={key} data-step={key}>
              <span className="step">{label}</span>
              <strong data-testid={`funnel-${key}`}>{value === undefined ? '…' : count(value)}</strong>
              <span className="bar" aria-hidden="true">
                <span style={{ width: `${width}%` }} />
              </span>
              <span className="share">{before ? rate((value ?? 0) / before) : ''}</span>
            </li>
          );
        })}
      </ol>
      {stats && (
        <p className="hint">
          {count(stats.queued)} waiting · {count(stats.failed)} failed · {count(stats.expired)} expired · {count(stats.closed)} closed · click rate {rate(stats.clickRate)} ·
          conversion rate {rate(stats.conversionRate)}
        </p>
      )}
    </section>
  );
}

function Suppressions({ stats }: { stats?: Stats }) {
  if (!stats) return null;
  return (
    <section aria-labelledby="suppressed">
      <h2 id="suppressed">Not sent: {count(stats.suppressed)} suppressed</h2>
      {stats.suppressedBy.length === 0 ? (
        <p className="hint">Nobody was held back.</p>
      ) : (
        <table className="list compact">
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col" className="num">
                Contacts
              </th>
            </tr>
          </thead>
          <tbody>
            {stats.suppressedBy.map(({ reason, count: n }) => (
              <tr key={reason}>
                <td>{words(reason)}</td>
                <td className="num">{count(n)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function LiveChart({ points, timeZone }: { points: { at: number; stats: Stats }[]; timeZone?: string }) {
  const times = useMemo(() => points.map((point) => point.at), [points]);
  const series = useMemo(
    () => (['sent', 'displayed', 'clicked', 'conversions'] as const).map((key) => ({ label: words(key), values: points.map((point) => point.stats[key]) })),
    [points],
  );
  const last = points.at(-1)!.stats;
  return (
    <TimeChart
      times={times}
      series={series}
      timeZone={timeZone}
      height={200}
      summary={`Since this page opened: ${count(last.sent)} sent, ${count(last.displayed)} displayed, ${count(last.clicked)} clicked, ${count(last.conversions)} converted.`}
    />
  );
}
