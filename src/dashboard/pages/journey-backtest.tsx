import { type FormEvent, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated/index.ts';
import type { JourneyBacktestQuery } from '../generated/graphql.ts';
import { channelName } from '../journeys/steps.ts';
import { TimeChart } from '../ui/chart.tsx';
import { Field } from '../ui/form.tsx';
import { count, words } from '../ui/format.ts';

const Simulate = graphql(`
  query JourneyBacktest($id: ID!, $from: DateTime!, $to: DateTime!) {
    simulateJourney(id: $id, from: $from, to: $to) {
      from to timezone entered completed exited active converted
      steps { key entered passed waiting sent suppressed capped }
      channels { channel sent suppressed capped }
      suppressedBy { reason count }
      sendsByDay { date channel count }
      engagementEstimates { channel did rate delaySeconds messages }
    }
  }
`);

type Simulation = JourneyBacktestQuery['simulateJourney'];
const DAY = 86_400_000;
const day = (date: Date) => date.toISOString().slice(0, 10);

/** "What would this journey have done?" over a past range of stored events, nothing sent. */
export function Backtest({ journeyId, timeZone }: { journeyId: string; timeZone?: string }) {
  const [from, setFrom] = useState(() => day(new Date(Date.now() - 30 * DAY)));
  const [to, setTo] = useState(() => day(new Date()));
  // The range asked for; the query runs once one is.
  const [range, setRange] = useState<{ from: string; to: string }>();
  const [{ data, fetching, error }] = useQuery({ query: Simulate, variables: { id: journeyId, from: range?.from ?? '', to: range?.to ?? '' }, pause: !range, requestPolicy: 'network-only' });

  const run = (event: FormEvent) => {
    event.preventDefault();
    // Whole days in the browser's zone; a range ending today ends now.
    const end = Math.min(Date.now(), new Date(`${to}T00:00`).getTime() + DAY);
    setRange({ from: new Date(`${from}T00:00`).toISOString(), to: new Date(end).toISOString() });
  };

  return (
    <section aria-labelledby="backtest">
      <h2 id="backtest">Backtest</h2>
      <p className="hint">What this journey would have done over past events: its latest version (else its draft), with the audience and rules as they are now. Nothing is sent.</p>
      <form className="inline" onSubmit={run} aria-label="Backtest">
        <Field label="From">
          <input type="date" value={from} onChange={(event) => setFrom(event.target.value)} required />
        </Field>
        <Field label="To">
          <input type="date" value={to} onChange={(event) => setTo(event.target.value)} required />
        </Field>
        <button type="submit" disabled={fetching}>
          {fetching ? 'Running…' : 'Run backtest'}
        </button>
      </form>
      {error && (
        <p className="problem" role="alert">
          {error.graphQLErrors[0]?.message ?? error.message}
        </p>
      )}
      {data && <Result simulation={data.simulateJourney} timeZone={timeZone} />}
    </section>
  );
}

function Result({ simulation, timeZone }: { simulation: Simulation; timeZone?: string }) {
  const most = Math.max(1, ...simulation.steps.map((step) => step.entered));
  return (
    <div data-testid="backtest-result" aria-live="polite">
      <div className="figures">
        {(
          [
            ['entered', 'Would have entered'],
            ['completed', 'Completed'],
            ['exited', 'Exited'],
            ['active', 'Still in it'],
            ['converted', 'Converted'],
          ] as const
        ).map(([key, label]) => (
          <div className="figure" key={key}>
            <strong data-testid={`backtest-${key}`}>{count(simulation[key])}</strong>
            <span>{label}</span>
          </div>
        ))}
      </div>
      <table className="list compact" aria-label="Backtest by step">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Arrivals</th>
            {['Moved on', 'Still waiting', 'Sent', 'Not sent', 'Over the caps'].map((label) => (
              <th scope="col" className="num" key={label}>
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {simulation.steps.map((step) => (
            <tr key={step.key} data-backtest-step={step.key}>
              <td>{step.key}</td>
              <td>
                <span className="hbar" aria-hidden="true">
                  <span style={{ width: `${(100 * step.entered) / most}%` }} />
                </span>{' '}
                {count(step.entered)}
              </td>
              <td className="num">{count(step.passed)}</td>
              <td className="num">{count(step.waiting)}</td>
              <td className="num">{count(step.sent)}</td>
              <td className="num">{count(step.suppressed)}</td>
              <td className="num">{count(step.capped)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {simulation.sendsByDay.length > 0 ? <SendsChart simulation={simulation} /> : <p className="hint">No message would have gone out in this range.</p>}
      {simulation.suppressedBy.length > 0 && (
        <p>
          Not sent: {simulation.suppressedBy.map((one) => `${count(one.count)} ${words(one.reason)}`).join(', ')}.
        </p>
      )}
      {simulation.engagementEstimates.length > 0 && (
        <p className="hint">
          Engagement drawn from history:{' '}
          {simulation.engagementEstimates
            .map((one) => `${channelName(one.channel)} ${words(one.did)} ${(one.rate * 100).toFixed(1)}% (from ${count(one.messages)} messages)`)
            .join('; ')}
          .
        </p>
      )}
      <p className="hint">Days are in the workspace’s zone, {simulation.timezone ?? timeZone}.</p>
    </div>
  );
}

/** Messages per day and channel over the whole range, one line per channel, days without any at zero. */
function SendsChart({ simulation }: { simulation: Simulation }) {
  const { times, series, first, last } = useMemo(() => {
    // Every day of the range in the workspace's zone (sendsByDay leaves out days without a message).
    const inZone = new Intl.DateTimeFormat('en-CA', { timeZone: simulation.timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
    const days = new Set<string>();
    for (let at = Date.parse(simulation.from); at < Date.parse(simulation.to) + DAY; at += DAY) days.add(inZone.format(Math.min(at, Date.parse(simulation.to))));
    for (const one of simulation.sendsByDay) days.add(one.date);
    const dates = [...days].sort();
    const channels = [...new Set(simulation.sendsByDay.map((one) => one.channel))];
    const counts = new Map(simulation.sendsByDay.map((one) => [`${one.date}|${one.channel}`, one.count]));
    return {
      times: dates.map((date) => Date.parse(`${date}T00:00:00Z`)),
      series: channels.map((channel) => ({ label: channelName(channel), values: dates.map((date) => counts.get(`${date}|${channel}`) ?? 0) })),
      first: dates[0],
      last: dates.at(-1),
    };
  }, [simulation]);
  const total = simulation.sendsByDay.reduce((sum, one) => sum + one.count, 0);
  return <TimeChart times={times} series={series} timeZone="UTC" height={200} summary={`${count(total)} messages would have gone out from ${first} to ${last}, by day.`} />;
}
