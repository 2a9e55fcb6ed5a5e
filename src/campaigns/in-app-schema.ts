import { DEFAULT_TTL_SECONDS, type InAppContent, InAppLayouts, MAX_BUTTONS } from '../delivery/in-app/content.ts';
import { type Question, QuestionInput, QuestionRef } from '../feedback/question.ts';
import { builder } from '../graphql/builder.ts';

/** The input and output shapes of an on-site message (CampaignInput.inApp, Campaign.inApp, the SDK's InAppMessage). */

export const InAppLayoutEnum = builder.enumType('InAppLayout', {
  description: 'BANNER: a bar across the top of the page; MODAL: a dialog over the page; SLIDE_IN: a card in a corner.',
  values: InAppLayouts,
});

const InAppButtonInput = builder.inputType('InAppButtonInput', {
  fields: (t) => ({
    label: t.string({ required: true }),
    url: t.string({ required: true, description: 'http(s), written out: "https://shop.example/{{ contact.id }}", never a value for the whole URL.' }),
  }),
});

export const InAppInput = builder.inputType('CampaignInAppInput', {
  description:
    'An on-site message the SDK shows the contact on your site. title, body, imageUrl and the buttons are Liquid over `contact` and `event`, shown as plain text. A title or a body is required.',
  fields: (t) => ({
    layout: t.field({ type: InAppLayoutEnum, description: 'Defaults to MODAL.' }),
    title: t.string(),
    body: t.string(),
    imageUrl: t.string({ description: 'https only.' }),
    buttons: t.field({ type: [InAppButtonInput], description: `At most ${MAX_BUTTONS}.` }),
    question: t.field({ type: QuestionInput, description: 'A question shown with the message; answers become `feedback` events.' }),
    ttlSeconds: t.int({ description: `How long the message waits for the contact's next visit (default ${DEFAULT_TTL_SECONDS / 86_400} days, never past activeUntil).` }),
  }),
});

export const InAppButtonRef = builder.objectRef<{ label: string; url: string }>('InAppButton').implement({
  fields: (t) => ({ label: t.exposeString('label'), url: t.exposeString('url') }),
});

export const InAppRef = builder.objectRef<InAppContent>('CampaignInApp').implement({
  description: 'The on-site message an IN_APP campaign shows, as written.',
  fields: (t) => ({
    layout: t.field({ type: InAppLayoutEnum, resolve: (inApp) => inApp.layout ?? 'MODAL' }),
    title: t.exposeString('title', { nullable: true }),
    body: t.exposeString('body', { nullable: true }),
    imageUrl: t.exposeString('imageUrl', { nullable: true }),
    buttons: t.field({ type: [InAppButtonRef], resolve: (inApp) => inApp.buttons ?? [] }),
    question: t.field({ type: QuestionRef, nullable: true, resolve: (inApp) => (inApp.question as Question | null | undefined) ?? null }),
    ttlSeconds: t.int({ resolve: (inApp) => inApp.ttlSeconds ?? DEFAULT_TTL_SECONDS }),
  }),
});
