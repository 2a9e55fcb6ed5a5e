import { useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../generated/index.ts';
import type { JourneyPageQuery } from '../generated/graphql.ts';
import { JourneyGraph } from '../journeys/graph.tsx';
import { describe, edgesOf, kindOf, stepsOf } from '../journeys/steps.ts';
import { Link } from '../router.tsx';
import { ProblemBox } from '../ui/form.tsx';
import { count, dateTime, words } from '../ui/format.ts';
import { outcome, type Problem } from '../ui/outcome.ts';
import { Backtest } from './journey-backtest.tsx';

const JourneyQuery = graphql(`
  query JourneyPage($id: ID!) {
    viewer { id settings { timezone } }
    journey(id: $id) {
      id name status version createdAt updatedAt entry steps draft
      stats { journeyId entered active completed exited converted updatedAt steps { key entered waiting passed sent } }
    }
  }
`);

const StatsLive = graphql(`
  subscription JourneyStatsLive($journeyId: ID!) {
    journeyStats(journeyId: $journeyId) {
      journeyId entered active completed exited converted updatedAt
      steps { key entered waiting passed sent }
    }
  }
`);

const Move = graphql(`
  mutation JourneyMove($id: ID!, $publish: Boolean!, $pause: Boolean!, $resume: Boolean!, $archive: Boolean!) {
    publishJourney(input: { id: $id }) @include(if: $publish) { __typename ...MoveResult ... on MutationPublishJourneySuccess { data { id status version } } }
    pauseJourney(input: { id: $id }) @include(if: $pause) { __typename ...MoveResult ... on MutationPauseJourneySuccess { data { id status } } }
    resumeJourney(input: { id: $id }) @include(if: $resume) { __typename ...MoveResult ... on MutationResumeJourneySuccess { data { id status } } }
    archiveJourney(input: { id: $id }) @include(if: $archive) { __typename ...MoveResult ... on MutationArchiveJourneySuccess { data { id status } } }
  }
`);

type MoveName = 'publish' | 'pause' | 'resume' | 'archive';
const MOVES: Record<MoveName, { label: string; field: string; from: string[] }> = {
  publish: { label: 'Publish', field: 'publishJourney', from: ['DRAFT', 'ACTIVE', 'PAUSED'] },
  pause: { label: 'Pause', field: 'pauseJourney', from: ['ACTIVE'] },
  resume: { label: 'Resume', field: 'resumeJourney', from: ['PAUSED'] },
  archive: { label: 'Archive', field: 'archiveJourney', from: ['DRAFT', 'ACTIVE', 'PAUSED'] },
};

type Stats = NonNullable<JourneyPageQuery['journey']>['stats'];

/** One journey: its steps as a flow with live per-step counts, its actions, and a backtest. */
export function JourneyPage({ id }: { id: string }) {
  const [{ data, error }, refetch] = useQuery({ query: JourneyQuery, variables: { id } });
  const [{ data: live }] = useSubscription({ query: StatsLive, variables: { journeyId: id } });
  const [moving, move] = useMutation(Move);
  const [problem, setProblem] = useState<Problem>();

  const journey = data?.journey;
  if (error) return <p className="problem">{error.message}</p>;
  if (data && !journey) {
    return (
      <>
        <h1 tabIndex={-1}>Journey not found</h1>
        <Link to="/journeys">All journeys</Link>
      </>
    );
  }
  if (!journey) return <p aria-busy="true">Loading…</p>;
  const stats: Stats = live?.journeyStats ?? journey.stats;
  const timeZone = data.viewer.settings.timezone;

  const act = async (name: MoveName) => {
    setProblem(undefined);
    const flags = Object.fromEntries(Object.keys(MOVES).map((key) => [key, key === name]));
    const result = outcome(await move({ id, ...flags } as never), MOVES[name].field);
    if (result.problem) return setProblem(result.problem);
    refetch({ requestPolicy: 'network-only' });
  };
  const moves = (Object.keys(MOVES) as MoveName[]).filter((name) => MOVES[name].from.includes(journey.status));

  return (
    <>
      <p className="crumbs">
        <Link to="/journeys">Journeys</Link> /
      </p>
      <div className="section-head">
        <h1 tabIndex={-1}>{journey.name}</h1>
        <span className={`badge ${journey.status.toLowerCase()}`} aria-live="polite">
          {words(journey.status)}
        </span>
      </div>
      <div className="toolbar" role="group" aria-label="Journey actions">
        {journey.status !== 'ARCHIVED' && (
          <Link className="button quiet" to={`/journeys/${id}/edit`}>
            Edit draft
          </Link>
        )}
        {moves.map((name) => (
          <button key={name} type="button" className={name === 'publish' ? '' : 'quiet'} disabled={moving.fetching} onClick={() => act(name)}>
            {name === 'publish' && journey.version > 0 ? 'Publish the draft as a new version' : MOVES[name].label}
          </button>
        ))}
      </div>
      <ProblemBox problem={problem} />
      <section aria-label="Contacts in this journey" className="figures" aria-live="polite">
        {(
          [
            ['entered', 'Entered'],
            ['active', 'In it now'],
            ['completed', 'Completed'],
            ['exited', 'Exited'],
            ['converted', 'Converted'],
          ] as const
        ).map(([key, label]) => (
          <div className="figure" key={key}>
            <strong data-testid={`journey-${key}`}>{count(stats[key])}</strong>
            <span>{label}</span>
          </div>
        ))}
      </section>
      <Flow steps={journey.steps} stats={stats} />
      <section aria-labelledby="journey-details">
        <h2 id="journey-details">Details</h2>
        <dl className="details">
          <dt>Entry</dt>
          <dd>{entryText(journey.entry)}</dd>
          <dt>Version</dt>
          <dd>{journey.version ? `${journey.version} (contacts enter this one)` : 'Not published yet'}</dd>
          <dt>Changed</dt>
          <dd>{dateTime(journey.updatedAt, timeZone)}</dd>
        </dl>
      </section>
      <Backtest journeyId={id} timeZone={timeZone} />
    </>
  );
}

/** The steps in order, each with what it does, its live figures, and where it leads. */
function Flow({ steps: stored, stats }: { steps: unknown; stats: Stats }) {
  const steps = stepsOf(stored);
  const figures = new Map(stats.steps.map((step) => [step.key, step]));
  return (
    <section aria-labelledby="journey-steps">
      <h2 id="journey-steps">Steps</h2>
      <p className="hint">Contacts start at the first step. The figures follow them live, over all versions.</p>
      <JourneyGraph steps={steps} figures={figures} />
      <ol className="flow">
        {steps.map((step, index) => {
          const figure = figures.get(step.key);
          return (
            <li key={step.key} id={`step-${step.key}`} data-step={step.key} className="flow-step">
              <div className="flow-head">
                <strong>{step.key}</strong> <span className="kind">{kindOf(step)}</span>
                {index === 0 && <span className="badge active">start</span>}
              </div>
              <p>{describe(step)}</p>
              <dl className="flow-figures" aria-label={`Figures of ${step.key}`}>
                <div>
                  <dt>Arrived</dt>
                  <dd data-testid={`step-${step.key}-entered`}>{count(figure?.entered ?? 0)}</dd>
                </div>
                <div>
                  <dt>Here now</dt>
                  <dd data-testid={`step-${step.key}-waiting`}>{count(figure?.waiting ?? 0)}</dd>
                </div>
                <div>
                  <dt>Moved on</dt>
                  <dd data-testid={`step-${step.key}-passed`}>{count(figure?.passed ?? 0)}</dd>
                </div>
                {step.send && (
                  <div>
                    <dt>Sent</dt>
                    <dd data-testid={`step-${step.key}-sent`}>{count(figure?.sent ?? 0)}</dd>
                  </div>
                )}
              </dl>
              <ul className="edges">
                {edgesOf(step).map((edge) => (
                  <li key={edge.label}>
                    {edge.label} → {edge.to ? <a href={`#step-${edge.to}`}>{edge.to}</a> : <span>completes</span>}
                  </li>
                ))}
              </ul>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function entryText(entry: unknown): string {
  const value = (entry ?? {}) as { api?: boolean; event?: { name: string; where?: unknown[] }; segment?: { segmentId?: string; rule?: unknown } };
  if (value.event) return `When a contact does “${value.event.name}”${value.event.where?.length ? ' (with conditions)' : ''}`;
  if (value.segment) return value.segment.segmentId ? 'When a contact enters a segment' : `When a contact starts matching ${JSON.stringify(value.segment.rule)}`;
  if (value.api) return 'Through enterJourney (an integration)';
  return '—';
}
