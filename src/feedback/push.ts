import { ANSWER_PATH } from './email.ts';
import type { Question } from './question.ts';

/**
 * A push's question. Browsers show at most two action buttons, so THUMBS and a CHOICE of two are
 * answered with them: each action id names its answer, `answer:<answer>` (campaign actions cannot
 * clash: their ids are letters, digits, _ and -), and the service worker posts `{ token, answer }`
 * when one is clicked. Any other question (NPS, STARS, more choices) has no answer buttons: the
 * notification's click opens its answer page, `/f/<token>`, with every answer (server/feedback-routes.ts).
 */
export const ANSWER_ACTION_PREFIX = 'answer:';

const THUMB_TITLES: Record<string, string> = { up: '👍', down: '👎' };

/** Whether the question's answers fit a notification's two buttons. */
export function fitsButtons(question: Question): boolean {
  return question.kind === 'THUMBS' || (question.kind === 'CHOICE' && (question.choices?.length ?? 0) <= 2);
}

export function answerActions(question: Question): { action: string; title: string }[] {
  if (!fitsButtons(question)) return [];
  const answers = question.kind === 'THUMBS' ? ['up', 'down'] : (question.choices ?? []);
  return answers.map((answer) => ({ action: `${ANSWER_ACTION_PREFIX}${answer}`, title: THUMB_TITLES[answer] ?? answer }));
}

/** Where the click of a push whose answers do not fit its buttons goes: the answer page, beside /track. */
export function answerPageUrl(trackUrl: string, token: string): string {
  return new URL(`${ANSWER_PATH}${token}`, trackUrl).href;
}
