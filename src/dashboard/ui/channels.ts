import type { Channel } from '../generated/graphql.ts';

/**
 * Every channel the API names, in the words the pickers show. A Record over the schema's enum: a
 * channel added to the API fails the type check here until it has its words, so no picker misses it.
 */
export const CHANNELS: Record<Channel, string> = {
  WEB_PUSH: 'Web push',
  EMAIL: 'Email',
  SMS: 'SMS',
  MOBILE_PUSH: 'Push to phone apps',
  IN_APP: 'On-site message',
  WEBHOOK: 'Webhook',
};

export const CHANNEL_VALUES = Object.keys(CHANNELS) as Channel[];
