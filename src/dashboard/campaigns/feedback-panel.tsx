import type { CampaignStatsLiveSubscription } from '../generated/graphql.ts';
import { count, rate } from '../ui/format.ts';

type Stats = CampaignStatsLiveSubscription['campaignStats'];
type Asked = { kind: string; text: string } | null | undefined;

/** NPS answers 9–10 are promoters, 7–8 passives, 0–6 detractors (src/feedback/question.ts npsOf). */
function npsGroups(answers: Stats['answers']) {
  const groups = { promoters: 0, passives: 0, detractors: 0 };
  for (const { kind, answer, count: n } of answers) {
    if (kind !== 'NPS') continue;
    const score = Number(answer);
    if (score >= 9) groups.promoters += n;
    else if (score >= 7) groups.passives += n;
    else groups.detractors += n;
  }
  return groups;
}

const answerWords = (kind: string, answer: string) =>
  kind === 'STARS' ? `${answer} star${answer === '1' ? '' : 's'}` : kind === 'THUMBS' ? `Thumbs ${answer}` : kind === 'NPS' ? `${answer} out of 10` : answer;

/**
 * The answers to the campaign's question, live with the funnel: how many answered (of those who
 * were shown it), the NPS with its promoters, passives and detractors, and how many gave each answer.
 */
export function FeedbackPanel({ question, stats }: { question: Asked; stats?: Stats }) {
  if (!question && !stats?.responses) return null;
  const total = stats?.answers.reduce((sum, one) => sum + one.count, 0) ?? 0;
  const groups = stats ? npsGroups(stats.answers) : undefined;
  const nps = stats?.nps;
  return (
    <section aria-labelledby="feedback">
      <h2 id="feedback">Feedback</h2>
      {question && <p className="hint">Asked: “{question.text}”</p>}
      <div className="figures" aria-live="polite">
        <div className="figure">
          <span>Responses</span>
          <strong data-testid="feedback-responses">{stats ? count(stats.responses) : '…'}</strong>
          {stats && stats.displayed > 0 && <small>{rate(stats.responses / stats.displayed)} of those shown it</small>}
        </div>
        {(question?.kind === 'NPS' || (nps !== null && nps !== undefined)) && groups && (
          <>
            <div className="figure">
              <span>NPS</span>
              <strong data-testid="feedback-nps">{nps === null || nps === undefined ? '—' : nps > 0 ? `+${nps}` : String(nps)}</strong>
              <small>% promoters − % detractors</small>
            </div>
            <div className="figure">
              <span>Promoters (9–10)</span>
              <strong data-testid="feedback-promoters">{count(groups.promoters)}</strong>
            </div>
            <div className="figure">
              <span>Passives (7–8)</span>
              <strong data-testid="feedback-passives">{count(groups.passives)}</strong>
            </div>
            <div className="figure">
              <span>Detractors (0–6)</span>
              <strong data-testid="feedback-detractors">{count(groups.detractors)}</strong>
            </div>
          </>
        )}
      </div>
      {stats && stats.answers.length > 0 ? (
        <table className="list compact" data-testid="feedback-answers">
          <caption className="hint">Each answer, as given</caption>
          <thead>
            <tr>
              <th scope="col">Answer</th>
              <th scope="col" className="num">
                People
              </th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            {stats.answers.map(({ kind, answer, count: n }) => (
              <tr key={`${kind}:${answer}`}>
                <td>{answerWords(kind, answer)}</td>
                <td className="num">{count(n)}</td>
                <td>
                  <span className="answer-bar" aria-hidden="true">
                    <span style={{ width: `${total ? (100 * n) / total : 0}%` }} />
                  </span>{' '}
                  {rate(total ? n / total : 0)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="hint">No answers yet; they appear here as they come.</p>
      )}
    </section>
  );
}
