import type { MobilePushContent, RenderedPush } from './content.ts';

/**
 * A rendered push shaped for each platform. Both carry `herald`: the ledger id (an app that sees a
 * push twice after a crash can drop the repeat by it), the tracking token it reports OPENED with
 * through recordMessageEvent, the tracking URL and the deep link; the campaign's `data` sits beside it.
 */
export interface HeraldFields {
  messageId: string;
  token: string;
  trackUrl: string;
  url?: string;
  imageUrl?: string;
}

/** The APNs JSON body: `aps` for the system, the rest for the app. */
export function apnsBody(content: MobilePushContent, push: RenderedPush, herald: HeraldFields): string {
  const aps: Record<string, unknown> = { alert: { title: push.title, ...(push.body ? { body: push.body } : {}) } };
  if (content.badge != null) aps.badge = content.badge;
  if (content.sound) aps.sound = content.sound;
  if (content.category) aps.category = content.category;
  // The app's notification service extension downloads the image.
  if (push.imageUrl) aps['mutable-content'] = 1;
  return JSON.stringify({ ...content.data, aps, herald: withImage(herald, push) });
}

/** The FCM HTTP v1 request body: `{ message: { token, notification, android, data } }`. */
export function fcmBody(deviceToken: string, content: MobilePushContent, push: RenderedPush, herald: HeraldFields, ttlSeconds: number): string {
  const notification: Record<string, unknown> = { ...(content.sound ? { sound: content.sound } : {}), tag: content.topic ?? herald.messageId };
  if (content.category) notification.click_action = content.category;
  if (content.badge != null) notification.notification_count = content.badge;
  // FCM data values are strings.
  const data: Record<string, string> = Object.fromEntries(Object.entries(content.data ?? {}).map(([key, value]) => [key, String(value)]));
  data.herald = JSON.stringify(withImage(herald, push));
  return JSON.stringify({
    message: {
      token: deviceToken,
      notification: { title: push.title, ...(push.body ? { body: push.body } : {}), ...(push.imageUrl ? { image: push.imageUrl } : {}) },
      android: { priority: 'HIGH', ttl: `${ttlSeconds}s`, ...(content.topic ? { collapse_key: content.topic } : {}), notification },
      data,
    },
  });
}

function withImage(herald: HeraldFields, push: RenderedPush): HeraldFields {
  return { ...herald, ...(push.url ? { url: push.url } : {}), ...(push.imageUrl ? { imageUrl: push.imageUrl } : {}) };
}
