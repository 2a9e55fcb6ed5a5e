import type { Herald } from '../herald-context.ts';

/**
 * What the live `deliveryEvents` feed carries: one message's step. The ledger's steps, then what
 * came back: DISPLAYED (first load by anyone), CLICKED, CLOSED, CONVERTED; for email also OPENED
 * (a person's first open), UNSUBSCRIBED, COMPLAINED and BOUNCED (besides the ledger's FAILED);
 * for SMS DELIVERED (the provider's delivery report) and UNSUBSCRIBED (error 21610).
 */
export const DeliveryEventTypes = [
  'QUEUED',
  'SENT',
  'FAILED',
  'SUPPRESSED',
  'EXPIRED',
  'CANCELED',
  'DISPLAYED',
  'CLICKED',
  'CLOSED',
  'CONVERTED',
  'OPENED',
  'UNSUBSCRIBED',
  'COMPLAINED',
  'BOUNCED',
  'DELIVERED',
] as const;
export type DeliveryEventType = (typeof DeliveryEventTypes)[number];

export interface DeliveryEvent {
  type: DeliveryEventType;
  messageId: string;
  campaignId: string;
  contactId: string;
  reason: string | null;
  at: string;
}

/**
 * Announces ledger changes, a batch at a time (a send changes thousands of rows a second), to
 * `deliveryEvents` subscribers and, per campaign touched, to `campaignStats` subscribers.
 */
export function publishDeliveryEvents(herald: Pick<Herald, 'events'>, workspaceId: string, events: Omit<DeliveryEvent, 'at'>[]): void {
  if (events.length === 0) return;
  const at = new Date().toISOString();
  herald.events.publish('delivery:events', workspaceId, events.map((event) => ({ ...event, at })));
  for (const campaignId of new Set(events.map((event) => event.campaignId))) {
    herald.events.publish('campaign:changed', campaignId, { reason: 'delivery' });
  }
}
