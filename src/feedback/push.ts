import type { Question } from './question.ts';

/**
 * A push's question as the notification's action buttons (at most 2, see content.ts). Each action
 * id names its answer, `answer:<answer>`; campaign actions cannot clash (their ids are letters,
 * digits, _ and -). The service worker posts `{ token, answer }` when one is clicked.
 */
export const ANSWER_ACTION_PREFIX = 'answer:';

const THUMB_TITLES: Record<string, string> = { up: '👍', down: '👎' };

export function answerActions(question: Question): { action: string; title: string }[] {
  const answers = question.kind === 'THUMBS' ? ['up', 'down'] : (question.choices ?? []);
  return answers.map((answer) => ({ action: `${ANSWER_ACTION_PREFIX}${answer}`, title: THUMB_TITLES[answer] ?? answer }));
}
