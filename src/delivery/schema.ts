import { builder } from '../graphql/builder.ts';
import { checkCursorArgs, totalCountField } from '../graphql/connections.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { ChannelEnum } from '../workspaces/schema.ts';
import type { MessageReason, MessageStatus } from './ledger.ts';

export { ChannelEnum };

export const MessageStatusEnum = builder.enumType('MessageStatus', {
  values: ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'EXPIRED', 'SUPPRESSED', 'CANCELED'] as const satisfies readonly MessageStatus[],
});
export const MessageReasonEnum = builder.enumType('MessageReason', {
  description: 'Why a message is in its state: ACCEPTED by the push service, or why it was not sent.',
  values: [
    'ACCEPTED',
    'UNCONFIRMED',
    'RESENT_AFTER_CRASH',
    'PAYLOAD_TOO_LARGE',
    'SUBSCRIPTION_GONE',
    'PUSH_SERVICE_REJECTED',
    'PROVIDER_REJECTED',
    'RETRIES_EXHAUSTED',
    'TEMPLATE_ERROR',
    'FREQUENCY_CAP',
    'QUIET_HOURS',
    'EXCEPTION_EVENT',
    'NO_SUBSCRIPTION',
    'NOT_ELIGIBLE',
    'EXPIRED',
    'CAMPAIGN_CANCELED',
    'NO_EMAIL',
    'NO_PHONE',
    'UNSUBSCRIBED',
    'BOUNCED',
    'COMPLAINED',
    'HOLDOUT',
    'CONTROL_GROUP',
    'UNDELIVERED',
  ] as const satisfies readonly MessageReason[],
});

/** A ledger row: one push to one browser (or why a contact got none). */
export const MessageRef = builder.prismaNode('Message', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    status: t.expose('status', { type: MessageStatusEnum }),
    reason: t.expose('reason', { type: MessageReasonEnum, nullable: true }),
    channel: t.expose('channel', { type: ChannelEnum }),
    variant: t.exposeString('variant', { nullable: true, description: 'The experiment variant this message carried.' }),
    campaign: t.relation('campaign'),
    contact: t.relation('contact'),
    subscription: t.relation('subscription', { nullable: true }),
    test: t.exposeBoolean('test', { description: 'Sent by sendTestPush; not in the stats.' }),
    attempts: t.exposeInt('attempts'),
    scheduledFor: t.expose('scheduledFor', { type: 'DateTime' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
    displayedAt: t.expose('displayedAt', { type: 'DateTime', nullable: true }),
    clickedAt: t.expose('clickedAt', { type: 'DateTime', nullable: true }),
    closedAt: t.expose('closedAt', { type: 'DateTime', nullable: true }),
    convertedAt: t.expose('convertedAt', { type: 'DateTime', nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When the provider reported delivery (SMS status callbacks).' }),
    openedAt: t.expose('openedAt', { type: 'DateTime', nullable: true, description: 'When a person first opened the email (machine opens are not counted).' }),
    answeredAt: t.expose('answeredAt', { type: 'DateTime', nullable: true, description: 'When the question the message asked was first answered (answerQuestion).' }),
    answer: t.exposeString('answer', { nullable: true, description: 'The first answer to the question the message asked; later ones are not kept.' }),
    error: t.exposeString('error', { nullable: true, description: 'The last error, e.g. what the push service answered.' }),
    dueAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a waiting (QUEUED) message is due: its delay, the opening of its delivery window, or its next attempt.',
      resolve: (message) => (message.status === 'QUEUED' ? message.dueAt : null),
    }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a message that was tried already (a retry, or a resend after a crash) is tried again.',
      resolve: (message) => (message.status === 'QUEUED' && (message.attempts > 0 || message.reason === 'RESENT_AFTER_CRASH') ? message.dueAt : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const filter = (args: { status?: MessageStatus | null; reason?: MessageReason | null }) => ({
  ...(args.status ? { status: args.status } : {}),
  ...(args.reason ? { reason: args.reason } : {}),
});

const MessageConnection = builder.connectionObject(
  {
    type: MessageRef,
    name: 'MessageConnection',
    fields: (t) => ({
      totalCount: totalCountField(t),
    }),
  },
  { name: 'MessageEdge' },
);

// Campaign.messages and Contact.messages: the ledger seen from either side, newest first.
for (const [model, scopes] of [['Campaign', {}], ['Contact', { authScopes: { secretKey: true } }]] as const) {
  builder.prismaObjectField(model, 'messages', (t) =>
    t.relatedConnection(
      'messages',
      {
        ...scopes,
        cursor: 'id',
        args: { status: t.arg({ type: MessageStatusEnum }), reason: t.arg({ type: MessageReasonEnum }) },
        totalCount: true,
        query: (args) => {
          checkCursorArgs(args, 'uuid');
          return { where: filter(args), orderBy: { id: 'desc' } };
        },
      },
      MessageConnection,
    ),
  );
}
