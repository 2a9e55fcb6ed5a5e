import { npsOf, type QuestionKind, QuestionKinds } from './question.ts';

/**
 * Answers are counted in CampaignCount beside the other metrics: `responses`, and one
 * `answer:<kind>:<answer>` per answer (the kind keeps an NPS 9 apart from a CHOICE labelled "9",
 * and variants of one campaign may ask different questions).
 */
const PREFIX = 'answer:';

export function answerMetric(kind: QuestionKind, answer: string): string {
  return `${PREFIX}${kind}:${answer}`;
}

export interface AnswerCount {
  kind: QuestionKind;
  answer: string;
  count: number;
}

/** The distribution of answers from a campaign's counters: by kind, numbers in order, choices by count. */
export function answerCounts(counts: ReadonlyMap<string, number>): AnswerCount[] {
  const answers: AnswerCount[] = [];
  for (const [metric, count] of counts) {
    if (!metric.startsWith(PREFIX) || count <= 0) continue;
    const rest = metric.slice(PREFIX.length);
    const kind = rest.slice(0, rest.indexOf(':')) as QuestionKind;
    if (QuestionKinds.includes(kind)) answers.push({ kind, answer: rest.slice(kind.length + 1), count });
  }
  const numeric = (kind: QuestionKind) => kind === 'NPS' || kind === 'STARS';
  return answers.sort(
    (a, b) =>
      QuestionKinds.indexOf(a.kind) - QuestionKinds.indexOf(b.kind) ||
      (numeric(a.kind) ? Number(a.answer) - Number(b.answer) : b.count - a.count || a.answer.localeCompare(b.answer)),
  );
}

/** The campaign's Net Promoter Score, from its NPS answers only; null without any. */
export function campaignNps(answers: readonly AnswerCount[]): number | null {
  return npsOf(new Map(answers.filter((entry) => entry.kind === 'NPS').map((entry) => [entry.answer, entry.count])));
}
