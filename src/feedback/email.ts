import { answersOf, type Question } from './kinds.ts';

/**
 * An email's question as a row of one-tap buttons, each a link `GET /f/<token>/<answer>` signed by
 * the message's tracking token. The GET only shows a page that posts the answer (server/
 * feedback-routes.ts), so a scanner following every link of a mail records nothing.
 *
 * The body places the row with `{{ question_buttons }}`; without it the row goes at the end of
 * the body. The text part gets the same links, one per line.
 */
export const ANSWER_PATH = '/f/';

export function answerUrl(publicUrl: string, token: string, answer: string): string {
  return `${publicUrl}${ANSWER_PATH}${token}/${encodeURIComponent(answer)}`;
}

/** What a button shows: the score, stars, a thumb or the choice. */
export function answerLabel(question: Question, answer: string): string {
  if (question.kind === 'STARS') return '★'.repeat(Number(answer));
  if (question.kind === 'THUMBS') return answer === 'up' ? '👍' : '👎';
  return answer;
}

const BUTTON = 'display:inline-block;min-width:24px;padding:8px 10px;margin:2px;border:1px solid #c8ccd2;border-radius:6px;color:#1a1d21;text-decoration:none;font:600 15px/1.2 system-ui,sans-serif;text-align:center';

/** The question and its buttons, as email-safe HTML (inline styles, no script). */
export function questionButtonsHtml(question: Question, urlOf: (answer: string) => string): string {
  const buttons = answersOf(question)
    .map((answer) => `<a href="${escapeHtml(urlOf(answer))}" data-herald-track="false" style="${BUTTON}" title="${escapeHtml(answer)}">${escapeHtml(answerLabel(question, answer))}</a>`)
    .join('');
  const ends = question.kind === 'NPS' ? '<p style="margin:4px 0 0;font:13px/1.4 system-ui,sans-serif;color:#5c636e">0 = not at all likely, 10 = extremely likely</p>' : '';
  return `<div class="herald-question" style="margin:24px 0"><p style="margin:0 0 8px;font:16px/1.4 system-ui,sans-serif">${escapeHtml(question.text)}</p><div>${buttons}</div>${ends}</div>`;
}

export function questionButtonsText(question: Question, urlOf: (answer: string) => string): string {
  return [question.text, ...answersOf(question).map((answer) => `${answerLabel(question, answer)}: ${urlOf(answer)}`)].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
