import type { CampaignStatsLiveSubscription } from '../generated/graphql.ts';
import { count, rate } from '../ui/format.ts';

type Experiment = NonNullable<CampaignStatsLiveSubscription['campaignStats']['experiment']>;

const signed = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });
const range = ([low, high]: readonly number[], format: (value: number) => string) => `${format(low!)} to ${format(high!)}`;

/**
 * A campaign's A/B test and holdout, live: each variant's rate of the metric with its always-valid
 * 95% interval (drawn as a band on one shared scale), the holdout, the lift and whether it is beyond
 * chance, and the winner once there is one. Looking often is fine: the statistics allow it.
 */
export function ExperimentPanel({ experiment }: { experiment?: Experiment | null }) {
  if (!experiment) return null;
  const metric = experiment.metric === 'CONVERSIONS' ? 'conversions' : 'clicks';
  // One scale for every band: up to the highest interval end (at least 1%).
  const top = Math.max(0.01, ...experiment.variants.map((variant) => variant.interval[1] ?? 0), experiment.holdout?.rate ?? 0);
  const at = (value: number) => `${Math.min(100, (100 * value) / top)}%`;
  return (
    <section aria-labelledby="experiment" data-testid="experiment">
      <h2 id="experiment">Experiment</h2>
      <p className="hint">
        Measured by {metric} per contact sent, counted per person. The intervals hold however often you look, live included.
      </p>
      <table className="list compact" aria-label="Variants">
        <thead>
          <tr>
            <th scope="col">Variant</th>
            {['Sent', 'Displayed', 'Clicked', 'Conversions', 'Rate'].map((label) => (
              <th scope="col" className="num" key={label}>
                {label}
              </th>
            ))}
            <th scope="col">95% interval</th>
          </tr>
        </thead>
        <tbody aria-live="polite">
          {experiment.variants.map((variant) => (
            <tr key={variant.name} data-variant={variant.name}>
              <th scope="row">
                {variant.name} {experiment.winner === variant.name && <span className="badge sent">winner</span>}
              </th>
              <td className="num">{count(variant.sent)}</td>
              <td className="num">{count(variant.displayed)}</td>
              <td className="num">{count(variant.clicked)}</td>
              <td className="num">{count(variant.conversions)}</td>
              <td className="num" data-testid={`variant-${variant.name}-rate`}>
                {rate(variant.rate)}
              </td>
              <td>
                <span className="band" aria-hidden="true">
                  <span style={{ left: at(variant.interval[0] ?? 0), right: `calc(100% - ${at(variant.interval[1] ?? 0)})` }} />
                  <i style={{ left: at(variant.rate) }} />
                </span>{' '}
                {range(variant.interval, rate)}
              </td>
            </tr>
          ))}
          {experiment.holdout && (
            <tr data-variant="holdout">
              <th scope="row">Held out (sent nothing)</th>
              <td className="num" data-testid="holdout-size">
                {count(experiment.holdout.size)}
              </td>
              <td className="num">—</td>
              <td className="num">—</td>
              <td className="num">{count(experiment.holdout.conversions)}</td>
              <td className="num">{rate(experiment.holdout.rate)}</td>
              <td />
            </tr>
          )}
        </tbody>
      </table>
      <p data-testid="experiment-verdict" aria-live="polite">
        {experiment.lift === null || experiment.lift === undefined ? (
          'Lift: not enough data yet.'
        ) : (
          <>
            Lift {experiment.holdout ? 'of the campaign over the holdout' : `of the best variant over ${experiment.variants[0]?.name ?? 'the first'}`}:{' '}
            <strong>{signed.format(experiment.lift)}</strong>
            {experiment.interval && <> (95% interval {range(experiment.interval, (value) => signed.format(value))})</>}
            {experiment.probabilityToBeatControl !== null && experiment.probabilityToBeatControl !== undefined && (
              <>, probability to beat the control {rate(experiment.probabilityToBeatControl)}</>
            )}
            . {experiment.significant ? 'Beyond chance.' : 'Not beyond chance yet.'}
          </>
        )}{' '}
        {experiment.winner ? (
          <strong>Winner: {experiment.winner}.</strong>
        ) : experiment.variants.length > 1 ? (
          'No winner yet: none beats every other beyond chance.'
        ) : null}
      </p>
    </section>
  );
}
