import { encodeGlobalID } from '@pothos/plugin-relay';
import { ErrorCode, NotFoundError, ValidationError } from '../errors.ts';
import type { Message } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { type DeliveryEventType, publishDeliveryEvents } from '../delivery/events.ts';
import type { StoredVariant } from '../delivery/experiment.ts';
import { tokenMessageId, verifyToken } from '../delivery/tokens.ts';
import { storedQuestion } from '../feedback/content.ts';
import { answersOf, type Question } from '../feedback/question.ts';
import { answerMetric } from '../feedback/stats.ts';
import { secretFromRow } from '../workspaces/secrets.ts';
import { trackEvent } from './events.ts';

/**
 * Answers to the question a message asked (src/feedback): from the answerQuestion mutation (the
 * SDK's on-site messages), a push's action buttons (the service worker, through POST /track) and
 * an email's one-tap links (POST /f/…). Each is named by the message's signed tracking token, as
 * recordMessageEvent's beacons are, with the same single error for every bad token.
 *
 * The first answer of a message is kept (Message.answeredAt, answer), counted in `responses` and
 * its `answer:<kind>:<answer>` counter, and marks the message displayed and clicked as a click
 * would (opened too for an email), all in one statement. It is then stored as the contact's event
 * `feedback` through the normal ingestion path, so triggered campaigns, segments and journeys see it.
 */

export const FEEDBACK_EVENT = 'feedback';
export const MAX_ANSWER_TEXT = 1000;

export interface AnswerInput {
  token: string;
  answer: string;
  /** A free-text answer beside it, where the question offers one. */
  text?: string | null;
}

/** One error for every bad token, so a caller learns nothing from which check failed. */
const invalidToken = () => new NotFoundError(ErrorCode.messageNotFound, 'Unknown or invalid message token');

interface AskedMessage {
  id: string;
  workspaceId: string;
  campaignId: string;
  contactId: string;
  channel: string;
  question: Question | null;
  answeredAt: Date | null;
}

/**
 * The message a token names and the question it asked, or null when the token does not parse,
 * its MAC does not match, or the message is not of `workspaceId` (when given).
 */
export async function askedMessageOf(herald: Herald, token: string, workspaceId?: string): Promise<AskedMessage | null> {
  const id = typeof token === 'string' ? tokenMessageId(token) : null;
  if (!id) return null;
  const row = await herald.prisma.message.findUnique({
    where: { id },
    select: {
      id: true,
      workspaceId: true,
      campaignId: true,
      contactId: true,
      channel: true,
      variant: true,
      answeredAt: true,
      campaign: { select: { content: true, variants: true, workspace: { select: { trackingSecret: true } } } },
    },
  });
  if (!row || (workspaceId && row.workspaceId !== workspaceId)) return null;
  const secret = await secretFromRow(herald, { id: row.workspaceId, trackingSecret: row.campaign.workspace.trackingSecret }, 'trackingSecret');
  if (!verifyToken(token, row.id, secret)) return null;
  const { campaign, variant, ...message } = row;
  return { ...message, question: questionOf(campaign, variant) };
}

/**
 * The question in the content the message carried: its variant's, else its campaign's. A journey's
 * send step is a JOURNEY campaign with the step's content, so its messages are found the same way.
 */
function questionOf(campaign: { content: unknown; variants: unknown }, variant: string | null): Question | null {
  const content = variant ? (campaign.variants as StoredVariant[] | null)?.find((entry) => entry.name === variant)?.content : campaign.content;
  const question = storedQuestion.safeParse((content as { question?: unknown } | null | undefined)?.question);
  return question.success ? question.data : null;
}

/** The answer checked against the question; throws a ValidationError, before anything is stored. */
function checkAnswer(question: Question | null, input: AnswerInput): void {
  if (!question) throw ValidationError.field(['input', 'token'], 'this message asks no question');
  if (!answersOf(question).includes(input.answer)) {
    throw ValidationError.field(['input', 'answer'], `must be one of ${answersOf(question).join(', ')}`);
  }
  if (input.text == null) return;
  if (!question.freeText) throw ValidationError.field(['input', 'text'], 'this question takes no free-text answer');
  if (input.text.length > MAX_ANSWER_TEXT) throw ValidationError.field(['input', 'text'], `must be at most ${MAX_ANSWER_TEXT} characters`);
}

interface Answer {
  message: AskedMessage;
  answer: string;
  text: string | null;
}

/**
 * Records an answer (see the top of this file) and answers with the message. A repeated answer
 * changes nothing and stores no second event; the message keeps its first answer. With
 * HERALD_PUBLIC_BATCH_MS, concurrent answers are written together (db/group-commit.ts).
 */
export async function answerQuestion(herald: Herald, input: AnswerInput, workspaceId?: string): Promise<Message> {
  const message = await askedMessageOf(herald, input.token, workspaceId);
  if (!message) throw invalidToken();
  const text = input.text?.trim() || null;
  checkAnswer(message.question, { ...input, text });
  const item: Answer = { message, answer: input.answer, text };
  const [kept] = herald.gathering.enabled
    ? [await herald.gathering.submit('answers', message.id, item, (answers: Answer[]) => recordAnswers(herald, answers))]
    : await recordAnswers(herald, [item]);
  if (kept instanceof Error) throw kept;
  await storeFeedbackEvent(herald, message, kept!, text);
  const answered = await herald.prisma.message.findUnique({ where: { id: message.id } });
  if (!answered) throw invalidToken();
  return answered;
}

interface Kept {
  answer: string;
  answeredAt: Date;
  /** This call's answer was the message's first. */
  first: boolean;
}

/**
 * Answers in one statement: each message's first answer is set, and counted with what it marks,
 * only where none was set before. Rows and counters are locked in one order (id; campaign, metric).
 */
async function recordAnswers(herald: Herald, answers: Answer[]): Promise<(Kept | Error)[]> {
  // Several answers to one message in a batch count as if they came one after the other: the first wins.
  const byMessage = new Map<string, Answer>();
  for (const answer of answers) if (!byMessage.has(answer.message.id)) byMessage.set(answer.message.id, answer);
  const input = [...byMessage.values()].map(({ message, answer }) => ({
    id: message.id,
    answer,
    metric: answerMetric(message.question!.kind, answer),
    email: message.channel === 'EMAIL',
  }));
  const rows = await herald.prisma.$queryRaw<
    { id: string; answer: string; answeredAt: Date; answered: boolean; displayed: boolean; clicked: boolean; opened: boolean; test: boolean }[]
  >`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS i(id uuid, answer text, metric text, email boolean)
    ), old AS (
      SELECT m.id, m."answeredAt", m."displayedAt", m."clickedAt", m."openedAt", i.answer, i.metric, i.email
      FROM "Message" m JOIN input i ON i.id = m.id ORDER BY m.id FOR UPDATE OF m
    ), updated AS (
      UPDATE "Message" m SET
        answer = CASE WHEN m."answeredAt" IS NULL THEN old.answer ELSE m.answer END,
        "answeredAt" = COALESCE(m."answeredAt", now()),
        "displayedAt" = COALESCE(m."displayedAt", now()),
        "clickedAt" = COALESCE(m."clickedAt", now()),
        "openedAt" = COALESCE(m."openedAt", CASE WHEN old.email THEN now() END),
        "updatedAt" = now()
      FROM old WHERE m.id = old.id
      RETURNING m.id, m."campaignId", m.test, m.answer, m."answeredAt", old.metric AS "answerMetric",
        old."answeredAt" IS NULL AS answered,
        old."displayedAt" IS NULL AS displayed,
        old."clickedAt" IS NULL AS clicked,
        (old."openedAt" IS NULL AND m."openedAt" IS NOT NULL) AS opened
    ), counted AS (
      INSERT INTO "CampaignCount" ("campaignId", metric, count)
      SELECT "campaignId", metric, count(*) FROM updated,
        LATERAL (VALUES ('responses', answered), ("answerMetric", answered), ('displayed', displayed), ('clicked', clicked), ('opened', opened)) AS metrics(metric, happened)
      WHERE happened AND NOT test
      GROUP BY "campaignId", metric ORDER BY "campaignId", metric
      ON CONFLICT ("campaignId", metric, shard) DO UPDATE SET count = "CampaignCount".count + EXCLUDED.count
    )
    SELECT id::text, answer, "answeredAt", answered, displayed, clicked, opened, test FROM updated`;
  const byId = new Map(rows.map((row) => [row.id, row]));
  announceAnswers(herald, [...byMessage.values()], byId);
  return answers.map((item) => {
    const row = byId.get(item.message.id);
    if (!row) return invalidToken();
    return { answer: row.answer, answeredAt: row.answeredAt, first: row.answered && byMessage.get(item.message.id) === item };
  });
}

function announceAnswers(herald: Herald, answers: Answer[], rows: Map<string, { answered: boolean; displayed: boolean; clicked: boolean; opened: boolean; test: boolean }>): void {
  for (const { message } of answers) {
    const row = rows.get(message.id);
    if (!row || !(row.answered || row.displayed || row.clicked || row.opened)) continue;
    herald.events.publish('campaign:changed', message.campaignId, { reason: 'tracked' });
    if (row.test) continue;
    const types = [row.displayed && 'DISPLAYED', row.opened && 'OPENED', row.clicked && 'CLICKED'].filter(Boolean) as DeliveryEventType[];
    publishDeliveryEvents(
      herald,
      message.workspaceId,
      types.map((type) => ({ type, messageId: message.id, campaignId: message.campaignId, contactId: message.contactId, reason: null })),
    );
  }
}

/**
 * The `feedback` event of the message's kept answer, stored once (its idempotency key is the
 * message's). Called for repeated answers too: one whose first call stopped before storing its
 * event gets it then. NPS and STARS answers are numbers, so rules compare them (`answer LTE 6`).
 */
async function storeFeedbackEvent(herald: Herald, message: AskedMessage, kept: Kept, text: string | null): Promise<void> {
  const question = message.question!;
  const numeric = question.kind === 'NPS' || question.kind === 'STARS';
  await trackEvent(herald, message.workspaceId, {
    contactId: message.contactId,
    name: FEEDBACK_EVENT,
    properties: {
      question: question.text,
      kind: question.kind,
      answer: numeric ? Number(kept.answer) : kept.answer,
      messageId: encodeGlobalID('Message', message.id),
      campaignId: encodeGlobalID('Campaign', message.campaignId),
      ...(kept.first && text && { text }),
    },
    occurredAt: kept.answeredAt,
    idempotencyKey: `${FEEDBACK_EVENT}:${message.id}`,
  });
}
