import type { Campaign } from '../generated/prisma/client.ts';
import type { Channel } from './channel.ts';
import { email } from './email/channel.ts';
import { inApp } from './in-app/channel.ts';
import { mobilePush } from './mobile-push/channel.ts';
import { sms } from './sms/channel.ts';
import { webPush } from './web-push/channel.ts';
import { webhook } from './webhook/channel.ts';

const channels = { WEB_PUSH: webPush, EMAIL: email, WEBHOOK: webhook, MOBILE_PUSH: mobilePush, SMS: sms, IN_APP: inApp } as Partial<Record<Campaign['channel'], Channel<unknown>>>;

/** The channel a campaign's messages go out on. */
export function channelFor(campaign: Pick<Campaign, 'channel'>): Channel<unknown> {
  const channel = channels[campaign.channel];
  if (!channel) throw new Error(`the ${campaign.channel} channel is not available yet`);
  return channel;
}
