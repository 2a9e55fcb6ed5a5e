import { MAX_PAYLOAD_BYTES, type MobilePushContent, worstCase } from '../delivery/mobile-push/content.ts';
import { apnsBody } from '../delivery/mobile-push/payloads.ts';
import { worstCaseLink } from '../delivery/short-links.ts';
import { TOKEN_LENGTH } from '../delivery/web-push/content.ts';
import { ValidationError } from '../errors.ts';
import type { Campaign } from '../generated/prisma/client.ts';

/**
 * A mobile push's worst-case payload (every `{{ … }}` as 64 characters, a link to one of Herald's
 * short links with its token) must fit APNs' and FCM's 4 KB.
 */
export function checkedMobilePush(content: MobilePushContent, publicUrl: string, path: string[] = ['input', 'mobilePush']): MobilePushContent {
  const ids = { messageId: '0'.repeat(36), token: '0'.repeat(TOKEN_LENGTH), trackUrl: 'x'.repeat(200) };
  const worst = worstCase(content);
  const url = content.url == null ? worst.url : worstCaseLink(content.url, worst.url!, publicUrl, ids.token);
  const size = Buffer.byteLength(apnsBody(content, { ...worst, url }, ids));
  if (size > MAX_PAYLOAD_BYTES) {
    throw ValidationError.field(path, `the push could reach ${size} bytes (each {{ … }} counted as 64 characters); APNs and FCM accept at most ${MAX_PAYLOAD_BYTES}`);
  }
  return content;
}

/** The push a MOBILE_PUSH campaign sends, as saved (checked then); null for other channels. */
export function mobilePushOf(campaign: Campaign): MobilePushContent | null {
  return campaign.channel === 'MOBILE_PUSH' ? (campaign.content as MobilePushContent) : null;
}
