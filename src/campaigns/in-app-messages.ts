import { inAppTriggers, type PendingInApp, pendingInApp } from '../delivery/in-app/pending.ts';
import { type Question, QuestionRef } from '../feedback/question.ts';
import { builder } from '../graphql/builder.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { inQuery } from '../graphql/errors.ts';
import { InAppButtonRef, InAppLayoutEnum } from './in-app-schema.ts';

/**
 * The SDK's read (publishable key): the visitor's own on-site messages waiting to be shown, and
 * the events after which it should ask again. See delivery/in-app/pending.ts for who may read what.
 */

const InAppMessageRef = builder.objectRef<PendingInApp>('InAppMessage').implement({
  description: 'An on-site message waiting for this visitor, rendered for them.',
  fields: (t) => ({
    token: t.exposeString('token', { description: 'Report DISPLAYED, CLICKED and CLOSED with recordMessageEvent, and answer the question, with it.' }),
    layout: t.field({ type: InAppLayoutEnum, resolve: (message) => message.layout }),
    title: t.exposeString('title', { nullable: true }),
    body: t.exposeString('body', { nullable: true }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    buttons: t.field({ type: [InAppButtonRef], resolve: (message) => message.buttons }),
    question: t.field({ type: QuestionRef, nullable: true, resolve: (message) => message.question as Question | null }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

const page = { skipTypeScopes: true, authScopes: { secretKey: true, publishableKey: true } } as const;

builder.queryFields((t) => ({
  inAppMessages: t.field({
    ...page,
    type: [InAppMessageRef],
    description:
      'The on-site messages waiting for one visitor, oldest first (at most 10): by anonymousId, or by externalId with identityToken. ' +
      'Not those clicked, closed, answered or expired. An unknown visitor has none.',
    args: {
      anonymousId: t.arg.string(),
      externalId: t.arg.string(),
      identityToken: t.arg.string({ description: "With a publishable key, required with externalId (unless identity verification is off): hex HMAC-SHA256 of the externalId under the workspace's identity secret." }),
    },
    resolve: (_root, args, context) =>
      inQuery(() => pendingInApp(context.herald, workspaceIdOf(context), args, context.principal.kind === 'publishable' ? 'page' : 'backend')),
  }),
  inAppTriggers: t.stringList({
    ...page,
    description: 'Events that trigger active IN_APP campaigns: after tracking one, ask inAppMessages again.',
    resolve: (_root, _args, context) => inAppTriggers(context.herald, workspaceIdOf(context)),
  }),
}));
