/**
 * The push payload meter: the largest encrypted body a push's content can produce, computed as
 * Herald does when it saves the campaign (src/delivery/web-push/content.ts, worstCaseSize): every
 * `{{ … }}` taken as 64 bytes, the longest token (also on links to Herald's short links), and
 * aes128gcm's 103 bytes of overhead.
 */
import { worstCaseLink } from '../../delivery/short-links.ts';

export const MAX_PUSH_BYTES = 4096;
const OVERHEAD = 86 + 1 + 16;
const WORST_CASE_OUTPUT = 'x'.repeat(64);
const TOKEN = '0'.repeat(45);
const TAG = '0'.repeat(36);

export interface PushContent {
  title: string;
  body: string;
  url: string;
  iconUrl: string;
  imageUrl: string;
  badgeUrl: string;
  requireInteraction: boolean;
  actions: { action: string; title: string; url: string }[];
}

const worst = (source: string) => (source ? source.replace(/\{\{-?[\s\S]*?-?\}\}/g, WORST_CASE_OUTPUT).replace(/\{%-?[\s\S]*?-?%\}/g, '') : undefined);

export function worstCasePushBytes(content: PushContent, publicUrl = location.origin): number {
  const link = (source: string) => (source ? worstCaseLink(source, worst(source)!, publicUrl, TOKEN) : undefined);
  const payload = {
    title: worst(content.title) ?? '',
    body: worst(content.body) ?? '',
    icon: worst(content.iconUrl),
    image: worst(content.imageUrl),
    badge: worst(content.badgeUrl),
    url: link(content.url) ?? '',
    actions: content.actions.map((action) => ({ action: action.action, title: worst(action.title) ?? '', url: link(action.url) })),
    requireInteraction: content.requireInteraction,
    tag: TAG,
    token: TOKEN,
    trackUrl: `${publicUrl}/track`,
  };
  return new TextEncoder().encode(JSON.stringify(payload)).length + OVERHEAD;
}
