import type { MobilePushContent } from '../delivery/mobile-push/content.ts';
import { builder } from '../graphql/builder.ts';

/** The input and output shapes of a MOBILE_PUSH campaign's content (CampaignInput.mobilePush, Campaign.mobilePush). */

export const MobilePushInput = builder.inputType('CampaignMobilePushInput', {
  description: 'A push to phone apps (APNs and FCM). Title, body, imageUrl and url are Liquid templates over `contact` and `event`.',
  fields: (t) => ({
    title: t.string({ required: true }),
    body: t.string(),
    imageUrl: t.string({ description: 'https:// image shown in the notification (iOS: by the app’s notification service extension).' }),
    url: t.string({ description: 'The deep link the app opens, e.g. myshop://product/42 or https://…; the app reads it from `herald.url`.' }),
    data: t.field({ type: 'JSON', description: 'A flat object of strings, numbers and booleans for the app (at most 20 keys).' }),
    badge: t.int({ description: 'The app icon’s badge count.' }),
    sound: t.string({ description: 'A sound file in the app bundle, or "default".' }),
    category: t.string({ description: 'The notification category (iOS) / click action (Android) that gives it its buttons.' }),
    ttlSeconds: t.int({ description: 'How long APNs and FCM keep it for an offline phone (default and at most 28 days).' }),
    topic: t.string({ description: 'A newer push with the same topic replaces this one on the phone.' }),
  }),
});

export const MobilePushRef = builder.objectRef<MobilePushContent>('CampaignMobilePush').implement({
  description: 'The push a MOBILE_PUSH campaign sends, as written.',
  fields: (t) => ({
    title: t.exposeString('title'),
    body: t.string({ nullable: true, resolve: (push) => push.body ?? null }),
    imageUrl: t.string({ nullable: true, resolve: (push) => push.imageUrl ?? null }),
    url: t.string({ nullable: true, resolve: (push) => push.url ?? null }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (push) => push.data ?? null }),
    badge: t.int({ nullable: true, resolve: (push) => push.badge ?? null }),
    sound: t.string({ nullable: true, resolve: (push) => push.sound ?? null }),
    category: t.string({ nullable: true, resolve: (push) => push.category ?? null }),
    ttlSeconds: t.int({ nullable: true, resolve: (push) => push.ttlSeconds ?? null }),
    topic: t.string({ nullable: true, resolve: (push) => push.topic ?? null }),
  }),
});
