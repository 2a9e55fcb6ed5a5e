import type { Campaign } from '../generated/prisma/client.ts';
import type { Channel } from './channel.ts';
import { webPush } from './web-push/channel.ts';

/** The channel a campaign's messages go out on. Every campaign is web push for now; email, SMS and webhooks join here. */
export function channelFor(_campaign: Campaign): Channel<unknown> {
  return webPush as Channel<unknown>;
}
